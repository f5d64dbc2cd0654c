"""REST API of the insurance fund: a person's insured status, a provider's eligibility
check of a service, and the citizen's own insurance.

The explanations are in the language the caller asks for (Accept-Language; English
without it), like the problem details.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request

from salomat.core.errors import api_speaking
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.domains.insurance.schemas import EligibilityOut, MyInsuranceOut, StatusOut

api = router(prefix="/api/v1", tags=["insurance"])

routers = [api]

Checker = Annotated[Principal, Depends(Require("insurance:eligibility"))]
Citizen = Annotated[Principal, Depends(Require("insurance:portal"))]
NationalId = Annotated[str, Query(max_length=64, description="the person's national id")]
On = Annotated[date | None, Query(description="the day asked about (today by default)")]

_LOOKUP = {
    404: {"description": "no person with this national id"},
    422: {
        "description": "a parameter is wrong (each named): the national id, the day, the service"
    },
}


@api.get("/insurance/status", response_model=StatusOut, responses=_LOOKUP)
async def insurance_status(
    request: Request, session: DbSession, principal: Checker, national_id: NationalId, on: On = None
) -> StatusOut:
    """A person's insured status on a day (today by default), its basis, until when, and
    why. Providers never see who paid; the fund's analyst does. Every check is audited on
    the person."""
    with api_speaking(request):
        return await service.insurance_status(session, principal, national_id, on)


@api.get("/insurance/eligibility", response_model=EligibilityOut, responses=_LOOKUP)
async def insurance_eligibility(
    request: Request,
    session: DbSession,
    principal: Checker,
    national_id: NationalId,
    service_code: Annotated[
        str | None,
        Query(
            alias="service",
            max_length=64,
            description="a service code of the pack's benefit packages (optional)",
        ),
    ] = None,
    on: On = None,
) -> EligibilityOut:
    """Whether a service is covered for a person on a day: the guaranteed package for
    everyone, the insurance package for the insured; "not covered" says why."""
    with api_speaking(request):
        return await service.service_eligibility(session, principal, national_id, service_code, on)


@api.get("/me/insurance", response_model=list[MyInsuranceOut])
async def my_insurance(
    request: Request, session: DbSession, principal: Citizen, on: On = None
) -> list[MyInsuranceOut]:
    """The citizen's insured status, explained, and her payments month by month with who
    paid them; then her young children's."""
    with api_speaking(request):
        return await service.my_insurance(session, principal, on)


@api.get(
    "/me/insurance/{person_id}",
    response_model=MyInsuranceOut,
    responses={404: {"description": "not the citizen nor her young child"}},
)
async def my_person_insurance(
    request: Request, session: DbSession, principal: Citizen, person_id: RowId, on: On = None
) -> MyInsuranceOut:
    """One person's insurance for the citizen: herself or her child under 18."""
    with api_speaking(request):
        return await service.person_insurance(session, principal, person_id, on)
