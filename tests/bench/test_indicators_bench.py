"""The indicator benchmark's raw SQL baselines count what the services count.

A ratio against a baseline that computes other numbers would mean nothing:
on the demo region (its pregnancies, births, referrals and doses), each
hand-written GROUP BY of ``bench/indicators.py`` must give exactly the
figures of the maternal dashboard and of immunization coverage, for the
country, the region and a district. The baselines are PostgreSQL SQL
(``FILTER``, date arithmetic), as is the benchmark database, so these tests
run on PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bench import indicators
from salomat.core.db import dispose_engines, session_factory
from salomat.core.security import Principal
from salomat.domains.immunization import service as immunization
from salomat.domains.maternal import service as maternal
from tests.conftest import BACKEND

postgresql_only = pytest.mark.skipif(
    BACKEND != "postgresql", reason="the baselines are PostgreSQL SQL"
)

ANALYST = Principal(user_id=0, username="bench-test", role="analyst", session_id="t")


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """A database where the UZ demo is loaded (`salomat demo load`: a copy of the run's
    loaded demo, tests/conftest.py ``demo_database``)."""
    import asyncio

    from tests.conftest import demo_database

    with demo_database("salomat_bench_demo", "UZ") as (url, _):
        yield url
        asyncio.run(dispose_engines())


async def _areas(url: str) -> list[tuple[str | None, str | None]]:
    async with session_factory(url)() as s:
        rows = await s.execute(
            text(
                "SELECT DISTINCT r.code, d.code FROM pregnancy p "
                "JOIN territory s ON s.id = p.settlement_id "
                "JOIN territory d ON d.id = s.parent_id JOIN territory r ON r.id = d.parent_id"
            )
        )
        pairs = rows.all()
    out: list[tuple[str | None, str | None]] = [(None, None)]
    out += sorted({(r, "region") for r, _ in pairs})
    out += sorted({(d, "district") for _, d in pairs})
    return out


async def _call(url: str, fn: Any) -> Any:
    async with session_factory(url)() as s:
        try:
            return await fn(s)
        finally:
            await s.rollback()


@pytest.mark.anyio
@postgresql_only
async def test_dashboard_baseline_counts_what_the_dashboard_counts(demo_url):
    areas = await _areas(demo_url)
    assert len(areas) >= 3, "the demo region has pregnancies in at least one district"
    for area, level in areas:
        product = await _call(
            demo_url, lambda s, a=area: maternal.maternal_dashboard(s, ANALYST, area=a)
        )
        raw = await _call(demo_url, indicators.dashboard_raw(area, level))
        assert indicators._diff(indicators._dash_product(product), raw) == [], area
    national = indicators._dash_product(
        await _call(demo_url, lambda s: maternal.maternal_dashboard(s, ANALYST))
    )
    # the comparison is not vacuous: the demo has current, closed pregnancies and births
    totals = {k for figs in national.values() for k in figs}
    assert {"current", "closed", "births", "babies_live", "registered"} <= totals


@pytest.mark.anyio
@postgresql_only
async def test_coverage_baseline_counts_what_coverage_counts(demo_url):
    async with session_factory(demo_url)() as s:
        years = list(
            await s.scalars(
                text(
                    "SELECT DISTINCT extract(year FROM p.birth_date)::int FROM person p "
                    "JOIN immunization_dose d ON d.person_id = p.id ORDER BY 1"
                )
            )
        )
    years = [y for y in years if y >= 1990]
    assert years, "the demo has vaccinated children"
    covered_somewhere = False
    for year in years:
        for area, level in (await _areas(demo_url))[:2]:
            product = indicators._coverage_product(
                await _call(
                    demo_url,
                    lambda s, a=area, y=year: immunization.immunization_coverage(
                        s, ANALYST, area=a, cohort=y
                    ),
                )
            )
            raw = await _call(demo_url, indicators.coverage_raw(area, level, year, "UZ"))
            assert indicators._diff(product, raw) == [], (year, area)
            covered_somewhere |= any(c for figs in raw.values() for _, c in figs.values())
    assert covered_somewhere, "some child of the demo is covered by some indicator"


def test_a_difference_is_reported_by_unit_and_figure():
    assert indicators._diff({"1718": {"births": 3}}, {"1718": {"births": 2}}) == [
        "1718.births: product 3 raw 2"
    ]
    assert indicators._diff({None: {"current": 1}}, {}) == ["None.current: product 1 raw None"]
    assert indicators._diff({"1": {"a": (2, 1)}}, {"1": {"a": (2, 1)}}) == []
