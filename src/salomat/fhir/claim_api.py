"""FHIR read and search of Claim: the lines of pharmacies' monthly claims to the fund.

Read-only; claims are made by dispensings and reviewed through the REST API.
Search by ``patient`` (Patient/<id>) or ``provider`` (Organization/<pharmacy
id>), optionally narrowed to ``created`` (a month, YYYY-MM: the claim's
month). Scope is the claims service's: a pharmacist sees her own pharmacy's
lines, the fund's analyst all; each patient shown is audited. Permission:
``claim:read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.params import parse_row_id
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.prescription import service
from salomat.fhir import claim as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    pack_currency,
    reference_param,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reader = Annotated[Principal, Depends(Require("claim:read"))]

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": ("reference", "Patient/<id>; this or provider is required"),
    "provider": ("reference", "the pharmacy, Organization/<id>"),
    "created": ("date", "the claim's month, YYYY-MM"),
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Claim",
        "profile": "http://hl7.org/fhir/StructureDefinition/Claim",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
        ]
        + [{"name": "_count", "type": "number"}],
    }
]


@router.get("/Claim")
async def search_claims(request: Request, session: DbSession, principal: Reader) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    patient = reference_param(params.get("patient"), "Patient", "patient")
    provider = reference_param(params.get("provider"), "Organization", "provider")
    if patient is None and provider is None:
        raise Invalid.fields([FieldError("patient", "patient or provider is required")])
    created = params.get("created")
    month = service.parse_month(created.removeprefix("eq"), "created") if created else None
    page = params.page()
    lines = await service.list_claim_lines(
        session, principal, status=None, month=month, facility_id=provider, person_id=patient
    )
    currency = pack_currency()
    shown = [
        mapper.to_fhir(line, currency) for line in lines[page.offset : page.offset + page.limit]
    ]
    return fhir_response(
        searchset(base_url(request), "Claim", params.items, shown, len(lines), page)
    )


@router.get("/Claim/{claim_id}")
async def read_claim(session: DbSession, claim_id: str, principal: Reader) -> JSONResponse:
    line_id = parse_row_id(claim_id)
    if line_id is None:
        raise NotFound(f"Claim {claim_id} not found.")
    line = await service.get_claim_line(session, principal, line_id)
    return fhir_response(mapper.to_fhir(line, pack_currency()))
