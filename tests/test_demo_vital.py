"""The demo's births and deaths (demo.yaml ``vital_statistics``) after `salomat demo load`,
in both packs: the indicators have something to show, and a test can count them by hand.

(a) in the counted district, the last complete year's live births and infant deaths are
those listed in demo.yaml: an early-neonatal (day 0-6), a late-neonatal (7-27) and a
post-neonatal death, each with its ICD-10 underlying cause on the registry's death;
(b) another district has exactly 3 deaths in that year (a suppressed small cell);
(c) the synthetic birth cohort (`salomat demo load` loads it unless given
``--no-vital-sample``) gives the region births in every year of a 10-year trend, the
target's baseline year included, infant deaths in cells of 5 or more, and vaccinated
children. A second load adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.country import pack

pytestmark = pytest.mark.anyio

COUNTRIES = ("UZ", "KZ")

_IN_DISTRICT = (
    "SELECT p.birth_date, p.deceased_on, p.death_cause FROM person p "
    "JOIN territory s ON s.id = p.settlement_id JOIN territory d ON d.id = s.parent_id "
    "WHERE d.code = :district"
)


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    """A database where the pack's demo is loaded (`salomat demo load --no-vital-sample`:
    a copy of the run's loaded demo, tests/conftest.py ``demo_database``)."""
    from tests.conftest import demo_database

    with demo_database("salomat_vital_demo", country) as (url, _):
        yield url


@pytest.fixture(params=COUNTRIES)
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def _d(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_year(day: Any, year: int) -> bool:
    return day is not None and _d(day).year == year


async def _district(s: Any, code: str) -> list[Any]:
    return list((await s.execute(text(_IN_DISTRICT), {"district": code})).all())


async def _region(s: Any) -> list[Any]:
    sql = (
        "SELECT p.birth_date, p.deceased_on FROM person p "
        "JOIN territory s ON s.id = p.settlement_id JOIN territory d ON d.id = s.parent_id "
        "WHERE d.parent_id = (SELECT id FROM territory WHERE level = 'region')"
    )
    return list((await s.execute(text(sql))).all())


async def _check_hand_counts(s: Any, spec: dict[str, Any], year: int) -> None:
    causes = sorted(p["cause"] for p in spec["counted"] if "died_at_day" in p)
    rows = await _district(s, spec["counted_district"])
    births = [r for r in rows if _in_year(r.birth_date, year)]
    assert len(births) == 6
    infant = [
        (_d(r.deceased_on) - _d(r.birth_date)).days
        for r in births
        if r.deceased_on is not None and (_d(r.deceased_on) - _d(r.birth_date)).days < 365
    ]
    assert len(infant) == 3
    assert sum(1 for a in infant if a <= 27) == 2  # neonatal
    assert sum(1 for a in infant if a <= 6) == 1  # early neonatal
    assert sorted(r.death_cause for r in births if r.deceased_on is not None) == causes
    # nobody else died there that year
    assert len([r for r in rows if _in_year(r.deceased_on, year)]) == 3
    # (b) a district with exactly 3 deaths in the last complete year
    rows = await _district(s, spec["suppressed_district"])
    assert len([r for r in rows if _in_year(r.deceased_on, year)]) == 3


async def test_the_demo_holds_hand_countable_births_and_deaths(scratch, country):
    from salomat.cli import load_demo

    data = pack.demo(country)
    spec = data["vital_statistics"]
    today = date.today()
    year = today.year - 1
    # the hand count, from demo.yaml: 6 births, deaths at day 0 (early neonatal), day 12
    # (late neonatal) and day 97 (post-neonatal)
    assert len(spec["counted"]) == 6
    assert sorted(p["died_at_day"] for p in spec["counted"] if "died_at_day" in p) == [0, 12, 97]

    async with session_factory(scratch)() as s:
        await _check_hand_counts(s, spec, year)
        # without --vital-sample the region's births are the demo's own
        assert len([r for r in await _region(s) if _in_year(r.birth_date, year)]) < 20

    # --force (salomat demo load asks for the sample unless --no-vital-sample) adds the
    # synthetic cohort to a loaded demo
    async with session_factory(scratch)() as s:
        await load_demo(s, data, force=True, vital_sample=True)
        await s.commit()
    async with session_factory(scratch)() as s:
        await _check_hand_counts(s, spec, year)
        # (c) the region: births every year of a 10-year trend ending last year (the
        # target's baseline year inside it), infant deaths of 5 or more (not suppressed)
        # in all but at most one of them
        region = await _region(s)
        baseline = spec["sample"]["from_year"]
        first = min(baseline, today.year - 10 + 1)
        per_year: dict[int, list[int]] = {}
        for r in region:
            born = _d(r.birth_date)
            died = _d(r.deceased_on) if r.deceased_on is not None else None
            per_year.setdefault(born.year, [0, 0])[0] += 1
            if died is not None and (died - born).days < 365:
                per_year.setdefault(died.year, [0, 0])[1] += 1
            if died is not None:
                assert born <= died <= today
        years = range(first, today.year)
        for y in years:
            assert per_year[y][0] >= 300, (y, per_year[y])
        unsuppressed = [y for y in years if per_year[y][1] >= 5]
        assert len(unsuppressed) >= len(years) - 1, per_year
        assert baseline in unsuppressed, per_year
        # the cohort's children are vaccinated (the region's coverage stays a region's):
        # of the living children a year old or more, nine in ten or more have doses
        (alive1, vaccinated) = (
            await s.execute(
                text(
                    "SELECT count(DISTINCT p.id), count(DISTINCT d.person_id) FROM person p "
                    "LEFT JOIN immunization_dose d ON d.person_id = p.id "
                    "WHERE p.address = :a AND p.birth_date <= :cut AND p.deceased_on IS NULL"
                ),
                {"a": "demo vital statistics (synthetic sample)", "cut": today - timedelta(366)},
            )
        ).one()
        assert alive1 > 1000
        assert vaccinated >= 0.9 * alive1, (vaccinated, alive1)
        # what the trend page draws for the region: a public value in each of the last 10
        # years but at most one, and the target's line from the baseline year on
        from salomat.core.security import Principal
        from salomat.domains.statistics.service import indicator_trend

        analyst = Principal(user_id=0, username="t", role="analyst", session_id="t")
        region = await s.execute(text("SELECT code FROM territory WHERE level = 'region'"))
        trend = await indicator_trend(s, analyst, "infant_mortality", area=region.scalar_one())
        shown = [p.year for p in trend.points if p.value is not None]
        assert len(shown) >= 9, trend.points
        assert trend.target is not None
        assert trend.target.baseline_year == baseline
        lined = [p.year for p in trend.points if p.target_path is not None]
        assert lined == list(range(baseline, today.year)), trend.points
        assert trend.status in {"achieved", "on_track", "off_track"}

    # a second load adds nothing: no person, no dose
    async with session_factory(scratch)() as s:
        count = "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM immunization_dose)"
        before = (await s.execute(text(count))).one()
        await load_demo(s, data, force=True, vital_sample=True)
        await s.commit()
        after = (await s.execute(text(count))).one()
        assert after == before


def test_the_demo_dates_fall_in_the_last_complete_year():
    from salomat.domains.registry.service.demo_vital import last_complete_year_day

    assert last_complete_year_day("02-11", date(2026, 1, 1)) == date(2025, 2, 11)
    assert last_complete_year_day("10-30", date(2026, 12, 31)) == date(2025, 10, 30)
