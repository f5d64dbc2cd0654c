"""Stays: the sanatorium's expected arrivals, arrival, discharge with a summary back to
the referring doctor, no-shows; the holder's voucher and its public check.

The sanatorium's staff see a person through the care relationship the booking opened
at their facility (registry scope); each person listed or opened is audited.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, InvalidState, Msgid, NotFound
from salomat.core.policy import person_scope, require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import SanatoriumPeriod, SanatoriumReferral, SanatoriumStay
from salomat.domains.sanatorium.schemas import ArriveIn, DischargeIn, StayOut, VoucherCheckOut
from salomat.domains.sanatorium.service.common import (
    STAY,
    checked_day,
    expect_version,
    log_event,
    normalise_referral_number,
    stays_out,
)
from salomat.domains.sanatorium.service.labels import STAY_STATUS_LABELS
from salomat.domains.sanatorium.service.rules import local_today, sanatorium_rules

__all__ = [
    "arrive",
    "check_voucher",
    "discharge",
    "expected_arrivals",
    "get_stay",
    "my_voucher",
    "record_noshow",
]


async def _close_care(session: AsyncSession, s: SanatoriumStay) -> None:
    if s.care_relationship_id is not None:
        await registry.close_care_relationship(session, s.care_relationship_id)


async def cancel_stay_of(session: AsyncSession, r: SanatoriumReferral, reason: str) -> None:
    """A booked place given up before arrival is freed."""
    s = (
        await session.execute(
            select(SanatoriumStay)
            .where(SanatoriumStay.referral_id == r.id, SanatoriumStay.status == "booked")
            .with_for_update()
        )
    ).scalar_one_or_none()
    if s is None:
        return
    s.status = "cancelled"
    s.cancel_reason = reason
    s.updated_at = utcnow()
    await _close_care(session, s)


async def mark_noshow(
    session: AsyncSession, s: SanatoriumStay, r: SanatoriumReferral, by: str, now: datetime
) -> None:
    """``r`` and ``s`` are held (referral first)."""
    s.status = "noshow"
    s.updated_at = now
    r.status = "noshow"
    r.updated_at = now
    await _close_care(session, s)
    await session.flush()
    await log_event(session, r, "noshow", by, detail={"stay": s.id, "period": s.period_id})


async def _own_stay(
    session: AsyncSession,
    principal: Principal,
    stay_id: int,
    *,
    action: str,
    hold: bool = False,
) -> tuple[SanatoriumStay, SanatoriumReferral]:
    """A stay at the caller's sanatorium, its person opened (and audited) through the
    booking's care relationship; anything else is 404. ``hold``: its referral, then the
    stay, are locked (the one lock order: referral, offer, stay, period)."""
    found = await session.get(SanatoriumStay, stay_id)
    r = None
    if found is not None and hold:
        r = (
            await session.execute(
                select(SanatoriumReferral)
                .where(SanatoriumReferral.id == found.referral_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        found = (
            await session.execute(
                select(SanatoriumStay)
                .where(SanatoriumStay.id == stay_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
    s = found
    if s is None or principal.facility_id is None or s.facility_id != principal.facility_id:
        await audit.denied(
            session,
            principal,
            resource_type=STAY,
            resource_id=str(stay_id),
            detail="not a stay at the user's sanatorium",
        )
        raise NotFound(N_("Stay %(id)s not found."), params={"id": str(stay_id)})
    if s.status in ("booked", "arrived"):
        await require_person(session, principal, s.person_id, action=action, resource_type=STAY)
    else:  # the care relationship is closed: the stay's own record still names who acted
        await audit.record(
            session,
            principal,
            action=action,
            resource_type=STAY,
            resource_id=str(s.id),
            patient_id=s.person_id,
            purpose="the sanatorium's own stay record",
        )
    if r is None:
        r = await session.get(SanatoriumReferral, s.referral_id)
        assert r is not None
    return s, r


async def expected_arrivals(
    session: AsyncSession,
    principal: Principal,
    *,
    from_date: date | None = None,
    days: int = 31,
) -> list[StayOut]:
    """The caller's sanatorium's stays booked or in progress that start within ``days``
    of ``from_date`` (default today) or are under way; each person listed is audited."""
    if principal.facility_id is None:
        raise Forbidden(N_("Your account is bound to no facility."))
    day = checked_day(from_date, "from") or local_today()
    stays = list(
        await session.scalars(
            select(SanatoriumStay)
            .where(
                SanatoriumStay.facility_id == principal.facility_id,
                # guests still in the house whatever the dates (one past her departure day
                # waits for her discharge), and bookings arriving within ``days``
                or_(
                    SanatoriumStay.status == "arrived",
                    and_(
                        SanatoriumStay.status == "booked",
                        SanatoriumStay.starts_on <= day + timedelta(days=days),
                        SanatoriumStay.ends_on > day,
                    ),
                ),
            )
            .order_by(SanatoriumStay.starts_on, SanatoriumStay.id)
            .limit(1000)
        )
    )
    shown = []
    for s in stays:
        scope = await person_scope(session, principal, s.person_id)
        if scope is not None:
            shown.append((s, scope))
    await audit.record_listing(
        session,
        principal,
        [audit.Access(s.person_id, scope.reason, scope.break_glass_grant) for s, scope in shown],
        action="search",
        resource_type=STAY,
    )
    return await stays_out(session, [s for s, _ in shown], with_person=True)


async def get_stay(session: AsyncSession, principal: Principal, stay_id: int) -> StayOut:
    s, _ = await _own_stay(session, principal, stay_id, action="read")
    return (await stays_out(session, [s], with_person=True))[0]


async def arrive(
    session: AsyncSession,
    principal: Principal,
    stay_id: int,
    data: ArriveIn,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> StayOut:
    today = today or local_today()
    s, r = await _own_stay(session, principal, stay_id, action="update", hold=True)
    expect_version(s.version, expected_version, str(s.id))
    if s.status != "booked":
        raise InvalidState(
            N_("Stay %(id)s is not awaiting arrival (%(status)s)."),
            params={"id": str(s.id), "status": Msgid(STAY_STATUS_LABELS[s.status])},
        )
    on = data.arrived_on or today
    errors = []
    if on > today:
        errors.append(FieldError("arrived_on", N_("is in the future")))
    if on < s.starts_on or on >= s.ends_on:
        errors.append(
            FieldError(
                "arrived_on",
                N_("must be within the period (%(start)s to %(end)s)"),
                {"start": f"{s.starts_on:%d.%m.%Y}", "end": f"{s.ends_on:%d.%m.%Y}"},
            )
        )
    if errors:
        raise Invalid(N_("The arrival could not be recorded."), errors=errors)
    s.status = "arrived"
    s.arrived_on = on
    s.updated_at = utcnow()
    r.status = "arrived"
    r.updated_at = s.updated_at
    await session.flush()
    await log_event(session, r, "arrived", principal.username, detail={"stay": s.id})
    return (await stays_out(session, [s], with_person=True))[0]


async def discharge(
    session: AsyncSession,
    principal: Principal,
    stay_id: int,
    data: DischargeIn,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> StayOut:
    """Discharge with a short summary for the referring doctor; the next entitlement
    counts from this day."""
    today = today or local_today()
    s, r = await _own_stay(session, principal, stay_id, action="update", hold=True)
    expect_version(s.version, expected_version, str(s.id))
    if s.status != "arrived":
        raise InvalidState(
            N_("Stay %(id)s cannot be discharged: the person has not arrived."),
            params={"id": str(s.id)},
        )
    on = data.discharged_on or today
    errors = []
    assert s.arrived_on is not None
    if on < s.arrived_on:
        errors.append(
            FieldError(
                "discharged_on",
                N_("is before the arrival (%(day)s)"),
                {"day": f"{s.arrived_on:%d.%m.%Y}"},
            )
        )
    if on > today:
        errors.append(FieldError("discharged_on", N_("is in the future")))
    if errors:
        raise Invalid(N_("The discharge could not be recorded."), errors=errors)
    s.status = "fulfilled"
    s.discharged_on = on
    s.summary = (data.summary or "").strip() or None
    s.updated_at = utcnow()
    r.status = "discharged"
    r.updated_at = s.updated_at
    await _close_care(session, s)
    await session.flush()
    await log_event(session, r, "discharged", principal.username, detail={"stay": s.id})
    return (await stays_out(session, [s], with_person=True))[0]


async def record_noshow(
    session: AsyncSession, principal: Principal, stay_id: int, *, today: date | None = None
) -> StayOut:
    """The staff record a no-show once the pack's grace has passed; the place is free."""
    today = today or local_today()
    s, r = await _own_stay(session, principal, stay_id, action="update", hold=True)
    if s.status != "booked":
        raise InvalidState(
            N_("Stay %(id)s is not awaiting arrival (%(status)s)."),
            params={"id": str(s.id), "status": Msgid(STAY_STATUS_LABELS[s.status])},
        )
    grace = sanatorium_rules().noshow_grace_days
    if today <= s.starts_on + timedelta(days=grace):
        raise InvalidState(
            N_(
                "A no-show is recorded after %(day)s (the arrival day and %(grace)s days of grace)."
            ),
            params={"day": f"{s.starts_on + timedelta(days=grace):%d.%m.%Y}", "grace": grace},
        )
    await mark_noshow(session, s, r, principal.username, utcnow())
    return (await stays_out(session, [s], with_person=True))[0]


async def my_voucher(session: AsyncSession, principal: Principal, stay_id: int) -> StayOut:
    """The holder's own booking (the voucher)."""
    s = await session.get(SanatoriumStay, stay_id)
    if s is None or principal.person_id is None or s.person_id != principal.person_id:
        await audit.denied(
            session,
            principal,
            resource_type=STAY,
            resource_id=str(stay_id),
            detail="not the holder's voucher",
        )
        raise NotFound(N_("Voucher %(id)s not found."), params={"id": str(stay_id)})
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=STAY,
        resource_id=str(s.id),
        patient_id=s.person_id,
        purpose="citizen portal: sanatorium voucher",
    )
    return (await stays_out(session, [s]))[0]


async def check_voucher(session: AsyncSession, number: str, code: str) -> VoucherCheckOut:
    """Public: the QR code's number and code name a valid booking, and where and when
    (no name, no diagnosis). A wrong code reads exactly like a wrong number."""
    number = normalise_referral_number(number)
    code = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    row = (
        await session.execute(
            select(SanatoriumStay, SanatoriumReferral.profile, SanatoriumPeriod.facility_id)
            .join(SanatoriumReferral, SanatoriumReferral.id == SanatoriumStay.referral_id)
            .join(SanatoriumPeriod, SanatoriumPeriod.id == SanatoriumStay.period_id)
            .where(SanatoriumReferral.number == number, SanatoriumStay.voucher_code == code)
            .order_by(SanatoriumStay.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return VoucherCheckOut(valid=False)
    s, profile, facility_id = row
    from salomat.core import i18n

    names = await registry.facility_names(session, [facility_id])
    f = names.get(facility_id)
    return VoucherCheckOut(
        # a voucher is good at the door until its guest arrives and while she stays
        valid=s.status in ("booked", "arrived"),
        facility_name=(f.names.get(i18n.current_language()) or f.name) if f else None,
        profile=profile,
        starts_on=s.starts_on,
        ends_on=s.ends_on,
        status=s.status,
    )
