"""The demo's births and deaths (demo.yaml ``vital_statistics``) after `salomat demo load`,
in both packs: the indicators have something to show, and a test can count them by hand.

(a) in the counted district, the last complete year's live births and infant deaths are
those listed in demo.yaml: an early-neonatal (day 0-6), a late-neonatal (7-27) and a
post-neonatal death, each with its ICD-10 underlying cause on the registry's death;
(b) another district has exactly 3 deaths in that year (a suppressed small cell);
(c) the synthetic birth cohort gives the region births every year of the history and
infant deaths that are not all in cells under 5. A second load adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
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
def scratch(tmp_path: Path) -> Iterator[str]:
    from tests.conftest import BACKEND, migrated_sqlite, scratch_database

    if BACKEND != "postgresql":
        yield migrated_sqlite(tmp_path / "demo.sqlite3")
        return
    with scratch_database("salomat_vital_demo") as url:
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


async def test_the_demo_holds_hand_countable_births_and_deaths(scratch, country):
    from salomat.cli import load_demo

    data = pack.demo(country)
    spec = data["vital_statistics"]
    today = date.today()
    year = today.year - 1
    # the hand count, from demo.yaml
    counted = spec["counted"]
    ages = [p["died_at_day"] for p in counted if "died_at_day" in p]
    assert len(counted) == 6
    assert sorted(ages) == [0, 12, 97]  # early neonatal, late neonatal, post-neonatal
    causes = sorted(p["cause"] for p in counted if "died_at_day" in p)

    async with session_factory(scratch)() as s:
        await load_demo(s, data, force=False)
        await s.commit()
    async with session_factory(scratch)() as s:
        rows = (await s.execute(text(_IN_DISTRICT), {"district": spec["counted_district"]})).all()
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
        # nobody else was born or died there that year
        assert len([r for r in rows if _in_year(r.deceased_on, year)]) == 3

        # (b) a district with exactly 3 deaths in the last complete year
        rows = (
            await s.execute(text(_IN_DISTRICT), {"district": spec["suppressed_district"]})
        ).all()
        assert len([r for r in rows if _in_year(r.deceased_on, year)]) == 3

        # (c) the region: births every year of the history, infant deaths over 4 in some
        region = (
            await s.execute(
                text(
                    "SELECT p.birth_date, p.deceased_on FROM person p "
                    "JOIN territory s ON s.id = p.settlement_id "
                    "JOIN territory d ON d.id = s.parent_id "
                    "WHERE d.parent_id = (SELECT id FROM territory WHERE level = 'region')"
                )
            )
        ).all()
        history = pack.load(country, "population")["vital"]["history_years"]
        per_year: dict[int, list[int]] = {}
        for r in region:
            born = _d(r.birth_date)
            died = _d(r.deceased_on) if r.deceased_on is not None else None
            per_year.setdefault(born.year, [0, 0])[0] += 1
            if died is not None and (died - born).days < 365:
                per_year.setdefault(died.year, [0, 0])[1] += 1
        for y in range(today.year - history, today.year):
            assert per_year[y][0] >= 300, (y, per_year[y])
        unsuppressed = [y for y in range(today.year - history, today.year) if per_year[y][1] >= 5]
        assert len(unsuppressed) >= history - 1, per_year
        # no death after the load day or before birth
        for r in region:
            if r.deceased_on is not None:
                assert _d(r.birth_date) <= _d(r.deceased_on) <= today

    # a second load adds nothing
    async with session_factory(scratch)() as s:
        before = (await s.execute(text("SELECT count(*) FROM person"))).scalar_one()
        await load_demo(s, data, force=True)
        await s.commit()
        after = (await s.execute(text("SELECT count(*) FROM person"))).scalar_one()
        assert after == before


def test_the_demo_dates_fall_in_the_last_complete_year():
    from salomat.domains.registry.service.demo_vital import last_complete_year_day

    assert last_complete_year_day("02-11", date(2026, 1, 1)) == date(2025, 2, 11)
    assert last_complete_year_day("10-30", date(2026, 12, 31)) == date(2025, 10, 30)
