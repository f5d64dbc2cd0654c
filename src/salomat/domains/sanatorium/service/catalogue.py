"""The catalogue: beds per profile, arrival periods, and the public list of free places.

A sanatorium's own staff publish its periods; anybody may read the free places
(aggregates only: no person appears in them).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Forbidden, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    HOLDING,
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import BedsIn, BedsOut, FreePlaceOut, PeriodIn, PeriodOut
from salomat.domains.sanatorium.service.common import (
    FACILITY_KIND,
    checked_day,
    log_event,
    periods_out,
    require_facility,
)
from salomat.domains.sanatorium.service.rules import local_today, sanatorium_rules, yearly_capacity

__all__ = [
    "beds_by_profile",
    "cancel_period",
    "free_places",
    "list_periods",
    "profiles",
    "publish_period",
    "set_beds",
]

#: how far ahead the public list looks
PUBLIC_HORIZON_DAYS = 366


def profiles(lang: str | None = None) -> dict[str, str]:
    """The pack's treatment profiles by code, named in ``lang``."""
    rules = sanatorium_rules()
    lang = lang or i18n.current_language()
    return {code: rules.profile_name(code, lang) for code in rules.profiles}


def _check_profile(profile: str, field: str = "profile") -> list[FieldError]:
    if profile not in sanatorium_rules().profiles:
        return [FieldError(field, N_("is not a treatment profile of this country"))]
    return []


async def _own_sanatorium(session: AsyncSession, principal: Principal) -> int:
    facility_id = require_facility(principal)
    names = await registry.facility_names(session, [facility_id])
    f = names.get(facility_id)
    if f is None or f.kind != FACILITY_KIND:
        raise Forbidden(N_("Your facility is not a sanatorium."))
    return facility_id


async def _beds(session: AsyncSession, facility_id: int, profile: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                SanatoriumBed.facility_id == facility_id,
                SanatoriumBed.profile == profile,
                SanatoriumBed.active.is_(True),
            )
        )
        or 0
    )


async def beds_by_profile(session: AsyncSession, principal: Principal) -> list[BedsOut]:
    facility_id = await _own_sanatorium(session, principal)
    rules = sanatorium_rules()
    rows = await session.execute(
        select(SanatoriumBed.profile, func.count())
        .where(SanatoriumBed.facility_id == facility_id, SanatoriumBed.active.is_(True))
        .group_by(SanatoriumBed.profile)
        .order_by(SanatoriumBed.profile)
    )
    code = principal.facility_code or ""
    return [
        BedsOut(
            facility_code=code,
            profile=profile,
            beds=n,
            places_per_year=yearly_capacity(n, rules.course_days, rules.turnover_days),
        )
        for profile, n in rows
    ]


async def _peak_places(session: AsyncSession, facility_id: int, profile: str, today: date) -> int:
    """The most places the open periods of a profile not yet over hold on one day: the
    sum over the periods running on some period's first day (the peak is on one)."""
    periods = (
        await session.execute(
            select(
                SanatoriumPeriod.starts_on, SanatoriumPeriod.ends_on, SanatoriumPeriod.capacity
            ).where(
                SanatoriumPeriod.facility_id == facility_id,
                SanatoriumPeriod.profile == profile,
                SanatoriumPeriod.status == "open",
                SanatoriumPeriod.ends_on > today,
            )
        )
    ).all()
    return max(
        (
            sum(c for s2, e2, c in periods if s2 <= max(start, today) < e2)
            for start, _, _ in periods
        ),
        default=0,
    )


async def set_beds(session: AsyncSession, principal: Principal, data: BedsIn) -> BedsOut:
    """Beds of one profile: new beds are added, surplus ones taken out of use (the last
    added first); fewer beds than the published periods' places at once, or than hold
    current or future stays, are refused."""
    facility_id = await _own_sanatorium(session, principal)
    errors = _check_profile(data.profile)
    if errors:
        raise Invalid(N_("The beds could not be set."), errors=errors)
    rules = sanatorium_rules()
    beds = list(
        (
            await session.execute(
                select(SanatoriumBed)
                .where(
                    SanatoriumBed.facility_id == facility_id,
                    SanatoriumBed.profile == data.profile,
                )
                .order_by(SanatoriumBed.id)
            )
        ).scalars()
    )
    active = [b for b in beds if b.active]
    if data.beds > len(active):
        inactive = [b for b in beds if not b.active]
        for b in inactive[: data.beds - len(active)]:
            b.active = True
        taken = {b.label for b in beds}
        n, need = 0, data.beds - len(active) - min(len(inactive), data.beds - len(active))
        while need > 0:
            n += 1
            label = f"{data.profile[:3].upper()}-{n:03d}"
            if label in taken:
                continue
            session.add(SanatoriumBed(facility_id=facility_id, profile=data.profile, label=label))
            need -= 1
    elif data.beds < len(active):
        today = local_today()
        needed = await _peak_places(session, facility_id, data.profile, today)
        if data.beds < needed:
            raise Conflict(
                N_(
                    "The published periods of this profile need %(n)s beds at once: withdraw "
                    "or reduce them first."
                ),
                params={"n": needed},
                errors=[FieldError("beds", N_("is fewer than the published periods' places"))],
            )
        busy = set(
            (
                await session.scalars(
                    select(SanatoriumStay.bed_id).where(
                        SanatoriumStay.bed_id.in_([b.id for b in active]),
                        SanatoriumStay.status.in_(HOLDING),
                        SanatoriumStay.ends_on > today,
                    )
                )
            ).all()
        )
        surplus = len(active) - data.beds
        for b in reversed(active):
            if surplus == 0:
                break
            if b.id not in busy:
                b.active = False
                surplus -= 1
        if surplus:
            raise Conflict(
                N_("%(n)s of these beds hold current or future stays: they stay in use."),
                params={"n": surplus},
                errors=[FieldError("beds", N_("is fewer than the beds holding stays"))],
            )
    await session.flush()
    n = await _beds(session, facility_id, data.profile)
    return BedsOut(
        facility_code=principal.facility_code or "",
        profile=data.profile,
        beds=n,
        places_per_year=yearly_capacity(n, rules.course_days, rules.turnover_days),
    )


async def _period_region(session: AsyncSession, facility_id: int, asked: str | None) -> str:
    """The queue a period serves: '' for a national queue; else the region asked for (a
    region of the territory registry) or the sanatorium's own."""
    if not sanatorium_rules().queue_by_region:
        if asked:
            raise Invalid(
                N_("The period could not be published."),
                errors=[
                    FieldError("region", N_("this country keeps one national queue per profile"))
                ],
            )
        return ""
    if asked:
        t = await registry.territory_by_code(session, asked)
        if t is None or t.level != "region":
            raise Invalid(
                N_("The period could not be published."),
                errors=[FieldError("region", N_("is not a region of the territory registry"))],
            )
        return t.code
    return (await registry.facility_regions(session, [facility_id])).get(facility_id) or ""


async def publish_period(
    session: AsyncSession, principal: Principal, data: PeriodIn, *, today: date | None = None
) -> PeriodOut:
    """An arrival period of the caller's sanatorium; its places are as many as the
    profile's beds at most, and periods of one profile that overlap share those beds."""
    facility_id = await _own_sanatorium(session, principal)
    rules = sanatorium_rules()
    today = today or local_today()
    errors = _check_profile(data.profile)
    ends_on = data.ends_on or data.starts_on + timedelta(days=rules.course_days)
    if data.starts_on < today:
        errors.append(FieldError("starts_on", N_("is in the past")))
    if ends_on <= data.starts_on:
        errors.append(
            FieldError(
                "ends_on",
                N_("must be after the first day (%(start)s)"),
                {"start": f"{data.starts_on:%d.%m.%Y}"},
            )
        )
    if errors:
        raise Invalid(N_("The period could not be published."), errors=errors)
    beds = await _beds(session, facility_id, data.profile)
    if beds == 0:
        raise Invalid(
            N_("The period could not be published."),
            errors=[FieldError("profile", N_("has no beds at this sanatorium: set them first"))],
        )
    overlapping = int(
        await session.scalar(
            select(func.coalesce(func.sum(SanatoriumPeriod.capacity), 0)).where(
                SanatoriumPeriod.facility_id == facility_id,
                SanatoriumPeriod.profile == data.profile,
                SanatoriumPeriod.status == "open",
                SanatoriumPeriod.starts_on < ends_on,
                SanatoriumPeriod.ends_on > data.starts_on,
            )
        )
        or 0
    )
    left = beds - overlapping
    capacity = data.capacity if data.capacity is not None else left
    if capacity < 1 or capacity > left:
        raise Invalid(
            N_("The period could not be published."),
            errors=[
                FieldError(
                    "capacity",
                    N_(
                        "%(left)s of the profile's %(beds)s beds are free on these days "
                        "(other periods hold the rest)"
                    ),
                    {"left": max(left, 0), "beds": beds},
                )
            ],
        )
    region = await _period_region(session, facility_id, data.region)
    p = SanatoriumPeriod(
        facility_id=facility_id,
        profile=data.profile,
        region=region,
        starts_on=data.starts_on,
        ends_on=ends_on,
        capacity=capacity,
        status="open",
        created_by=principal.username,
        created_at=utcnow(),
    )
    session.add(p)
    await session.flush()
    return (await periods_out(session, [p]))[0]


async def list_periods(
    session: AsyncSession, principal: Principal, *, from_date: date | None = None
) -> list[PeriodOut]:
    """The caller's sanatorium's periods from a day (default: those not yet over)."""
    facility_id = await _own_sanatorium(session, principal)
    day = checked_day(from_date, "from") or local_today()
    rows = await session.scalars(
        select(SanatoriumPeriod)
        .where(SanatoriumPeriod.facility_id == facility_id, SanatoriumPeriod.ends_on > day)
        .order_by(SanatoriumPeriod.starts_on, SanatoriumPeriod.profile, SanatoriumPeriod.id)
        .limit(500)
    )
    return await periods_out(session, list(rows))


async def cancel_period(session: AsyncSession, principal: Principal, period_id: int) -> PeriodOut:
    """A period with no booking may be withdrawn; one with bookings may not. Its open
    offers are withdrawn and their people go back in line where they stood."""
    facility_id = await _own_sanatorium(session, principal)
    found = await session.get(SanatoriumPeriod, period_id)
    if found is None or found.facility_id != facility_id:
        raise NotFound(N_("Period %(id)s not found."), params={"id": str(period_id)})
    # the one lock order: the offered people's referrals, their offers, then the period
    offered = list(
        await session.scalars(
            select(SanatoriumReferral)
            .join(SanatoriumOffer, SanatoriumOffer.referral_id == SanatoriumReferral.id)
            .where(SanatoriumOffer.period_id == period_id, SanatoriumOffer.status == "open")
            .order_by(SanatoriumReferral.id)
            .with_for_update(of=SanatoriumReferral)
            .execution_options(populate_existing=True)
        )
    )
    offers = list(
        await session.scalars(
            select(SanatoriumOffer)
            .where(SanatoriumOffer.period_id == period_id, SanatoriumOffer.status == "open")
            .order_by(SanatoriumOffer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    p = (
        await session.execute(
            select(SanatoriumPeriod)
            .where(SanatoriumPeriod.id == period_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    booked = await session.scalar(
        select(func.count()).where(
            SanatoriumStay.period_id == p.id, SanatoriumStay.status.in_(HOLDING)
        )
    )
    if booked:
        raise Conflict(
            N_("The period has %(n)s bookings: it cannot be withdrawn."), params={"n": booked}
        )
    now = utcnow()
    p.status = "cancelled"
    by_referral = {r.id: r for r in offered}
    for o in offers:
        o.status = "withdrawn"
        o.decided_at = now
        o.decided_by = principal.username
        r = by_referral.get(o.referral_id)
        if r is not None and r.status == "offered":
            r.status = "queued"
            r.updated_at = now
            await log_event(
                session,
                r,
                "offer_withdrawn",
                principal.username,
                reason="period withdrawn by the sanatorium",
                detail={"offer": o.id, "period": p.id},
            )
    await session.flush()
    return (await periods_out(session, [p]))[0]


async def free_places(
    session: AsyncSession,
    *,
    profile: str | None = None,
    region: str | None = None,
    from_date: date | None = None,
    limit: int = 200,
) -> list[FreePlaceOut]:
    """Public: periods not yet started (from ``from_date``) with their free places."""
    day = checked_day(from_date, "from") or local_today()
    q = select(SanatoriumPeriod).where(
        SanatoriumPeriod.status == "open",
        SanatoriumPeriod.starts_on >= day,
        SanatoriumPeriod.starts_on <= day + timedelta(days=PUBLIC_HORIZON_DAYS),
    )
    if profile:
        q = q.where(SanatoriumPeriod.profile == profile)
    if region:
        q = q.where(SanatoriumPeriod.region == region)
    rows = list(
        await session.scalars(
            q.order_by(SanatoriumPeriod.starts_on, SanatoriumPeriod.id).limit(limit)
        )
    )
    lang = i18n.current_language()
    rules = sanatorium_rules()
    return [
        FreePlaceOut(
            period_id=p.id,
            facility_code=p.facility_code,
            facility_name=p.facility_name,
            region=p.region,
            profile=p.profile,
            profile_name=rules.profile_name(p.profile, lang),
            starts_on=p.starts_on,
            ends_on=p.ends_on,
            capacity=p.capacity,
            free=p.free,
        )
        for p in await periods_out(session, rows)
    ]
