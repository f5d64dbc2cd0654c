"""One valid dose per series number is a database constraint (DESIGN rule 9).

Two nurses entering the same dose at once (the card open on two screens, a
retry after a timeout) store it once. The requests run concurrently through
the app on the suite's backend; on PostgreSQL they truly interleave.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.immunization.models import Dose
from tests.domains.immunization.test_doses import BORN, dose

pytestmark = pytest.mark.anyio


async def test_the_same_dose_entered_at_once_by_four_nurses_is_stored_once(
    app, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    baby = await make_person(facility_code=fac.code, birth_date=BORN, sex="female")
    nurses = [await login(await make_user("nurse", facility_code=fac.code)) for _ in range(4)]
    transport = httpx.ASGITransport(app=app, client=("10.9.8.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(f"/api/v1/persons/{baby.id}/immunizations", json=dose(), headers=auth)
                for auth in nurses
            ]
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409, 409, 409], [a.text for a in answers]
    refused = [a for a in answers if a.status_code == 409]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in refused)
    async with session_factory()() as s:
        stored = await s.scalar(
            select(func.count()).where(
                Dose.person_id == baby.id, Dose.antigen == "penta", Dose.dose_number == 1
            )
        )
    assert stored == 1
