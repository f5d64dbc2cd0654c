"""FHIR for the cancer registry: primary tumours as ``Condition`` (read, search, and
another system's notification as create), their TNM stage as ``Observation``.

Every call goes through the cancer service, which checks scope and audits exactly as the
REST API (a tumour of a person out of scope is 404 like a missing one); a notification
another system submits is taken by the same ``notify`` as
``POST /api/v1/persons/{id}/cancer-notifications`` (IARC checks, multiple-primary rules,
the registrar's queue). Permissions as in REST: ``cancer:read`` to read and search,
``cancer:notify`` to submit.

**Shared types.** ``Condition`` and ``Observation`` are also the pregnancy register's
(fhir/maternal_api.py: ``pregnancy:read``, its own ids). The routes here come first and
*claim* only what is the registry's: an id ``cancer-<n>`` / ``cancer-stage-<n>``, or a
search that names the registry (``Condition?category=cancer-registry``,
``identifier=…``, ``_id=cancer-<n>``; ``Observation?code=http://loinc.org|21908-9``,
``_id=cancer-stage-<n>``, ``focus=Condition/cancer-<n>``); everything else passes on to
the register's routes unchanged (docs/fhir.md "Cancer registry").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import Scope

from salomat.core import i18n
from salomat.core.errors import (
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    field_errors_from_pydantic,
)
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service
from salomat.domains.cancer.schemas import NotificationIn
from salomat.fhir import cancer as mapper
from salomat.fhir import capability
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    claimed_route,
    fhir_response,
    fields_as,
    query_of,
    read_body,
    reference_id,
    resource_response,
    searchset,
)
from salomat.fhir.terminology_bindings import codes_checked

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("cancer:read"))]
Notifier = Annotated[Principal, Depends(Require("cancer:notify"))]

_CATEGORY = f"{mapper.REGISTRY_CATEGORY}|{mapper.REGISTRY_CODE}"
_STAGE_CODE = f"{mapper.LOINC}|{mapper.STAGE_GROUP[0]}"
SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Condition": {
        "category": (
            "token",
            f"{_CATEGORY} (or {mapper.REGISTRY_CODE}): the cancer registry's primary tumours "
            "(this, identifier or a cancer-<n> _id picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id> (this, identifier or _id)"),
        "identifier": (
            "token",
            "a report's id as its system sent it, <system>|<id> or <id>: the tumour it joined",
        ),
        "_id": ("token", "cancer-<tumour id>"),
        "code": ("token", f"ICD-10, {mapper.ICD10}|<code> or <code> (as the tumour's, C18.2)"),
        "body-site": ("token", f"ICD-O-3 topography, {mapper.ICDO3}|<code> or <code>"),
        "clinical-status": ("token", "active (alive) or inactive (died)"),
        "verification-status": ("token", "confirmed, provisional or unconfirmed"),
    },
    "Observation": {
        "code": (
            "token",
            f"{_STAGE_CODE} (or {mapper.STAGE_GROUP[0]}): TNM stage groups of the cancer "
            "registry (this, a cancer-stage-<n> _id or focus picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id> (this, focus or _id)"),
        "focus": ("reference", "the tumour, Condition/cancer-<id>"),
        "_id": ("token", "cancer-stage-<tumour id>"),
    },
}
_DOCS = {
    "Condition": "Cancer registry: primary tumours, ids cancer-<n>; create: a notification "
    "(docs/fhir.md, Cancer registry)",
    "Observation": "Cancer registry: TNM stage, ids cancer-stage-<n> "
    "(docs/fhir.md, Cancer registry)",
}
_INTERACTIONS = {
    "Condition": ["read", "search-type", "create"],
    "Observation": ["read", "search-type"],
}
SHARED = ("Condition", "Observation")


def _capability(resource_type: str) -> dict[str, Any]:
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": _DOCS[resource_type],
        "interaction": [{"code": c} for c in _INTERACTIONS[resource_type]],
        "searchParam": [
            {"name": n, "type": t, "documentation": d}
            for n, (t, d) in SEARCH_PARAMS[resource_type].items()
        ]
        + [{"name": "_count", "type": "number"}],
    }


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the registry's share of Condition and
    Observation merged into the register's entries (one entry per type)."""
    return capability.merge(resources, [_capability(t) for t in SHARED], label="cancer registry")


# ---- routes that claim their share of a shared type --------------------------------------


def _path_prefix(name: str, prefix: str) -> Callable[[Scope], bool]:
    return lambda scope: str(scope.get("path_params", {}).get(name, "")).startswith(prefix)


def _registry_category(value: str) -> bool:
    return any(v in (mapper.REGISTRY_CODE, _CATEGORY) for v in value.split(","))


def stage_code(value: str) -> bool:
    """A ``code`` search value (comma: any of them) names the TNM stage group."""
    return any(v in (mapper.STAGE_GROUP[0], _STAGE_CODE) for v in value.split(","))


def _claims_conditions(scope: Scope) -> bool:
    """The registry's: its category, a report's identifier (the register's Conditions
    have none), or one of its ids."""
    for k, v in query_of(scope):
        if k == "category" and _registry_category(v):
            return True
        if k == "identifier":
            return True
        if k == "_id" and v.startswith(mapper.PREFIX):
            return True
    return False


def _claims_observations(scope: Scope) -> bool:
    for k, v in query_of(scope):
        if k == "code" and stage_code(v):
            return True
        if k == "_id" and v.startswith(mapper.STAGE_PREFIX):
            return True
        if k == "focus" and mapper.tumour_of_condition(v) is not None:
            return True
    return False


# ---- search plumbing -------------------------------------------------------------------


def _params(request: Request, resource_type: str) -> Params:
    return Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS[resource_type]) | PAGING,
    )


def _found(
    request: Request, resource_type: str, params: Params, resources: list[dict[str, Any]]
) -> JSONResponse:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), resource_type, params.items, shown, len(resources), page)
    )


def _patient(params: Params) -> int | None:
    raw = params.get("patient")
    if raw is None:
        return None
    v = reference_id(raw, "Patient")
    if v is None:
        raise Invalid.fields([FieldError("patient", N_("must be a Patient id or Patient/<id>"))])
    return v


def _codes(params: Params, name: str, allowed: tuple[str, ...]) -> set[str] | None:
    """A status token's codes (comma-separated: any of them), its system optional."""
    raw = params.get(name)
    if raw is None:
        return None
    codes = {v.rpartition("|")[2] for v in raw.split(",")}
    if not codes <= set(allowed):
        raise Invalid.fields(
            [FieldError(name, N_("must be one of %(codes)s"), {"codes": ", ".join(allowed)})]
        )
    return codes


def _matches(codings: list[dict[str, Any]], raw: str | None) -> bool:
    """A token parameter (comma-separated: any of them) against codings."""
    return raw is None or any(mapper.has_token(codings, v) for v in raw.split(","))


def _status(res: dict[str, Any], element: str) -> str:
    return str(res[element]["coding"][0]["code"])


def _need_one_of(*names: str) -> Invalid:
    """The first key named (the others are the documented alternatives)."""
    return Invalid.fields([FieldError(names[0], N_("is required"))])


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


def _identifier(raw: str) -> tuple[str | None, str]:
    system, bar, value = raw.rpartition("|")
    return (system or None) if bar else None, value


# ---- Condition -------------------------------------------------------------------------


async def search_tumours(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Condition")
    clinical = _codes(params, "clinical-status", ("active", "inactive"))
    verification = _codes(
        params, "verification-status", ("confirmed", "provisional", "unconfirmed")
    )
    person = _patient(params)
    raw_id = params.get("_id")
    identifier = params.get("identifier")
    if person is not None:
        found = await service.fhir_tumours(session, principal, person)
    elif identifier is not None:
        system, value = _identifier(identifier)
        found = await service.fhir_tumours_by_identifier(session, principal, value, system)
    elif raw_id is not None:
        tid = mapper.tumour_of_condition(raw_id)
        rec = await service.fhir_find_tumour(session, principal, tid) if tid else None
        found = [rec] if rec is not None else []
    else:
        raise _need_one_of("patient", "identifier", "_id")
    resources = []
    for rec in found:
        res = mapper.condition(rec)
        if raw_id is not None and res["id"] != raw_id:
            continue
        if identifier is not None and not mapper.has_token(
            [{"system": i["system"], "code": i["value"]} for i in res.get("identifier", [])],
            identifier,
        ):
            continue
        if not _matches(
            [c for cat in res["category"] for c in cat["coding"]], params.get("category")
        ):
            continue
        if not _matches(res["code"]["coding"], params.get("code")):
            continue
        if not _matches(res["bodySite"][0]["coding"], params.get("body-site")):
            continue
        if clinical is not None and _status(res, "clinicalStatus") not in clinical:
            continue
        if verification is not None and _status(res, "verificationStatus") not in verification:
            continue
        resources.append(res)
    return _found(request, "Condition", params, resources)


async def read_tumour(
    request: Request, session: Session, condition_id: str, principal: Reader
) -> JSONResponse:
    tid = mapper.tumour_of_condition(condition_id)
    if tid is None:
        raise _missing("Condition", condition_id)
    try:
        rec = await service.fhir_tumour(session, principal, tid)
    except NotFound:
        raise _missing("Condition", condition_id) from None
    return resource_response(request, mapper.condition(rec))


router.add_api_route(
    "/Condition",
    search_tumours,
    methods=["GET"],
    route_class_override=claimed_route(_claims_conditions),
)
router.add_api_route(
    "/Condition/{condition_id}",
    read_tumour,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("condition_id", mapper.PREFIX)),
)


def _build(values: dict[str, Any]) -> NotificationIn:
    try:
        return NotificationIn.model_validate(values)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(e.errors())) from e


@router.post(
    "/Condition",
    status_code=201,
    responses={
        202: {"description": "kept; waits for the cancer registry's decision (OperationOutcome)"},
        409: {
            "description": "the report was set aside by the registry, or sent for another patient"
        },
        422: {
            "description": "a code or date is wrong, or impossible for the patient "
            "(each element named)"
        },
    },
)
async def notify_condition(request: Request, session: Session, principal: Notifier) -> JSONResponse:
    """Notify a cancer: the same checks and rules as
    POST /api/v1/persons/{id}/cancer-notifications (source ``system``). 201 with the
    tumour's Condition it joined or made; 202 with an OperationOutcome when the rules
    leave it to the registrar; the same identifier again gives the same answer."""
    from fhir.resources.R4B.condition import Condition

    cond = await read_body(request, "Condition", Condition)
    with codes_checked(cond):
        incoming = mapper.from_fhir(cond)
        with fields_as(incoming.paths):
            data = _build(incoming.values)
            result = await service.notify(session, principal, incoming.person_id, data)
    n = result.notification
    if result.tumour is not None:
        rec = await service.fhir_record(session, result.tumour)
        return resource_response(request, mapper.condition(rec), status=201, location=True)
    if n.status == "consolidated":
        # placed, but the sender may not read the registry: no diagnosis goes back
        received = i18n.gettext(
            N_("Report %(report)s is kept as notification %(id)s and registered.")
        ) % {"report": n.external_id, "id": n.id}
        return fhir_response(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "information", "code": "informational", "diagnostics": received}
                ],
            },
            201,
        )
    if n.status == "rejected":
        raise InvalidState(
            N_("The cancer registry set report %(report)s aside (notification %(id)s)."),
            params={"report": n.external_id, "id": n.id},
        )
    message = i18n.gettext(
        N_(
            "Report %(report)s is kept as notification %(id)s and waits for the cancer "
            "registry's decision; once placed, Condition?identifier=%(identifier)s finds it."
        )
    ) % {"report": n.external_id, "id": n.id, "identifier": f"{n.external_system}|{n.external_id}"}
    issue: dict[str, Any] = {
        "severity": "information",
        "code": "informational",
        "diagnostics": message,
    }
    if n.review_message or result.message:
        issue["details"] = {"text": n.review_message or result.message}
    return fhir_response({"resourceType": "OperationOutcome", "issue": [issue]}, 202)


# ---- Observation (the TNM stage) --------------------------------------------------------------


async def search_stages(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Observation")
    person = _patient(params)
    raw_id = params.get("_id")
    focus = params.get("focus")
    focus_id = mapper.tumour_of_condition(focus) if focus is not None else None
    if focus is not None and focus_id is None:
        raise Invalid.fields(
            [FieldError("focus", N_("must be Condition/%(prefix)s<id>"), {"prefix": mapper.PREFIX})]
        )
    if person is not None:
        found = await service.fhir_tumours(session, principal, person)
    elif focus_id is not None or raw_id is not None:
        tid = focus_id if focus_id is not None else mapper.tumour_of_observation(raw_id or "")
        rec = await service.fhir_find_tumour(session, principal, tid) if tid else None
        found = [rec] if rec is not None else []
    else:
        raise _need_one_of("patient", "focus", "_id")
    resources = []
    for rec in found:
        res = mapper.stage_observation(rec)
        if res is None:
            continue
        if raw_id is not None and res["id"] != raw_id:
            continue
        if focus_id is not None and rec.tumour.id != focus_id:
            continue
        if not _matches(res["code"]["coding"], params.get("code")):
            continue
        resources.append(res)
    return _found(request, "Observation", params, resources)


async def read_stage(
    request: Request, session: Session, observation_id: str, principal: Reader
) -> JSONResponse:
    tid = mapper.tumour_of_observation(observation_id)
    if tid is None:
        raise _missing("Observation", observation_id)
    try:
        rec = await service.fhir_tumour(session, principal, tid)
    except NotFound:
        raise _missing("Observation", observation_id) from None
    res = mapper.stage_observation(rec)
    if res is None:
        raise _missing("Observation", observation_id)
    return resource_response(request, res)


router.add_api_route(
    "/Observation",
    search_stages,
    methods=["GET"],
    route_class_override=claimed_route(_claims_observations),
)
router.add_api_route(
    "/Observation/{observation_id}",
    read_stage,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("observation_id", mapper.STAGE_PREFIX)),
)
