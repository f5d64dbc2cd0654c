"""The aggregate job: an on-demand run computes its periods with progress and a
checkpoint, starts the nightly chain, and a nightly run queues the next night."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from salomat.core import jobs
from salomat.domains.statistics import service

pytestmark = pytest.mark.anyio


async def test_on_demand_job_computes_and_the_nightly_chain_continues(db, vital) -> None:
    from salomat.domains.statistics.models import IndicatorValue

    await vital.death(date(2020, 5, 1), date(2020, 5, 9))
    job_id = await service.request_aggregate(db, ["2020-05", "2020"], requested_by="t")
    await db.commit()
    await jobs.run_until_idle(only=[service.AGGREGATE_KIND])
    done = await jobs.get(db, job_id)
    assert done.status == jobs.DONE, done.error
    assert done.result["periods"] == ["2020-05", "2020"]
    assert done.progress_done == 2
    assert done.checkpoint["done"] == ["2020-05", "2020"]
    row = await db.scalar(
        select(IndicatorValue).where(
            IndicatorValue.indicator == "neonatal_mortality",
            IndicatorValue.period == "2020-05",
            IndicatorValue.area == vital.place.region,
            IndicatorValue.by == "",
        )
    )
    assert row is not None
    assert row.numerator == 1
    # the nightly run is queued for a later night, once
    queued, _ = await jobs.recent(db, kind=service.AGGREGATE_KIND, status=jobs.QUEUED)
    nightly = [j for j in queued if j.payload.get("nightly")]
    assert len(nightly) == 1
    assert nightly[0].run_at > datetime.now(UTC)
    assert await service.ensure_nightly(db) is None


def test_nightly_periods_are_last_month_and_last_year() -> None:
    assert service.nightly_periods(date(2026, 3, 2)) == ["2026-02", "2025"]
    assert service.nightly_periods(date(2026, 1, 1)) == ["2025-12", "2025"]


async def test_a_nightly_run_computes_last_month_and_queues_the_next_night(db, vital) -> None:
    from salomat.core.config import get_settings
    from salomat.country import pack

    await vital.born(date(2000, 1, 1))  # someone alive in every year since
    # a nightly run due now (the chain may already hold one for a later night)
    job_id = await jobs.enqueue(db, service.AGGREGATE_KIND, {"nightly": True})
    await db.commit()
    await jobs.run_until_idle(only=[service.AGGREGATE_KIND])
    done = await jobs.get(db, job_id)
    assert done.status == jobs.DONE, done.error
    today = pack.today(get_settings().country)
    periods = done.result["periods"]
    assert periods[:2] == service.nightly_periods(today)
    # every one of the last ten closed years now has figures (backfilled if missing)
    from salomat.domains.statistics.models import IndicatorValue

    await db.commit()  # a fresh read (SQLite keeps the transaction's snapshot)
    have = set(await db.scalars(select(IndicatorValue.period).distinct()))
    assert {str(y) for y in range(today.year - 10, today.year)} <= have
    queued, _ = await jobs.recent(db, kind=service.AGGREGATE_KIND, status=jobs.QUEUED)
    later = [j for j in queued if j.payload.get("nightly")]
    assert len(later) == 1
    assert later[0].run_at > datetime.now(UTC)
