"""Two aggregate runs of one period at once (the nightly job and an analyst's recompute)
leave one set of figures, never two (PostgreSQL).

A barrier holds both runs just before the period's transaction lock, so they reach it
together every run; the lock makes them take turns: the second reads the records only
after the first has committed, deletes the first one's rows and writes its own, and
both succeed.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.statistics import service
from salomat.domains.statistics.models import IndicatorValue
from salomat.domains.statistics.service import aggregate

pytestmark = pytest.mark.anyio


async def test_two_runs_of_one_period_store_one_set_of_figures(backend, vital, monkeypatch):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    for day in (3, 9, 40):
        await vital.death(date(2023, 1, 1), date(2023, 1, 1 + day % 28))
    for i in range(12):
        await vital.born(date(2023, 3, 1 + i))
    period = service.parse_period("2023")

    barrier = asyncio.Barrier(2)
    take_turn = aggregate.take_turn

    async def both_at_the_lock(*args, **kw):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), timeout=60)
        await take_turn(*args, **kw)

    monkeypatch.setattr(aggregate, "take_turn", both_at_the_lock)

    async def run() -> int:
        async with session_factory()() as s:
            n = await aggregate.aggregate_period(s, period)
            await s.commit()
            return n

    first, second = await asyncio.gather(run(), run())
    assert first == second > 0
    async with session_factory()() as s:
        stored = await s.scalar(
            select(func.count()).select_from(IndicatorValue).where(IndicatorValue.period == "2023")
        )
        cells = await s.scalar(
            select(func.count())
            .select_from(
                select(IndicatorValue.indicator, IndicatorValue.area, IndicatorValue.by,
                       IndicatorValue.stratum)
                .where(IndicatorValue.period == "2023")
                .distinct()
                .subquery()
            )
        )  # fmt: skip
        infant = await s.scalar(
            select(IndicatorValue.numerator).where(
                IndicatorValue.period == "2023",
                IndicatorValue.indicator == "infant_mortality",
                IndicatorValue.area == vital.place.region,
                IndicatorValue.by == "",
            )
        )
    assert stored == first == cells
    assert infant == 3
