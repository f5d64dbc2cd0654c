"""Towns above a norm edition's range (issue 22 review): the KZ editions set no unit
above their top band (2017: 10,000 and more; 2022: 5,000 and more). Such a town is not a
gap and is given no invented unit: it is reported apart, in the gap list and the district
totals (a count and the population), on the page and in the API.

The reference bands are the domain note's (fact 2), written here, not read from the pack:
kz-2022 "1,500-5,000 ВА" with 4,999 the last physician-ambulatory size in the pack's
reading (a range's boundary belongs to the band it starts); kz-2017 "ВА 1,500-10,000"."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.planning.service import norms, settlements

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"
KZ_2022_TOP, KZ_2017_TOP = 4999, 9999  # the last size each edition sets a unit for


def edition(code: str) -> norms.NormEdition:
    return norms.planning_pack("KZ").edition(code)


@pytest.mark.parametrize(
    ("code", "population", "above"),
    [
        ("kz-2022", 4999, False),
        ("kz-2022", 5000, True),
        ("kz-2022", 5001, True),
        ("kz-2022", 20000, True),
        ("kz-2022", 0, False),
        ("kz-2017", 9999, False),
        ("kz-2017", 10000, True),
        ("kz-2017", 49, False),  # below the smallest unit: not "above the range"
        ("kz-2017", 0, False),
        ("kz-2021-action-plan", 20000, False),  # "above 300 a FAP": no top
    ],
)
def test_above_range_boundaries(code: str, population: int, above: bool) -> None:
    assert norms.above_range(population, edition(code)) is above


@given(st.integers(min_value=0, max_value=50_000_000))
def test_above_range_only_where_no_unit_is_set(population: int) -> None:
    e = edition("kz-2022")
    assert norms.above_range(population, e) is (population > KZ_2022_TOP)
    if norms.above_range(population, e):
        assert norms.required_unit(population, e) is None


@pytest.fixture
async def planner(client, login, make_user):  # type: ignore[no-untyped-def]
    return {**await login(await make_user("planner")), "Accept-Language": "en"}


async def _figures(plan: Any, figures: dict[str, int]) -> None:
    lines = ["code,population,as_of,source"]
    lines += [f"{plan.settlements[k]},{n},2026-01-01,Town census" for k, n in figures.items()]
    report = await settlements.import_census_csv(plan.db, plan.principal(), "\n".join(lines))
    assert report.ok, report.issues
    await plan.db.commit()


async def test_a_town_above_the_range_is_reported_apart(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    # S5 (a FAP, no ambulatory) grows to 20,000; S4 to 5,000; S3 to 4,999
    await _figures(plan, {"S3": 4999, "S4": 5000, "S5": 20000})
    r = await client.get(
        f"{BASE}/gaps", params={"territory": plan.region, "edition": "kz-2022"}, headers=planner
    )
    assert r.status_code == 200, r.text
    body = r.json()
    above = {s["code"].removeprefix(plan.region): s for s in body["above_range"]}
    # S6 (15,500, a polyclinic) is above the range too: the norm sets no unit for it either
    assert set(above) == {"S4", "S5", "S6"}
    assert all(s["required_unit"] is None and not s["gap"] for s in above.values())
    gap_codes = {s["code"].removeprefix(plan.region) for s in body["gaps"]}
    assert "S5" not in gap_codes
    assert "S3" in gap_codes  # 4,999: a physician ambulatory it lacks
    d1, d2 = body["districts"]
    assert (d1["above_range"], d1["population_above_range"]) == (2, 5000 + 20000)
    assert (d2["above_range"], d2["population_above_range"]) == (1, 15500)
    total = body["total"]
    assert (total["above_range"], total["population_above_range"]) == (3, 40500)
    # the page names them and counts them by district
    r = await client.get(
        "/planning", params={"area": plan.region, "edition": "kz-2022"}, headers=planner
    )
    assert r.status_code == 200, r.text
    note = r.text.split('data-testid="pl-above-range"')[1].split("</p>")[0]
    assert "Village S5" in note
    assert "Village S4" in note
    assert "Village S3" not in note
    # and the CSV counts them per district (the two columns before the visiting worker's)
    r = await client.get(
        "/planning/gaps.csv", params={"area": plan.region, "edition": "kz-2022"}, headers=planner
    )
    assert r.status_code == 200, r.text
    lines = [line.split(",") for line in r.text.strip().splitlines()]
    by_code = {line[0]: line for line in lines[1:]}
    assert by_code[plan.districts["D1"]][-4:-2] == ["2", "25000"]
    assert by_code[plan.districts["D2"]][-4:-2] == ["1", "15500"]
    assert "Above the edition&#39;s range: the norm sets no unit" in r.text or (
        "Above the edition's range: the norm sets no unit" in r.text
    )


async def test_no_town_above_an_edition_without_a_top(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    await _figures(plan, {"S5": 20000})
    r = await client.get(
        f"{BASE}/gaps",
        params={"territory": plan.region, "edition": "kz-2021-action-plan"},
        headers=planner,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["above_range"] == []
    assert body["total"]["above_range"] == 0
