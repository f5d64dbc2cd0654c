"""Set-wise writes and reads outside the pages (issue 22 review): the census import
updates the coordinates in one executemany, a mobile team's members and the teams'
facilities are read in one statement each, whatever their number."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, select

from salomat.core.errors import Invalid
from salomat.domains.planning.schemas_mobile import TeamIn
from salomat.domains.planning.service import mobile, settlements
from salomat.domains.registry.models import Territory

pytestmark = pytest.mark.anyio


class Statements:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, _c, _cur, statement, _p, _ctx, executemany) -> None:  # type: ignore[no-untyped-def]
        self.seen.append((statement, executemany))

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_a: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self)

    def touching(self, verb: str, table: str) -> list[tuple[str, bool]]:
        return [
            (s, many)
            for s, many in self.seen
            if s.lstrip().upper().startswith(verb)
            and re.search(rf"^\s*(UPDATE|.*\b(FROM|JOIN))\s+\"?{table}\"?(\s|$)", s, re.S)
        ]


async def test_census_coordinates_are_one_executemany(kz, plan) -> None:  # type: ignore[no-untyped-def]
    lines = ["code,population,as_of,source,latitude,longitude"]
    for i, key in enumerate(("S1", "S2", "S3", "S4")):
        lines.append(f"{plan.settlements[key]},40,2026-01-01,C,43.{60 + i},77.0{i}")
    with Statements(plan.db.bind.sync_engine) as st:
        report = await settlements.import_census_csv(plan.db, plan.principal(), "\n".join(lines))
    assert report.ok, report.issues
    assert report.coordinates == 4
    updates = st.touching("UPDATE", "territory")
    assert len(updates) == 1, updates  # one statement
    assert updates[0][1]  # executemany
    await plan.db.commit()
    for i, key in enumerate(("S1", "S2", "S3", "S4")):
        t = (
            await plan.db.execute(select(Territory).where(Territory.code == plan.settlements[key]))
        ).scalar_one()
        await plan.db.refresh(t)
        assert (t.latitude, t.longitude) == (float(f"43.{60 + i}"), float(f"77.0{i}"))


async def test_team_members_and_facilities_read_set_wise(kz, plan, make_practitioner) -> None:  # type: ignore[no-untyped-def]
    members = [(await make_practitioner()).id for _ in range(3)]
    code = plan.facilities["S6"]
    engine = plan.db.bind.sync_engine
    with Statements(engine) as st:
        await mobile.create_team(
            plan.db, plan.principal(), TeamIn(facility_code=code, name="A", members=members)
        )
    practitioner_reads = st.touching("SELECT", "practitioner")
    assert len(practitioner_reads) == 1, practitioner_reads
    # an unknown member is named by its position
    with pytest.raises(Invalid) as e:
        await mobile.create_team(
            plan.db,
            plan.principal(),
            TeamIn(facility_code=code, name="B", members=[members[0], 999_999]),
        )
    assert [f.field for f in e.value.errors] == ["members.1"]
    for key in ("S2", "S4"):
        await mobile.create_team(
            plan.db, plan.principal(), TeamIn(facility_code=plan.facilities[key], name=key)
        )
    with Statements(engine) as st:
        teams = await mobile.list_teams(plan.db, plan.principal())
    assert {t.facility_code for t in teams} >= {code, plan.facilities["S2"], plan.facilities["S4"]}
    facility_reads = st.touching("SELECT", "facility")
    assert len(facility_reads) == 1, facility_reads
