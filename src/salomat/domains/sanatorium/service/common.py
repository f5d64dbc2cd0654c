"""What every sanatorium use case shares: numbers, pseudonyms, loading a referral in
scope (audited), the queue's log, places counted per period, and the output shapes.

Every read or write of a referral opens its person's record through
``policy.require_person`` (scope check and an audit row, resource type
``SanatoriumReferral``); out of scope answers 404 exactly like a missing referral.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, NotFound, PreconditionFailed
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    HOLDING,
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumQueueEvent,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import OfferOut, PeriodOut, ReferralOut, StayOut

#: the facility type of a sanatorium: its facilities have a treatment catalogue
FACILITY_KIND = "sanatorium"

__all__ = [
    "FACILITY_KIND",
    "REFERRAL",
    "STAY",
    "checked_day",
    "new_voucher_code",
    "normalise_referral_number",
    "pseudonym",
]

#: the audit's resource types
REFERRAL = "SanatoriumReferral"
STAY = "SanatoriumStay"
VOUCHER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
NUMBER_DIGITS = 10


def new_number() -> str:
    """10 digits grouped 3-3-4 (the first never 0): 512-345-6789."""
    raw = secrets.choice("123456789") + "".join(secrets.choice("0123456789") for _ in range(9))
    return f"{raw[:3]}-{raw[3:6]}-{raw[6:]}"


def normalise_referral_number(text: str) -> str:
    raw = re.sub(r"\D", "", text or "")
    if len(raw) != NUMBER_DIGITS:
        return raw
    return f"{raw[:3]}-{raw[3:6]}-{raw[6:]}"


def new_voucher_code() -> str:
    return "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(6))


def pseudonym(referral_number: str) -> str:
    """The entry's name on the public list: a keyed hash of its number (the holder sees
    hers in the portal; nobody can turn it back into the number)."""
    key = get_settings().resolved_secret_key().encode()
    digest = hmac.new(key, f"sanatorium:{referral_number}".encode(), hashlib.sha256)
    return digest.hexdigest()[:10].upper()


def expect_version(current: int, expected: int | None, ident: str) -> None:
    """A stay's If-Match: a stale page is refused rather than overwriting a newer change."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            N_("Stay %(id)s was changed by someone else: reload it and try again."),
            params={"id": ident},
        )


#: dates past this are refused: a range of days added to them would overflow
LAST_DAY = date(9000, 1, 1)


def checked_day(day: date | None, field: str) -> date | None:
    """A day from a query, refused (422 naming the field) when it lies so far ahead that
    the search's range of days would run past the calendar."""
    if day is not None and day >= LAST_DAY:
        raise Invalid.fields([FieldError(field, N_("is too far in the future"))])
    return day


def require_facility(principal: Principal) -> int:
    if principal.facility_id is None:
        raise Forbidden(N_("Your account is bound to no facility."))
    return principal.facility_id


async def open_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    *,
    action: str,
    purpose: str | None = None,
    hold: bool = False,
) -> SanatoriumReferral:
    """The referral if its person is in the caller's scope (audited), else 404."""
    q = select(SanatoriumReferral).where(SanatoriumReferral.id == referral_id)
    if hold:
        q = q.with_for_update()
    r = (await session.execute(q)).scalar_one_or_none()
    if r is None:
        raise NotFound(N_("Referral %(id)s not found."), params={"id": str(referral_id)})
    try:
        await require_person(
            session,
            principal,
            r.person_id,
            action=action,
            resource_type=REFERRAL,
            purpose=purpose,
        )
    except NotFound:
        raise NotFound(N_("Referral %(id)s not found."), params={"id": str(referral_id)}) from None
    return r


async def log_event(
    session: AsyncSession,
    r: SanatoriumReferral,
    kind: str,
    by: str,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(SanatoriumQueueEvent.__table__),
        [
            {
                "referral_id": r.id,
                "person_id": r.person_id,
                "kind": kind,
                "reason": reason,
                "detail": detail or {},
                "at": utcnow(),
                "by": by,
            }
        ],
    )


# ---- places --------------------------------------------------------------------------


def holding_offer(now: datetime) -> Any:
    """An offer that still holds its place."""
    return and_(SanatoriumOffer.status == "open", SanatoriumOffer.expires_at > now)


async def places(
    session: AsyncSession, period_ids: Iterable[int], now: datetime | None = None
) -> dict[int, tuple[int, int]]:
    """(booked, held by open offers) per period, in two statements."""
    ids = sorted(set(period_ids))
    if not ids:
        return {}
    now = now or utcnow()
    out = dict.fromkeys(ids, (0, 0))
    for pid, n in await session.execute(
        select(SanatoriumStay.period_id, func.count())
        .where(SanatoriumStay.period_id.in_(ids), SanatoriumStay.status.in_(HOLDING))
        .group_by(SanatoriumStay.period_id)
    ):
        out[pid] = (n, 0)
    for pid, n in await session.execute(
        select(SanatoriumOffer.period_id, func.count())
        .where(SanatoriumOffer.period_id.in_(ids), holding_offer(now))
        .group_by(SanatoriumOffer.period_id)
    ):
        out[pid] = (out[pid][0], n)
    return out


async def periods_out(
    session: AsyncSession, periods: list[SanatoriumPeriod], now: datetime | None = None
) -> list[PeriodOut]:
    counts = await places(session, [p.id for p in periods], now)
    names = await registry.facility_names(session, [p.facility_id for p in periods])
    lang = i18n.current_language()
    out = []
    for p in periods:
        booked, held = counts.get(p.id, (0, 0))
        f = names.get(p.facility_id)
        out.append(
            PeriodOut(
                id=p.id,
                facility_code=f.code if f else "",
                facility_name=(f.names.get(lang) or f.name) if f else "",
                profile=p.profile,
                region=p.region,
                starts_on=p.starts_on,
                ends_on=p.ends_on,
                capacity=p.capacity,
                booked=booked,
                held=held,
                free=max(p.capacity - booked - held, 0) if p.status == "open" else 0,
                status=p.status,
                version=p.version,
            )
        )
    return out


# ---- output --------------------------------------------------------------------------


async def stays_out(
    session: AsyncSession, stays: list[SanatoriumStay], *, with_person: bool = False
) -> list[StayOut]:
    if not stays:
        return []
    refs = {
        r.id: r
        for r in (
            await session.execute(
                select(SanatoriumReferral).where(
                    SanatoriumReferral.id.in_({s.referral_id for s in stays})
                )
            )
        ).scalars()
    }
    beds = {
        bed_id: label
        for bed_id, label in await session.execute(
            select(SanatoriumBed.id, SanatoriumBed.label).where(
                SanatoriumBed.id.in_({s.bed_id for s in stays})
            )
        )
    }
    names = await registry.facility_names(session, [s.facility_id for s in stays])
    people = (
        await registry.person_briefs(session, [s.person_id for s in stays]) if with_person else {}
    )
    lang = i18n.current_language()
    out = []
    for s in stays:
        r = refs[s.referral_id]
        f = names.get(s.facility_id)
        who = people.get(s.person_id)
        out.append(
            StayOut(
                id=s.id,
                referral_id=s.referral_id,
                referral_number=r.number,
                person_id=s.person_id,
                person_name=who.name if who else None,
                birth_date=who.birth_date if who else None,
                period_id=s.period_id,
                facility_code=f.code if f else "",
                facility_name=(f.names.get(lang) or f.name) if f else "",
                profile=r.profile,
                bed=beds.get(s.bed_id, ""),
                starts_on=s.starts_on,
                ends_on=s.ends_on,
                status=s.status,
                voucher_code=s.voucher_code,
                indication=r.indication,
                arrived_on=s.arrived_on,
                discharged_on=s.discharged_on,
                summary=s.summary,
                version=s.version,
            )
        )
    return out


async def referrals_out(
    session: AsyncSession, refs: list[SanatoriumReferral], *, now: datetime | None = None
) -> list[ReferralOut]:
    """Referrals with their open offer and their latest stay (no queue position: that is
    ``queue.position_of``, asked for one entry at a time)."""
    if not refs:
        return []
    now = now or utcnow()
    ids = [r.id for r in refs]
    offers = {
        o.referral_id: o
        for o in (
            await session.execute(
                select(SanatoriumOffer).where(
                    SanatoriumOffer.referral_id.in_(ids), SanatoriumOffer.status == "open"
                )
            )
        ).scalars()
    }
    periods = {
        p.id: p
        for p in (
            await session.execute(
                select(SanatoriumPeriod).where(
                    SanatoriumPeriod.id.in_({o.period_id for o in offers.values()})
                )
            )
        ).scalars()
    }
    period_out = {p.id: p for p in await periods_out(session, list(periods.values()), now)}
    stays: dict[int, SanatoriumStay] = {}
    for s in (
        await session.execute(
            select(SanatoriumStay)
            .where(SanatoriumStay.referral_id.in_(ids))
            .order_by(SanatoriumStay.id)
        )
    ).scalars():
        stays[s.referral_id] = s  # the latest
    stay_out = {s.referral_id: s for s in await stays_out(session, list(stays.values()))}
    codes = await registry.facility_names(
        session, [r.facility_id for r in refs if r.facility_id is not None]
    )
    out = []
    for r in refs:
        o = offers.get(r.id)
        f = codes.get(r.facility_id) if r.facility_id is not None else None
        out.append(
            ReferralOut(
                id=r.id,
                number=r.number,
                person_id=r.person_id,
                profile=r.profile,
                region=r.region,
                category=r.category,
                tier=r.tier,
                direct=r.direct,
                indication=r.indication,
                conditions=list(r.conditions or []),
                warnings=list(r.warnings or []),
                attestation=r.attestation,
                attested_by=r.attested_by,
                last_stay_ended_on=r.last_stay_ended_on,
                entitled_from=r.entitled_from,
                status=r.status,
                applied_at=r.applied_at,
                seq=r.id,
                source=r.source,
                referred_by=r.referred_by,
                facility_code=f.code if f else None,
                cancel_reason=r.cancel_reason,
                version=r.version,
                offer=(
                    OfferOut(
                        id=o.id,
                        referral_id=o.referral_id,
                        period=period_out[o.period_id],
                        status=o.status,
                        offered_at=o.offered_at,
                        expires_at=o.expires_at,
                        decided_at=o.decided_at,
                    )
                    if o is not None
                    else None
                ),
                stay=stay_out.get(r.id),
            )
        )
    return out


async def last_stay_end(session: AsyncSession, person_id: int) -> date | None:
    """The end of the person's last completed stay in the platform."""
    return await session.scalar(
        select(func.max(SanatoriumStay.discharged_on)).where(
            SanatoriumStay.person_id == person_id, SanatoriumStay.status == "fulfilled"
        )
    )
