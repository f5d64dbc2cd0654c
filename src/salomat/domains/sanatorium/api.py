"""REST routes of the electronic sanatorium: doctors, the registry clerk, the
sanatorium's staff, the citizen, and the public (free places, the queue, vouchers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import PUBLIC, Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.sanatorium import api_analytics, service
from salomat.domains.sanatorium.schemas import (
    ArriveIn,
    BedsIn,
    BedsOut,
    BookIn,
    CancelIn,
    ConfirmIn,
    DischargeIn,
    FreePlaceOut,
    PeriodIn,
    PeriodOut,
    PublicQueueEntryOut,
    QueueEventOut,
    ReasonIn,
    ReferralIn,
    ReferralOut,
    ReorderIn,
    SelfApplyIn,
    StayOut,
    VoucherCheckOut,
)

api = router(prefix="/api/v1", tags=["sanatorium"])
routers = [*api_analytics.routers, api]

Referrer = Annotated[Principal, Depends(Require("sanatorium:refer"))]
Reader = Annotated[Principal, Depends(Require("sanatorium:read"))]
Clerk = Annotated[Principal, Depends(Require("sanatorium:queue"))]
Manager = Annotated[Principal, Depends(Require("sanatorium:manage"))]
Admitter = Annotated[Principal, Depends(Require("sanatorium:admit"))]
Holder = Annotated[Principal, Depends(Require("sanatorium:portal"))]
IfMatch = Annotated[str | None, Header()]
Profile = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Region = Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9._-]*$")]

_REFER = {
    404: {"description": "no such person, or not in the user's scope"},
    409: {"description": "the person died, or already has a referral in progress"},
    422: {
        "description": "a field is wrong (each named): indication, profile, category, a "
        "contraindication nobody attested, or a person not yet entitled"
    },
}
_BOOK = {
    409: {"description": "no free place is left in the period (or the offer is over)"},
    422: {"description": "the period is not open, is over, or is for another profile"},
}


def _tagged(response: Response, s: StayOut) -> StayOut:
    response.headers["ETag"] = etag(s.version)
    return s


# ---- the doctor ------------------------------------------------------------------------


@api.post(
    "/persons/{person_id}/sanatorium-referrals",
    response_model=ReferralOut,
    status_code=201,
    responses=_REFER,
)
async def refer(
    session: DbSession, person_id: RowId, data: ReferralIn, response: Response, principal: Referrer
) -> ReferralOut:
    """Refer a person: queued at once (the category's tier), or, for a direct category
    (after-care), waiting for the doctor to book a free place."""
    r = await service.refer(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/sanatorium-referrals/{r.id}"
    return r


@api.get("/persons/{person_id}/sanatorium-referrals", response_model=list[ReferralOut])
async def person_referrals(
    session: DbSession, person_id: RowId, principal: Reader
) -> list[ReferralOut]:
    """A person's referrals, newest first."""
    return await service.list_person_referrals(session, principal, person_id)


@api.get("/sanatorium-referrals/{referral_id}", response_model=ReferralOut)
async def read_referral(session: DbSession, referral_id: RowId, principal: Reader) -> ReferralOut:
    """One referral with its position in line, open offer and stay."""
    return await service.get_referral(session, principal, referral_id)


@api.get("/sanatorium-referrals/{referral_id}/events", response_model=list[QueueEventOut])
async def referral_events(
    session: DbSession, referral_id: RowId, principal: Reader
) -> list[QueueEventOut]:
    """Every change of the entry and of its order, with the reason (append-only)."""
    return await service.referral_events(session, principal, referral_id)


@api.post(
    "/sanatorium-referrals/{referral_id}/confirm",
    response_model=ReferralOut,
    responses={409: {"description": "the referral does not wait for a confirmation"}},
)
async def confirm_indication(
    session: DbSession, referral_id: RowId, data: ConfirmIn, principal: Referrer
) -> ReferralOut:
    """Confirm a citizen's own application with the indication: it then stands in line
    from the time she applied."""
    return await service.confirm_indication(session, principal, referral_id, data)


@api.post("/sanatorium-referrals/{referral_id}/book", response_model=ReferralOut, responses=_BOOK)
async def book_direct(
    session: DbSession, referral_id: RowId, data: BookIn, principal: Referrer
) -> ReferralOut:
    """Book a free place of a period for a direct referral (after-care)."""
    return await service.book_direct(session, principal, referral_id, data)


@api.post("/sanatorium-referrals/{referral_id}/cancel", response_model=ReferralOut)
async def cancel_referral(
    session: DbSession, referral_id: RowId, data: CancelIn, principal: Referrer
) -> ReferralOut:
    """Take the referral out of the queue (an open offer and a booked bed are freed)."""
    return await service.cancel_referral(session, principal, referral_id, data.reason)


@api.post("/sanatorium-referrals/{referral_id}/reorder", response_model=ReferralOut)
async def reorder(
    session: DbSession, referral_id: RowId, data: ReorderIn, principal: Clerk
) -> ReferralOut:
    """A corrected entitlement category: the entry moves to its tier; logged with why."""
    return await service.reorder(session, principal, referral_id, data)


# ---- the sanatorium's staff ------------------------------------------------------------


@api.get("/sanatorium/beds", response_model=list[BedsOut])
async def beds(session: DbSession, principal: Manager) -> list[BedsOut]:
    """Beds per profile of the caller's sanatorium, with places a year."""
    return await service.beds_by_profile(session, principal)


@api.put(
    "/sanatorium/beds", response_model=BedsOut, responses={409: {"description": "beds hold stays"}}
)
async def set_beds(session: DbSession, data: BedsIn, principal: Manager) -> BedsOut:
    """Set the beds of one profile."""
    return await service.set_beds(session, principal, data)


@api.get("/sanatorium/periods", response_model=list[PeriodOut])
async def periods(
    session: DbSession,
    principal: Manager,
    from_date: Annotated[date | None, Query(alias="from")] = None,
) -> list[PeriodOut]:
    """The sanatorium's arrival periods not yet over, with booked, held and free places."""
    return await service.list_periods(session, principal, from_date=from_date)


@api.post("/sanatorium/periods", response_model=PeriodOut, status_code=201)
async def publish_period(session: DbSession, data: PeriodIn, principal: Manager) -> PeriodOut:
    """Publish an arrival period (its places go to the queue by offers)."""
    return await service.publish_period(session, principal, data)


@api.post("/sanatorium/periods/{period_id}/cancel", response_model=PeriodOut)
async def cancel_period(session: DbSession, period_id: RowId, principal: Manager) -> PeriodOut:
    """Withdraw a period with no bookings (open offers for it are withdrawn)."""
    return await service.cancel_period(session, principal, period_id)


@api.get("/sanatorium/arrivals", response_model=list[StayOut])
async def arrivals(
    session: DbSession,
    principal: Admitter,
    from_date: Annotated[date | None, Query(alias="from")] = None,
    days: Annotated[int, Query(ge=0, le=366)] = 31,
) -> list[StayOut]:
    """Expected arrivals and current guests (each person listed is audited)."""
    return await service.expected_arrivals(session, principal, from_date=from_date, days=days)


@api.get("/sanatorium/stays/{stay_id}", response_model=StayOut)
async def read_stay(
    session: DbSession, stay_id: RowId, response: Response, principal: Admitter
) -> StayOut:
    return _tagged(response, await service.get_stay(session, principal, stay_id))


@api.post("/sanatorium/stays/{stay_id}/arrive", response_model=StayOut)
async def arrive(
    session: DbSession,
    stay_id: RowId,
    data: ArriveIn,
    response: Response,
    principal: Admitter,
    if_match: IfMatch = None,
) -> StayOut:
    s = await service.arrive(
        session, principal, stay_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, s)


@api.post("/sanatorium/stays/{stay_id}/discharge", response_model=StayOut)
async def discharge(
    session: DbSession,
    stay_id: RowId,
    data: DischargeIn,
    response: Response,
    principal: Admitter,
    if_match: IfMatch = None,
) -> StayOut:
    """Discharge with a short summary, which the referring doctor reads."""
    s = await service.discharge(
        session, principal, stay_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, s)


@api.post("/sanatorium/stays/{stay_id}/noshow", response_model=StayOut)
async def noshow(
    session: DbSession, stay_id: RowId, response: Response, principal: Admitter
) -> StayOut:
    """Record a no-show after the pack's grace: the place goes to the next in line."""
    return _tagged(response, await service.record_noshow(session, principal, stay_id))


# ---- the citizen -----------------------------------------------------------------------


@api.get("/me/sanatorium-referrals", response_model=list[ReferralOut])
async def my_referrals(session: DbSession, principal: Holder) -> list[ReferralOut]:
    """The citizen's referrals: position, wait, offers, vouchers."""
    return await service.my_referrals(session, principal)


@api.post("/me/sanatorium-referrals", response_model=ReferralOut, status_code=201)
async def self_apply(session: DbSession, data: SelfApplyIn, principal: Holder) -> ReferralOut:
    """Apply (where the pack allows it): a doctor then confirms the indication."""
    return await service.self_apply(session, principal, data)


@api.get("/me/sanatorium-referrals/{referral_id}/events", response_model=list[QueueEventOut])
async def my_referral_events(
    session: DbSession, referral_id: RowId, principal: Holder
) -> list[QueueEventOut]:
    return await service.my_referral_events(session, principal, referral_id)


@api.post("/me/sanatorium-referrals/{referral_id}/withdraw", response_model=ReferralOut)
async def withdraw(
    session: DbSession, referral_id: RowId, data: CancelIn, principal: Holder
) -> ReferralOut:
    return await service.withdraw_my_referral(session, principal, referral_id, data.reason)


@api.post("/me/sanatorium-offers/{offer_id}/accept", response_model=ReferralOut, responses=_BOOK)
async def accept_offer(session: DbSession, offer_id: RowId, principal: Holder) -> ReferralOut:
    """Accept an offer: a bed is booked for its period (the voucher)."""
    return await service.accept_offer(session, principal, offer_id)


@api.post("/me/sanatorium-offers/{offer_id}/decline", response_model=ReferralOut)
async def decline_offer(
    session: DbSession, offer_id: RowId, data: ReasonIn, principal: Holder
) -> ReferralOut:
    return await service.decline_offer(session, principal, offer_id, data.reason)


@api.get("/me/sanatorium-vouchers/{stay_id}", response_model=StayOut)
async def my_voucher(session: DbSession, stay_id: RowId, principal: Holder) -> StayOut:
    return await service.my_voucher(session, principal, stay_id)


# ---- public ----------------------------------------------------------------------------


@api.get(
    "/public/sanatorium/free-places",
    response_model=list[FreePlaceOut],
    dependencies=[Depends(PUBLIC)],
)
async def free_places(
    session: DbSession,
    profile: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=32)] = None,
    from_date: Annotated[date | None, Query(alias="from")] = None,
) -> list[FreePlaceOut]:
    """Periods with their free places: no login, no personal data."""
    return await service.free_places(session, profile=profile, region=region, from_date=from_date)


@api.get("/public/sanatorium/profiles", dependencies=[Depends(PUBLIC)])
async def profiles() -> dict[str, str]:
    """The treatment profiles (code: name in the request's language)."""
    return service.profiles()


@api.get(
    "/public/sanatorium/queues/{profile}",
    response_model=list[PublicQueueEntryOut],
    dependencies=[Depends(PUBLIC)],
)
async def public_queue(
    session: DbSession,
    profile: str,
    response: Response,
    region: Region = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PublicQueueEntryOut]:
    """The queue in order by pseudonym (the holder sees hers in the portal): anyone can
    check that it is kept in order. ``X-Total-Count``: entries in line."""
    entries, total = await service.public_queue(
        session, profile, region, offset=offset, limit=limit
    )
    response.headers["X-Total-Count"] = str(total)
    return entries


@api.get(
    "/public/sanatorium/vouchers/check",
    response_model=VoucherCheckOut,
    dependencies=[Depends(PUBLIC)],
)
async def check_voucher(
    session: DbSession,
    number: Annotated[str, Query(min_length=1, max_length=32)],
    code: Annotated[str, Query(min_length=1, max_length=16)],
) -> VoucherCheckOut:
    """The voucher's QR code: valid or not, where and when; nothing about the person."""
    return await service.check_voucher(session, number, code)
