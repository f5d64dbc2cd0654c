"""Shared arrangements of the epidemic data tests: a place (region, district), a person, a
notifying doctor and an epidemiologist (tests run with ``SALOMAT_COUNTRY=UZ``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.epidemic.service.notifications import today


@dataclass
class Scene:
    place: Any
    person: Any
    doctor: Any
    doctor_auth: dict[str, str]
    epi_auth: dict[str, str]

    def body(self, **kw: Any) -> dict[str, Any]:
        day = today() - timedelta(days=3)
        data: dict[str, Any] = {
            "person_id": self.person.id,
            "icd10": "B05",
            "onset_date": (day - timedelta(days=2)).isoformat(),
            "report_date": day.isoformat(),
            "district": self.place.district,
        }
        data.update(kw)
        return data


@pytest.fixture
async def scene(make_place, make_person, make_user, login) -> Scene:  # type: ignore[no-untyped-def]
    place = await make_place()
    person = await make_person(birth_date=date(2015, 3, 1))
    doctor = await make_user("family_doctor")
    epi = await make_user("epidemiologist")
    return Scene(place, person, doctor, await login(doctor), await login(epi))
