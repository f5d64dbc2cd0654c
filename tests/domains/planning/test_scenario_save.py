"""A saved scenario can always be run: POST /scenarios checks each proposal as POST
/scenario does (a settlement of the territory, with coordinates in the country, and a
unit with premises of the pack); a health worker (no premises) or a settlement without
coordinates is refused when saving, naming the field, and nothing is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from salomat.domains.planning.models import PlanningScenario
from salomat.domains.registry.models import Territory

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in r.json().get("errors", [])}


@pytest.fixture
async def planner(client, login, make_user):  # type: ignore[no-untyped-def]
    return await login(await make_user("planner"))


async def _count(plan) -> int:  # type: ignore[no-untyped-def]
    return (await plan.db.execute(select(func.count()).select_from(PlanningScenario))).scalar()


async def test_what_the_comparison_refuses_is_not_saved(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    s1, s3 = plan.settlements["S1"], plan.settlements["S3"]
    await plan.db.execute(
        update(Territory).where(Territory.code == s1).values(latitude=None, longitude=None)
    )
    await plan.db.commit()
    body = {
        "territory": plan.districts["D1"],
        "name": "Two proposals",
        "edition": "kz-2022",
        "proposed": [
            {"settlement": s3, "unit": "health_worker"},  # a unit of the norm, no premises
            {"settlement": s1, "unit": "feldsher_obstetric_point"},  # no coordinates
        ],
    }
    # the comparison refuses both ...
    compare = {k: v for k, v in body.items() if k != "name"}
    r = await client.post(f"{BASE}/scenario", json=compare, headers=planner)
    assert r.status_code == 422, r.text
    refused = fields(r)
    assert refused == {"proposed.0.unit", "proposed.1.settlement"}
    # ... and so does saving, with the same fields; nothing is kept
    before = await _count(plan)
    r = await client.post(f"{BASE}/scenarios", json=body, headers=planner)
    assert r.status_code == 422, r.text
    assert fields(r) == refused
    assert await _count(plan) == before
    # a proposal the comparison accepts is saved, and runs
    good_proposed = {"proposed": [{"settlement": s3, "unit": "feldsher_obstetric_point"}]}
    good = body | good_proposed
    r = await client.post(f"{BASE}/scenarios", json=good, headers=planner)
    assert r.status_code == 201, r.text
    assert await _count(plan) == before + 1
    r = await client.post(f"{BASE}/scenario", json=compare | good_proposed, headers=planner)
    assert r.status_code == 200, r.text
