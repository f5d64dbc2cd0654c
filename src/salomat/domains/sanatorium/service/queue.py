"""The queue: a person's position, the waiting-time range, and the public list.

One queue per profile (and region, where the pack keeps regional queues), ordered by
(tier, application time, sequence number). The position is a count over the queue's
partial index (``ix_sanatorium_referral_queue``): one statement, no stored rank to keep
up to date when somebody ahead leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.db import UTCDateTime
from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack
from salomat.domains.sanatorium.models import (
    IN_QUEUE,
    SanatoriumQueueDay,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import PositionOut, PublicQueueEntryOut, ReferralOut
from salomat.domains.sanatorium.service.common import pseudonym
from salomat.domains.sanatorium.service.rules import (
    RELEASE_MONTHS,
    as_utc,
    local_midnight,
    local_today,
    sanatorium_rules,
    wait_range,
)

__all__ = [
    "entries_ahead",
    "monthly_releases",
    "position_of",
    "positions_of",
    "public_queue",
    "queue_lengths",
    "with_position",
]


def _month_start(day: date, back: int) -> date:
    y, m = day.year, day.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


async def monthly_releases(
    session: AsyncSession, profile: str, region: str, today: date | None = None
) -> list[int]:
    """Places released to this queue (bookings of its entries) in each of the last
    three whole months, oldest first, by the pack's local calendar: one statement."""
    return (await _releases(session, {(profile, region)}, today))[(profile, region)]


async def _releases(
    session: AsyncSession, queues: set[tuple[str, str]], today: date | None = None
) -> dict[tuple[str, str], list[int]]:
    """``monthly_releases`` of several queues (profile, region) in one statement."""
    today = today or local_today()
    bounds = [local_midnight(_month_start(today, back)) for back in range(RELEASE_MONTHS, -1, -1)]
    month = case(
        *((SanatoriumStay.booked_at < end, i) for i, end in enumerate(bounds[1:])),
        else_=RELEASE_MONTHS,
    )
    rows = await session.execute(
        select(SanatoriumReferral.profile, SanatoriumReferral.region, month, func.count())
        .select_from(SanatoriumStay)
        .join(SanatoriumReferral, SanatoriumReferral.id == SanatoriumStay.referral_id)
        .where(
            SanatoriumStay.booked_at >= bounds[0],
            SanatoriumStay.booked_at < bounds[-1],
            SanatoriumReferral.profile.in_(sorted({p for p, _ in queues})),
            SanatoriumReferral.region.in_(sorted({r for _, r in queues})),
            SanatoriumReferral.direct.is_(False),
        )
        .group_by(SanatoriumReferral.profile, SanatoriumReferral.region, month)
    )
    out = {q: [0] * RELEASE_MONTHS for q in queues}
    for profile, region, i, n in rows:
        if (profile, region) in out:
            out[(profile, region)][int(i)] = int(n)
    return out


def _ahead(r: SanatoriumReferral) -> Any:
    """How many stand before ``r`` in its queue, as one scalar expression: the counts the
    database keeps per tier and application day (``sanatorium_queue_day``) for every
    day before the entry's, plus the entries of its own day and tier before it (a short
    range of the queue's index) — not a count over everybody ahead."""
    applied = as_utc(r.applied_at)
    day = applied.astimezone(UTC).date()
    earlier_days = select(func.coalesce(func.sum(SanatoriumQueueDay.n), 0)).where(
        SanatoriumQueueDay.profile == r.profile,
        SanatoriumQueueDay.region == r.region,
        or_(
            SanatoriumQueueDay.tier < r.tier,
            and_(SanatoriumQueueDay.tier == r.tier, SanatoriumQueueDay.day < day),
        ),
    )
    same_day = (
        select(func.count())
        .select_from(SanatoriumReferral)
        .where(
            SanatoriumReferral.profile == r.profile,
            SanatoriumReferral.region == r.region,
            SanatoriumReferral.status.in_(IN_QUEUE),
            SanatoriumReferral.tier == r.tier,
            SanatoriumReferral.applied_at >= datetime.combine(day, time(0), tzinfo=UTC),
            tuple_(SanatoriumReferral.applied_at, SanatoriumReferral.id)
            < tuple_(literal(applied, UTCDateTime()), literal(r.id)),
        )
    )
    return earlier_days.scalar_subquery() + same_day.scalar_subquery()


async def entries_ahead(session: AsyncSession, r: SanatoriumReferral) -> int:
    """How many stand before ``r`` in its queue, in one statement (``_ahead``)."""
    total = await session.scalar(select(_ahead(r)))
    return int(total or 0)


#: queue entries whose counts one statement reads at most (SQLite joins at most 500
#: selects in one compound statement)
_AHEAD_BATCH = 200


async def _entries_ahead(
    session: AsyncSession, refs: Sequence[SanatoriumReferral]
) -> dict[int, int]:
    """``entries_ahead`` of many entries, one statement per ``_AHEAD_BATCH`` of them."""
    out: dict[int, int] = {}
    for i in range(0, len(refs), _AHEAD_BATCH):
        parts = [
            select(literal(r.id).label("id"), _ahead(r).label("n"))
            for r in refs[i : i + _AHEAD_BATCH]
        ]
        q = parts[0] if len(parts) == 1 else union_all(*parts)
        for rid, n in (await session.execute(q)).all():
            out[int(rid)] = int(n or 0)
    return out


def _position(r: SanatoriumReferral, ahead: int, releases: list[int]) -> PositionOut:
    wait = wait_range(ahead + 1, releases)
    return PositionOut(
        profile=r.profile,
        region=r.region,
        position=ahead + 1,
        ahead=ahead,
        monthly_releases=releases,
        wait_days_expected=_round(wait.expected_days),
        wait_days_shortest=_round(wait.shortest_days),
        wait_days_longest=_round(wait.longest_days),
        pseudonym=pseudonym(r.number),
    )


async def position_of(
    session: AsyncSession, r: SanatoriumReferral, today: date | None = None
) -> PositionOut:
    ahead = await entries_ahead(session, r)
    releases = await monthly_releases(session, r.profile, r.region, today)
    return _position(r, ahead, releases)


async def positions_of(
    session: AsyncSession, refs: Sequence[SanatoriumReferral], today: date | None = None
) -> dict[int, PositionOut]:
    """``position_of`` of the entries of ``refs`` still in a queue, by referral id, in a
    fixed few statements whatever their number (a bulk export's page): the counts ahead
    (``_entries_ahead``) and the releases of their queues (``_releases``)."""
    waiting = [r for r in refs if r.status in IN_QUEUE]
    if not waiting:
        return {}
    ahead = await _entries_ahead(session, waiting)
    releases = await _releases(session, {(r.profile, r.region) for r in waiting}, today)
    return {r.id: _position(r, ahead[r.id], releases[(r.profile, r.region)]) for r in waiting}


def _round(days: float | None) -> float | None:
    return None if days is None else round(days, 1)


async def with_position(
    session: AsyncSession, r: SanatoriumReferral, out: ReferralOut
) -> ReferralOut:
    if r.status in IN_QUEUE:
        out.position = await position_of(session, r)
    return out


def _queue(profile: str, region: str) -> list[FieldError]:
    rules = sanatorium_rules()
    errors = []
    if profile not in rules.profiles:
        errors.append(FieldError("profile", N_("is not a treatment profile of this country")))
    if not rules.queue_by_region and region:
        errors.append(FieldError("region", N_("this country keeps one national queue per profile")))
    return errors


async def public_queue(
    session: AsyncSession, profile: str, region: str = "", *, offset: int = 0, limit: int = 100
) -> tuple[list[PublicQueueEntryOut], int]:
    """Public: the queue in order, each entry by its pseudonym, tier and application day
    (no name, no id, no diagnosis), and how many stand in it."""
    errors = _queue(profile, region)
    if errors:
        raise Invalid(N_("No such queue."), errors=errors)
    where = and_(
        SanatoriumReferral.profile == profile,
        SanatoriumReferral.region == region,
        SanatoriumReferral.status.in_(IN_QUEUE),
    )
    total = int(
        await session.scalar(select(func.count()).select_from(SanatoriumReferral).where(where)) or 0
    )
    rows = await session.execute(
        select(
            SanatoriumReferral.number,
            SanatoriumReferral.tier,
            SanatoriumReferral.applied_at,
            SanatoriumReferral.status,
        )
        .where(where)
        .order_by(SanatoriumReferral.tier, SanatoriumReferral.applied_at, SanatoriumReferral.id)
        .offset(offset)
        .limit(limit)
    )
    tz = pack.time_zone(get_settings().country)
    out = [
        PublicQueueEntryOut(
            position=offset + i + 1,
            pseudonym=pseudonym(r.number),
            tier=r.tier,
            applied_on=as_utc(r.applied_at).astimezone(tz).date(),
            status=r.status,
        )
        for i, r in enumerate(rows)
    ]
    return out, total


async def queue_lengths(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Entries standing in each queue (profile, region)."""
    rows = await session.execute(
        select(SanatoriumReferral.profile, SanatoriumReferral.region, func.count())
        .where(SanatoriumReferral.status.in_(IN_QUEUE))
        .group_by(SanatoriumReferral.profile, SanatoriumReferral.region)
    )
    return {(p, r): int(n) for p, r, n in rows}
