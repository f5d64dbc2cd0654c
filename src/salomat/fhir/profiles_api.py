"""The national profiles over FHIR: ``StructureDefinition`` (read; search by ``url``,
``type``, ``name``, ``_count``, ``_offset``; ``terminology:read``, no person data, no
audit) and ``POST /fhir/<Type>/$validate`` with a profile for every type that has one.

``$validate`` checks the resource as FHIR R4 first, then against each profile named: the
``profile`` parameter (in the query or a ``Parameters`` body) or, without one, the
``meta.profile`` of the resource that name ours. The answer follows R4's
``Resource/$validate``: 200 with an OperationOutcome whether the resource conforms or not
(one information issue when it does); 4xx only for a bad request (no JSON, an unknown
parameter, 404 for a profile we do not publish). The shared record's types keep their own
``$validate`` (the checks of a create, record_http) and, when a profile is named, add its
checks to them; the other types take ``terminology:read``: nothing is stored or read.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, NotFound, SalomatError
from salomat.core.params import MAX_INT
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.record import service as record
from salomat.fhir import profiles, profiles_check, record_http
from salomat.fhir import record as record_mapper
from salomat.fhir.common import base_url, element_path, fhir_response, resource_response
from salomat.fhir.record_claims import cancer_notification, sick_leave_document
from salomat.fhir.search import bundle

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("terminology:read"))]
RecordWriter = Annotated[Principal, Depends(Require("record:write"))]

SEARCH = frozenset({"url", "type", "name", "_count", "_offset"})
VALIDATE_QUERY = frozenset({"profile"})
MAX_TEXT = 1000
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
VALIDATE = "http://hl7.org/fhir/OperationDefinition/Resource-validate"

STRUCTURE_DEFINITION: dict[str, Any] = {
    "type": "StructureDefinition",
    "profile": "http://hl7.org/fhir/StructureDefinition/StructureDefinition",
    "documentation": "The national profiles (a differential each, no snapshot); "
    "docs/exchange.md, Profiles",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [
        {"name": "url", "type": "uri"},
        {"name": "type", "type": "token"},
        {"name": "name", "type": "string"},
        {"name": "_count", "type": "number"},
    ],
}


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``resources`` with each profiled type's ``supportedProfile`` and ``$validate``, and
    StructureDefinition itself."""
    out = []
    left = {t: profiles.of_type(t) for t in profiles.types()}
    for res in resources:
        mine = left.pop(res["type"], None)
        out.append(res if mine is None else _with_profiles(res, mine))
    for t, mine in left.items():
        out.append(_with_profiles({"type": t, "interaction": []}, mine))
    return [*out, STRUCTURE_DEFINITION]


def _with_profiles(res: dict[str, Any], mine: list[profiles.Profile]) -> dict[str, Any]:
    operations = list(res.get("operation", []))
    doc = (
        "POST /fhir/<type>/$validate?profile=<url> (or a Parameters with resource and "
        "profile, or meta.profile): FHIR R4, then the profile's differential; 200 with an "
        "OperationOutcome"
    )
    if not any(o["name"] == "validate" for o in operations):
        operations.append({"name": "validate", "definition": VALIDATE, "documentation": doc})
    supported = list(res.get("supportedProfile", []))
    supported += [p.url for p in mine if p.url not in supported]
    return {**res, "supportedProfile": supported, "operation": operations}


# ---- StructureDefinition -----------------------------------------------------------------


def _number(name: str, raw: str | None, default: int, top: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= top):
        raise Invalid.fields(
            [FieldError(name, N_("must be a whole number from 0 to %(max)s"), {"max": top})]
        )
    return int(raw)


def _query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    items = list(request.query_params.multi_items())
    unknown = sorted({k for k, _ in items} - allowed)
    if unknown:
        raise Invalid.fields([FieldError(k, N_("unsupported parameter")) for k in unknown])
    values: dict[str, str] = {}
    for k, v in items:
        if not v or len(v) > MAX_TEXT or "\x00" in v:
            raise Invalid.fields(
                [FieldError(k, N_("must be text of 1 to %(max)s characters"), {"max": MAX_TEXT})]
            )
        values[k] = v
    return values


@router.get("/StructureDefinition")
async def search_structure_definitions(request: Request, _: Reader) -> JSONResponse:
    q = _query(request, SEARCH)
    count = _number("_count", q.get("_count"), 20, 1000)
    offset = _number("_offset", q.get("_offset"), 0, MAX_INT)
    url, kind, name = q.get("url"), q.get("type"), q.get("name")
    found = [
        p
        for p in profiles.profiles()
        if (url is None or p.url == url.split("|")[0])
        and (kind is None or p.type == kind)
        and (name is None or p.name.casefold().startswith(name.casefold()))
    ]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
    page = [profiles.structure_definition(p) for p in found[offset : offset + count]]
    return fhir_response(
        bundle(
            base_url(request),
            "/StructureDefinition",
            params,
            page if count else [],
            len(found),
            max(count, 1),
            offset,
        )
    )


@router.get("/StructureDefinition/{resource_id}")
async def read_structure_definition(request: Request, resource_id: str, _: Reader) -> Response:
    found = profiles.by_id().get(resource_id) if _ID.fullmatch(resource_id) else None
    if found is None:
        raise NotFound(
            N_("%(type)s %(id)s not found."),
            errors=[
                FieldError("id", N_("no %(type)s with this id"), {"type": "StructureDefinition"})
            ],
            params={"type": "StructureDefinition", "id": resource_id},
        )
    return resource_response(request, profiles.structure_definition(found))


# ---- $validate ---------------------------------------------------------------------------


def _profile(url: str, resource_type: str, field: str) -> profiles.Profile:
    found = profiles.by_url().get(url.split("|")[0])
    if found is None:
        raise NotFound(
            N_("No profile %(url)s on this server (GET /fhir/StructureDefinition lists them)."),
            errors=[FieldError(field, N_("unknown profile %(url)s"), {"url": url[:MAX_TEXT]})],
            params={"url": url[:MAX_TEXT]},
        )
    if found.type != resource_type:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(url)s is a profile of %(type)s"),
                    {"url": found.url, "type": found.type},
                )
            ]
        )
    return found


def _request_parts(data: Any, query: dict[str, str]) -> tuple[Any, list[str], bool]:
    """(the resource, the profile urls asked for, whether the body was a Parameters)."""
    asked = [query["profile"]] if "profile" in query else []
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        return data, asked, False
    errors: list[FieldError] = []
    resource = None
    given = data.get("parameter")
    if not isinstance(given, list):
        raise Invalid.fields([FieldError("Parameters.parameter", N_("must be a list"))])
    for i, p in enumerate(given):
        name = p.get("name") if isinstance(p, dict) else None
        at = f"Parameters.parameter[{i}]"
        if name == "resource":
            resource = p.get("resource")
        elif name == "mode":
            if p.get("valueCode") != "create":
                errors.append(
                    FieldError(at, N_("Only mode create is served: the checks of a create."))
                )
        elif name == "profile":
            value = next(
                (p[k] for k in ("valueUri", "valueCanonical", "valueString") if k in p), None
            )
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                errors.append(FieldError(at, N_("give the profile's url (valueUri)")))
            else:
                asked.append(value)
        else:
            errors.append(
                FieldError(
                    at,
                    N_("Unsupported parameter %(name)s: give resource, profile (and mode create)."),
                    {"name": str(name)[:100]},
                )
            )
    if resource is None:
        errors.append(
            FieldError(
                "Parameters.parameter",
                N_("Give the resource to validate as the parameter resource."),
            )
        )
    if errors:
        raise Invalid.fields(errors)
    return resource, asked, True


def _profiles_of(
    resource: Any, resource_type: str, asked: list[str]
) -> tuple[list[profiles.Profile], list[str]]:
    """The profiles to check (asked for, else our ``meta.profile``) and the foreign
    ``meta.profile`` urls left unchecked."""
    if asked:
        return [_profile(u, resource_type, "profile") for u in asked], []
    meta = resource.get("meta") if isinstance(resource, dict) else None
    named = meta.get("profile") if isinstance(meta, dict) else None
    if not isinstance(named, list):
        return [], []
    ours, foreign = [], []
    for i, url in enumerate(named):
        if not isinstance(url, str):
            continue
        if url.split("|")[0].startswith(profiles.PROFILE_BASE):
            ours.append(_profile(url, resource_type, f"{resource_type}.meta.profile[{i}]"))
        else:
            foreign.append(url)
    return ours, foreign


def _r4_errors(resource: Any, resource_type: str) -> list[FieldError]:
    """FHIR R4 validity (the R4B model, as every resource we emit is checked)."""
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, dict):
        return [FieldError(resource_type, N_("must be a JSON object (a FHIR resource)"))]
    if resource.get("resourceType") != resource_type:
        return [
            FieldError(
                f"{resource_type}.resourceType", N_("must be %(type)s"), {"type": resource_type}
            )
        ]
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as e:
        return [
            FieldError(
                element_path(resource_type, err["loc"]), err["msg"].removeprefix("Value error, ")
            )
            for err in e.errors()[: record_mapper.MAX_ERRORS]
        ]
    except (TypeError, ValueError) as e:
        return [FieldError(resource_type, str(e)[:500])]
    return []


async def _record_errors(
    session: Any, principal: Principal, resource: Any, resource_type: str
) -> tuple[list[dict[str, Any]], bool]:
    """The shared record's create checks as issues, and whether its checks apply at all
    (a cancer notification or a sick-leave certificate is another domain's)."""
    if cancer_notification(resource) or sick_leave_document(resource):
        return [], False
    try:
        body = record_mapper.validate_resource(resource, resource_type)
        with record_http.elements(resource_type):
            await record.check_create(session, principal, body)
    except SalomatError as e:
        if e.status >= 500 or e.status in (401, 403):
            raise
        return _error_issues(e), True
    return [], True


def _error_issues(e: SalomatError) -> list[dict[str, Any]]:
    if not e.errors:
        return [_issue("error", e.fhir_code, None, e.detail)]
    return [_issue("error", e.fhir_code, f.field, f.message) for f in e.errors]


def _issue(severity: str, code: str, expression: str | None, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": severity,
        "code": code,
        "details": {"text": text},
        "diagnostics": text,
    }
    if expression:
        out["expression"] = [expression]
    return out


def _profile_issue(i: profiles_check.Issue) -> dict[str, Any]:
    values = {k: v for k, v in i.params.items() if k != "key"}
    text = FieldError(i.expression, i.message, values).message
    if "key" in i.params:
        text = f"{i.params['key']}: {text}"
    return _issue(i.severity, i.code, i.expression, text)


async def _validate(
    request: Request, session: Any, principal: Principal, resource_type: str
) -> Response:
    query = _query(request, VALIDATE_QUERY)
    data = record_mapper.parse_body(await request.body(), resource_type)
    resource, asked, _ = _request_parts(data, query)
    checked, foreign = _profiles_of(resource, resource_type, asked)
    is_record = resource_type in record.RESOURCE_TYPES
    if is_record and not checked:
        # no profile of ours named: the record's own $validate, unchanged
        return await record_http._validate(request, session, principal, resource_type)
    issues: list[dict[str, Any]] = []
    errors = _r4_errors(resource, resource_type)
    issues += [_issue("error", "invalid", f.field, f.message) for f in errors]
    if is_record and not errors:
        record_issues, _ = await _record_errors(session, principal, resource, resource_type)
        issues += record_issues
    if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
        for p in checked:
            issues += [_profile_issue(i) for i in profiles_check.check(resource, p)]
    for url in foreign:
        issues.append(
            _issue(
                "information",
                "not-supported",
                f"{resource_type}.meta.profile",
                i18n.gettext(N_("%(url)s is not a profile of this server: not checked."))
                % {"url": url[:MAX_TEXT]},
            )
        )
    if not any(i["severity"] in ("error", "fatal") for i in issues):
        names = ", ".join(p.url for p in checked) or i18n.gettext(N_("FHIR R4 only"))
        issues.insert(
            0,
            _issue(
                "information",
                "informational",
                None,
                i18n.gettext(N_("No errors: the %(type)s conforms to %(profiles)s."))
                % {"type": resource_type, "profiles": names},
            ),
        )
    return fhir_response({"resourceType": "OperationOutcome", "issue": issues})


def _add_validate(resource_type: str) -> None:
    t = resource_type
    if t in record.RESOURCE_TYPES:

        async def validate(request: Request, session: Session, principal: RecordWriter) -> Response:
            return await _validate(request, session, principal, t)

    else:

        async def validate(request: Request, session: Session, principal: Reader) -> Response:  # type: ignore[misc]
            return await _validate(request, session, principal, t)

    validate.__name__ = f"validate_profile_{t.lower()}"
    router.add_api_route(f"/{t}/$validate", validate, methods=["POST"])


for _t in profiles.types():
    _add_validate(_t)
