"""A polyclinic (its family doctor, patients attached there) and a district hospital
that sends records (its doctor); an admin who registers identifier systems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from salomat.core.security import Principal

HOSPITAL_SYSTEM_PREFIX = "https://his.example.uz/"


@dataclass
class Shr:
    polyclinic: Any
    hospital: Any
    doctor: Principal
    hospital_doctor: Principal
    admin: Principal
    #: a system registered for this test: identifiers under it are taken
    system: str
    make_patient: Any

    def other(self, account: Any, facility: Any, role: str = "family_doctor") -> Principal:
        return principal(account, role, facility)


def principal(account: Any, role: str, facility: Any | None) -> Principal:
    return Principal(
        user_id=account.id,
        username=account.username,
        role=role,
        session_id="t",
        facility_id=facility.id if facility else None,
        facility_code=facility.code if facility else None,
    )


@pytest.fixture
async def shr(db, make_person, make_user) -> Shr:
    from salomat.domains.record import service as record
    from salomat.domains.record.schemas import NamingSystemIn
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn
    from tests.factories import unique

    poly = await service.create_facility(
        db, FacilityIn(code=unique("F"), name="Polyclinic", kind="family_polyclinic")
    )
    hospital = await service.create_facility(
        db,
        FacilityIn(
            code=unique("H"),
            name="District hospital",
            kind="district_hospital",
            names={"ru": "Районная больница", "uz": "Tuman shifoxonasi"},
        ),
    )
    await db.commit()
    doctor = await make_user("family_doctor", facility_code=poly.code)
    hdoctor = await make_user("family_doctor", facility_code=hospital.code)
    admin_account = await make_user("admin")
    admin = principal(admin_account, "admin", None)
    system = f"{HOSPITAL_SYSTEM_PREFIX}{unique('sys')}/encounter-id"
    await record.register_naming_system(
        db, admin, NamingSystemIn(name=unique("Hospital HIS"), url=system)
    )
    await db.commit()

    async def patient(**kw: Any) -> Any:
        return await make_person(facility_code=poly.code, **kw)

    return Shr(
        poly,
        hospital,
        principal(doctor, "family_doctor", poly),
        principal(hdoctor, "family_doctor", hospital),
        admin,
        system,
        patient,
    )
