"""The aggregate job (core/jobs.py, kind ``statistics.aggregate``): computes the stored
indicators of one or more periods into ``indicator_value``.

Nightly: a job with ``nightly`` in its payload computes last month and the last closed
year (late registrations change them), and any of the last ``BACKFILL_YEARS`` closed
years not computed yet (so that trends read stored figures), then queues the next night's run at
``NIGHTLY_AT`` in the pack's time zone, so last month's figures are there the next
morning. ``ensure_nightly`` starts that chain when none is queued (``salomat statistics
schedule``; every on-demand run calls it too). On demand: ``request_aggregate`` (the
CLI's ``salomat statistics aggregate --period 2025`` and the API's POST).

Each period is one transaction; after each, the job records its progress and the
periods done (the checkpoint), so a resumed run carries on with the next one. A period
is replaced whole, so running it twice gives the same rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import jobs
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack
from salomat.domains.statistics.models import IndicatorValue as Row
from salomat.domains.statistics.service.aggregate import aggregate_period, parse_period

__all__ = [
    "AGGREGATE_KIND",
    "NIGHTLY_AT",
    "ensure_nightly",
    "nightly_periods",
    "request_aggregate",
    "run_aggregate",
]

AGGREGATE_KIND = "statistics.aggregate"
#: local time of the nightly run
NIGHTLY_AT = time(1, 30)
#: at most this many periods a request
MAX_PERIODS = 60
#: the nightly run computes any of this many last closed years that has no figures yet
BACKFILL_YEARS = 10


def nightly_periods(today: date) -> list[str]:
    """Last month and the last closed year."""
    first = today.replace(day=1)
    last_month = first - timedelta(days=1)
    return [f"{last_month:%Y-%m}", str(today.year - 1)]


async def _missing_years(session: AsyncSession, today: date) -> list[str]:
    have = set(
        await session.scalars(select(Row.period).distinct().where(func.length(Row.period) == 4))
    )
    years = range(today.year - BACKFILL_YEARS, today.year)
    return [str(y) for y in reversed(years) if str(y) not in have]


def _next_night(now: datetime | None = None) -> datetime:
    tz = pack.time_zone(get_settings().country)
    local = (now or datetime.now(UTC)).astimezone(tz)
    run = datetime.combine(local.date(), NIGHTLY_AT, tzinfo=tz)
    if run <= local:
        run = datetime.combine(local.date() + timedelta(days=1), NIGHTLY_AT, tzinfo=tz)
    return run.astimezone(UTC)


async def ensure_nightly(session: AsyncSession, now: datetime | None = None) -> int | None:
    """Queue the next nightly run unless one is queued or running; its id (None: there
    was one already)."""
    for status in (jobs.QUEUED, jobs.RUNNING):
        page, _ = await jobs.recent(session, kind=AGGREGATE_KIND, status=status, limit=200)
        if any(j.payload.get("nightly") for j in page):
            return None
    return await jobs.enqueue(
        session, AGGREGATE_KIND, {"nightly": True}, created_by="nightly",
        run_at=_next_night(now),
    )  # fmt: skip


async def request_aggregate(
    session: AsyncSession, periods: list[str], *, requested_by: str | None
) -> int:
    """Queue a job computing these closed periods (each YYYY or YYYY-MM); 422 naming
    ``period`` for a bad or open one. The job runs once the caller commits."""
    if not periods:
        raise Invalid.fields([FieldError("period", N_("name at least one period"))])
    if len(periods) > MAX_PERIODS:
        raise Invalid.fields(
            [FieldError("period", N_("at most %(n)s periods at once"), {"n": MAX_PERIODS})]
        )
    codes = [parse_period(p).code for p in periods]
    job_id = await jobs.enqueue(
        session, AGGREGATE_KIND, {"periods": codes}, created_by=requested_by
    )
    await ensure_nightly(session)
    return job_id


async def run_aggregate(session_factory: Any, periods: list[str], progress: Any = None) -> int:
    """Compute the periods, one transaction each (the CLI's in-process run); rows written."""
    total = 0
    for i, code in enumerate(periods):
        async with session_factory() as s:
            total += await aggregate_period(s, parse_period(code))
            await s.commit()
        if progress is not None:
            progress(i + 1, len(periods), code)
    return total


@jobs.handler(AGGREGATE_KIND, max_attempts=3, backoff=(60, 600))
async def _aggregate(ctx: jobs.JobContext) -> dict[str, Any]:
    nightly = bool(ctx.payload.get("nightly"))
    if nightly:
        today = pack.today(get_settings().country)
        periods = nightly_periods(today)
        if ctx.checkpoint is None:
            async with ctx.session() as s:
                periods += [y for y in await _missing_years(s, today) if y not in periods]
        else:
            periods = list(ctx.checkpoint.get("periods", periods))
    else:
        periods = [str(p) for p in ctx.payload.get("periods", [])]
    done: list[str] = list((ctx.checkpoint or {}).get("done", []))
    rows = int((ctx.checkpoint or {}).get("rows", 0))
    await ctx.progress(len(done), len(periods))
    for code in periods:
        if code in done:
            continue
        try:
            period = parse_period(code)
        except Invalid as e:
            raise jobs.Permanent(f"period {code}: not a closed period") from e
        async with ctx.session() as s:
            rows += await aggregate_period(s, period)
            await s.commit()
        done.append(code)
        await ctx.progress(
            len(done), len(periods), {"done": done, "rows": rows, "periods": periods}
        )
    if nightly:
        async with ctx.session() as s:
            await ensure_nightly_after(s, ctx.id)
            await s.commit()
    return {"periods": done, "rows": rows}


async def ensure_nightly_after(session: AsyncSession, job_id: int) -> None:
    """The nightly job queues the next one (itself still running, so it is not counted)."""
    page, _ = await jobs.recent(session, kind=AGGREGATE_KIND, status=jobs.QUEUED, limit=200)
    if not any(j.payload.get("nightly") for j in page):
        await jobs.enqueue(
            session, AGGREGATE_KIND, {"nightly": True}, created_by="nightly",
            run_at=_next_night(),
        )  # fmt: skip
