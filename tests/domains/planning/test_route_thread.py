"""The route search (OR-Tools, CPU-bound, seconds for a district) must not block the event
loop: the API and the web page run it in a worker thread, the page with a shorter time
limit than the API. The solver is wrapped here to be slow (0.4 s) and to record where and
with which limit it ran; a coroutine ticking meanwhile shows the loop kept serving."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pytest

from salomat.domains.planning.schemas_mobile import RouteIn, TeamIn
from salomat.domains.planning.service import mobile, routing

pytestmark = pytest.mark.anyio


@pytest.fixture
def slow_solver(monkeypatch):  # type: ignore[no-untyped-def]
    calls: list[dict[str, Any]] = []
    real = routing.plan_route

    def slow(*args: Any, **kw: Any) -> routing.RoutePlan:
        calls.append({"thread": threading.get_ident(), **kw})
        time.sleep(0.4)
        return real(*args, **kw)

    monkeypatch.setattr(routing, "plan_route", slow)
    return calls


async def test_the_route_search_runs_beside_the_event_loop(slow_solver, kz, plan) -> None:  # type: ignore[no-untyped-def]
    team = await mobile.create_team(
        plan.db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="T1")
    )
    data = RouteIn(territory=plan.districts["D1"], start=date(2026, 12, 7), save=False)
    route = await mobile.plan_team_route(plan.db, plan.principal(), team.id, data)
    assert len(route.days) == 1
    (call,) = slow_solver
    assert call["thread"] != threading.get_ident()
    assert call["time_limit_s"] == routing.DEFAULT_TIME_LIMIT_S


async def test_the_page_gives_the_search_a_shorter_limit(
    slow_solver, client, login, make_user, kz, plan, db
) -> None:  # type: ignore[no-untyped-def]
    planner = await login(await make_user("planner"))
    team = await mobile.create_team(
        db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="T1")
    )
    await db.commit()
    r = await client.get(
        "/planning/mobile",
        params={"team": team.id, "area": plan.districts["D1"], "start": "2026-12-07"},
        headers=planner,
    )
    assert r.status_code == 200, r.text
    (call,) = slow_solver
    assert call["time_limit_s"] == routing.PAGE_TIME_LIMIT_S < routing.DEFAULT_TIME_LIMIT_S
    assert call["thread"] != threading.get_ident()
