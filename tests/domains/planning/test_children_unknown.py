"""Posts counted per child where children are not known (UZ pack: a paediatrician per
3,000 children). The test region's district D1 has census figures but no age structure:
its 5 settlements and 5,235 people are shown beside the per-child posts on the API and the
page, and no estimate is invented (its paediatrician posts stay 0)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio

D1_POP = 35 + 180 + 420 + 1200 + 3400  # 5,235


@pytest.fixture
async def planner(make_user: Any, login: Any) -> dict[str, str]:
    return {**await login(await make_user("planner")), "Accept-Language": "en"}


async def test_api_names_the_settlements_whose_children_are_unknown(client, planner, plan):  # type: ignore[no-untyped-def]
    r = await client.get(
        "/api/v1/planning/staffing", params={"territory": plan.region}, headers=planner
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["children_unknown_settlements"], body["children_unknown_population"]) == (
        5,
        D1_POP,
    )
    ped = next(
        x
        for x in body["by_district"]
        if x["position"] == "paediatrician" and x["district_code"] == plan.districts["D1"]
    )
    assert ped["required"] == 0
    assert (ped["children_unknown_settlements"], ped["children_unknown_population"]) == (
        5,
        D1_POP,
    )


async def test_page_shows_them_beside_the_per_child_posts(client, planner, plan):  # type: ignore[no-untyped-def]
    r = await client.get("/planning", params={"area": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    assert 'data-testid="pl-children-unknown"' in r.text
    assert "Children not known in 5 settlements (5\u202f235 people)" in r.text
    assert "5 / 5\u202f235" in r.text
