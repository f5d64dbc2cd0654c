"""The area page reads each table once (issue 22 review): the gap list, the settlement
table, staffing and access share one read of the settlements, and the statements do not
grow with the number of settlements."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event

from salomat.domains.accounts.service import principal_cache

pytestmark = pytest.mark.anyio

PAGE = "/planning"
TABLES = ("settlement_census", "territory_population", "facility", "territory")


@pytest.fixture
async def planner(make_user: Any, login: Any) -> dict[str, str]:
    return {**await login(await make_user("planner")), "Accept-Language": "en"}


async def _reads(client: Any, planner: Any, plan: Any, **params: str) -> tuple[Counter[str], int]:
    per_table: Counter[str] = Counter()
    total = 0

    def counter(_conn, _cursor, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        nonlocal total
        total += 1
        if not statement.lstrip().upper().startswith("SELECT"):
            return
        for t in TABLES:
            if re.search(rf"\b(FROM|JOIN)\s+\"?{t}\"?(\s|$|\))", statement):
                per_table[t] += 1

    # every counted request reads the caller's session (none answered from the
    # principal cache), so two requests compare the page's own reads
    principal_cache.CACHE.clear()
    engine = plan.db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        r = await client.get(PAGE, params=params, headers=planner)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert r.status_code == 200, r.text
    return per_table, total


async def _more_settlements(plan: Any, n: int) -> None:
    from salomat.domains.registry.models import Territory

    district = (
        await plan.db.execute(
            Territory.__table__.select().where(Territory.code == plan.districts["D1"])
        )
    ).one()
    for i in range(n):
        plan.db.add(
            Territory(
                code=f"{plan.region}X{i}",
                level="settlement",
                parent_id=district.id,
                name=f"Extra {i}",
                names={},
                is_rural=True,
                latitude=43.0 + i / 100,
                longitude=77.0,
            )
        )
    await plan.db.flush()


@pytest.mark.parametrize("level", ["region", "district"])
async def test_area_page_reads_census_population_and_facilities_once(
    client, planner, plan, kz, level
) -> None:  # type: ignore[no-untyped-def]
    area = plan.region if level == "region" else plan.districts["D1"]
    per_table, _ = await _reads(client, planner, plan, area=area, edition="kz-2022")
    # one read of the census figures and of the population table for the whole page
    # (was four: the gap report, the page's rows, staffing and access)
    assert per_table["settlement_census"] == 1, per_table
    assert per_table["territory_population"] == 1, per_table


async def test_area_page_statements_do_not_grow_with_settlements(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    _, before = await _reads(client, planner, plan, area=plan.districts["D1"], edition="kz-2022")
    await _more_settlements(plan, 5)
    _, after = await _reads(client, planner, plan, area=plan.districts["D1"], edition="kz-2022")
    assert after == before


async def test_country_page_and_csv_read_the_census_once(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    per_table, _ = await _reads(client, planner, plan, edition="kz-2022")
    assert per_table["settlement_census"] == 1, per_table
    per_table, _ = await _reads(client, planner, plan)
    assert per_table["settlement_census"] == 1, per_table


@pytest.mark.parametrize("where", ["country", "area"])
async def test_gaps_csv_reads_the_census_once(client, planner, plan, kz, where) -> None:  # type: ignore[no-untyped-def]
    params = {"area": plan.region} if where == "area" else {}
    per_table: Counter[str] = Counter()

    def counter(_conn, _cursor, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        if re.search(r"\bFROM\s+\"?settlement_census\"?", statement):
            per_table["settlement_census"] += 1

    engine = plan.db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        r = await client.get(PAGE + "/gaps.csv", params=params, headers=planner)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert r.status_code == 200, r.text
    assert per_table["settlement_census"] == 1, per_table


async def test_map_tooltip_names_the_figure_source(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    """S6 without a census figure: its figure is the registry's population table, and the
    tooltip says so (not "census")."""
    from sqlalchemy import delete

    from salomat.domains.planning.models import SettlementCensus

    await plan.db.execute(
        delete(SettlementCensus).where(SettlementCensus.territory_id == plan.settlement_ids["S6"])
    )
    await plan.db.commit()
    r = await client.get(PAGE, params={"area": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    svg = r.text.split('data-testid="planning-map"')[1]

    def tip(key: str) -> str:
        after = svg.split(f'data-code="{plan.settlements[key]}"')[1]
        return after.split("<title>")[1].split("</title>")[0]

    assert "registry population table" in tip("S6")
    assert "census" not in tip("S6").lower()
    assert "Test census 2025" in tip("S4")  # a census figure keeps its census's words
