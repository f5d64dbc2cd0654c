"""The ministry's sanatorium dashboard (issue 15 item 7): queue lengths and waits by
treatment profile and region, offers and their outcomes, no-shows, and the occupancy of
each sanatorium's beds.

Aggregates only: no name, person id, referral number or diagnosis leaves this module, so
its readers (analysts of the ministry and of the insurance fund, permission
``sanatorium:dashboard``) need no person scope; each answer is audited as an aggregate
read (resource type ``SanatoriumDashboard``), its CSV exports too. Every figure is a
``GROUP BY`` in the database (a handful of statements whatever the size of the queues);
Python only folds the groups into rows.

Definitions (``DEFINITIONS`` travels with every answer). The period is whole months
(``from``..``to``, by the pack's local calendar); a queue is (profile, region), the region
being '' where the pack keeps national queues.

- In line: entries standing in the queue now (queued or holding an offer).
- Released in the last 3 months: bookings of the queue's entries (offers accepted) in the
  three whole months before this one, as a citizen's waiting-time range counts them; the
  expected wait of a newcomer is the queue's length + 1 at that pace.
- Waits: of the queue's entries booked in the period, the days from the application (the
  referral's creation; its application time when that is earlier) to the booking, in whole
  days; the median and the 90th percentile (linear between the two nearest, as
  ``statistics.quantiles(method="inclusive")``), withheld when fewer than 5 were booked.
  A person sent to the end of the queue after a lapsed offer keeps the wait since her
  first application.
- Offers made in the period (their offer day) and what became of them: accepted, declined,
  lapsed, other (still open, or withdrawn when the referral was cancelled).
- No-shows: stays starting in the period whose outcome is known (arrived or no-show): how
  many did not arrive, and their share.
- Occupancy per sanatorium and profile: bed-days booked (stays holding a bed: booked,
  arrived or completed; each night of the stay inside the period) over bed-days available
  (the profile's beds in use, or holding such a stay, times the days of the period).
- Small cells (``suppression``): offer outcomes and no-shows describe what people did, so
  a count of 1 to 4 is shown as ``"<5"`` and others are withheld with it (``"x"``) until
  none can be worked out from the row's and the column's totals; when no choice protects
  them, every outcome count of that table is withheld (``too_few``). Queue lengths and
  releases are public already (the public queue list and every citizen's waiting-time
  range), occupancy counts bed-days, not people.

Differencing two answers (two periods, or the whole country minus a region) can still
bound a suppressed cell (each table is checked against every combination of its own
published sums, not against other answers); every answer is in the audit trail.

The answer's models, ``DASHBOARD_DEFINITIONS`` and the CSV exports are in
``analytics_out``, re-exported here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    HOLDING,
    IN_QUEUE,
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.service.analytics_out import (
    DASHBOARD_DEFINITIONS,
    DASHBOARD_TABLES,
    OccupancyRow,
    QueueRow,
    SanatoriumDashboard,
    dashboard_csv,
)
from salomat.domains.sanatorium.service.rules import (
    DAYS_PER_MONTH,
    RELEASE_MONTHS,
    local_midnight,
    local_today,
    sanatorium_rules,
)
from salomat.domains.sanatorium.service.suppression import protect_grid, protect_table, shown

__all__ = [
    "DASHBOARD",
    "DASHBOARD_DEFINITIONS",
    "DASHBOARD_TABLES",
    "OccupancyRow",
    "QueueRow",
    "SanatoriumDashboard",
    "dashboard_csv",
    "protect_grid",
    "quantile",
    "sanatorium_dashboard",
]

#: the audit's resource type
DASHBOARD = "SanatoriumDashboard"
#: the default period: the last 12 months, the current one included
DEFAULT_MONTHS = 12
#: a period may reach this many months ahead (occupancy of places already booked)
AHEAD_MONTHS = 12
#: waits are published from this many bookings on
MIN_WAITS = 5
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# ---- the period ----------------------------------------------------------------------------


def _month(text: str | None, field: str) -> tuple[tuple[int, int] | None, list[FieldError]]:
    if text is None or not text.strip():
        return None, []
    m = _MONTH.match(text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return None, [
            FieldError(field, N_("%(value)s is not a month (YYYY-MM)"), {"value": repr(text)})
        ]
    return (int(m.group(1)), int(m.group(2))), []


def _shift(ym: tuple[int, int], months: int) -> tuple[int, int]:
    k = ym[0] * 12 + ym[1] - 1 + months
    return k // 12, k % 12 + 1


def _ym(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def period(
    month_from: str | None, month_to: str | None, today: date
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The months asked for (default: the last 12, this one included; at most
    ``AHEAD_MONTHS`` ahead); wrong ones named."""
    end, errors = _month(month_to, "to")
    start, errs = _month(month_from, "from")
    errors += errs
    now = (today.year, today.month)
    if end is not None and end > _shift(now, AHEAD_MONTHS):
        errors.append(FieldError("to", N_("is more than %(n)s months ahead"), {"n": AHEAD_MONTHS}))
    if errors:
        raise Invalid.fields(errors)
    end = end or now
    start = start or _shift(end, 1 - DEFAULT_MONTHS)
    if start > end:
        raise Invalid.fields(
            [FieldError("from", N_("is after the end of the period (%(day)s)"), {"day": _ym(end)})]
        )
    return start, end


# ---- SQL expressions -----------------------------------------------------------------------


def _wait_days(dialect: str) -> Any:
    """Whole days from the application to the booking."""
    r, s = SanatoriumReferral, SanatoriumStay
    if dialect == "sqlite":
        # whole seconds as integers: julianday's floating point can land a hair under a day
        since = func.min(r.created_at, r.applied_at)
        seconds = cast(func.strftime("%s", s.booked_at), Integer) - cast(
            func.strftime("%s", since), Integer
        )
        return seconds // 86400
    since = func.least(r.created_at, r.applied_at)
    return cast(func.floor(func.date_part("epoch", s.booked_at - since) / 86400), Integer)


def _nights(dialect: str, start: date, end: date) -> Any:
    """Nights of a stay inside [start, end) (the caller keeps to stays overlapping it)."""
    s = SanatoriumStay
    if dialect == "sqlite":
        last = func.min(s.ends_on, end.isoformat())
        first = func.max(s.starts_on, start.isoformat())
        return cast(func.round(func.julianday(last) - func.julianday(first)), Integer)
    return func.least(s.ends_on, end) - func.greatest(s.starts_on, start)


# ---- percentiles ---------------------------------------------------------------------------


def quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile of whole-day values given as {value: how many}: linear between the
    two nearest ranks (``statistics.quantiles(method="inclusive")``; q=0.5 is the median).
    Pure, so it is checked against ``statistics`` on the same data."""
    n = sum(histogram.values())
    if n == 0:
        return None
    h = (n - 1) * q
    lo_rank = math.floor(h)
    frac = h - lo_rank
    values = sorted(histogram.items())

    def at(rank: int) -> int:
        seen = 0
        for v, k in values:
            seen += k
            if rank < seen:
                return v
        return values[-1][0]

    lo = at(lo_rank)
    if frac == 0:
        return float(lo)
    return round(lo + frac * (at(lo_rank + 1) - lo), 2)


# ---- the dashboard -------------------------------------------------------------------------


async def _area(session: AsyncSession, region: str | None) -> Any:
    if region is None:
        return None
    unit = await registry.territory_by_code(session, region)
    if unit is None:
        raise Invalid.fields(
            [FieldError("region", N_("no territorial unit has code %(code)s"), {"code": region})]
        )
    if unit.level != "region":
        raise Invalid.fields(
            [
                FieldError(
                    "region",
                    N_("%(code)s is not a region: the queues are kept by region"),
                    {"code": region},
                )
            ]
        )
    return unit


Key = tuple[str, str]


async def _grouped(session: AsyncSession, query: Any) -> list[Any]:
    return list(await session.execute(query))


async def sanatorium_dashboard(
    session: AsyncSession,
    principal: Principal,
    *,
    region: str | None = None,
    month_from: str | None = None,
    month_to: str | None = None,
    today: date | None = None,
) -> SanatoriumDashboard:
    """The figures of the country or one region for whole months.

    ``region``: a region code (None: the whole country). ``month_from`` and ``month_to``
    are ``YYYY-MM`` (default: the last 12 months). Wrong values are refused naming the
    field (``region``, ``from``, ``to``).
    """
    today = today or local_today()
    rules = sanatorium_rules()
    start_ym, end_ym = period(month_from, month_to, today)
    start = date(*start_ym, 1)
    end = date(*_shift(end_ym, 1), 1)  # exclusive
    unit = await _area(session, region)
    national = not rules.queue_by_region
    dialect = session.bind.dialect.name
    r, s, o = SanatoriumReferral, SanatoriumStay, SanatoriumOffer
    in_area = [] if unit is None or national else [r.region == unit.code]
    since, until = local_midnight(start), local_midnight(end)
    this_month = date(today.year, today.month, 1)
    first_release = date(*_shift((today.year, today.month), -RELEASE_MONTHS), 1)

    in_line = {
        (pr, rg): int(n)
        for pr, rg, n in await _grouped(
            session,
            select(r.profile, r.region, func.count())
            .where(r.status.in_(IN_QUEUE), *in_area)
            .group_by(r.profile, r.region),
        )
    }
    released = {
        (pr, rg): int(n)
        for pr, rg, n in await _grouped(
            session,
            select(r.profile, r.region, func.count())
            .select_from(s)
            .join(r, r.id == s.referral_id)
            .where(
                r.direct.is_(False),
                s.booked_at >= local_midnight(first_release),
                s.booked_at < local_midnight(this_month),
                *in_area,
            )
            .group_by(r.profile, r.region),
        )
    }
    days = _wait_days(dialect).label("days")
    waits: dict[Key, dict[int, int]] = {}
    for pr, rg, d, n in await _grouped(
        session,
        select(r.profile, r.region, days, func.count())
        .select_from(s)
        .join(r, r.id == s.referral_id)
        .where(r.direct.is_(False), s.booked_at >= since, s.booked_at < until, *in_area)
        .group_by(r.profile, r.region, days),
    ):
        hist = waits.setdefault((pr, rg), {})
        day = max(int(d), 0)
        hist[day] = hist.get(day, 0) + int(n)
    offers: dict[Key, dict[str, int]] = {}
    for pr, rg, status, n in await _grouped(
        session,
        select(r.profile, r.region, o.status, func.count())
        .select_from(o)
        .join(r, r.id == o.referral_id)
        .where(o.offered_at >= since, o.offered_at < until, *in_area)
        .group_by(r.profile, r.region, o.status),
    ):
        offers.setdefault((pr, rg), {})[status] = int(n)
    settled: dict[Key, dict[str, int]] = {}
    for pr, rg, status, n in await _grouped(
        session,
        select(r.profile, r.region, s.status, func.count())
        .select_from(s)
        .join(r, r.id == s.referral_id)
        .where(
            s.starts_on >= start,
            s.starts_on < end,
            s.status.in_(("arrived", "fulfilled", "noshow")),
            *in_area,
        )
        .group_by(r.profile, r.region, s.status),
    ):
        kind = "noshow" if status == "noshow" else "arrived"
        row = settled.setdefault((pr, rg), {})
        row[kind] = row.get(kind, 0) + int(n)

    keys = sorted(set(in_line) | set(released) | set(waits) | set(offers) | set(settled))
    queues, queues_total, offers_too_few, noshow_too_few = _queue_rows(
        keys, in_line, released, waits, offers, settled
    )
    occupancy, by_profile, occupancy_total = await _occupancy(
        session, dialect, start, end, unit.code if unit is not None else None
    )
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=DASHBOARD,
        resource_id=region or "national",
        purpose="aggregate monitoring",
        detail=f"months {_ym(start_ym)}..{_ym(end_ym)}",
    )
    return SanatoriumDashboard(
        area_code=unit.code if unit else None,
        area_name=unit.name if unit else None,
        month_from=_ym(start_ym),
        month_to=_ym(end_ym),
        period_start=start,
        period_end=end - timedelta(days=1),
        as_of=utcnow(),
        queues_national=national,
        offers_too_few=offers_too_few,
        noshow_too_few=noshow_too_few,
        queues=queues,
        queues_total=queues_total,
        occupancy=occupancy,
        occupancy_by_profile=by_profile,
        occupancy_total=occupancy_total,
        definitions=DASHBOARD_DEFINITIONS,
    )


OUTCOMES = ("accepted", "declined", "lapsed", "other")


def _wait_new(in_line: int, released: int) -> float | None:
    if released <= 0:
        return None
    return round((in_line + 1) / (released / RELEASE_MONTHS) * DAYS_PER_MONTH, 1)


def _queue_rows(
    keys: list[Key],
    in_line: dict[Key, int],
    released: dict[Key, int],
    waits: dict[Key, dict[int, int]],
    offers: dict[Key, dict[str, int]],
    settled: dict[Key, dict[str, int]],
) -> tuple[list[QueueRow], QueueRow, bool, bool]:
    def outcome(k: Key, what: str) -> int:
        got = offers.get(k, {})
        if what == "other":
            return sum(n for st, n in got.items() if st not in OUTCOMES)
        return got.get(what, 0)

    offer_grid = [[outcome(k, c) for c in OUTCOMES] for k in keys]
    noshow_grid = [[settled.get(k, {}).get(c, 0) for c in ("arrived", "noshow")] for k in keys]
    off_hidden, off_total_hidden, offers_too_few = protect_table(offer_grid)
    ns_hidden, ns_total_hidden, noshow_too_few = protect_table(noshow_grid)

    def row(
        k: tuple[str | None, str | None],
        line: int | None,
        counts: tuple[int, int],
        hist: dict[int, int],
        off: list[int],
        ns: list[int],
    ) -> QueueRow:
        queued, rel = counts
        booked = sum(hist.values())
        enough = booked >= MIN_WAITS

        def off_hidden_at(c: int) -> bool:
            return (line, c) in off_hidden if line is not None else c in off_total_hidden

        def ns_hidden_at(c: int) -> bool:
            return (line, c) in ns_hidden if line is not None else c in ns_total_hidden

        noshow = shown(ns[1], ns_hidden_at(1))
        settled_n = ns[0] + ns[1]
        return QueueRow(
            profile=k[0],
            region=k[1],
            in_line=queued,
            released_3m=rel,
            wait_days_new=_wait_new(queued, rel),
            booked=booked,
            wait_days_median=quantile(hist, 0.5) if enough else None,
            wait_days_p90=quantile(hist, 0.9) if enough else None,
            offers_made=sum(off),
            offers_accepted=shown(off[0], off_hidden_at(0)),
            offers_declined=shown(off[1], off_hidden_at(1)),
            offers_lapsed=shown(off[2], off_hidden_at(2)),
            offers_other=shown(off[3], off_hidden_at(3)),
            stays_settled=settled_n,
            arrived=shown(ns[0], ns_hidden_at(0)),
            noshow=noshow,
            noshow_share=round(ns[1] / settled_n, 4)
            if isinstance(noshow, int) and settled_n
            else None,
        )

    rows = [
        row(
            k,
            i,
            (in_line.get(k, 0), released.get(k, 0)),
            waits.get(k, {}),
            offer_grid[i],
            noshow_grid[i],
        )
        for i, k in enumerate(keys)
    ]
    merged: dict[int, int] = {}
    for hist in waits.values():
        for d, n in hist.items():
            merged[d] = merged.get(d, 0) + n
    total = row(
        (None, None),
        None,
        (sum(in_line.values()), sum(released.values())),
        merged,
        [sum(line[c] for line in offer_grid) for c in range(len(OUTCOMES))],
        [sum(line[c] for line in noshow_grid) for c in range(2)],
    )
    return rows, total, offers_too_few, noshow_too_few


async def _occupancy(
    session: AsyncSession, dialect: str, start: date, end: date, region: str | None
) -> tuple[list[OccupancyRow], list[OccupancyRow], OccupancyRow]:
    """Bed-days booked and available per sanatorium and profile (two GROUP BY)."""
    s, p, b = SanatoriumStay, SanatoriumPeriod, SanatoriumBed
    overlapping = and_(s.status.in_(HOLDING), s.starts_on < end, s.ends_on > start)
    nights = _nights(dialect, start, end)
    booked = {
        (fid, profile): int(n or 0)
        for fid, profile, n in await _grouped(
            session,
            select(s.facility_id, p.profile, func.sum(nights))
            .select_from(s)
            .join(p, p.id == s.period_id)
            .where(overlapping)
            .group_by(s.facility_id, p.profile),
        )
    }
    holds = exists().where(s.bed_id == b.id, overlapping)
    beds = {
        (fid, profile): int(n)
        for fid, profile, n in await _grouped(
            session,
            select(b.facility_id, b.profile, func.count())
            .where(or_(b.active.is_(True), holds))
            .group_by(b.facility_id, b.profile),
        )
    }
    keys = set(booked) | set(beds)
    regions = await registry.facility_regions(session, {fid for fid, _ in keys})
    if region is not None:
        keys = {k for k in keys if regions.get(k[0]) == region}
    names = await registry.facility_names(session, {fid for fid, _ in keys})
    lang = i18n.current_language()
    period_days = (end - start).days

    def line(fid: int | None, profile: str | None, n_beds: int, n_booked: int) -> OccupancyRow:
        f = names.get(fid) if fid is not None else None
        available = n_beds * period_days
        return OccupancyRow(
            facility_code=f.code if f else None,
            facility_name=str(f.names.get(lang) or f.name) if f else None,
            region=regions.get(fid) if fid is not None else None,
            profile=profile,
            beds=n_beds,
            bed_days_available=available,
            bed_days_booked=n_booked,
            occupancy=round(n_booked / available, 4) if available else None,
        )

    ordered = sorted(keys, key=lambda k: (names[k[0]].code if k[0] in names else "", k[1]))
    rows = [line(fid, pr, beds.get((fid, pr), 0), booked.get((fid, pr), 0)) for fid, pr in ordered]
    by_profile = [
        line(
            None,
            pr,
            sum(beds.get(k, 0) for k in keys if k[1] == pr),
            sum(booked.get(k, 0) for k in keys if k[1] == pr),
        )
        for pr in sorted({k[1] for k in keys})
    ]
    total = line(None, None, sum(beds.get(k, 0) for k in keys), sum(booked.get(k, 0) for k in keys))
    return rows, by_profile, total
