"""Two saves of one team's visit calendar at once keep one calendar: the save holds the
team's row before it deletes and re-inserts the planned visits, so the second runs after
the first has committed (and replaces its rows) instead of colliding with them.

Both saves are held together just before the lock (a barrier), so they meet at the team's
row every time. SQLite serialises writers on one file lock (the barrier would wait on it),
so this runs on PostgreSQL only (pattern: tests/domains/registry/test_fte_race.py).
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.planning.models_mobile import MobileVisitPlan
from salomat.domains.planning.schemas_mobile import RouteIn, TeamIn
from salomat.domains.planning.service import mobile
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        BACKEND != "postgresql",
        reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
    ),
]

START = date(2026, 12, 7)  # a Monday


async def test_two_calendar_saves_at_once_keep_one_calendar(kz, plan, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    team = await mobile.create_team(
        plan.db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="Race")
    )
    await plan.db.commit()
    barrier = asyncio.Barrier(2)
    save = mobile._save_calendar

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), 60)
        return await save(*args, **kwargs)

    monkeypatch.setattr(mobile, "_save_calendar", held)
    data = RouteIn(territory=plan.districts["D1"], start=START, save=True)

    async def one() -> int:
        async with session_factory()() as s:
            route = await mobile.plan_team_route(s, plan.principal(), team.id, data)
            await s.commit()
            return sum(len(d.settlements) for d in route.days)

    async with asyncio.timeout(60):  # a safety net against a hang, not a timing bet
        stops = await asyncio.gather(one(), one())
    assert stops[0] == stops[1] > 0
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(MobileVisitPlan.settlement_id, func.count())
                .where(MobileVisitPlan.team_id == team.id)
                .group_by(MobileVisitPlan.settlement_id)
            )
        ).all()
    # every settlement of the route planned once: one calendar, not two
    assert len(rows) == stops[0]
    assert all(n == 1 for _, n in rows)
