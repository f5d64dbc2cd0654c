"""A region of its own with a family polyclinic, its family doctor and nurse, and a
second polyclinic; patients attached to the first. The screening rules are the pack's
(``kz`` switches the service to the Kazakh pack, whose programmes the note's vectors use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from salomat.core.security import Principal


@dataclass
class Screening:
    place: Any
    polyclinic: Any
    other: Any
    doctor_account: Any
    nurse_account: Any
    other_doctor_account: Any
    make_patient: Any
    db: Any

    def principal(self, who: str = "doctor") -> Principal:
        account, role, facility = {
            "doctor": (self.doctor_account, "family_doctor", self.polyclinic),
            "nurse": (self.nurse_account, "nurse", self.polyclinic),
            "other": (self.other_doctor_account, "family_doctor", self.other),
        }[who]
        return Principal(
            user_id=account.id,
            username=account.username,
            role=role,
            session_id="t",
            facility_id=facility.id,
            facility_code=facility.code,
        )


@pytest.fixture
def kz(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service reads the Kazakh pack's screening rules."""
    from salomat.domains.screening.service import common
    from salomat.domains.screening.service.rules import screening_rules

    monkeypatch.setattr(common, "rules", lambda: screening_rules("KZ"))


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the service's today (for the note's dates): ``today(date(2025, 6, 30))``."""
    from salomat.domains.screening.service import common

    def set_(day: date) -> None:
        monkeypatch.setattr(common, "today", lambda: day)

    return set_


@pytest.fixture
async def scr(db, make_place, make_person, make_user) -> Screening:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn
    from tests.factories import unique

    place = await make_place()
    facilities = []
    for name in ("Polyclinic", "Other polyclinic"):
        facilities.append(
            await service.create_facility(
                db,
                FacilityIn(
                    code=unique("F"),
                    name=name,
                    kind="family_polyclinic",
                    settlement_code=place.settlement,
                ),
            )
        )
    await db.commit()
    poly, other = facilities
    doctor = await make_user("family_doctor", facility_code=poly.code)
    nurse = await make_user("nurse", facility_code=poly.code)
    other_doctor = await make_user("family_doctor", facility_code=other.code)

    async def patient(born: date = date(1970, 3, 1), sex: str = "female", **kw: Any) -> Any:
        return await make_person(
            facility_code=kw.pop("facility_code", poly.code), birth_date=born, sex=sex, **kw
        )

    return Screening(place, poly, other, doctor, nurse, other_doctor, patient, db)


def fields(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}
