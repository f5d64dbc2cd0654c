"""A region of its own with a polyclinic (family doctor), an oncology centre
(oncologist) and a cancer registrar; patients attached to the polyclinic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from salomat.core.security import Principal


@dataclass
class Cancer:
    place: Any
    polyclinic: Any
    centre: Any
    doctor_account: Any
    oncologist_account: Any
    registrar_account: Any
    doctor: dict[str, str]
    oncologist: dict[str, str]
    registrar: dict[str, str]
    make_patient: Any

    def principal(self, who: str) -> Principal:
        account, role, facility = {
            "doctor": (self.doctor_account, "family_doctor", self.polyclinic),
            "oncologist": (self.oncologist_account, "oncologist", self.centre),
            "registrar": (self.registrar_account, "cancer_registrar", None),
        }[who]
        return Principal(
            user_id=account.id,
            username=account.username,
            role=role,
            session_id="t",
            facility_id=facility.id if facility else None,
            facility_code=facility.code if facility else None,
        )


@pytest.fixture
async def cancer(db, make_place, make_person, make_user, login) -> Cancer:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn
    from tests.factories import unique

    place = await make_place()
    poly = await service.create_facility(
        db,
        FacilityIn(
            code=unique("F"), name="Polyclinic", kind="family_polyclinic",
            settlement_code=place.settlement,
        ),
    )  # fmt: skip
    centre = await service.create_facility(
        db,
        FacilityIn(
            code=unique("O"), name="Oncology centre", kind="oncology_centre",
            settlement_code=place.settlement,
        ),
    )  # fmt: skip
    await db.commit()
    doctor = await make_user("family_doctor", facility_code=poly.code)
    oncologist = await make_user("oncologist", facility_code=centre.code)
    registrar = await make_user("cancer_registrar")

    async def patient(born: date = date(1960, 3, 1), sex: str = "female") -> Any:
        return await make_person(facility_code=poly.code, birth_date=born, sex=sex)

    return Cancer(
        place, poly, centre, doctor, oncologist, registrar,
        await login(doctor), await login(oncologist), await login(registrar), patient,
    )  # fmt: skip


def fields(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def register_death(client, headers, person_id, **body):  # type: ignore[no-untyped-def]
    """The registry's death registration, as the person card sends it (If-Match)."""
    person = await client.get(f"/api/v1/persons/{person_id}", headers=headers)
    assert person.status_code == 200, person.text
    return await client.post(
        f"/api/v1/persons/{person_id}/death",
        json=body,
        headers={**headers, "If-Match": person.headers["ETag"]},
    )
