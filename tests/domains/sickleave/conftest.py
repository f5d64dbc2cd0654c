"""A polyclinic, a worker attached there, its family doctor, an employer and its account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest


@dataclass
class Clinic:
    facility: Any
    worker: Any
    doctor: dict[str, str]
    doctor_account: Any
    citizen: dict[str, str]
    employer: dict[str, str]
    employer_account: Any


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> Clinic:
    fac = await make_facility()
    from salomat.core.config import get_settings
    from tests.factories import national_id_for

    born = date(1988, 4, 9)
    worker = await make_person(
        facility_code=fac.code,
        birth_date=born,
        sex="male",
        national_id=national_id_for(born, "male", get_settings().country),
    )
    doctor_account = await make_user("family_doctor", facility_code=fac.code)
    citizen = await login(await make_user("citizen", person_id=worker.id))
    employer_account = await make_user("employer")
    return Clinic(
        fac,
        worker,
        await login(doctor_account),
        doctor_account,
        citizen,
        await login(employer_account),
        employer_account,
    )


def fields(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}
