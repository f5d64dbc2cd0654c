"""FHIR MedicationDispense: read and search (patient, prescription).

Every call goes through the prescription service, which checks the person's
scope and audits; out of scope answers like a missing record (404).
Permission: ``prescription:read`` (clinicians in scope, the citizen herself).
Dispensings are created by pharmacies through the REST API, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.prescription import service
from salomat.fhir import dispense as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    reference_id,
    resource_response,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reader = Annotated[Principal, Depends(Require("prescription:read"))]

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": ("reference", "Patient/<id>; patient or prescription is required"),
    "prescription": ("reference", "MedicationRequest/<id>: the dispensings of one prescription"),
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "MedicationDispense",
        "profile": "http://hl7.org/fhir/StructureDefinition/MedicationDispense",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
        ]
        + [{"name": "_count", "type": "number"}],
    }
]


def _ref(params: Params, name: str, kind: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    v = reference_id(raw, kind)
    if v is None:
        raise Invalid.fields([FieldError(name, f"must be a {kind} id or {kind}/<id>")])
    return v


@router.get("/MedicationDispense")
async def search_dispenses(request: Request, session: DbSession, principal: Reader) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    patient = _ref(params, "patient", "Patient")
    prescription = _ref(params, "prescription", "MedicationRequest")
    if patient is None and prescription is None:
        raise Invalid.fields([FieldError("patient", "patient or prescription is required")])
    found = await service.person_dispensings(
        session, principal, patient, prescription_id=prescription
    )
    page = params.page()
    shown = [mapper.medication_dispense(d) for d in found[page.offset : page.offset + page.limit]]
    return fhir_response(
        searchset(base_url(request), "MedicationDispense", params.items, shown, len(found), page)
    )


@router.get("/MedicationDispense/{dispensing_id}")
async def read_dispense(
    request: Request, session: DbSession, dispensing_id: RowId, principal: Reader
) -> JSONResponse:
    d = await service.get_dispensing(session, principal, dispensing_id)
    return resource_response(request, mapper.medication_dispense(d))
