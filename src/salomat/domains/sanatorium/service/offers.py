"""Offers and bookings: a freed place goes to the first eligible person in line, held for
the pack's hours; accepted, it becomes a booked bed; declined or lapsed, the person's
place follows the pack's rule and the place goes to the next.

A bed never holds two overlapping stays: the booking holds the period's row (its
capacity is counted by one writer at a time), picks a bed no holding stay overlaps
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and the database's exclusion constraint (a
trigger on SQLite) refuses an overlap whatever path wrote it. ``sweep`` is the one job
that moves time on: lapses, no-shows, new offers; ``salomat sanatorium sweep`` runs it,
and the server runs it in-process every few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    InvalidState,
    Msgid,
    NotFound,
)
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    HOLDING,
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumQueueDay,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import BookIn, ReferralOut
from salomat.domains.sanatorium.service.common import (
    REFERRAL,
    holding_offer,
    log_event,
    new_voucher_code,
    open_referral,
    places,
    referrals_out,
    require_facility,
)
from salomat.domains.sanatorium.service.labels import OFFER_STATUS_LABELS
from salomat.domains.sanatorium.service.rules import (
    as_utc,
    local_midnight,
    local_today,
    sanatorium_rules,
)

__all__ = ["SweepResult", "accept_offer", "book_direct", "decline_offer", "sweep"]

#: who the sweep acts as in the queue's log
SYSTEM = "system"
#: offers made per period in one sweep at most (the rest in the next)
SWEEP_BATCH = 500


@dataclass
class SweepResult:
    lapsed: int = 0
    noshows: int = 0
    offered: int = 0


async def _requeue(
    session: AsyncSession, r: SanatoriumReferral, outcome: str, by: str, now: datetime, why: str
) -> None:
    """The person's place after a declined or lapsed offer, as the pack says."""
    if outcome == "keep":
        r.status = "queued"
    elif outcome == "end_of_queue":
        before = r.applied_at
        r.status = "queued"
        r.applied_at = now
        await log_event(
            session,
            r,
            "requeued",
            by,
            reason=why,
            detail={"applied_at_before": as_utc(before).isoformat()},
        )
    else:  # withdraw
        r.status = "cancelled"
        r.cancel_reason = why
        await log_event(session, r, "withdrawn", by, reason=why)
    r.updated_at = now


async def _hold_referral(
    session: AsyncSession, referral_id: int, *, skip_locked: bool = False
) -> SanatoriumReferral | None:
    """Lock a referral first: every use case locks referral, then offer, then stay, then
    period, so two of them never wait on each other in a circle. The sweep skips a
    referral somebody is changing (it comes back at the next run)."""
    return (
        await session.execute(
            select(SanatoriumReferral)
            .where(SanatoriumReferral.id == referral_id)
            .with_for_update(skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _lapse(session: AsyncSession, now: datetime) -> int:
    rules = sanatorium_rules()
    due = (
        await session.execute(
            select(SanatoriumOffer.id, SanatoriumOffer.referral_id)
            .where(SanatoriumOffer.status == "open", SanatoriumOffer.expires_at <= now)
            .order_by(SanatoriumOffer.id)
        )
    ).all()
    lapsed = 0
    for offer_id, referral_id in due:
        r = await _hold_referral(session, referral_id, skip_locked=True)
        if r is None:
            continue
        o = (
            await session.execute(
                select(SanatoriumOffer)
                .where(SanatoriumOffer.id == offer_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        if o.status != "open" or as_utc(o.expires_at) > now:
            continue  # accepted, declined or withdrawn meanwhile
        o.status = "lapsed"
        o.decided_at = now
        o.decided_by = SYSTEM
        await log_event(session, r, "lapsed", SYSTEM, detail={"offer": o.id, "period": o.period_id})
        if r.status == "offered":
            await _requeue(session, r, rules.offer.on_lapse, SYSTEM, now, "offer lapsed")
        lapsed += 1
    await session.flush()
    return lapsed


async def _noshows(session: AsyncSession, today: date, now: datetime) -> int:
    from salomat.domains.sanatorium.service.stays import mark_noshow

    grace = sanatorium_rules().noshow_grace_days
    due = (
        await session.execute(
            select(SanatoriumStay.id, SanatoriumStay.referral_id)
            .where(
                SanatoriumStay.status == "booked",
                SanatoriumStay.starts_on < today - timedelta(days=grace),
            )
            .order_by(SanatoriumStay.id)
        )
    ).all()
    done = 0
    for stay_id, referral_id in due:
        r = await _hold_referral(session, referral_id, skip_locked=True)
        if r is None:
            continue
        s = (
            await session.execute(
                select(SanatoriumStay)
                .where(SanatoriumStay.id == stay_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        if s.status != "booked":
            continue  # arrived or cancelled meanwhile
        await mark_noshow(session, s, r, SYSTEM, now)
        done += 1
    return done


def last_bookable_day(p: SanatoriumPeriod) -> date:
    """The last day a place of the period can still be taken (late arrivals included)."""
    return p.starts_on + timedelta(days=sanatorium_rules().offer.offer_until_days_after_start)


def offer_deadline(p: SanatoriumPeriod, now: datetime) -> datetime | None:
    """The pack's hold, but never past the end of the period's last bookable day (local
    time); ``None`` when less than the pack's minimum hold would be left to answer."""
    rules = sanatorium_rules().offer
    end = local_midnight(last_bookable_day(p) + timedelta(days=1))
    deadline = min(now + timedelta(hours=rules.hold_hours), end)
    if deadline - now < timedelta(hours=rules.min_hold_hours):
        return None
    return deadline


async def _offer(session: AsyncSession, now: datetime, today: date) -> int:
    rules = sanatorium_rules()
    periods = list(
        await session.scalars(
            select(SanatoriumPeriod)
            .where(
                SanatoriumPeriod.status == "open",
                SanatoriumPeriod.starts_on
                >= today - timedelta(days=rules.offer.offer_until_days_after_start),
            )
            .order_by(SanatoriumPeriod.starts_on, SanatoriumPeriod.id)
        )
    )
    # a period whose queue has nobody in line gets no offer: skip it without a query
    # (the per-day counts the database keeps say which queues have anyone)
    waiting = {
        (profile, region)
        for profile, region in await session.execute(
            select(SanatoriumQueueDay.profile, SanatoriumQueueDay.region)
            .where(SanatoriumQueueDay.n > 0)
            .distinct()
        )
    }
    periods = [p for p in periods if (p.profile, p.region) in waiting]
    if not periods:
        return 0
    counts = await places(session, [p.id for p in periods], now)
    made = 0
    for p in periods:
        booked, held = counts[p.id]
        if p.capacity - booked - held <= 0:
            continue
        deadline = offer_deadline(p, now)
        if deadline is None:
            continue  # too late to answer: the place stays free on the public list
        # hold the period as a booking does, and count again: a booking meanwhile took
        # a place this count still saw
        await session.execute(
            select(SanatoriumPeriod.id).where(SanatoriumPeriod.id == p.id).with_for_update()
        )
        booked, held = (await places(session, [p.id], now))[p.id]
        free = min(p.capacity - booked - held, SWEEP_BATCH)
        if free <= 0:
            continue
        # held while offered: two sweeps at once do not offer one person twice
        refused_before = exists().where(
            SanatoriumOffer.referral_id == SanatoriumReferral.id,
            SanatoriumOffer.period_id == p.id,
        )
        candidates = list(
            await session.scalars(
                select(SanatoriumReferral)
                .where(
                    SanatoriumReferral.profile == p.profile,
                    SanatoriumReferral.region == p.region,
                    SanatoriumReferral.status == "queued",
                    SanatoriumReferral.direct.is_(False),
                    (SanatoriumReferral.entitled_from.is_(None))
                    | (SanatoriumReferral.entitled_from <= p.starts_on),
                    ~refused_before,
                )
                .order_by(
                    SanatoriumReferral.tier, SanatoriumReferral.applied_at, SanatoriumReferral.id
                )
                .limit(free)
                .with_for_update(skip_locked=True)
            )
        )
        for r in candidates:
            o = SanatoriumOffer(
                referral_id=r.id,
                person_id=r.person_id,
                period_id=p.id,
                status="open",
                offered_at=now,
                expires_at=deadline,
            )
            session.add(o)
            r.status = "offered"
            r.updated_at = now
            await session.flush()
            await log_event(session, r, "offered", SYSTEM, detail={"offer": o.id, "period": p.id})
            made += 1
    return made


async def sweep(
    session: AsyncSession, *, now: datetime | None = None, today: date | None = None
) -> SweepResult:
    """Lapse expired offers, record no-shows past the grace, offer every free place."""
    now = now or utcnow()
    today = today or local_today()
    result = SweepResult()
    result.lapsed = await _lapse(session, now)
    result.noshows = await _noshows(session, today, now)
    result.offered = await _offer(session, now, today)
    return result


# ---- booking -------------------------------------------------------------------------


async def _free_bed(session: AsyncSession, p: SanatoriumPeriod) -> int | None:
    overlapping = exists().where(
        SanatoriumStay.bed_id == SanatoriumBed.id,
        SanatoriumStay.status.in_(HOLDING),
        SanatoriumStay.starts_on < p.ends_on,
        SanatoriumStay.ends_on > p.starts_on,
    )
    return await session.scalar(
        select(SanatoriumBed.id)
        .where(
            SanatoriumBed.facility_id == p.facility_id,
            SanatoriumBed.profile == p.profile,
            SanatoriumBed.active.is_(True),
            ~overlapping,
        )
        .order_by(SanatoriumBed.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _no_place(period_id: int) -> Conflict:
    return Conflict(
        N_("No free place is left in this period."),
        errors=[FieldError("period_id", N_("has no free place left"))],
        extensions={"period_id": period_id},
    )


async def _book(
    session: AsyncSession,
    by: str,
    r: SanatoriumReferral,
    period_id: int,
    *,
    offer: SanatoriumOffer | None,
    today: date,
) -> SanatoriumStay:
    rules = sanatorium_rules()
    p = (
        await session.execute(
            select(SanatoriumPeriod).where(SanatoriumPeriod.id == period_id).with_for_update()
        )
    ).scalar_one_or_none()
    last_day = p.starts_on + timedelta(days=rules.offer.offer_until_days_after_start) if p else None
    if p is None or p.status != "open" or last_day is None or last_day < today:
        raise Invalid(
            N_("The place could not be booked."),
            errors=[FieldError("period_id", N_("is not an open period that can still be booked"))],
        )
    if p.profile != r.profile:
        raise Invalid(
            N_("The place could not be booked."),
            errors=[FieldError("period_id", N_("is for another treatment profile"))],
        )
    now = utcnow()
    booked = await session.scalar(
        select(func.count()).where(
            SanatoriumStay.period_id == p.id, SanatoriumStay.status.in_(HOLDING)
        )
    )
    held = await session.scalar(
        select(func.count()).where(
            SanatoriumOffer.period_id == p.id,
            holding_offer(now),
            SanatoriumOffer.id != (offer.id if offer is not None else 0),
        )
    )
    if int(booked or 0) + int(held or 0) >= p.capacity:
        raise _no_place(p.id)
    bed_id = await _free_bed(session, p)
    if bed_id is None:
        raise _no_place(p.id)
    s = SanatoriumStay(
        referral_id=r.id,
        person_id=r.person_id,
        period_id=p.id,
        bed_id=bed_id,
        facility_id=p.facility_id,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        status="booked",
        voucher_code=new_voucher_code(),
        offer_id=offer.id if offer is not None else None,
        booked_at=now,
        booked_by=by,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(s)
            await session.flush()
    except IntegrityError as e:
        if "sanatorium_stay_no_overlap" in str(e.orig) or "ux_sanatorium_stay_referral" in str(
            e.orig
        ):
            raise _no_place(p.id) from e
        raise
    rel = await registry.open_care_relationship(
        session, r.person_id, p.facility_id, kind="sanatorium_stay", source=f"referral {r.number}"
    )
    s.care_relationship_id = rel.id
    if offer is not None:
        offer.status = "accepted"
        offer.decided_at = now
        offer.decided_by = by
    r.status = "booked"
    r.updated_at = now
    await session.flush()
    await log_event(
        session, r, "booked", by, detail={"period": p.id, "stay": s.id, "offer": s.offer_id}
    )
    return s


async def _my_offer(
    session: AsyncSession, principal: Principal, offer_id: int, *, action: str
) -> tuple[SanatoriumOffer, SanatoriumReferral]:
    """The offer, if it is the caller's own or her child's (citizen scope), audited; the
    referral is locked before the offer (the one lock order)."""
    found = (
        await session.execute(
            select(SanatoriumOffer.person_id, SanatoriumOffer.referral_id).where(
                SanatoriumOffer.id == offer_id
            )
        )
    ).first()
    scope = (
        await person_scope(session, principal, found.person_id)
        if found is not None and principal.person_id is not None
        else None
    )
    if found is None or scope is None:
        await audit.denied(
            session,
            principal,
            resource_type=REFERRAL,
            resource_id=f"offer/{offer_id}",
            detail="not the holder's offer",
        )
        raise NotFound(N_("Offer %(id)s not found."), params={"id": str(offer_id)})
    await audit.record(
        session,
        principal,
        action=action,
        resource_type=REFERRAL,
        resource_id=str(found.referral_id),
        patient_id=found.person_id,
        purpose="citizen portal: sanatorium offer",
    )
    r = await _hold_referral(session, found.referral_id)
    o = (
        await session.execute(
            select(SanatoriumOffer)
            .where(SanatoriumOffer.id == offer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert r is not None
    return o, r


def _still_open(o: SanatoriumOffer, now: datetime) -> None:
    if o.status != "open":
        raise InvalidState(
            N_("This offer is no longer open (%(status)s)."),
            params={"status": Msgid(OFFER_STATUS_LABELS[o.status])},
        )
    if as_utc(o.expires_at) <= now:
        local = as_utc(o.expires_at).astimezone(pack.time_zone(get_settings().country))
        raise InvalidState(
            N_("This offer expired at %(at)s; the place has passed to the next in line."),
            params={"at": f"{local:%d.%m.%Y %H:%M}"},
            errors=[FieldError("offer", N_("has expired"))],
        )


async def accept_offer(
    session: AsyncSession,
    principal: Principal,
    offer_id: int,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> ReferralOut:
    """The holder accepts: a bed is booked for the period (the voucher)."""
    now = now or utcnow()
    o, r = await _my_offer(session, principal, offer_id, action="update")
    _still_open(o, now)
    await _book(session, principal.username, r, o.period_id, offer=o, today=today or local_today())
    return (await referrals_out(session, [r]))[0]


async def decline_offer(
    session: AsyncSession,
    principal: Principal,
    offer_id: int,
    reason: str | None = None,
    *,
    now: datetime | None = None,
) -> ReferralOut:
    """The holder declines: the place goes to the next; hers follows the pack's rule."""
    now = now or utcnow()
    o, r = await _my_offer(session, principal, offer_id, action="update")
    _still_open(o, now)
    o.status = "declined"
    o.decided_at = now
    o.decided_by = principal.username
    await log_event(
        session, r, "declined", principal.username, reason=reason, detail={"offer": o.id}
    )
    await _requeue(
        session, r, sanatorium_rules().offer.on_decline, principal.username, now, "offer declined"
    )
    await session.flush()
    return (await referrals_out(session, [r]))[0]


async def book_direct(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    data: BookIn,
    *,
    today: date | None = None,
) -> ReferralOut:
    """A doctor books a free place for a direct referral (after-care): no queue."""
    require_facility(principal)
    r = await open_referral(session, principal, referral_id, action="update", hold=True)
    if not r.direct:
        raise Forbidden(
            N_("Referral %(number)s waits in the queue: its place comes by an offer."),
            params={"number": r.number},
        )
    if r.status != "referred":
        raise InvalidState(
            N_("Referral %(number)s is already booked or over."), params={"number": r.number}
        )
    await _book(
        session, principal.username, r, data.period_id, offer=None, today=today or local_today()
    )
    return (await referrals_out(session, [r]))[0]
