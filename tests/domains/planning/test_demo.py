"""`salomat demo load` (both packs) gives every demo settlement a census figure equal to
its territory.csv population (source marked illustrative) and the planning staff with
their FTE; the gap list and staffing of the demo region then have something to show."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal

import pytest

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack

pytestmark = pytest.mark.anyio
PLANNER = Principal(user_id=0, username="planning-test", role="planner", session_id="t")


@pytest.fixture(params=("UZ", "KZ"))
def country(request, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    from tests.conftest import demo_database

    with demo_database("salomat_planning_demo", country) as (url, _):
        yield url


def _csv_populations(country: str) -> dict[str, int]:
    """Each settlement's population summed from the pack's territory.csv (the reference)."""
    path = pack.PACKS_DIR / country / "territory.csv"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    out = {}
    for row in csv.DictReader(lines):
        if row["level"] == "settlement":
            out[row["code"]] = sum(
                int(v) for k, v in row.items() if k.startswith(("male_", "female_")) and v
            )
    return out


async def test_demo_census_and_staff(scratch, country) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.planning import service

    expected = _csv_populations(country)
    region = pack.demo(country)
    async with session_factory(scratch)() as s:
        rows = await service.settlement_rows(s, PLANNER, None)
        got = {r.code: r for r in rows if r.code in expected}
        assert {c: r.census_population for c, r in got.items()} == expected
        assert all(r.population_origin == "census" for r in got.values())
        assert all("territory.csv" in (r.census_source or "") for r in got.values())
        report = await service.staffing(s, PLANNER, None)
        doctors = sum(
            Decimal(str(x["fte"]))
            for x in region["planning"]["staff"]
            if x["position"] == "family_doctor"
        )
        gp = next(x for x in report.by_position if x.position == "family_doctor")
        assert gp.filled == doctors
        # loaded once: a second load adds nothing
        assert await service.load_demo_planning(s, PLANNER, region["planning"]) == (0, 0)
