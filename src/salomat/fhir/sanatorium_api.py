"""FHIR for the electronic sanatorium: read and search of referrals (``ServiceRequest``),
queue entries (``Task``), offers and bookings (``Appointment``), stays (``Encounter``)
and the catalogue (``HealthcareService``, ``Schedule``, ``Slot``); another system
submits a referral (``POST ServiceRequest``).

Person-level resources go through the sanatorium service, which checks scope and
audits (a referral of a person out of scope is 404 like a missing one); the referral
another system submits meets the same rules as one made through the REST API
(``refer(..., source="fhir")``). Permissions: ``sanatorium:read`` (the clinicians who
read referrals in REST), ``sanatorium:refer`` to submit. The catalogue is the public
free-places data (no person in it): read without logging in.

**Shared types.** ``ServiceRequest`` and ``Encounter`` are also the pregnancy
register's (fhir/maternal_exchange.py, maternal_api.py: their own permission, plain
numeric ids). The routes here come first and *claim* only what is the sanatorium's:
an id ``sanatorium-<n>``, or a search that names a sanatorium resource
(``ServiceRequest?code=sanatorium``, ``identifier=<the referral number system>|…``,
``Encounter?type=sanatorium-stay``, ``_id=sanatorium-<n>``, ``based-on=…/sanatorium-<n>``);
everything else passes on to the register's routes, unchanged (docs/fhir.md
"Sanatorium").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import Scope

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid, NotFound, field_errors_from_pydantic
from salomat.core.i18n import N_
from salomat.core.params import RowId
from salomat.core.policy import PUBLIC, Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import pack
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import ReferralIn
from salomat.fhir import capability
from salomat.fhir import sanatorium as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    boolean_param,
    claimed_route,
    fhir_response,
    fields_as,
    query_of,
    read_body,
    reference_id,
    resource_response,
    searchset,
)
from salomat.fhir.search import parse_date_param

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("sanatorium:read"))]
Referrer = Annotated[Principal, Depends(Require("sanatorium:refer"))]
PUBLIC_READ = [Depends(PUBLIC)]
#: a search value that is a date, not an instant
_DAY = re.compile(r"(?:eq|ge|gt|le|lt|sa|eb)?\d{4}(?:-\d{2}(?:-\d{2})?)?", re.ASCII)

_STATUS_DOC = ", ".join(sorted(set(mapper.STATUS.values())))
#: each resource's search parameters: name -> (type, documentation)
SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "ServiceRequest": {
        "code": (
            "token",
            f"{mapper.REFERRAL_KIND}|{mapper.KIND} (or {mapper.KIND}): the sanatorium's "
            "referrals (this, a sanatorium identifier or _id picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id> (this, subject, identifier or _id)"),
        "subject": ("reference", "the person, Patient/<id>"),
        "identifier": ("token", "the referral number: <system>|<number>"),
        "_id": ("token", "sanatorium-<referral id>"),
        "status": ("token", f"{_STATUS_DOC} (comma-separated: any of them)"),
        "performer-type": ("token", f"the treatment profile, {mapper.PROFILE_SYSTEM}|<code>"),
    },
    "Task": {
        "patient": ("reference", "the person, Patient/<id> (this, focus or _id is required)"),
        "focus": ("reference", "the referral, ServiceRequest/sanatorium-<id>"),
        "_id": ("token", "the referral id"),
        "status": ("token", "on-hold, ready, in-progress, completed, cancelled"),
        "business-status": (
            "token",
            "pending-indication, in-queue, offered, booked, arrived, discharged, noshow, cancelled",
        ),
    },
    "Appointment": {
        "patient": ("reference", "the person, Patient/<id> (this, based-on or _id is required)"),
        "based-on": ("reference", "the referral, ServiceRequest/sanatorium-<id>"),
        "_id": ("token", "offer-<offer id> or stay-<stay id> (a direct booking)"),
        "status": ("token", "pending, booked, arrived, fulfilled, cancelled, noshow"),
    },
    "Encounter": {
        "patient": ("reference", "the person, Patient/<id> (this, subject, based-on or _id)"),
        "type": (
            "token",
            f"{mapper.ENCOUNTER_TYPE}|{mapper.STAY_TYPE} (or {mapper.STAY_TYPE}): sanatorium "
            "stays (this, _id or a sanatorium based-on picks them)",
        ),
        "subject": ("reference", "the person, Patient/<id>"),
        "based-on": ("reference", "the referral, ServiceRequest/sanatorium-<id>"),
        "_id": ("token", "sanatorium-<stay id>"),
        "status": ("token", "planned, in-progress, finished, cancelled"),
    },
    "HealthcareService": {
        "_id": ("token", "<facility id>-<profile>"),
        "organization": ("reference", "the sanatorium, Organization/<id>"),
        "specialty": ("token", f"the treatment profile, {mapper.PROFILE_SYSTEM}|<code>"),
        "active": ("token", "true (it has beds in use) or false"),
    },
    "Schedule": {
        "_id": ("token", "<facility id>-<profile>"),
        "actor": ("reference", "the HealthcareService, HealthcareService/<id>"),
        "service-type": ("token", f"the treatment profile, {mapper.PROFILE_SYSTEM}|<code>"),
        "active": ("token", "true or false"),
    },
    "Slot": {
        "_id": ("token", "the period id"),
        "schedule": ("reference", "Schedule/<facility id>-<profile>"),
        "service-type": ("token", f"the treatment profile, {mapper.PROFILE_SYSTEM}|<code>"),
        "status": ("token", "free, busy, busy-tentative, busy-unavailable"),
        "start": ("date", "the period's first day (ge, gt, le, lt, eq)"),
    },
}
_DOCS = {
    "ServiceRequest": "Sanatorium referrals (docs/fhir.md, Sanatorium): ids sanatorium-<n>",
    "Task": "Sanatorium queue entries (docs/fhir.md, Sanatorium)",
    "Appointment": "Sanatorium offers and bookings (docs/fhir.md, Sanatorium)",
    "Encounter": "Sanatorium stays (docs/fhir.md, Sanatorium): ids sanatorium-<n>",
    "HealthcareService": "A sanatorium's treatment profiles; public (docs/fhir.md, Sanatorium)",
    "Schedule": "A sanatorium profile's arrival periods; public (docs/fhir.md, Sanatorium)",
    "Slot": "Arrival periods with their places; public (docs/fhir.md, Sanatorium)",
}
_INTERACTIONS = {"ServiceRequest": ["read", "search-type", "create"]}


def _capability(resource_type: str) -> dict[str, Any]:
    params = SEARCH_PARAMS[resource_type]
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": _DOCS[resource_type],
        "interaction": [
            {"code": c} for c in _INTERACTIONS.get(resource_type, ["read", "search-type"])
        ],
        "searchParam": [{"name": n, "type": t, "documentation": d} for n, (t, d) in params.items()]
        + [{"name": "_count", "type": "number"}],
    }


#: the types only the sanatorium serves
CAPABILITIES: list[dict[str, Any]] = [
    _capability(t) for t in ("Task", "Appointment", "HealthcareService", "Schedule", "Slot")
]
SHARED = ("ServiceRequest", "Encounter")


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the sanatorium's: its own types added, and what
    it serves of the shared ones merged into the register's entries (one per type)."""
    shared = [_capability(t) for t in SHARED]
    return capability.merge(resources, shared, label="sanatorium") + CAPABILITIES


# ---- routes that claim their share of a shared type --------------------------------------


def _path_id(name: str) -> Callable[[Scope], bool]:
    return lambda scope: str(scope.get("path_params", {}).get(name, "")).startswith(mapper.PREFIX)


def _ours(reference: str) -> bool:
    return reference.removeprefix("ServiceRequest/").startswith(mapper.PREFIX)


def _claims_referrals(scope: Scope) -> bool:
    for k, v in query_of(scope):
        if k == "code" and v in (mapper.KIND, f"{mapper.REFERRAL_KIND}|{mapper.KIND}"):
            return True
        if k == "identifier" and v.startswith(f"{mapper.number_system()}|"):
            return True
        if k == "_id" and v.startswith(mapper.PREFIX):
            return True
    return False


def _claims_stays(scope: Scope) -> bool:
    for k, v in query_of(scope):
        if k == "type" and v in (mapper.STAY_TYPE, f"{mapper.ENCOUNTER_TYPE}|{mapper.STAY_TYPE}"):
            return True
        if k == "_id" and v.startswith(mapper.PREFIX):
            return True
        if k == "based-on" and _ours(v):
            return True
    return False


# ---- search plumbing -------------------------------------------------------------------


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


def _tokens(params: Params, name: str, allowed: frozenset[str] | None = None) -> set[str] | None:
    """A token parameter's codes (comma-separated values: any of them), or None."""
    raw = params.get(name)
    if raw is None:
        return None
    codes = {v.rpartition("|")[2] for v in raw.split(",")}
    if allowed is not None and not codes <= allowed:
        raise Invalid.fields(
            [
                FieldError(
                    name, N_("must be one of %(codes)s"), {"codes": ", ".join(sorted(allowed))}
                )
            ]
        )
    return codes


def _profile_token(params: Params, name: str) -> str | None:
    """A profile token: ``<system>|<code>`` or ``<code>``; another system matches none."""
    raw = params.get(name)
    if raw is None:
        return None
    system, bar, code = raw.rpartition("|")
    if bar and system and system != mapper.PROFILE_SYSTEM:
        return ""
    return code


def _reference(params: Params, name: str, kind: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    v = reference_id(raw, kind)
    if v is None:
        raise Invalid.fields(
            [FieldError(name, N_("must be a %(kind)s id or %(kind)s/<id>"), {"kind": kind})]
        )
    return v


def _referral_reference(params: Params, name: str) -> int | None:
    """``ServiceRequest/sanatorium-<n>`` (or ``sanatorium-<n>``) -> n."""
    raw = params.get(name)
    if raw is None:
        return None
    v = mapper.prefixed_id(raw.removeprefix("ServiceRequest/"))
    if v is None:
        raise Invalid.fields(
            [
                FieldError(
                    name, N_("must be ServiceRequest/%(prefix)s<id>"), {"prefix": mapper.PREFIX}
                )
            ]
        )
    return v


def _person(params: Params) -> int | None:
    """``patient`` or ``subject`` (both: the same person)."""
    patient = _reference(params, "patient", "Patient")
    subject = _reference(params, "subject", "Patient")
    if patient is not None and subject is not None and patient != subject:
        raise Invalid.fields([FieldError("subject", N_("must be the same person as patient"))])
    return patient if patient is not None else subject


async def _one(session: Any, principal: Principal, **key: Any) -> list[service.FhirReferral]:
    """The referral a search key names: none when missing or out of scope (audited)."""
    rec = await service.fhir_find(session, principal, **key)
    return [rec] if rec is not None else []


def _need(*names: str) -> Invalid:
    return Invalid.fields([FieldError(n, N_("is required")) for n in names])


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


# ---- ServiceRequest --------------------------------------------------------------------------


async def search_referrals(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "ServiceRequest")
    statuses = _tokens(params, "status", frozenset(mapper.STATUS.values()))
    codes = _tokens(params, "code")
    profile = _profile_token(params, "performer-type")
    person = _person(params)
    raw_id = params.get("_id")
    #: the number asked for, as stored ("": another system's identifier, matches none)
    number: str | None = None
    if (identifier := params.get("identifier")) is not None:
        system, bar, value = identifier.rpartition("|")
        other = bar and system and system != mapper.number_system()
        number = "" if other else service.normalise_referral_number(value)
    if person is not None:
        found = await service.fhir_referrals(session, principal, person)
    elif number is not None:
        rec = await service.fhir_find(session, principal, number=number) if number else None
        found = [rec] if rec is not None else []
    elif raw_id is not None:
        found = await _one(session, principal, referral_id=mapper.prefixed_id(raw_id))
    else:
        raise _need("patient")
    resources = []
    for rec in found:
        r = rec.referral
        if codes is not None and mapper.KIND not in codes:
            continue
        if raw_id is not None and mapper.service_request_id(r.id) != raw_id:
            continue
        if number is not None and r.number != number:
            continue
        if profile is not None and r.profile != profile:
            continue
        res = mapper.service_request(rec)
        if statuses is None or res["status"] in statuses:
            resources.append(res)
    return _found(request, "ServiceRequest", params, resources)


async def read_referral(
    request: Request, session: Session, referral_id: str, principal: Reader
) -> JSONResponse:
    rid = mapper.prefixed_id(referral_id)
    if rid is None:
        raise _missing("ServiceRequest", referral_id)
    try:
        rec = await service.fhir_referral(session, principal, rid)
    except NotFound:
        raise _missing("ServiceRequest", referral_id) from None
    return resource_response(request, mapper.service_request(rec))


router.add_api_route(
    "/ServiceRequest",
    search_referrals,
    methods=["GET"],
    route_class_override=claimed_route(_claims_referrals),
)
router.add_api_route(
    "/ServiceRequest/{referral_id}",
    read_referral,
    methods=["GET"],
    route_class_override=claimed_route(_path_id("referral_id")),
)


@router.post("/ServiceRequest", status_code=201)
async def create_referral(request: Request, session: Session, principal: Referrer) -> JSONResponse:
    """Refer a person: the indication (ICD-10 in ``reasonCode``), the entitlement category
    (an extension), the profile (``performerType``, default from the pack), the current
    conditions and an attestation (extensions); the same checks as
    POST /api/v1/persons/{id}/sanatorium-referrals, stored with source fhir."""
    from fhir.resources.R4B.servicerequest import ServiceRequest

    sr = await read_body(request, "ServiceRequest", ServiceRequest)
    incoming = mapper.from_fhir(sr)
    with fields_as(incoming.paths):
        try:
            data = ReferralIn.model_validate(incoming.values)
        except ValidationError as e:
            raise Invalid.fields(field_errors_from_pydantic(e.errors())) from e
        out = await service.refer(session, principal, incoming.person_id, data, source="fhir")
    rec = await service.fhir_record(session, out)
    return resource_response(request, mapper.service_request(rec), status=201, location=True)


# ---- Task ------------------------------------------------------------------------------


@router.get("/Task")
async def search_tasks(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Task")
    statuses = _tokens(params, "status", frozenset(s for s, _ in mapper.TASK_STATUS.values()))
    business = _tokens(
        params, "business-status", frozenset(b for _, b in mapper.TASK_STATUS.values())
    )
    person = _reference(params, "patient", "Patient")
    focus = _referral_reference(params, "focus")
    raw_id = params.get("_id")
    if person is not None:
        found = await service.fhir_referrals(session, principal, person)
    elif focus is not None:
        found = await _one(session, principal, referral_id=focus)
    elif raw_id is not None:
        found = await _one(session, principal, referral_id=reference_id(raw_id, "Task"))
    else:
        raise _need("patient")
    resources = []
    for rec in found:
        if focus is not None and rec.referral.id != focus:
            continue
        if raw_id is not None and str(rec.referral.id) != raw_id:
            continue
        res = mapper.task(rec)
        if res is None:
            continue
        if statuses is not None and res["status"] not in statuses:
            continue
        if business is not None and res["businessStatus"]["coding"][0]["code"] not in business:
            continue
        resources.append(res)
    return _found(request, "Task", params, resources)


@router.get("/Task/{task_id}")
async def read_task(
    request: Request, session: Session, task_id: RowId, principal: Reader
) -> JSONResponse:
    try:
        rec = await service.fhir_referral(session, principal, task_id)
    except NotFound:
        raise _missing("Task", str(task_id)) from None
    res = mapper.task(rec)
    if res is None:
        raise _missing("Task", str(task_id))
    return resource_response(request, res)


# ---- Appointment -----------------------------------------------------------------------------


@router.get("/Appointment")
async def search_appointments(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "Appointment")
    statuses = _tokens(
        params,
        "status",
        frozenset({"pending", *mapper.APPOINTMENT_STATUS.values()}),
    )
    person = _reference(params, "patient", "Patient")
    based_on = _referral_reference(params, "based-on")
    raw_id = params.get("_id")
    if person is not None:
        found = await service.fhir_referrals(session, principal, person)
    elif based_on is not None:
        found = await _one(session, principal, referral_id=based_on)
    elif raw_id is not None:
        parsed = mapper.parse_appointment_id(raw_id)
        key = {f"{parsed[0]}_id": parsed[1]} if parsed is not None else {}
        found = await _one(session, principal, **key)
    else:
        raise _need("patient")
    now = utcnow()
    resources = []
    for rec in found:
        if based_on is not None and rec.referral.id != based_on:
            continue
        for res in mapper.appointments(rec, now):
            if raw_id is not None and res["id"] != raw_id:
                continue
            if statuses is not None and res["status"] not in statuses:
                continue
            resources.append(res)
    return _found(request, "Appointment", params, resources)


@router.get("/Appointment/{appointment_id}")
async def read_appointment(
    session: Session, appointment_id: str, principal: Reader
) -> JSONResponse:
    """``offer-<offer id>`` (it follows the stay booked from it) or ``stay-<stay id>`` (a
    doctor's direct booking)."""
    parsed = mapper.parse_appointment_id(appointment_id)
    if parsed is None:
        raise _missing("Appointment", appointment_id)
    kind, rid = parsed
    read = service.fhir_referral_of_offer if kind == "offer" else service.fhir_referral_of_stay
    try:
        rec = await read(session, principal, rid)
    except NotFound:
        raise _missing("Appointment", appointment_id) from None
    for res in mapper.appointments(rec, utcnow()):
        if res["id"] == appointment_id:
            return fhir_response(res)
    raise _missing("Appointment", appointment_id)


# ---- Encounter ---------------------------------------------------------------------------------


async def search_stays(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Encounter")
    types = _tokens(params, "type")
    statuses = _tokens(params, "status", frozenset(mapper.ENCOUNTER_STATUS.values()))
    person = _person(params)
    based_on = _referral_reference(params, "based-on")
    raw_id = params.get("_id")
    stay_id = mapper.prefixed_id(raw_id) if raw_id is not None else None
    if person is not None:
        found = await service.fhir_referrals(session, principal, person)
    elif based_on is not None:
        found = await _one(session, principal, referral_id=based_on)
    elif raw_id is not None:
        found = await _one(session, principal, stay_id=stay_id)
    else:
        raise _need("patient")
    resources = []
    for rec in found:
        if based_on is not None and rec.referral.id != based_on:
            continue
        if types is not None and mapper.STAY_TYPE not in types:
            continue
        for res in mapper.encounters(rec):
            if raw_id is not None and res["id"] != raw_id:
                continue
            if statuses is not None and res["status"] not in statuses:
                continue
            resources.append(res)
    return _found(request, "Encounter", params, resources)


async def read_stay(
    request: Request, session: Session, encounter_id: str, principal: Reader
) -> JSONResponse:
    stay_id = mapper.prefixed_id(encounter_id)
    if stay_id is None:
        raise _missing("Encounter", encounter_id)
    try:
        rec = await service.fhir_referral_of_stay(session, principal, stay_id)
    except NotFound:
        raise _missing("Encounter", encounter_id) from None
    for res in mapper.encounters(rec):
        if res["id"] == encounter_id:
            return resource_response(request, res)
    raise _missing("Encounter", encounter_id)


router.add_api_route(
    "/Encounter",
    search_stays,
    methods=["GET"],
    route_class_override=claimed_route(_claims_stays),
)
router.add_api_route(
    "/Encounter/{encounter_id}",
    read_stay,
    methods=["GET"],
    route_class_override=claimed_route(_path_id("encounter_id")),
)


# ---- the catalogue: public ----------------------------------------------------------------------


async def _lines(
    session: Any, params: Params, *, ids: list[str], profile_param: str
) -> list[service.FhirService]:
    """The profiles of sanatoriums the parameters name; ``ids``: the service ids given
    (``_id``, a Schedule's ``actor``), which must agree."""
    profile = _profile_token(params, profile_param)
    active = boolean_param(params, "active")
    facility_id: int | None = None
    for sid in ids:
        wanted = mapper.parse_service_id(sid)
        if wanted is None:
            return []
        if facility_id not in (None, wanted[0]) or profile not in (None, wanted[1]):
            return []
        facility_id, profile = wanted
    if profile == "":
        return []
    lines = await service.fhir_services(session, facility_id=facility_id, profile=profile)
    return [x for x in lines if active is None or (x.beds > 0) == active]


@router.get("/HealthcareService", dependencies=PUBLIC_READ)
async def search_services(request: Request, session: Session) -> JSONResponse:
    params = _params(request, "HealthcareService")
    organization = _reference(params, "organization", "Organization")
    ids = [v for v in (params.get("_id"),) if v is not None]
    lines = await _lines(session, params, ids=ids, profile_param="specialty")
    found = [
        mapper.healthcare_service(x)
        for x in lines
        if organization is None or x.facility_id == organization
    ]
    return _found(request, "HealthcareService", params, found)


async def _one_service(session: Any, sid: str, resource_type: str) -> service.FhirService:
    wanted = mapper.parse_service_id(sid)
    if wanted is not None:
        lines = await service.fhir_services(session, facility_id=wanted[0], profile=wanted[1])
        if lines:
            return lines[0]
    raise _missing(resource_type, sid)


@router.get("/HealthcareService/{service_id}", dependencies=PUBLIC_READ)
async def read_service(session: Session, service_id: str) -> JSONResponse:
    return fhir_response(
        mapper.healthcare_service(await _one_service(session, service_id, "HealthcareService"))
    )


@router.get("/Schedule", dependencies=PUBLIC_READ)
async def search_schedules(request: Request, session: Session) -> JSONResponse:
    params = _params(request, "Schedule")
    ids = [v for v in (params.get("_id"),) if v is not None]
    if (actor := params.get("actor")) is not None:
        if not actor.startswith("HealthcareService/"):
            raise Invalid.fields(
                [FieldError("actor", N_("must be HealthcareService/<facility id>-<profile>"))]
            )
        ids.append(actor.removeprefix("HealthcareService/"))
    lines = await _lines(session, params, ids=ids, profile_param="service-type")
    return _found(request, "Schedule", params, [mapper.schedule(x) for x in lines])


@router.get("/Schedule/{schedule_id}", dependencies=PUBLIC_READ)
async def read_schedule(session: Session, schedule_id: str) -> JSONResponse:
    return fhir_response(mapper.schedule(await _one_service(session, schedule_id, "Schedule")))


@router.get("/Slot", dependencies=PUBLIC_READ)
async def search_slots(request: Request, session: Session) -> JSONResponse:
    params = _params(request, "Slot")
    page = params.page()
    statuses = _tokens(params, "status", frozenset(service.AVAILABILITIES))
    profile = _profile_token(params, "service-type")
    facility_id = None
    if (raw := params.get("schedule")) is not None:
        wanted = mapper.parse_service_id(raw.removeprefix("Schedule/"))
        if wanted is None:
            raise Invalid.fields(
                [FieldError("schedule", N_("must be Schedule/<facility id>-<profile>"))]
            )
        facility_id = wanted[0]
        profile = wanted[1] if profile in (None, wanted[1]) else ""
    ids = None
    if (raw_id := params.get("_id")) is not None:
        one = reference_id(raw_id, "Slot")
        ids = [one] if one is not None else []
    if profile == "":
        ids = []
    first = before = None
    if starts := request.query_params.getlist("start"):
        since, until = parse_date_param(starts, "start")
        # days name days of the calendar; instants compare with each Slot's start
        local = not all(_DAY.fullmatch(v) for v in starts)
        first = _first_day_from(since, local) if since is not None else None
        before = _first_day_from(until, local) if until is not None else None
    periods, total = await service.fhir_periods(
        session,
        ids=ids,
        facility_id=facility_id,
        profile=profile,
        starts_from=first,
        starts_before=before,
        availability=statuses,
        offset=page.offset,
        limit=page.limit,
    )
    resources = [mapper.slot(p) for p in periods]
    return fhir_response(searchset(base_url(request), "Slot", params.items, resources, total, page))


def _first_day_from(at: datetime, local: bool) -> date:
    """The first day on or after ``at``: whose start (a Slot's start, midnight in the
    country's time zone) is at or after the instant ``at`` when ``local``; else ``at``
    is a day's UTC midnight, as ``parse_date_param`` reads a date."""
    try:
        zone = pack.time_zone(get_settings().country) if local else UTC
        moment = at.astimezone(zone)
    except OverflowError:
        return date.max
    day = moment.date()
    if moment.time() != time(0) and day < date.max:
        day += timedelta(days=1)
    return day


@router.get("/Slot/{slot_id}", dependencies=PUBLIC_READ)
async def read_slot(session: Session, slot_id: RowId) -> JSONResponse:
    periods, _ = await service.fhir_periods(session, ids=[slot_id], limit=1)
    if not periods:
        raise _missing("Slot", str(slot_id))
    return fhir_response(mapper.slot(periods[0]))
