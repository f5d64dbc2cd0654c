"""Settlements with census figures and attached counts, the gap list, the census import.

The expected units are the note's (vector 1 under kz-2022, written here, not read from
the pack); the region is tests/domains/planning/conftest.py's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select

from salomat.core.errors import Invalid
from salomat.domains.planning.models import SettlementCensus
from salomat.domains.planning.service import gaps, norms, settlements
from salomat.domains.registry.models import Territory
from tests.domains.planning.conftest import AS_OF, SOURCE

pytestmark = pytest.mark.anyio

W, MP = "health_worker", "medical_point"
FAP, VA = "feldsher_obstetric_point", "physician_ambulatory"


async def rows_of(plan, code=None, **kw):  # type: ignore[no-untyped-def]
    rows = await settlements.settlement_rows(plan.db, plan.principal(), code or plan.region, **kw)
    return {r.code.removeprefix(plan.region): r for r in rows}


async def test_census_beside_attached(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan, edition_code="kz-2022")
    assert set(rows) == {"S1", "S2", "S3", "S4", "S5", "S6"}
    s4 = rows["S4"]
    assert (s4.census_population, s4.census_source, s4.census_as_of) == (1200, SOURCE, AS_OF)
    assert s4.population_origin == "census"
    assert s4.attached == 3  # three registry people live in S4 (attached to S6's polyclinic)
    assert rows["S6"].attached == 0
    assert rows["S1"].district_code == plan.districts["D1"]
    assert rows["S6"].is_rural is False


async def test_required_units_and_gaps_kz_2022(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan, edition_code="kz-2022")
    want = {"S1": W, "S2": MP, "S3": MP, "S4": FAP, "S5": VA, "S6": None}
    assert {k: r.required_unit for k, r in rows.items()} == want
    # S1 needs a visiting medical worker (no premises): listed apart, not a gap
    assert {k for k, r in rows.items() if r.gap} == {"S3", "S4", "S5"}
    assert {k for k, r in rows.items() if r.visiting_worker} == {"S1"}
    assert rows["S1"].cost is None
    assert rows["S2"].existing_units == {MP}
    # a FAP does not meet a physician ambulatory's need; its cost is the pack's
    cost = norms.planning_pack("KZ").unit_costs
    assert rows["S5"].cost == cost[VA]
    assert rows["S2"].cost is None


async def test_higher_unit_covers_lower_need(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan, edition_code="kz-2021-action-plan")
    # S5 (3,400) needs a FAP under the action plan and has one
    assert rows["S5"].required_unit == FAP
    assert not rows["S5"].gap
    # S6 needs a FAP and has a polyclinic (a higher level)
    assert rows["S6"].required_unit == FAP
    assert not rows["S6"].gap


async def test_district_filter_and_unknown_territory(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan, plan.districts["D2"])
    assert set(rows) == {"S6"}
    rows = await rows_of(plan, plan.settlements["S3"])
    assert set(rows) == {"S3"}
    with pytest.raises(Invalid) as e:
        await settlements.settlement_rows(plan.db, plan.principal(), "NO-SUCH")
    assert [f.field for f in e.value.errors] == ["territory"]


async def test_census_on_a_day_before_any_figure_falls_back(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan, on=date(2024, 6, 1), edition_code="kz-2022")
    # no census figure before 2025-01-01; S6 has the registry table for 2025 only
    assert rows["S4"].census_population is None
    assert rows["S4"].required_unit is None
    assert not rows["S4"].gap


async def test_children_scaled_from_registry(kz, plan) -> None:  # type: ignore[no-untyped-def]
    rows = await rows_of(plan)
    assert rows["S6"].children == Decimal("3100.00")
    assert rows["S1"].children is None


async def test_set_wise_statement_count(kz, plan) -> None:  # type: ignore[no-untyped-def]
    """The statements do not grow with the settlements (one per table)."""
    count = 0

    def counter(*_a, **_k) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    engine = plan.db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        await settlements.settlement_rows(plan.db, plan.principal(), plan.region)
        small = count
        count = 0
        await settlements.settlement_rows(plan.db, plan.principal(), plan.districts["D2"])
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert small == count
    assert small <= 7


async def test_gap_report_by_district(kz, plan) -> None:  # type: ignore[no-untyped-def]
    report = await gaps.gap_report(plan.db, plan.principal(), plan.region, edition_code="kz-2022")
    cost = norms.planning_pack("KZ").unit_costs
    d1, d2 = report.districts
    assert d1.district_code == plan.districts["D1"]
    assert (d1.settlements, d1.with_gap) == (5, 3)
    assert d1.by_unit == {MP: 1, FAP: 1, VA: 1}
    assert d1.population_in_gap == 420 + 1200 + 3400
    # S1 (35) needs a visiting medical worker: apart, out of the gap count and the cost
    assert (d1.visiting_worker, d1.population_visiting_worker) == (1, 35)
    assert d1.cost == cost[MP] + cost[FAP] + cost[VA]
    assert (d2.visiting_worker, report.total.visiting_worker) == (0, 1)
    assert [r.code for r in report.visiting_worker] == [plan.settlements["S1"]]
    assert (d2.settlements, d2.with_gap, d2.cost) == (1, 0, 0)
    assert report.total.cost == d1.cost
    assert report.currency == "KZT"
    assert {r.code for r in report.gaps} == {plan.settlements[k] for k in ("S3", "S4", "S5")}


# ---- census import ------------------------------------------------------------------


async def _figures(plan, key):  # type: ignore[no-untyped-def]
    return (
        await plan.db.execute(
            select(SettlementCensus.as_of, SettlementCensus.population, SettlementCensus.source)
            .where(SettlementCensus.territory_id == plan.settlement_ids[key])
            .order_by(SettlementCensus.as_of)
        )
    ).all()


async def test_import_valid_file(kz, plan) -> None:  # type: ignore[no-untyped-def]
    s1, s3 = plan.settlements["S1"], plan.settlements["S3"]
    text = (
        "# census 2026\n"
        "code,population,as_of,source\n"
        f"{s1},40,2026-01-01,Census 2026\n"
        f"{s3},410,2025-01-01,Census 2025 corrected\n"
    )
    report = await settlements.import_census_csv(plan.db, plan.principal(), text)
    assert report.ok, report.issues
    assert (report.lines, report.imported, report.replaced) == (2, 2, 1)
    await plan.db.commit()
    assert [tuple(r) for r in await _figures(plan, "S1")] == [
        (AS_OF, 35, SOURCE),
        (date(2026, 1, 1), 40, "Census 2026"),
    ]
    assert [tuple(r) for r in await _figures(plan, "S3")] == [(AS_OF, 410, "Census 2025 corrected")]
    rows = await rows_of(plan)
    assert rows["S1"].census_population == 40  # the latest figure
    from salomat.core.audit import AuditEvent

    audited = (
        (
            await plan.db.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.resource_type == "SettlementCensus",
                    AuditEvent.username == "planner-test",
                )
            )
        )
        .scalars()
        .all()
    )
    assert any("2 figures (1 replaced)" in (d or "") for d in audited)


async def test_import_bad_lines_named_and_nothing_stored(kz, plan) -> None:  # type: ignore[no-untyped-def]
    s1, s2 = plan.settlements["S1"], plan.settlements["S2"]
    text = (
        "code;population;as_of;source;latitude;longitude\n"
        f"{s1};40;2026-01-01;Census;43.6;77.0\n"  # line 2: good
        "NOPE;10;2026-01-01;Census;43.6;77.0\n"  # 3: unknown code
        f"{s2};-1;2026-01-01;Census;43.6;77.0\n"  # 4: negative
        f"{s2};12;2026-13-01;Census;43.6;77.0\n"  # 5: bad date
        f"{s2};12;;Census;43.6;77.0\n"  # 6: missing date
        f"{s2};12;2026-02-01;Census;39.6;66.9\n"  # 7: Samarkand: outside Kazakhstan
        f"{s2};1x;2026-03-01;;43.6;77.0\n"  # 8: not a number, no source
        f"{s2};99999999999;2026-04-01;C;43.6;77.0\n"  # 9: larger than any settlement
    )
    report = await settlements.import_census_csv(plan.db, plan.principal(), text)
    got = {(i.line, i.field) for i in report.issues}
    assert got == {
        (3, "code"),
        (4, "population"),
        (5, "as_of"),
        (6, "as_of"),
        (7, "latitude"),
        (8, "population"),
        (8, "source"),
        (9, "population"),
    }
    assert report.imported == 0
    await plan.db.commit()
    assert len(await _figures(plan, "S1")) == 1  # the good line 2 was not stored either


async def test_import_coordinates(kz, plan) -> None:  # type: ignore[no-untyped-def]
    s1 = plan.settlements["S1"]
    text = f"code,population,as_of,source,latitude,longitude\n{s1},40,2026-01-01,C,43.61,77.01\n"
    report = await settlements.import_census_csv(plan.db, plan.principal(), text)
    assert report.ok
    assert report.coordinates == 1
    await plan.db.commit()
    t = (await plan.db.execute(select(Territory).where(Territory.code == s1))).scalar_one()
    await plan.db.refresh(t)
    assert (t.latitude, t.longitude) == (43.61, 77.01)
    # longitude alone outside the box is named as the longitude
    text = f"code,population,as_of,source,latitude,longitude\n{s1},40,2026-01-01,C,43.61,100\n"
    report = await settlements.import_census_csv(plan.db, plan.principal(), text)
    assert [(i.line, i.field) for i in report.issues] == [(2, "longitude")]


async def test_import_header_and_duplicates(kz, plan) -> None:  # type: ignore[no-untyped-def]
    report = await settlements.import_census_csv(plan.db, plan.principal(), "code,population\n")
    assert [(i.line, i.field) for i in report.issues] == [(1, "header")]
    s1 = plan.settlements["S1"]
    text = f"code,population,as_of,source\n{s1},1,2026-01-01,A\n{s1},2,2026-01-01,B\n"
    report = await settlements.import_census_csv(plan.db, plan.principal(), text)
    assert [(i.line, i.field) for i in report.issues] == [(3, "as_of")]
    report = await settlements.import_census_csv(plan.db, plan.principal(), "")
    assert [(i.line, i.field) for i in report.issues] == [(1, "header")]


@given(st.text(max_size=300))
def test_parser_never_fails_but_on_a_named_line(text: str) -> None:
    import csv

    line = None
    try:
        header, lines = settlements._parse_lines(text)
    except settlements._LineError as e:
        line = e.line
    except csv.Error:  # the header line itself
        line = 1
    if line is not None:
        assert line >= 1
        return
    for number, cells in lines:
        assert number >= 2
        assert set(cells) <= set(header)


async def test_import_any_text_gives_a_report(kz, plan) -> None:  # type: ignore[no-untyped-def]
    for text in ['a,"b\n', 'code,population,as_of,source\n"x,1', "\x00\x00", ";;;;\n;;;"]:
        report = await settlements.import_census_csv(plan.db, plan.principal(), text)
        assert not report.ok


async def test_unreadable_csv_is_a_translatable_message(kz, plan) -> None:  # type: ignore[no-untyped-def]
    """csv's own English text is only the detail of a message that is translated."""
    s1 = plan.settlements["S1"]
    for text, where in (
        (f'code,population,as_of,source\n{s1},"1"x,2026-01-01,A\n', (2, "file")),
        ('"code"x,population,as_of,source\n', (1, "header")),
    ):
        report = await settlements.import_census_csv(plan.db, plan.principal(), text)
        (issue,) = report.issues
        assert (issue.line, issue.field) == where
        assert issue.msg.msgid == "The line cannot be read as CSV: %(detail)s"
        assert issue.msg.params["detail"]
        assert issue.message.startswith("The line cannot be read as CSV: ")
