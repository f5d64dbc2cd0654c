"""The catalogue: beds per profile, arrival periods, and the public list of free places.

A sanatorium's own staff publish its periods; anybody may read the free places
(aggregates only: no person appears in them).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update
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
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import BedsIn, BedsOut, FreePlaceOut, PeriodIn, PeriodOut
from salomat.domains.sanatorium.service.common import periods_out, require_facility
from salomat.domains.sanatorium.service.rules import sanatorium_rules, yearly_capacity

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
    if f is None or f.kind != "sanatorium":
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


async def set_beds(session: AsyncSession, principal: Principal, data: BedsIn) -> BedsOut:
    """Beds of one profile: new beds are added, surplus ones taken out of use (the last
    added first); a bed holding a current or future stay stays in use."""
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
        today = date.today()
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


async def publish_period(
    session: AsyncSession, principal: Principal, data: PeriodIn, *, today: date | None = None
) -> PeriodOut:
    """An arrival period of the caller's sanatorium; its places are as many as the
    profile's beds at most, and periods of one profile that overlap share those beds."""
    facility_id = await _own_sanatorium(session, principal)
    rules = sanatorium_rules()
    today = today or date.today()
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
    region = (await registry.facility_regions(session, [facility_id])).get(facility_id) or ""
    p = SanatoriumPeriod(
        facility_id=facility_id,
        profile=data.profile,
        region=region if rules.queue_by_region else "",
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
    day = from_date or date.today()
    rows = await session.scalars(
        select(SanatoriumPeriod)
        .where(SanatoriumPeriod.facility_id == facility_id, SanatoriumPeriod.ends_on > day)
        .order_by(SanatoriumPeriod.starts_on, SanatoriumPeriod.profile, SanatoriumPeriod.id)
        .limit(500)
    )
    return await periods_out(session, list(rows))


async def cancel_period(session: AsyncSession, principal: Principal, period_id: int) -> PeriodOut:
    """A period with no booking may be withdrawn; one with bookings may not."""
    facility_id = await _own_sanatorium(session, principal)
    p = await session.get(SanatoriumPeriod, period_id)
    if p is None or p.facility_id != facility_id:
        raise NotFound(N_("Period %(id)s not found."), params={"id": str(period_id)})
    booked = await session.scalar(
        select(func.count()).where(
            SanatoriumStay.period_id == p.id, SanatoriumStay.status.in_(HOLDING)
        )
    )
    if booked:
        raise Conflict(
            N_("The period has %(n)s bookings: it cannot be withdrawn."), params={"n": booked}
        )
    p.status = "cancelled"
    await session.flush()
    await session.execute(
        update(SanatoriumOffer)
        .where(SanatoriumOffer.period_id == p.id, SanatoriumOffer.status == "open")
        .values(status="withdrawn", decided_at=utcnow(), decided_by=principal.username)
    )
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
    day = from_date or date.today()
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
