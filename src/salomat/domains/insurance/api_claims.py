"""REST API of the insurance fund: providers' claims, the reviewer's queue and decisions,
the nightly control run, and the monthly settlements (docs/insurance.md).

Providers (``insurance:claim``) submit claims and read their own facility's claims and
settlements; the fund's analyst (``insurance:review``) reads all, decides lines, runs the
controls and settles. Flags' reasons are in the language the caller asks for
(Accept-Language; English without it). Months are ``YYYY-MM``; money is in minor units.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import api_speaking
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance.schemas.claims import (
    ClaimIn,
    ClaimLineOut,
    ClaimOut,
    ClaimSummary,
    ControlRun,
    DecisionIn,
    SettlementOut,
)
from salomat.domains.insurance.service import claims, control, review, settlement

api = router(prefix="/api/v1", tags=["insurance"])

routers = [api]

Provider = Annotated[Principal, Depends(Require("insurance:claim"))]
Reader = Annotated[Principal, Depends(Require("insurance:claim_read"))]
Reviewer = Annotated[Principal, Depends(Require("insurance:review"))]
Month = Annotated[str | None, Query(max_length=10, description="YYYY-MM")]
Id = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


def _month(value: str | None, field: str = "month"):  # type: ignore[no-untyped-def]
    return claims.parse_month(value, field) if value else None


@api.post(
    "/insurance/claims",
    response_model=ClaimOut,
    status_code=201,
    responses={
        200: {"description": "the same external_id was sent before: the stored claim"},
        422: {
            "description": "a line is wrong (each named, lines.<i>.<field>): an unknown "
            "national id, a service in no package, a day in the future, before the birth "
            "or in another month; nothing is stored"
        },
    },
)
async def submit_claim(
    request: Request, session: DbSession, data: ClaimIn, response: Response, principal: Provider
) -> ClaimOut:
    """A provider's claim for services at the pack's tariffs; the control rules flag its
    lines as it arrives, each flag with its reason."""
    with api_speaking(request):
        out = await claims.submit_claim(session, principal, data)
    if not out.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/insurance/claims/{out.id}"
    return out


@api.get("/insurance/claims", response_model=list[ClaimSummary])
async def list_claims(
    session: DbSession,
    principal: Reader,
    month: Month = None,
    facility_id: Id = None,
    person_id: Id = None,
) -> list[ClaimSummary]:
    """Claims newest first with their totals: a provider's own, the fund's all."""
    return await claims.list_claims(
        session, principal, month=_month(month), facility_id=facility_id, person_id=person_id
    )


@api.get("/insurance/claims/{claim_id}", response_model=ClaimOut)
async def read_claim(
    request: Request, session: DbSession, claim_id: RowId, principal: Reader
) -> ClaimOut:
    with api_speaking(request):
        return await claims.get_claim(session, principal, claim_id)


@api.get("/insurance/claim-lines/{line_id}", response_model=ClaimLineOut)
async def read_line(
    request: Request, session: DbSession, line_id: RowId, principal: Reader
) -> ClaimLineOut:
    with api_speaking(request):
        return await review.get_line(session, principal, line_id)


@api.get("/insurance/review-queue", response_model=list[ClaimLineOut])
async def review_queue(
    request: Request,
    session: DbSession,
    principal: Reviewer,
    rule: Annotated[str | None, Query(max_length=32)] = None,
    facility_id: Id = None,
    month: Month = None,
    status: Annotated[str, Query(max_length=16)] = "flagged",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ClaimLineOut]:
    """Lines waiting for a decision (flagged by default), by rule, facility and month."""
    with api_speaking(request):
        return await review.review_queue(
            session,
            principal,
            rule=rule,
            facility_id=facility_id,
            month=_month(month),
            status=status,
            limit=limit,
        )


@api.post(
    "/insurance/claim-lines/{line_id}/decision",
    response_model=ClaimLineOut,
    responses={409: {"description": "the line was already decided (by whom, as what)"}},
)
async def decide_line(
    request: Request, session: DbSession, line_id: RowId, data: DecisionIn, principal: Reviewer
) -> ClaimLineOut:
    """Accept, reduce (``amount_approved`` less than claimed, with a reason) or reject
    (with a reason) one line; a line is decided once."""
    with api_speaking(request):
        return await review.decide_line(session, principal, line_id, data)


@api.post("/insurance/controls/{month}/run", response_model=ControlRun)
async def run_controls(session: DbSession, month: str, principal: Reviewer) -> ControlRun:
    """Every control rule over all lines of the month (what the nightly job runs)."""
    parsed = claims.parse_month(month)
    return await control.run_controls(session, parsed)


@api.post("/insurance/settlements/{month}/compute", response_model=list[SettlementOut])
async def compute_settlements(
    session: DbSession, month: str, principal: Reviewer, facility_id: Id = None
) -> list[SettlementOut]:
    """(Re)compute the month's draft settlements: one provider's, or every provider's."""
    parsed = claims.parse_month(month)
    if facility_id is not None:
        return [await settlement.compute_settlement(session, principal, facility_id, parsed)]
    return await settlement.compute_settlements(session, principal, parsed)


@api.get("/insurance/settlements", response_model=list[SettlementOut])
async def list_settlements(
    session: DbSession, principal: Reader, month: Month = None, facility_id: Id = None
) -> list[SettlementOut]:
    return await settlement.list_settlements(
        session, principal, month=_month(month), facility_id=facility_id
    )


@api.get("/insurance/settlements/{settlement_id}", response_model=SettlementOut)
async def read_settlement(
    session: DbSession, settlement_id: RowId, principal: Reader
) -> SettlementOut:
    return await settlement.get_settlement(session, principal, settlement_id)


@api.post(
    "/insurance/settlements/{settlement_id}/close",
    response_model=SettlementOut,
    responses={409: {"description": "already closed"}},
)
async def close_settlement(
    session: DbSession, settlement_id: RowId, principal: Reviewer
) -> SettlementOut:
    return await settlement.close_settlement(session, principal, settlement_id)


@api.get(
    "/insurance/settlements/{settlement_id}/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def settlement_csv(
    request: Request, session: DbSession, settlement_id: RowId, principal: Reader
) -> Response:
    """The settlement as CSV (in the Accept-Language's language)."""
    with api_speaking(request):
        return csv_download(await settlement.settlement_csv(session, principal, settlement_id))
