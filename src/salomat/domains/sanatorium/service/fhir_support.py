"""What the FHIR adapter needs beyond the REST views (fhir/sanatorium_api.py).

A referral as FHIR is several resources (``ServiceRequest``, its queue ``Task``, an
``Appointment`` per offer or booking, an ``Encounter`` per stay): they need every offer
and every stay of a referral (``ReferralOut`` carries the open offer and the latest
stay only), the times a resource shows (``authoredOn``, ``meta.lastUpdated``), and the
facility of each period. The reads open the person's record exactly as
``get_referral`` and ``list_person_referrals`` do (scope check and audit; out of scope
answers 404 like a missing referral).

The catalogue (``HealthcareService``, ``Schedule``, ``Slot``) is the free-places page's
data: facilities, profiles, beds and periods with their counts, no person in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, NotFound
from salomat.core.policy import person_scope, require_person
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
from salomat.domains.sanatorium.schemas import OfferOut, PeriodOut, ReferralOut, StayOut
from salomat.domains.sanatorium.service.common import (
    REFERRAL,
    holding_offer,
    normalise_referral_number,
    open_referral,
    periods_out,
    referrals_out,
    stays_out,
)
from salomat.domains.sanatorium.service.queue import positions_of
from salomat.domains.sanatorium.service.rules import local_today, sanatorium_rules, yearly_capacity

__all__ = [
    "AVAILABILITIES",
    "FhirPeriod",
    "FhirReferral",
    "FhirService",
    "FhirStay",
    "fhir_find",
    "fhir_periods",
    "fhir_record",
    "fhir_referral",
    "fhir_referral_of_offer",
    "fhir_referral_of_stay",
    "fhir_referrals",
    "fhir_services",
    "referrals_for_people",
]

#: a period's places as a FHIR Slot sees them: free (a place can still be booked), busy
#: (every place booked), busy-tentative (none free, some only held by open offers),
#: busy-unavailable (withdrawn, or past the last day a place is still offered)
AVAILABILITIES = ("free", "busy", "busy-tentative", "busy-unavailable")
#: periods one catalogue search reads at most
MAX_PERIODS = 1000


@dataclass(frozen=True)
class FhirPeriod:
    period: PeriodOut
    facility_id: int
    #: one of ``AVAILABILITIES``
    availability: str


@dataclass(frozen=True)
class FhirStay:
    stay: StayOut
    facility_id: int
    #: the offer it was booked from (None: a doctor's direct booking)
    offer_id: int | None
    booked_at: datetime
    updated_at: datetime
    cancel_reason: str | None


@dataclass(frozen=True)
class FhirReferral:
    """A referral with its position (while in line), every offer and every stay."""

    referral: ReferralOut
    #: the referring facility (or the citizen's attached one)
    facility_id: int | None
    created_at: datetime
    updated_at: datetime
    #: oldest first
    offers: list[OfferOut]
    stays: list[FhirStay]
    periods: dict[int, FhirPeriod]


@dataclass(frozen=True)
class FhirService:
    """One profile at one sanatorium: its beds and its open periods' span."""

    facility_id: int
    facility_code: str
    facility_name: str
    profile: str
    profile_name: str
    beds: int
    places_per_year: int
    first_day: date | None
    last_day: date | None


# ---- person-level: referrals, offers, stays ---------------------------------------------


def _availability(p: PeriodOut, today: date) -> str:
    if p.status != "open":
        return "busy-unavailable"
    if p.free > 0:
        last = p.starts_on + timedelta(days=sanatorium_rules().offer.offer_until_days_after_start)
        return "free" if today <= last else "busy-unavailable"
    return "busy-tentative" if p.held > 0 else "busy"


async def _periods(
    session: AsyncSession, rows: list[SanatoriumPeriod], now: datetime
) -> list[FhirPeriod]:
    today = local_today()
    facility = {p.id: p.facility_id for p in rows}
    return [
        FhirPeriod(out, facility[out.id], _availability(out, today))
        for out in await periods_out(session, rows, now)
    ]


async def _records(session: AsyncSession, refs: list[SanatoriumReferral]) -> list[FhirReferral]:
    if not refs:
        return []
    now = utcnow()
    ids = [r.id for r in refs]
    outs = await referrals_out(session, refs, now=now)
    positions = await positions_of(session, refs)
    for r, o in zip(refs, outs, strict=True):
        if r.id in positions:
            o.position = positions[r.id]
    offers = list(
        await session.scalars(
            select(SanatoriumOffer)
            .where(SanatoriumOffer.referral_id.in_(ids))
            .order_by(SanatoriumOffer.id)
        )
    )
    stays = list(
        await session.scalars(
            select(SanatoriumStay)
            .where(SanatoriumStay.referral_id.in_(ids))
            .order_by(SanatoriumStay.id)
        )
    )
    wanted = {o.period_id for o in offers} | {s.period_id for s in stays}
    rows = (
        list(await session.scalars(select(SanatoriumPeriod).where(SanatoriumPeriod.id.in_(wanted))))
        if wanted
        else []
    )
    periods = {p.period.id: p for p in await _periods(session, rows, now)}
    stay_outs = {s.id: s for s in await stays_out(session, stays)}
    out = []
    for r, o in zip(refs, outs, strict=True):
        out.append(
            FhirReferral(
                referral=o,
                facility_id=r.facility_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
                offers=[
                    OfferOut(
                        id=x.id,
                        referral_id=x.referral_id,
                        period=periods[x.period_id].period,
                        status=x.status,
                        offered_at=x.offered_at,
                        expires_at=x.expires_at,
                        decided_at=x.decided_at,
                    )
                    for x in offers
                    if x.referral_id == r.id
                ],
                stays=[
                    FhirStay(
                        stay=stay_outs[s.id],
                        facility_id=s.facility_id,
                        offer_id=s.offer_id,
                        booked_at=s.booked_at,
                        updated_at=s.updated_at,
                        cancel_reason=s.cancel_reason,
                    )
                    for s in stays
                    if s.referral_id == r.id
                ],
                periods={
                    pid: p
                    for pid, p in periods.items()
                    if pid
                    in {x.period_id for x in offers if x.referral_id == r.id}
                    | {s.period_id for s in stays if s.referral_id == r.id}
                },
            )
        )
    return out


async def fhir_referrals(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[FhirReferral]:
    """A person's referrals, newest first (one audited search of her record)."""
    await require_person(session, principal, person_id, action="search", resource_type=REFERRAL)
    rows = await session.scalars(
        select(SanatoriumReferral)
        .where(SanatoriumReferral.person_id == person_id)
        .order_by(SanatoriumReferral.id.desc())
    )
    return await _records(session, list(rows))


async def referrals_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[FhirReferral]]:
    """Each person's referrals, newest first (as ``fhir_referrals``), with every offer,
    stay and queue position, for a page of people in a fixed few statements: a bulk
    export or Patient/$everything, whose caller chose the people by scope and audits each
    person it writes (no scope check or audit here). ``since``: the referrals changed
    after it, or with an offer made or answered or a stay changed after it."""
    if not person_ids:
        return {}
    q = select(SanatoriumReferral).where(SanatoriumReferral.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(
            or_(
                SanatoriumReferral.updated_at > since,
                SanatoriumReferral.id.in_(
                    select(SanatoriumOffer.referral_id).where(
                        or_(SanatoriumOffer.offered_at > since, SanatoriumOffer.decided_at > since)
                    )
                ),
                SanatoriumReferral.id.in_(
                    select(SanatoriumStay.referral_id).where(SanatoriumStay.updated_at > since)
                ),
            )
        )
    rows = list(
        await session.scalars(
            q.order_by(SanatoriumReferral.person_id, SanatoriumReferral.id.desc())
        )
    )
    out: dict[int, list[FhirReferral]] = {}
    for rec in await _records(session, rows):
        out.setdefault(rec.referral.person_id, []).append(rec)
    return out


async def fhir_referral(
    session: AsyncSession, principal: Principal, referral_id: int
) -> FhirReferral:
    """One referral (audited read; out of scope answers like a missing one)."""
    r = await open_referral(session, principal, referral_id, action="read")
    return (await _records(session, [r]))[0]


async def fhir_find(
    session: AsyncSession,
    principal: Principal,
    *,
    referral_id: int | None = None,
    number: str | None = None,
    offer_id: int | None = None,
    stay_id: int | None = None,
) -> FhirReferral | None:
    """A search by one key (the referral's id or number, an offer's, a stay's): the
    referral, or None when there is none or its person is out of the caller's scope.
    A search that finds nothing answers 200, so the refusal is written with it (the
    rows ``require_person`` keeps are written only when a request fails)."""
    q = select(SanatoriumReferral.id, SanatoriumReferral.person_id)
    if referral_id is not None:
        q = q.where(SanatoriumReferral.id == referral_id)
    elif number is not None:
        q = q.where(SanatoriumReferral.number == normalise_referral_number(number))
    elif offer_id is not None:
        q = q.join(SanatoriumOffer, SanatoriumOffer.referral_id == SanatoriumReferral.id).where(
            SanatoriumOffer.id == offer_id
        )
    elif stay_id is not None:
        q = q.join(SanatoriumStay, SanatoriumStay.referral_id == SanatoriumReferral.id).where(
            SanatoriumStay.id == stay_id
        )
    else:
        return None
    row = (await session.execute(q)).first()
    if row is None:
        return None
    if await person_scope(session, principal, row.person_id) is None:
        await audit.record(
            session,
            principal,
            action="denied",
            resource_type=REFERRAL,
            resource_id=str(row.id),
            patient_id=row.person_id,
            outcome="failure",
            detail="outside the user's scope",
        )
        return None
    return await fhir_referral(session, principal, row.id)


async def _referral_of(
    session: AsyncSession, principal: Principal, referral_id: int | None, missing: NotFound
) -> FhirReferral:
    if referral_id is None:
        raise missing
    try:
        return await fhir_referral(session, principal, referral_id)
    except NotFound:
        raise missing from None


async def fhir_referral_of_offer(
    session: AsyncSession, principal: Principal, offer_id: int
) -> FhirReferral:
    """The referral an offer was made to (its person opened and audited)."""
    referral_id = await session.scalar(
        select(SanatoriumOffer.referral_id).where(SanatoriumOffer.id == offer_id)
    )
    missing = NotFound(N_("Offer %(id)s not found."), params={"id": str(offer_id)})
    return await _referral_of(session, principal, referral_id, missing)


async def fhir_referral_of_stay(
    session: AsyncSession, principal: Principal, stay_id: int
) -> FhirReferral:
    """The referral a stay was booked for (its person opened and audited)."""
    referral_id = await session.scalar(
        select(SanatoriumStay.referral_id).where(SanatoriumStay.id == stay_id)
    )
    missing = NotFound(N_("Stay %(id)s not found."), params={"id": str(stay_id)})
    return await _referral_of(session, principal, referral_id, missing)


async def fhir_record(session: AsyncSession, written: ReferralOut) -> FhirReferral:
    """The record of a referral the caller has just made through the service (which
    checked scope and audited it): no second audit row."""
    r = await session.get(SanatoriumReferral, written.id)
    assert r is not None
    return (await _records(session, [r]))[0]


# ---- the catalogue: no person ----------------------------------------------------------


async def fhir_services(
    session: AsyncSession, *, facility_id: int | None = None, profile: str | None = None
) -> list[FhirService]:
    """Every profile of every sanatorium that has beds of it (in use or not), by facility
    and profile; with its beds in use and the span of its open periods not yet over."""
    q = select(
        SanatoriumBed.facility_id,
        SanatoriumBed.profile,
        func.count().filter(SanatoriumBed.active.is_(True)),
    ).group_by(SanatoriumBed.facility_id, SanatoriumBed.profile)
    span = select(
        SanatoriumPeriod.facility_id,
        SanatoriumPeriod.profile,
        func.min(SanatoriumPeriod.starts_on),
        func.max(SanatoriumPeriod.ends_on),
    ).where(SanatoriumPeriod.status == "open", SanatoriumPeriod.ends_on > local_today())
    if facility_id is not None:
        q = q.where(SanatoriumBed.facility_id == facility_id)
        span = span.where(SanatoriumPeriod.facility_id == facility_id)
    if profile is not None:
        q = q.where(SanatoriumBed.profile == profile)
        span = span.where(SanatoriumPeriod.profile == profile)
    beds = [(f, p, int(n)) for f, p, n in await session.execute(q)]
    spans = {
        (f, p): (first, last)
        for f, p, first, last in await session.execute(
            span.group_by(SanatoriumPeriod.facility_id, SanatoriumPeriod.profile)
        )
    }
    names = await registry.facility_names(session, [f for f, _, _ in beds])
    rules = sanatorium_rules()
    lang = i18n.current_language()
    out = []
    for f, p, n in sorted(beds, key=lambda row: (row[0], row[1])):
        name = names.get(f)
        first, last = spans.get((f, p), (None, None))
        out.append(
            FhirService(
                facility_id=f,
                facility_code=name.code if name else "",
                facility_name=(name.names.get(lang) or name.name) if name else "",
                profile=p,
                profile_name=rules.profile_name(p, lang),
                beds=n,
                places_per_year=yearly_capacity(n, rules.course_days, rules.turnover_days),
                first_day=first,
                last_day=last,
            )
        )
    return out


def _availability_clause(availability: str, now: datetime, today: date) -> ColumnElement[bool]:
    """The SQL twin of ``_availability``: the periods a Slot ``status`` search finds."""
    booked = (
        select(func.count())
        .where(SanatoriumStay.period_id == SanatoriumPeriod.id, SanatoriumStay.status.in_(HOLDING))
        .scalar_subquery()
    )
    held = (
        select(func.count())
        .where(SanatoriumOffer.period_id == SanatoriumPeriod.id, holding_offer(now))
        .scalar_subquery()
    )
    last_start = today - timedelta(days=sanatorium_rules().offer.offer_until_days_after_start)
    is_open = SanatoriumPeriod.status == "open"
    has_free = SanatoriumPeriod.capacity - booked - held > 0
    if availability == "free":
        return and_(is_open, has_free, SanatoriumPeriod.starts_on >= last_start)
    if availability == "busy-unavailable":
        return or_(~is_open, and_(has_free, SanatoriumPeriod.starts_on < last_start))
    tentative = held > 0
    return and_(is_open, ~has_free, tentative if availability == "busy-tentative" else ~tentative)


async def fhir_periods(
    session: AsyncSession,
    *,
    ids: Iterable[int] | None = None,
    facility_id: int | None = None,
    profile: str | None = None,
    starts_from: date | None = None,
    starts_before: date | None = None,
    availability: Iterable[str] | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[FhirPeriod], int]:
    """Periods (by first day, then id) with their counts, and how many match: the public
    free-places data, any period (past, withdrawn) included."""
    now, today = utcnow(), local_today()
    q = select(SanatoriumPeriod)
    if ids is not None:
        q = q.where(SanatoriumPeriod.id.in_(list(ids)))
    if facility_id is not None:
        q = q.where(SanatoriumPeriod.facility_id == facility_id)
    if profile is not None:
        q = q.where(SanatoriumPeriod.profile == profile)
    if starts_from is not None:
        q = q.where(SanatoriumPeriod.starts_on >= starts_from)
    if starts_before is not None:
        q = q.where(SanatoriumPeriod.starts_on < starts_before)
    if availability is not None:
        wanted = [a for a in availability if a in AVAILABILITIES]
        q = q.where(or_(false(), *(_availability_clause(a, now, today) for a in wanted)))
    total = int(await session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = list(
        await session.scalars(
            q.order_by(SanatoriumPeriod.starts_on, SanatoriumPeriod.id)
            .offset(offset)
            .limit(min(limit, MAX_PERIODS))
        )
    )
    return await _periods(session, rows, now), total
