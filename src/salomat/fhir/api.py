"""FHIR R4 endpoints. Errors come back as OperationOutcome (core.errors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts

from salomat import __version__
from salomat.core import audit
from salomat.core.audit import AuditQuery
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.pagination import check_page
from salomat.core.params import MAX_INT, RowId
from salomat.core.policy import PUBLIC, Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.fhir import (
    audit_event,
    bulk_api,
    cancer_api,
    child_api,
    claim_api,
    dispense_api,
    epidemic_api,
    facility_registry_api,
    immunization_api,
    insurance_claims,
    insurance_coverage,
    maternal_api,
    maternal_exchange,
    mobile_encounter,
    patient_api,
    prescription_api,
    profiles_api,
    record_api,
    record_http,
    registry_api,
    sanatorium_api,
    screening_api,
    sick_leave_api,
    smart,
    statistics_api,
    subscription_api,
    terminology_api,
)
from salomat.fhir import bundle as transactions
from salomat.fhir.common import JSON_PATCH, PAGING, negotiate, reference_id
from salomat.fhir.search import bundle, parse_date_param

FHIR_JSON = "application/fhir+json"
#: every FHIR route checks ``_format``, ``Accept`` and a body's ``Content-Type`` first
#: (fhir/common.negotiate): routers included below get it too
router = router(prefix="/fhir", tags=["fhir"], dependencies=[Depends(negotiate)])  # type: ignore[no-redef]
Session = DbSession

AUDIT_PARAMS = {"patient", "agent", "altid", "date", "action", "_count", "_offset", "_snapshot"}
#: FHIR AuditEvent.action codes and the audit actions each covers (E: execute)
ACTION_CODES = {
    "C": frozenset({"create"}),
    "R": frozenset({"read"}),
    "U": frozenset({"update"}),
    "D": frozenset({"delete"}),
    "E": frozenset({"search", "login", "logout", "denied"}),
}


#: AuditEvent in ``/fhir/metadata``
AUDIT_EVENT: dict[str, Any] = {
    "type": "AuditEvent",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [
        {"name": "patient", "type": "reference"},
        {
            "name": "agent",
            "type": "reference",
            "documentation": "the user's username (agent.altId)",
        },
        {"name": "altid", "type": "token"},
        {"name": "date", "type": "date"},
        {
            "name": "action",
            "type": "token",
            "documentation": "C, R, U, D or E (search, login, logout, denied)",
        },
        {
            "name": "_snapshot",
            "type": "number",
            "documentation": "set by the server in next links: "
            "pages show the trail as of the first page",
        },
        {"name": "_count", "type": "number"},
    ],
}
# SMART Backend Services discovery (/fhir/.well-known/smart-configuration), before any
# route of a type and an id could read it as one
router.include_router(smart.router)
# bulk data export and Patient/$everything: before the Patient routes (Patient/$export is
# no read of an id "$export")
router.include_router(bulk_api.router)
# before the record's: $validate with a profile (the record's types too; without one of our
# profiles named, the record's own $validate answers) and StructureDefinition
router.include_router(profiles_api.router)
# first: the shared record's type-level _history, $validate and PATCH (GET
# /fhir/Observation/_history is no read of an id "_history") and the system-level _history
router.include_router(record_http.router)
#: the registry resources: routes under /fhir, and what /fhir/metadata says of them
router.include_router(patient_api.router)
# the facility registry (mCSD): before the registry's, it claims Location/facility-<id>
router.include_router(facility_registry_api.router)
router.include_router(registry_api.router)
# first: the shared record's creates of Condition and DocumentReference (a cancer
# notification or a sick-leave certificate is handed to its domain's create)
router.include_router(record_api.writes)
# epidemic surveillance (issue 23): Condition/$notify, and only its own ids (Condition/epi-,
# Observation/epi-lab-, MeasureReport/beds-) plus POST MeasureReport
router.include_router(epidemic_api.router)
# screening (issue 21): before the sanatorium's (Task), the record's (POST Observation:
# a body with the screening profile is a screening result, any other the record's create),
# the register's and the statistics' routes; it claims its own ids and searches
router.include_router(screening_api.router)
# mobile medical teams' Encounters (issue 22): before the sanatorium's, the record's and the
# register's; it claims its mobile- ids and the searches by location (Encounter?patient= is
# the record's merged search, which asks it too: fhir/record_merged.py)
router.include_router(mobile_encounter.router)
# before the register's: it claims its own ids and searches of ServiceRequest and Encounter
router.include_router(sanatorium_api.router)
# after the sanatorium's claims, before the cancer registry's, the register's and sick
# leave's routes: it claims its shr- ids and its searches (fhir/record_api.py), among them
# Observation?patient=…&code=<the TNM stage code>, which it answers merged with the cancer
# registry's stages
router.include_router(record_api.router)
# before the register's: it claims its own ids and searches of Condition and Observation
router.include_router(cancer_api.router)
router.include_router(maternal_api.router)
router.include_router(child_api.router)
router.include_router(maternal_exchange.router)
router.include_router(immunization_api.router)
router.include_router(prescription_api.router)
# before the pharmacies': it claims the fund's Claim ids (svc-<n>) and searches
router.include_router(insurance_claims.router)
router.include_router(claim_api.router)
router.include_router(dispense_api.router)
router.include_router(sick_leave_api.router)
router.include_router(statistics_api.router)
router.include_router(insurance_coverage.router)
# CodeSystem and ValueSet, and their $lookup, $validate-code and $expand
router.include_router(terminology_api.router)
# Subscription (R4 rest-hook): its criteria run through the routes above, as the subscriber
router.include_router(subscription_api.router)
# transaction and batch Bundles (an antenatal contact is handed to maternal_exchange)
router.add_api_route("", transactions.submit, methods=["POST"])
RESOURCES = [
    AUDIT_EVENT,
    patient_api.CAPABILITY,
    *registry_api.CAPABILITIES,
    *maternal_api.CAPABILITIES,
    *child_api.CAPABILITIES,
    maternal_exchange.CAPABILITY,
    *immunization_api.CAPABILITIES,
    *prescription_api.CAPABILITIES,
    *claim_api.CAPABILITIES,
    *dispense_api.CAPABILITIES,
    *sick_leave_api.CAPABILITIES,
    *statistics_api.CAPABILITIES,
    *insurance_coverage.CAPABILITIES,
    subscription_api.CAPABILITY,
    *terminology_api.CAPABILITIES,
]
RESOURCES = sanatorium_api.with_capabilities(RESOURCES)
# after the sanatorium's: the facility registry's HealthcareService merged into its entry
RESOURCES = facility_registry_api.with_capabilities(RESOURCES)
RESOURCES = cancer_api.with_capabilities(RESOURCES)
RESOURCES = insurance_claims.with_capabilities(RESOURCES)
RESOURCES = record_api.with_capabilities(RESOURCES)
RESOURCES = screening_api.with_capabilities(RESOURCES)
RESOURCES = epidemic_api.with_capabilities(RESOURCES)
RESOURCES = mobile_encounter.with_capabilities(RESOURCES)
# last: each profiled type's supportedProfile and $validate, and StructureDefinition
RESOURCES = profiles_api.with_capabilities(RESOURCES)
RESOURCES = bulk_api.with_capabilities(RESOURCES)


def _declare_search_parameters() -> None:
    """Publish each search's parameters in ``/openapi.json``, as ``/fhir/metadata`` does.

    The searches read the raw query (FHIR's modifiers and repeats do not fit
    FastAPI's parameters), so without this the schema showed none: clients could
    not see them, and the schema-based fuzzer never sent them.
    """
    names = {r["type"]: [p["name"] for p in r.get("searchParam", [])] for r in RESOURCES}
    for ctx in iter_route_contexts(router.routes):
        resource_type = ctx.path.removeprefix("/fhir/")
        if "GET" not in (ctx.methods or ()) or resource_type not in names:
            continue
        declared = dict.fromkeys([*names[resource_type], *sorted(PAGING)])
        ctx.original_route.openapi_extra = {
            "parameters": [
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in declared
            ]
        }


def fhir_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.get("/metadata", dependencies=[Depends(PUBLIC)])
async def metadata(request: Request) -> JSONResponse:
    """CapabilityStatement: exactly what this server supports."""
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    cs = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": "Salomat", "version": __version__},
        "implementation": {"description": "Salomat national platform", "url": _base(request)},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "patchFormat": [JSON_PATCH],
        "rest": [
            {
                "mode": "server",
                "security": smart.security(request),
                "resource": RESOURCES,
                "interaction": [
                    *transactions.SYSTEM_INTERACTIONS,
                    *record_http.SYSTEM_INTERACTIONS,
                ],
                "operation": bulk_api.OPERATIONS,
            }
        ],
    }
    return fhir_response(
        CapabilityStatement.model_validate(cs).model_dump(mode="json", exclude_none=True)
    )


def _patient_id(value: str) -> int:
    v = reference_id(value, "Patient")
    if v is None:
        raise Invalid.fields([FieldError("patient", "must be a Patient id or Patient/<id>")])
    return v


@router.get("/AuditEvent")
async def search_audit_events(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
) -> JSONResponse:
    params = list(request.query_params.multi_items())
    unknown = sorted({k for k, _ in params} - AUDIT_PARAMS)
    if unknown:
        raise Invalid.fields([FieldError(k, "unsupported search parameter") for k in unknown])
    get = request.query_params.getlist
    patient = _patient_id(get("patient")[-1]) if get("patient") else None
    agent = (get("agent") or get("altid") or [None])[-1]
    since, until = parse_date_param(get("date"))
    count_raw, offset_raw = (get("_count") or [None])[-1], (get("_offset") or [None])[-1]
    snapshot_raw = (get("_snapshot") or [None])[-1]
    for name, raw in (("_count", count_raw), ("_offset", offset_raw), ("_snapshot", snapshot_raw)):
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_INT):
            raise Invalid.fields([FieldError(name, f"must be a whole number up to {MAX_INT}")])
    page = check_page(
        int(count_raw) if count_raw else None,
        int(offset_raw) if offset_raw else None,
        field="_count",
    )
    actions = None
    if get("action"):
        code = get("action")[-1]
        if code not in ACTION_CODES:
            raise Invalid.fields([FieldError("action", "must be one of C, R, U, D, E")])
        actions = ACTION_CODES[code]
    # later pages see the trail as it was at the first page (this search adds rows too)
    snapshot = int(snapshot_raw) if snapshot_raw else await audit.latest_id(session)
    params = [(k, v) for k, v in params if k != "_snapshot"] + [("_snapshot", str(snapshot))]
    q = AuditQuery(
        patient_id=patient,
        username=agent,
        since=since,
        until=until,
        actions=actions,
        max_id=snapshot,
        limit=page.limit,
        offset=page.offset,
    )
    items, total = await audit.search(session, q)
    await audit.record(
        session,
        principal,
        action="search",
        resource_type="AuditEvent",
        patient_id=patient,
        detail=str(request.url.query)[:500] or None,
        purpose="audit review",
    )
    return fhir_response(
        bundle(
            _base(request),
            "/AuditEvent",
            params,
            [audit_event.to_fhir(e) for e in items],
            total,
            page.limit,
            page.offset,
        )
    )


@router.get("/AuditEvent/{event_id}")
async def read_audit_event(
    session: Session,
    event_id: RowId,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
) -> JSONResponse:
    entry = await audit.get_entry(session, event_id)
    if entry is None:
        raise NotFound(f"AuditEvent {event_id} not found.")
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="AuditEvent",
        resource_id=str(event_id),
        patient_id=entry.patient_id,
        purpose="audit review",
    )
    return fhir_response(audit_event.to_fhir(entry))


_declare_search_parameters()  # after the last route of this module
