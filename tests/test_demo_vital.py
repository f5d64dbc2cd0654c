"""The demo's births and deaths (demo.yaml ``vital_statistics``) after `salomat demo load`,
in both packs: the indicators have something to show, and a test can count them by hand.

(a) in the counted district, the last complete year's live births and infant deaths are
those listed in demo.yaml: an early-neonatal (day 0-6), a late-neonatal (7-27) and a
post-neonatal death, each with its ICD-10 underlying cause on the registry's death;
(b) another district has exactly 3 deaths in that year (a suppressed small cell);
(c) with ``--vital-sample``, the synthetic birth cohort gives the region births every
year of the history and infant deaths that are not all in cells under 5. A second load
adds nothing.
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
        await load_demo(s, data, force=False)
        await s.commit()
    async with session_factory(scratch)() as s:
        await _check_hand_counts(s, spec, year)
        # without --vital-sample the region's births are the demo's own
        assert len([r for r in await _region(s) if _in_year(r.birth_date, year)]) < 20

    # --force --vital-sample adds the synthetic cohort to a loaded demo
    async with session_factory(scratch)() as s:
        await load_demo(s, data, force=True, vital_sample=True)
        await s.commit()
    async with session_factory(scratch)() as s:
        await _check_hand_counts(s, spec, year)
        # (c) the region: births every year of the history, infant deaths over 4 in most
        region = await _region(s)
        history = pack.load(country, "population")["vital"]["history_years"]
        per_year: dict[int, list[int]] = {}
        for r in region:
            born = _d(r.birth_date)
            died = _d(r.deceased_on) if r.deceased_on is not None else None
            per_year.setdefault(born.year, [0, 0])[0] += 1
            if died is not None and (died - born).days < 365:
                per_year.setdefault(died.year, [0, 0])[1] += 1
            if died is not None:
                assert born <= died <= today
        for y in range(today.year - history, today.year):
            assert per_year[y][0] >= 300, (y, per_year[y])
        unsuppressed = [y for y in range(today.year - history, today.year) if per_year[y][1] >= 5]
        assert len(unsuppressed) >= history - 1, per_year

    # a second load adds nothing
    async with session_factory(scratch)() as s:
        before = (await s.execute(text("SELECT count(*) FROM person"))).scalar_one()
        await load_demo(s, data, force=True, vital_sample=True)
        await s.commit()
        after = (await s.execute(text("SELECT count(*) FROM person"))).scalar_one()
        assert after == before


def test_the_demo_dates_fall_in_the_last_complete_year():
    from salomat.domains.registry.service.demo_vital import last_complete_year_day

    assert last_complete_year_day("02-11", date(2026, 1, 1)) == date(2025, 2, 11)
    assert last_complete_year_day("10-30", date(2026, 12, 31)) == date(2025, 10, 30)
