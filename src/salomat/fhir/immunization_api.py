"""FHIR Immunization (read, search, create) and ImmunizationRecommendation (read, search).

Every call goes through the immunization service, which checks scope and
audits (an out-of-scope patient or dose is 404 like a missing one). A dose
another system submits gets the same checks as one entered here: unknown
codes, dates in the future or before birth and doses too early are refused
with a 422 OperationOutcome naming the element. Permissions:
``immunization:read``, ``immunization:record``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.immunization import service
from salomat.fhir import immunization as mapper
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
from salomat.fhir.search import parse_date_param
from salomat.fhir.terminology_bindings import codes_checked

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("immunization:read"))]
Recorder = Annotated[Principal, Depends(Require("immunization:record"))]

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Immunization": {
        "patient": ("reference", "required: Patient/<id>"),
        "vaccine-code": (
            "token",
            "the pack's vaccine code: urn:salomat:vaccine|<code> or <code>; or the vaccine "
            "group of a dose whose product is not known: urn:salomat:immunization-series|<antigen>",
        ),
        "date": ("date", "occurrenceDateTime, with prefixes ge, gt, le, lt"),
        "status": ("token", "completed (default) or entered-in-error"),
    },
    "ImmunizationRecommendation": {
        "patient": ("reference", "required: Patient/<id>; one computed recommendation"),
    },
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Immunization",
        "profile": "http://hl7.org/fhir/StructureDefinition/Immunization",
        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d}
            for n, (ty, d) in SEARCH_PARAMS["Immunization"].items()
        ]
        + [{"name": "_count", "type": "number"}],
    },
    {
        "type": "ImmunizationRecommendation",
        "profile": "http://hl7.org/fhir/StructureDefinition/ImmunizationRecommendation",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d}
            for n, (ty, d) in SEARCH_PARAMS["ImmunizationRecommendation"].items()
        ]
        + [{"name": "_count", "type": "number"}],
    },
]
STATUSES = {"completed": "completed", "entered-in-error": "entered_in_error"}


def _params(request: Request, resource_type: str) -> Params:
    return Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS[resource_type]) | PAGING,
    )


def _patient(params: Params) -> int:
    raw = params.get("patient")
    if raw is None:
        raise Invalid.fields([FieldError("patient", "is required")])
    v = reference_id(raw, "Patient")
    if v is None:
        raise Invalid.fields([FieldError("patient", "must be a Patient id or Patient/<id>")])
    return v


def _found(request: Request, resource_type: str, params: Params, resources: list[Any]) -> Any:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), resource_type, params.items, shown, len(resources), page)
    )


def _day(value: datetime | None, *, end: bool = False) -> date | None:
    """A search interval's bound as a date: [since, until) -> inclusive days."""
    if value is None:
        return None
    v = value.astimezone(UTC) if value.tzinfo else value
    if end:
        from datetime import timedelta

        return (v - timedelta(microseconds=1)).date()
    return v.date()


# ---- Immunization ---------------------------------------------------------------------


@router.get("/Immunization")
async def search_immunizations(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "Immunization")
    person = _patient(params)
    cal = service.calendar_options()
    vaccine = antigen = None
    if (raw := params.get("vaccine-code")) is not None:
        system, sep, code = raw.rpartition("|")
        if sep and system == mapper.SERIES_SYSTEM:
            # the vaccine group our answers carry when the product is not known
            antigen = code
        elif sep and system and system != cal.code_system:
            raise Invalid.fields(
                [
                    FieldError(
                        "vaccine-code",
                        f"system must be {cal.code_system} or {mapper.SERIES_SYSTEM}",
                    )
                ]
            )
        else:
            vaccine = code
    status = None
    if (raw := params.get("status")) is not None:
        if raw not in STATUSES:
            raise Invalid.fields([FieldError("status", "must be completed or entered-in-error")])
        status = STATUSES[raw]
    since, until = parse_date_param(request.query_params.getlist("date"))
    doses = await service.search_doses(
        session,
        principal,
        person,
        vaccine=vaccine,
        antigen=antigen,
        date_from=_day(since),
        date_to=_day(until, end=True),
        status=status,
    )
    if antigen is not None:  # only the doses whose vaccineCode is that group's
        doses = [d for d in doses if not d.vaccine]
    found = [mapper.immunization(d, cal) for d in doses]
    return _found(request, "Immunization", params, found)


@router.get("/Immunization/{dose_id}")
async def read_immunization(
    request: Request, session: Session, dose_id: RowId, principal: Reader
) -> JSONResponse:
    d = await service.get_dose(session, principal, dose_id)
    return resource_response(request, mapper.immunization(d, service.calendar_options()))


@router.post("/Immunization", status_code=201)
async def create_immunization(
    request: Request, session: Session, principal: Recorder
) -> JSONResponse:
    """Another system submits a dose: R4B-validated, then the same checks as the REST API."""
    from fhir.resources.R4B.immunization import Immunization

    imm = await read_body(request, "Immunization", Immunization)
    cal = service.calendar_options()
    with codes_checked(imm):
        person_id, data = mapper.from_fhir(imm, cal)
        with fields_as(mapper.FIELDS):
            d = await service.record_dose(session, principal, person_id, data, source="fhir")
    return resource_response(request, mapper.immunization(d, cal), status=201, location=True)


# ---- ImmunizationRecommendation -------------------------------------------------------


@router.get("/ImmunizationRecommendation")
async def search_recommendations(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "ImmunizationRecommendation")
    person = _patient(params)
    s = await service.get_schedule(session, principal, person)
    return _found(
        request,
        "ImmunizationRecommendation",
        params,
        [mapper.recommendation(s, service.calendar_options())],
    )


@router.get("/ImmunizationRecommendation/{person_id}")
async def read_recommendation(
    request: Request, session: Session, person_id: RowId, principal: Reader
) -> JSONResponse:
    """Computed now from the schedule; its id is the patient's."""
    s = await service.get_schedule(session, principal, person_id)
    return resource_response(request, mapper.recommendation(s, service.calendar_options()))
