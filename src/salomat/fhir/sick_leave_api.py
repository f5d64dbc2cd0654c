"""FHIR DocumentReference for sick-leave certificates: read, search, create and ``$extend``.

Every call goes through the sick-leave service, which checks scope and audits (a
certificate of a person out of scope is 404 like a missing one). A certificate
another system opens or extends meets the same rules as one written through the
REST API (``open_certificate(..., source="fhir")``, ``extend_certificate``); a
refusal is an OperationOutcome naming the element or parameter sent.
Permissions: ``sick_leave:read`` (clinicians and the citizen; an employer's
account holds none of /fhir), ``sick_leave:issue`` to open and extend.

The diagnosis is a Condition contained in the DocumentReference, shown to
clinical roles and to the holder herself only (``clinical``); there is no
standalone sick-leave Condition, so ``/fhir/Condition`` stays the pregnancy
register's (docs/fhir.md "Sick leave").
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from salomat.core.errors import FieldError, Invalid, field_errors_from_pydantic
from salomat.core.i18n import N_
from salomat.core.params import RowId
from salomat.core.policy import CLINICAL_ROLES, Require, Role
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import ExtendIn, OpenIn
from salomat.fhir import sick_leave as mapper
from salomat.fhir.common import (
    EXT,
    PAGING,
    Params,
    base_url,
    fhir_response,
    fields_as,
    parse_if_match,
    read_body,
    reference_id,
    resource_response,
    searchset,
)
from salomat.fhir.search import parse_date_param

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("sick_leave:read"))]
Issuer = Annotated[Principal, Depends(Require("sick_leave:issue"))]

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": ("reference", "required: the holder, Patient/<id>"),
    "status": ("token", "current, or entered-in-error (cancelled)"),
    "type": (
        "token",
        f"the kind, {mapper.KIND_SYSTEM}|illness, care or maternity; clinical readers also "
        f"the reason, {mapper.REASON_SYSTEM}|<reason>; <code> alone matches either",
    ),
    "identifier": ("token", "the certificate's number: <system>|<number> or <number>"),
    "date": ("date", "when it was issued (DocumentReference.date)"),
    "period": (
        "date",
        "its days (context.period) overlap the interval the values bound: "
        "period=2026-03-02 runs on that day; ge/gt and le/lt bound the interval",
    ),
}
EXTEND = f"{EXT.removesuffix('StructureDefinition/')}OperationDefinition/DocumentReference-extend"
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "DocumentReference",
        "profile": "http://hl7.org/fhir/StructureDefinition/DocumentReference",
        "documentation": "Sick-leave certificates (docs/fhir.md, Sick leave)",
        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
        ]
        + [{"name": "_count", "type": "number"}],
        "operation": [{"name": "extend", "definition": EXTEND}],
    }
]
STATUSES = {"current": frozenset({"open", "closed"}), "entered-in-error": frozenset({"cancelled"})}


def clinical(principal: Principal, certificate: Any) -> bool:
    """Whether the reader sees the reason and the diagnosis: a clinical role, or the
    holder herself (her own certificate, as in the REST holder's view). A parent
    reading her adolescent's certificate does not."""
    if principal.role in CLINICAL_ROLES:
        return True
    return principal.role == Role.citizen and principal.person_id == certificate.person_id


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _resource(request: Request, principal: Principal, rec: Any) -> dict[str, Any]:
    return mapper.document_reference(
        rec, clinical=clinical(principal, rec.certificate), api_base=_api_base(request)
    )


def _token(res: dict[str, Any], token: str, element: str) -> bool:
    system, bar, code = token.rpartition("|")
    value = res.get(element)
    codings = value["coding"] if element == "type" else value
    return any(
        (c.get("code") if element == "type" else c.get("value")) == code
        and (not bar or not system or c.get("system") == system)
        for c in codings
    )


def _days(d: Any) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


# ---- read and search -----------------------------------------------------------------


@router.get("/DocumentReference")
async def search_documents(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    raw = params.get("patient")
    if raw is None:
        raise Invalid.fields([FieldError("patient", N_("is required"))])
    person_id = reference_id(raw, "Patient")
    if person_id is None:
        raise Invalid.fields([FieldError("patient", N_("must be a Patient id or Patient/<id>"))])
    statuses = None
    if (s := params.get("status")) is not None:
        statuses = STATUSES.get(s.rpartition("|")[2])
        if statuses is None:
            raise Invalid.fields([FieldError("status", N_("must be current or entered-in-error"))])
    get = request.query_params.getlist
    issued = parse_date_param(get("date")) if get("date") else None
    days = parse_date_param(get("period"), "period") if get("period") else None
    identifier = params.get("identifier")
    if identifier is not None:
        system, bar, number = identifier.rpartition("|")
        number = service.normalise_number(number)  # as typed or read out: spaces, dashes
        identifier = f"{system}|{number}" if bar else number
    page = params.page()
    found = []
    for rec in await service.fhir_certificates(session, principal, person_id):
        c = rec.certificate
        if statuses is not None and c.status not in statuses:
            continue
        if issued is not None:
            since, until = issued
            at = rec.created_at if rec.created_at.tzinfo else rec.created_at.replace(tzinfo=UTC)
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
        if days is not None:
            since, until = days
            first = _days(c.starts_on)
            after = _days(c.closed_on or c.ends_on) + timedelta(days=1)
            if (since is not None and after <= since) or (until is not None and first >= until):
                continue
        res = _resource(request, principal, rec)
        if (t := params.get("type")) is not None and not _token(res, t, "type"):
            continue
        if identifier is not None and not _token(res, identifier, "identifier"):
            continue
        found.append(res)
    shown = found[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), "DocumentReference", params.items, shown, len(found), page)
    )


@router.get("/DocumentReference/{certificate_id}")
async def read_document(
    request: Request, session: Session, certificate_id: RowId, principal: Reader
) -> JSONResponse:
    rec = await service.fhir_certificate(session, principal, certificate_id)
    return resource_response(request, _resource(request, principal, rec))


# ---- another system opens and extends -----------------------------------------------


def _build(model: Any, values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(e.errors())) from e


@router.post("/DocumentReference", status_code=201)
async def create_document(request: Request, session: Session, principal: Issuer) -> JSONResponse:
    """Open a certificate: one period, the reason, the diagnosis as a contained Condition;
    the same checks as POST /api/v1/persons/{id}/sick-leave, stored with source fhir."""
    from fhir.resources.R4B.documentreference import DocumentReference

    doc = await read_body(request, "DocumentReference", DocumentReference)
    kinds = {k: r.kind for k, r in service.sick_leave_rules().reasons.items()}
    incoming = mapper.from_fhir(doc, kinds)
    with fields_as(incoming.paths):
        data = _build(OpenIn, incoming.values)
        out = await service.open_certificate(
            session, principal, incoming.person_id, data, source="fhir"
        )
    rec = await service.fhir_record(session, out)
    return resource_response(request, _resource(request, principal, rec), status=201, location=True)


@router.post("/DocumentReference/{certificate_id}/$extend")
async def extend_document(
    request: Request, session: Session, certificate_id: RowId, principal: Issuer
) -> JSONResponse:
    """A further period (Parameters: ``ends_on`` or ``days``, ``vkk_decision_id``,
    ``cosigned_by``, ``complicated_birth``), as POST /api/v1/sick-leave/{id}/extend;
    ``If-Match`` is optional, a stale one 412."""
    from fhir.resources.R4B.parameters import Parameters

    parameters = await read_body(request, "Parameters", Parameters)
    values = mapper.extend_values(parameters)
    header = request.headers.get("if-match")
    expected = parse_if_match(header) if header is not None else None
    with fields_as({n: mapper.parameter_path(n) for n in mapper.EXTEND_PARAMETERS}):
        data = _build(ExtendIn, values)
        out = await service.extend_certificate(
            session, principal, certificate_id, data, expected_version=expected
        )
    rec = await service.fhir_record(session, out)
    return resource_response(request, _resource(request, principal, rec))
