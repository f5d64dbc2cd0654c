"""FHIR Medication (read, search) and MedicationRequest (read, search, create).

Every call goes through the prescription service, which checks scope and audits
(an out-of-scope patient or prescription is 404 like a missing one). A
MedicationRequest another system submits gets the same checks as one written
here (formulary, ICD-10, reimbursement, period limit, duplicates, a dead
patient) and is stored with ``source = 'fhir'``; a refusal is an
OperationOutcome naming the element. Permissions: ``formulary:read``,
``prescription:read``, ``prescription:write``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.params import RowId, SmallRowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.prescription import service
from salomat.fhir import prescription as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    fields_as,
    read_body,
    reference_id,
    resource_response,
    searchset,
)
from salomat.fhir.terminology_bindings import codes_checked

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
FormularyReader = Annotated[Principal, Depends(Require("formulary:read"))]
Reader = Annotated[Principal, Depends(Require("prescription:read"))]
Writer = Annotated[Principal, Depends(Require("prescription:write"))]

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Medication": {
        "code": ("token", f"the ATC code: {mapper.ATC}|<code> or <code> (a prefix matches)"),
    },
    "MedicationRequest": {
        "patient": ("reference", "required: Patient/<id>"),
        "status": ("token", "active, completed, cancelled or stopped"),
    },
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Medication",
        "profile": "http://hl7.org/fhir/StructureDefinition/Medication",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d}
            for n, (ty, d) in SEARCH_PARAMS["Medication"].items()
        ]
        + [{"name": "_count", "type": "number"}],
    },
    {
        "type": "MedicationRequest",
        "profile": "http://hl7.org/fhir/StructureDefinition/MedicationRequest",
        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d}
            for n, (ty, d) in SEARCH_PARAMS["MedicationRequest"].items()
        ]
        + [{"name": "_count", "type": "number"}],
    },
]
STATUSES = {v: k for k, v in mapper.STATUS.items()}


def _params(request: Request, resource_type: str) -> Params:
    return Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS[resource_type]) | PAGING,
    )


def _found(request: Request, resource_type: str, params: Params, resources: list[Any]) -> Any:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), resource_type, params.items, shown, len(resources), page)
    )


# ---- Medication -----------------------------------------------------------------------


@router.get("/Medication")
async def search_medications(
    request: Request, session: Session, principal: FormularyReader
) -> JSONResponse:
    params = _params(request, "Medication")
    atc = None
    if (raw := params.get("code")) is not None:
        system, sep, code = raw.rpartition("|")
        if sep and system and system != mapper.ATC:
            raise Invalid.fields([FieldError("code", f"system must be {mapper.ATC}")])
        atc = code
    found = await service.list_formulary(session, atc=atc)
    return _found(request, "Medication", params, [mapper.medication(m) for m in found])


@router.get("/Medication/{medicine_id}")
async def read_medication(
    request: Request, session: Session, medicine_id: SmallRowId, principal: FormularyReader
) -> JSONResponse:
    m = await service.get_medicine(session, medicine_id)
    return resource_response(request, mapper.medication(m))


# ---- MedicationRequest ----------------------------------------------------------------


@router.get("/MedicationRequest")
async def search_medication_requests(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "MedicationRequest")
    raw = params.get("patient")
    if raw is None:
        raise Invalid.fields([FieldError("patient", "is required")])
    v = reference_id(raw, "Patient")
    if v is None:
        raise Invalid.fields([FieldError("patient", "must be a Patient id or Patient/<id>")])
    status = None
    if (s := params.get("status")) is not None:
        if s not in STATUSES:
            raise Invalid.fields(
                [FieldError("status", "must be active, completed, cancelled or stopped")]
            )
        status = STATUSES[s]
    found = await service.list_prescriptions(session, principal, v, status=status)
    return _found(
        request, "MedicationRequest", params, [mapper.medication_request(p) for p in found]
    )


@router.get("/MedicationRequest/{prescription_id}")
async def read_medication_request(
    request: Request, session: Session, prescription_id: RowId, principal: Reader
) -> JSONResponse:
    p = await service.get_prescription(session, principal, prescription_id)
    return resource_response(request, mapper.medication_request(p))


@router.post("/MedicationRequest", status_code=201)
async def create_medication_request(
    request: Request, session: Session, principal: Writer
) -> JSONResponse:
    """Another system prescribes: R4B-validated, then the same checks as the REST API."""
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    mr = await read_body(request, "MedicationRequest", MedicationRequest)
    with codes_checked(mr):
        person_id, code, medication_id, fields = mapper.from_fhir(mr)
        if code is None:
            assert medication_id is not None
            try:
                code = (await service.get_medicine(session, medication_id)).code
            except NotFound:
                raise Invalid.fields(
                    [FieldError("MedicationRequest.medicationReference", "no such Medication")]
                ) from None
        medicine = await service.medicine_by_code(session, code)
        if medicine is not None:  # an unknown code is refused by the service, naming the element
            mapper.check_dose_unit(mr, medicine.unit)
        data = mapper.to_input(code, fields)
        with fields_as(mapper.FIELDS):
            p = await service.create_prescription(
                session, principal, person_id, data, source="fhir"
            )
    return resource_response(request, mapper.medication_request(p), status=201, location=True)
