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
from tests.conftest import BACKEND
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


@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
)
async def test_two_doses_of_a_series_entered_at_once_are_counted_one_after_the_other(
    app, make_facility, make_person, make_user, login, monkeypatch
):
    """Penta at 2 and at 3 months entered at once on two screens: each dose is counted from
    the card the other has written, so both are stored, as DTP-containing doses 1 and 2.
    Both requests are held together just before they read the card (a barrier), so they
    meet at the card's lock every time; counted from the same empty card, the second
    would have been refused."""
    from salomat.domains.immunization.service import doses as doses_service
    from salomat.domains.immunization.service import schedule

    fac = await make_facility()
    baby = await make_person(facility_code=fac.code, birth_date=BORN, sex="female")
    nurses = [await login(await make_user("nurse", facility_code=fac.code)) for _ in range(2)]
    both_checked = asyncio.Barrier(2)
    alive = doses_service.registry.require_alive

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await alive(*args, **kwargs)
        await both_checked.wait()

    monkeypatch.setattr(doses_service.registry, "require_alive", held)
    first = schedule.add_age(BORN, schedule.Age(months=2))
    second = schedule.add_age(BORN, schedule.Age(months=3))
    transport = httpx.ASGITransport(app=app, client=("10.9.8.4", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        async with asyncio.timeout(60):  # a safety net against a hang, not a timing bet
            answers = await asyncio.gather(
                c.post(
                    f"/api/v1/persons/{baby.id}/immunizations",
                    json=dose(n=1, on=first),
                    headers=nurses[0],
                ),
                c.post(
                    f"/api/v1/persons/{baby.id}/immunizations",
                    json=dose(n=2, on=second),
                    headers=nurses[1],
                ),
            )
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    async with session_factory()() as s:
        counted = (
            await s.execute(
                select(Dose.given_on, Dose.counted_as)
                .where(Dose.person_id == baby.id)
                .order_by(Dose.given_on)
            )
        ).all()
    assert [c for _, c in counted] == [1, 2]
