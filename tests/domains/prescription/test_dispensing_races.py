"""Never more dispensed than prescribed, whatever pharmacies do at once (DESIGN rule 9).

Twenty pharmacies race for the last unit, each through its own HTTP client and
so its own session and transaction. Only PostgreSQL runs them truly in
parallel (row locks, READ COMMITTED re-evaluation of the conditional UPDATE);
SQLite serialises every writer on one file lock, so the race proves nothing
there and the module is skipped.

The race is made to happen, not hoped for: every racer is held at a barrier
after it has read the prescription (one unit left) and before it checks and
writes, and all are released together once the last one has arrived. Each then
passes the check in Python with what it read, so the conditional UPDATE alone
must stop all but one, every time, however busy the machine.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.prescription.models import Dispensing, Prescription
from tests.conftest import BACKEND
from tests.domains.prescription.dispensing_data import make_case, pharmacist
from tests.factories import token_for

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        BACKEND != "postgresql",
        reason="a real race needs concurrent transactions: run with SALOMAT_TEST_DB=postgresql",
    ),
]

RACERS = 20


async def test_twenty_pharmacies_race_for_the_last_unit_and_one_gets_it(
    app, client, db, make_facility, make_person, make_user, monkeypatch
):
    from salomat.domains.prescription.service import dispensing

    lost_in_update: list[int] = []
    explain = dispensing._explain_refusal

    async def counted(session, prescription_id, units):  # type: ignore[no-untyped-def]
        lost_in_update.append(prescription_id)
        await explain(session, prescription_id, units)

    monkeypatch.setattr(dispensing, "_explain_refusal", counted)
    case = await make_case(db, make_facility, make_person, quantity=30, dispensed=29)
    # held after reading the prescription, released together when all twenty have read it
    everyone_read = asyncio.Barrier(RACERS)
    alive = dispensing.registry.require_alive

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await alive(*args, **kwargs)
        await everyone_read.wait()

    monkeypatch.setattr(dispensing.registry, "require_alive", held)
    auths = []
    for _ in range(RACERS):
        auth = await token_for(client, await pharmacist(make_facility, make_user))
        found = await client.post(
            "/api/v1/dispensing/lookup",
            json={"code": case.rx.code, "national_id": case.national_id},
            headers=auth,
        )
        assert found.status_code == 200, found.text
        assert found.json()["remaining_units"] == 1
        auths.append(auth)

    async def attempt(i: int, auth: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(f"10.77.0.{i + 1}", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(
                f"/api/v1/prescriptions/{case.rx.id}/dispensings",
                json={"units": 1, "price": 1_000},
                headers=auth,
            )

    # a safety net against a hang (a racer that never reaches the barrier), not a timing
    # assumption: nothing below depends on how long anything took
    async with asyncio.timeout(120):
        answers = await asyncio.gather(*[attempt(i, a) for i, a in enumerate(auths)])

    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (RACERS - 1), [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        body = refused.json()
        assert "0 units remain" in body["detail"], body
        assert body["remaining_units"] == 0
        assert body["errors"][0]["field"] == "units"
    async with session_factory()() as s:
        rx = await s.get(Prescription, case.rx.id)
        assert rx is not None
        assert (rx.dispensed_units, rx.quantity_units, rx.status) == (30, 30, "dispensed")
        given = await s.scalar(select(func.count()).where(Dispensing.prescription_id == case.rx.id))
    assert given == 1
    # every loser read one unit left, passed the check in Python and was stopped by the
    # conditional UPDATE: the guarantee is the database's, proven on each run
    assert len(lost_in_update) == RACERS - 1
