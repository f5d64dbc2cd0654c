"""FHIR for the shared health record: what other systems send for a person (Encounter,
Condition, Observation, Procedure, AllergyIntolerance, DiagnosticReport, DocumentReference),
stored as sent with ids ``shr-<n>``; and NamingSystem, the identifier systems they use.

create (``If-None-Exist``: identifier, _id), read, vread, history, update (``If-Match``),
search. Every call goes through the record service (domains/record), which checks scope
and audits: a resource of a person out of scope is 404 like a missing one, a search leaves
such persons out. Permissions: ``record:read``, ``record:write``, ``record:naming``
(registering a NamingSystem; every account reads them).

**Shared types.** Encounter, Condition, Observation and DocumentReference are also served
by the pregnancy register, the cancer registry, the sanatorium and sick leave under their
own ids. The record's routes claim only what is the record's (fhir/common.claimed_route):

- create: ``writes`` comes before the cancer registry's and sick leave's routes. A Condition
  carrying the cancer registry's marks (the morphology extension, an ICD-O-3 body site, the
  IARC basis of diagnosis) is a cancer notification and goes to the registry's create; a
  DocumentReference whose type is a sick-leave kind or reason goes to sick leave's.
- read, vread, history, update: ``shr-<n>`` ids.
- search (``router``, after the sanatorium's and cancer registry's claims, before the
  pregnancy register's routes; Condition's in ``writes``, before the cancer registry's,
  which takes every search naming ``identifier``): a search naming one of the record's own
  parameters
  (subject, identifier, category, status, date, _lastUpdated, _sort, _summary, an
  ``_id`` or ``encounter`` of ``shr-`` ids; DocumentReference: not status, identifier and
  date, which are sick leave's), and every search of Procedure, AllergyIntolerance and
  DiagnosticReport. A search by ``patient`` alone (or with the register's own filters:
  Observation ``code``; Condition ``code``, ``clinical-status``) of Encounter, Observation,
  Condition or DocumentReference answers both: the register's (or sick leave's) resources
  first, as its route gives them, then the record's of the same person (docs/record.md);
  so does ``Condition?identifier=…`` (with code or clinical-status at most): the cancer
  registry's tumours first, then the record's Conditions of that identifier. A role
  holding only the other domain's permission gets that route's answer alone, as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound, SalomatError
from salomat.core.params import RowId, Version
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery, StoredResource
from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import cancer_api, maternal_api, sick_leave_api
from salomat.fhir import record as mapper
from salomat.fhir import sick_leave as sick_leave_mapper
from salomat.fhir.common import (
    PAGING,
    BadRequest,
    Params,
    base_url,
    claimed_route,
    etag,
    fhir_response,
    parse_if_match,
    query_of,
    reference_id,
    resource_response,
    searchset,
)
from salomat.fhir.search import PREFIXES, parse_date_param

#: the creates of types another domain also creates, and the Condition searches: included
#: before the sanatorium's and cancer registry's routes
writes = router(tags=["fhir"])
router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("record:read"))]
Writer = Annotated[Principal, Depends(Require("record:write"))]
Namer = Annotated[Principal, Depends(Require("record:naming"))]
#: any account; the handler decides which permission applies (record's or the domain's)
Anyone = Annotated[Principal, Depends(Require("session:self"))]

RESOURCE_TYPES = mapper.RESOURCE_TYPES
#: the types another domain also serves (their routes come after ours)
SHARED = ("Encounter", "Condition", "Observation", "DocumentReference")
#: types with a ``code`` element / a ``category`` element
_CODED = ("Condition", "Observation", "Procedure", "AllergyIntolerance", "DiagnosticReport")
_CATEGORISED = (
    "Condition",
    "Observation",
    "Procedure",
    "AllergyIntolerance",
    "DiagnosticReport",
    "DocumentReference",
)
_CLINICAL = ("Condition", "AllergyIntolerance")
_SUBJECT = {t: ("patient" if t == "AllergyIntolerance" else "subject") for t in RESOURCE_TYPES}


def _search_params(resource_type: str) -> dict[str, tuple[str, str]]:
    person = _SUBJECT[resource_type]
    out: dict[str, tuple[str, str]] = {
        "patient": ("reference", f"the person, Patient/<id> ({resource_type}.{person})"),
    }
    if resource_type != "AllergyIntolerance":
        out["subject"] = ("reference", "the person, Patient/<id> (as patient)")
    out["_id"] = ("token", "shared record ids, shr-<n> (comma: any of them)")
    out["identifier"] = (
        "token",
        "a business identifier, <system>|<value> or <value> (comma: any of them)",
    )
    if resource_type in _CODED:
        out["code"] = ("token", "any coding of code, <system>|<code> or <code> (comma: any)")
    if resource_type in _CATEGORISED:
        out["category"] = ("token", "any coding of category, <system>|<code> or <code>")
    if resource_type in _CLINICAL:
        out["clinical-status"] = ("token", "clinicalStatus code (comma: any of them)")
    else:
        out["status"] = ("token", "status (comma: any of them)")
    out["date"] = (
        "date",
        "when it happened (effective, period, onset, performed, recorded or date, as the "
        "type has it); prefixes eq ne lt le gt ge sa eb ap, repeated: all of them",
    )
    if resource_type != "Encounter":
        out["encounter"] = ("reference", "the shared record's Encounter, Encounter/shr-<n>")
    out["_lastUpdated"] = ("date", "when the platform stored the version; prefixes as date")
    out["_sort"] = ("string", "date, -date, _lastUpdated, -_lastUpdated, _id, -_id")
    out["_summary"] = ("token", "count: the total only")
    return out


SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    t: _search_params(t) for t in RESOURCE_TYPES
}
NAMING_PARAMS: dict[str, tuple[str, str]] = {
    "value": ("string", "the system's URI (uniqueId.value), exactly"),
    "url": ("uri", "the system's URI, as value"),
    "name": ("string", "the name, or its beginning"),
}
_DOCS = "Shared health record: resources other systems sent, ids shr-<n> (docs/record.md)"


def _capability(resource_type: str) -> dict[str, Any]:
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": _DOCS,
        "interaction": [
            {"code": c}
            for c in ("read", "vread", "update", "history-instance", "create", "search-type")
        ],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": False,
        "conditionalCreate": True,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": [
            {"name": n, "type": t, "documentation": d}
            for n, (t, d) in SEARCH_PARAMS[resource_type].items()
        ]
        + [{"name": "_count", "type": "number", "documentation": "0: the total only"}],
    }


NAMING_CAPABILITY: dict[str, Any] = {
    "type": "NamingSystem",
    "profile": "http://hl7.org/fhir/StructureDefinition/NamingSystem",
    "documentation": "Identifier systems of other systems; an identifier the shared record "
    "keeps must be of a registered one (docs/record.md)",
    "interaction": [{"code": c} for c in ("read", "create", "search-type")],
    "searchParam": [
        {"name": n, "type": t, "documentation": d} for n, (t, d) in NAMING_PARAMS.items()
    ],
}


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the record's: its share of the shared types
    merged into their entries (one per type), its own types and NamingSystem added."""
    out = []
    present = {r["type"] for r in resources}
    for res in resources:
        if res["type"] not in RESOURCE_TYPES:
            out.append(res)
            continue
        ours = _capability(res["type"])
        codes = [i["code"] for i in res["interaction"]]
        mine = {p["name"]: p for p in ours["searchParam"]}
        params = []
        for p in res.get("searchParam", []):
            q = mine.get(p["name"])
            if q is not None and p.get("documentation") and q.get("documentation"):
                p = {
                    **p,
                    "documentation": f"{p['documentation']}; shared record: {q['documentation']}",
                }
            params.append(p)
        theirs = {p["name"] for p in params}
        flags = {k: v for k, v in ours.items() if k not in ("type", "profile", "documentation")}
        out.append(
            {
                **res,
                **{k: v for k, v in flags.items() if k not in ("interaction", "searchParam")},
                "interaction": res["interaction"]
                + [i for i in ours["interaction"] if i["code"] not in codes],
                "searchParam": params + [p for p in ours["searchParam"] if p["name"] not in theirs],
                "documentation": "; ".join(
                    d for d in (res.get("documentation"), ours["documentation"]) if d
                ),
            }
        )
    out += [_capability(t) for t in RESOURCE_TYPES if t not in present]
    return [*out, NAMING_CAPABILITY]


# ---- what the record claims of a shared type ------------------------------------------------


def _ours(value: str, kind: str | None = None) -> bool:
    """Any of a comma list names a record id (``shr-<n>`` or ``<kind>/shr-<n>``)."""
    return any(
        v.removeprefix(f"{kind}/" if kind else "").startswith(mapper.ID_PREFIX)
        for v in value.split(",")
    )


#: parameters only the register's routes take (the record leaves them the search)
_THEIRS: dict[str, frozenset[str]] = {
    "Encounter": frozenset({"episode-of-care", "type"}),
    "Observation": frozenset({"focus"}),
    "Condition": frozenset({"body-site", "verification-status"}),
    "DocumentReference": frozenset({"type", "period", "status", "identifier", "date"}),
}
#: a search by patient with only these besides answers both (the register's and ours)
MERGED: dict[str, frozenset[str]] = {
    "Encounter": frozenset({"patient"}),
    "Observation": frozenset({"patient", "code"}),
    "Condition": frozenset({"patient", "code", "clinical-status"}),
    "DocumentReference": frozenset({"patient"}),
}
#: Condition?identifier=… (with code or clinical-status at most) answers both too: the
#: cancer registry's tumours of a report and the record's Conditions of the identifier
MERGED_IDENTIFIER = frozenset({"identifier", "code", "clinical-status"})


def _merge(resource_type: str, items: list[tuple[str, str]]) -> str | None:
    """Which merged search this is: ``patient`` (the register's or sick leave's route and
    ours), ``identifier`` (the cancer registry's and ours), or None. ``_summary=count``
    and ``_count=0`` count both."""
    names = {k for k, _ in items} - PAGING - {"_summary"}
    if resource_type in MERGED and "patient" in names and names <= MERGED[resource_type]:
        return "patient"
    if resource_type == "Condition" and "identifier" in names and names <= MERGED_IDENTIFIER:
        return "identifier"
    return None


def _is_merged(resource_type: str, items: list[tuple[str, str]]) -> bool:
    return _merge(resource_type, items) is not None


def _claims_search(resource_type: str) -> Callable[[Scope], bool]:
    own = frozenset(SEARCH_PARAMS[resource_type]) - {"patient", "code", "clinical-status"}
    own -= _THEIRS[resource_type] | {"_id", "encounter"}

    def claim(scope: Scope) -> bool:
        items = query_of(scope)
        if _is_merged(resource_type, items):
            return True
        for k, v in items:
            if k in own:
                return True
            if k == "_id" and _ours(v):
                return True
            if k == "encounter" and _ours(v, "Encounter"):
                return True
        return False

    return claim


def _cancer_registry_category(value: str) -> bool:
    registry = f"{cancer_mapper.REGISTRY_CATEGORY}|{cancer_mapper.REGISTRY_CODE}"
    return any(v in (cancer_mapper.REGISTRY_CODE, registry) for v in value.split(","))


def _claims_conditions(scope: Scope) -> bool:
    """Condition searches come here before the cancer registry's route (which takes every
    search naming ``identifier``): the registry keeps its category and ``cancer-`` ids; an
    identifier search with a parameter the registry does not know, or merged, is ours."""
    items = query_of(scope)
    for k, v in items:
        if k == "category" and _cancer_registry_category(v):
            return False
        if k == "_id" and v.startswith(cancer_mapper.PREFIX):
            return False
    if any(k == "identifier" for k, _ in items):
        names = {k for k, _ in items} - PAGING
        registry = frozenset(cancer_api.SEARCH_PARAMS["Condition"])
        return _merge("Condition", items) is not None or not names <= registry
    return _claims_search("Condition")(scope)


def _claims_id(scope: Scope) -> bool:
    return str(scope.get("path_params", {}).get("resource_id", "")).startswith(mapper.ID_PREFIX)


# ---- helpers -------------------------------------------------------------------------------


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


@contextmanager
def _elements(resource_type: str) -> Iterator[None]:
    """The service's field names (``subject``, ``identifier[0].system``) as the element
    paths of the resource sent (``Observation.subject``)."""
    try:
        yield
    except SalomatError as e:
        for f in e.errors:
            f.field = mapper.element(resource_type, f.field)
        raise


async def _body(request: Request, resource_type: str) -> dict[str, Any]:
    data = mapper.parse_body(await request.body(), resource_type)
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        raise BadRequest(
            N_("Send a %(type)s resource."),
            params={"type": resource_type},
            errors=[
                FieldError(
                    f"{resource_type}.resourceType",
                    N_("must be %(type)s"),
                    {"type": resource_type},
                )
            ],
        )
    return mapper.validate_resource(data, resource_type)


def _token(raw: str) -> tuple[str | None, str]:
    system, bar, code = raw.rpartition("|")
    return (system or None) if bar else None, code


def _tokens(params: Params, name: str) -> list[tuple[str | None, str]]:
    raw = params.get(name)
    if raw is None:
        return []
    out = [_token(v) for v in raw.split(",")]
    if any(not code for _, code in out):
        raise Invalid.fields([FieldError(name, N_("give the code: <system>|<code> or <code>"))])
    return out


def _dates(params: Params, name: str) -> list[tuple[str, datetime, datetime]]:
    """Each value as (prefix, start, end): the interval its precision implies, read by the
    shared date parser (fhir/search.py)."""
    out = []
    for k, raw in params.items:
        if k != name:
            continue
        prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
        value = raw[2:] if raw[:2] in PREFIXES else raw
        start, end = parse_date_param([value], name)
        if start is not None and end is not None:  # one value: always both bounds
            out.append((prefix, start, end))
    return out


def _count(params: Params) -> tuple[int, int]:
    """(limit, offset): ``_count`` 0 or ``_summary=count`` give the total only."""
    limit = get_settings().default_page_size
    raw, off = params.get("_count"), params.get("_offset")
    for name, v in (("_count", raw), ("_offset", off)):
        if v is not None and not (v.isascii() and v.isdigit() and len(v) <= 18):
            raise Invalid.fields([FieldError(name, N_("must be a whole number"))])
    top = get_settings().max_page_size
    if raw is not None:
        limit = int(raw)
        if limit > top:
            raise Invalid.fields(
                [FieldError("_count", N_("must be between 0 and %(max)s"), {"max": top})]
            )
    summary = params.get("_summary")
    if summary is not None:
        if summary != "count":
            raise Invalid.fields([FieldError("_summary", N_("only count is supported"))])
        limit = 0
    return limit, int(off) if off else 0


_SORTS = {"date": "date", "_lastUpdated": "_lastUpdated", "_id": "_id"}


def _sort(params: Params) -> list[tuple[str, bool]]:
    raw = params.get("_sort")
    if raw is None:
        return []
    out = []
    for v in raw.split(","):
        key = _SORTS.get(v.removeprefix("-"))
        if key is None:
            raise Invalid.fields(
                [FieldError("_sort", N_("must be date, _lastUpdated or _id, each with - or not"))]
            )
        out.append((key, v.startswith("-")))
    return out


def _person(params: Params) -> int | None:
    raw_patient, raw_subject = params.get("patient"), params.get("subject")
    person = None
    for name, raw in (("patient", raw_patient), ("subject", raw_subject)):
        if raw is None:
            continue
        v = reference_id(raw, "Patient")
        if v is None:
            raise Invalid.fields([FieldError(name, N_("must be a Patient id or Patient/<id>"))])
        if person is not None and v != person:
            return -1  # two persons: nothing matches
        person = v
    return person


def _query(resource_type: str, params: Params) -> RecordQuery | None:
    """The service query; None when nothing can match (an _id or encounter not ours)."""
    limit, offset = _count(params)
    ids: list[int] = []
    if (raw := params.get("_id")) is not None:
        ids = [i for v in raw.split(",") if (i := record.row_id(v)) is not None]
        if not ids:
            return None
    encounter_id = None
    if (raw := params.get("encounter")) is not None:
        encounter_id = record.row_id(raw.removeprefix("Encounter/"))
        if encounter_id is None:
            return None
    person = _person(params)
    if person == -1:
        return None
    status_name = "clinical-status" if resource_type in _CLINICAL else "status"
    statuses = [c for _, c in _tokens(params, status_name)]
    return RecordQuery(
        person_id=person,
        ids=ids,
        identifiers=_tokens(params, "identifier"),
        codes=_tokens(params, "code"),
        categories=_tokens(params, "category"),
        statuses=statuses,
        date=_dates(params, "date"),
        last_updated=_dates(params, "_lastUpdated"),
        encounter_id=encounter_id,
        sort=_sort(params),
        offset=offset,
        limit=limit,
    )


def _searchset(
    request: Request,
    resource_type: str,
    params: Params,
    resources: list[dict[str, Any]],
    total: int,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    from salomat.core.pagination import PageParams

    base = base_url(request)
    if limit == 0:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": [
                {
                    "relation": "self",
                    "url": f"{base}/{resource_type}?{urlencode(params.items)}",
                }
            ],
        }
    return searchset(base, resource_type, params.items, resources, total, PageParams(limit, offset))


# ---- the other domains' share, for the searches both answer ---------------------------------

#: the route of the register (or sick leave) answering the same search, and its permission
Handler = Callable[[Request, Any, Principal], Awaitable[Response]]
_OTHERS: dict[str, tuple[Handler, str]] = {
    "Encounter": (maternal_api.search_encounters, "pregnancy:read"),
    "Observation": (maternal_api.search_observations, "pregnancy:read"),
    "Condition": (maternal_api.search_conditions, "pregnancy:read"),
    "DocumentReference": (sick_leave_api.search_documents, "sick_leave:read"),
}


def _with_query(request: Request, items: list[tuple[str, str]]) -> Request:
    scope = {**request.scope, "query_string": urlencode(items).encode()}
    req = Request(scope, request.receive)
    return req


def _answer(response: Response) -> dict[str, Any]:
    """The FHIR JSON another route answered."""
    return json.loads(bytes(response.body))  # type: ignore[no-any-return]


async def _theirs(
    request: Request,
    session: Any,
    principal: Principal,
    handler: Handler,
    items: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Every resource the other route gives for the same search (all its pages)."""
    items = [(k, v) for k, v in items if k not in PAGING and k != "_summary"]
    top = get_settings().max_page_size
    out: list[dict[str, Any]] = []
    while True:
        q = [*items, ("_count", str(top)), ("_offset", str(len(out)))]
        body = _answer(await handler(_with_query(request, q), session, principal))
        page = [e["resource"] for e in body.get("entry", [])]
        out += page
        if not page or len(out) >= body.get("total", 0):
            return out


async def _merged_search(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    kind: str,
    items: list[tuple[str, str]],
) -> dict[str, Any]:
    if kind == "identifier":
        handler: Handler = cancer_api.search_tumours
        permission, names = "cancer:read", MERGED_IDENTIFIER
    else:
        handler, permission = _OTHERS[resource_type]
        names = MERGED[resource_type]
    theirs_allowed = allowed(principal.role, permission)
    ours_allowed = allowed(principal.role, "record:read")
    if not ours_allowed:
        # as before the record: the other route answers (or refuses) alone
        await Require(permission)(request)
        return _answer(await handler(_with_query(request, items), session, principal))
    params = Params(items, names | PAGING | {"_summary"})
    q = _query(resource_type, params)
    assert q is not None
    theirs = await _theirs(request, session, principal, handler, items) if theirs_allowed else []
    limit, offset = q.limit, q.offset
    shown = theirs[offset : offset + limit]
    ours = await record.search_resources(
        session,
        principal,
        resource_type,
        q.model_copy(
            update={
                "offset": max(0, offset - len(theirs)),
                "limit": limit - len(shown),
            }
        ),
    )
    resources = shown + [mapper.to_fhir(s) for s in ours.items]
    return _searchset(
        request, resource_type, params, resources, len(theirs) + ours.total, limit, offset
    )


# ---- the routes ----------------------------------------------------------------------------


async def search_bundle(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    items: list[tuple[str, str]],
) -> dict[str, Any]:
    """The searchset Bundle of a search of ``resource_type`` (one of RESOURCE_TYPES) by
    the query ``items``, for ``principal``: what ``GET /fhir/<Type>?<items>`` answers, and
    what a Bundle's ``GET <Type>?<query>`` entry gets. Its paging links name ``items``; a
    search the register (or sick leave, or the cancer registry) answers as well is merged
    as that route merges it (MERGED); a parameter refused is named (Invalid). Permission:
    ``record:read``, or the other domain's alone for a merged search, checked here against
    ``request`` (the request that asked, whose base URL the links take)."""
    kind = _merge(resource_type, items) if resource_type in SHARED else None
    if kind is not None:
        return await _merged_search(request, session, principal, resource_type, kind, items)
    await Require("record:read")(request)
    params = Params(items, frozenset(SEARCH_PARAMS[resource_type]) | PAGING)
    q = _query(resource_type, params)
    limit, offset = _count(params)
    if q is None:
        return _searchset(request, resource_type, params, [], 0, limit, offset)
    page = await record.search_resources(session, principal, resource_type, q)
    return _searchset(
        request,
        resource_type,
        params,
        [mapper.to_fhir(s) for s in page.items],
        page.total,
        limit,
        offset,
    )


async def _create(
    request: Request, session: Any, principal: Principal, resource_type: str
) -> Response:
    body = await _body(request, resource_type)
    condition = request.headers.get("if-none-exist")
    pairs = None
    if condition is not None:
        pairs = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
        if not pairs:
            raise Invalid.fields([FieldError("If-None-Exist", N_("give search parameters"))])
        unknown = sorted({k for k, _ in pairs} - {"identifier", "_id"})
        if unknown:
            raise Invalid.fields(
                [
                    FieldError(
                        f"If-None-Exist: {k}",
                        N_("unsupported here: give identifier or _id"),
                    )
                    for k in unknown
                ]
            )
    with _elements(resource_type):
        stored, created = await record.create_resource(
            session, principal, body, if_none_exist=pairs
        )
    return resource_response(
        request, mapper.to_fhir(stored), status=201 if created else 200, location=True
    )


async def _read(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    if record.row_id(rid) is None:
        raise _missing(resource_type, rid)
    stored = await record.read_resource(session, principal, resource_type, rid)
    return resource_response(request, mapper.to_fhir(stored))


async def _vread(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    rid: str,
    version: int,
) -> Response:
    if record.row_id(rid) is None:
        raise _missing(resource_type, rid)
    stored = await record.read_resource(session, principal, resource_type, rid, version=version)
    return resource_response(request, mapper.to_fhir(stored))


def _history_bundle(
    request: Request,
    resource_type: str,
    rid: str,
    versions: list[StoredResource],
    params: Params,
) -> dict[str, Any]:
    from fhir.resources.R4B.bundle import Bundle

    from salomat.fhir.common import page_links

    base = base_url(request)
    page = params.page()
    entries = []
    for s in versions[page.offset : page.offset + page.limit]:
        r = mapper.to_fhir(s)
        created = s.version == 1
        entries.append(
            {
                "fullUrl": f"{base}/{mapper.resource_url(s)}",
                "resource": r,
                "request": {
                    "method": "POST" if created else "PUT",
                    "url": resource_type if created else mapper.resource_url(s),
                },
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "etag": etag(s.version),
                    "lastModified": r.get("meta", {}).get("lastUpdated"),
                },
            }
        )
    body = {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(versions),
        "link": page_links(
            base, f"/{resource_type}/{rid}/_history", params.items, len(versions), page
        ),
        "entry": entries,
    }
    return Bundle.model_validate(body).model_dump(mode="json", exclude_none=True)


async def _history(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    """Every version, newest first, paged by ``_count`` and ``_offset``."""
    params = Params(list(request.query_params.multi_items()), PAGING)
    params.page()  # refused before anything is read
    if record.row_id(rid) is None:
        raise _missing(resource_type, rid)
    versions = await record.resource_history(session, principal, resource_type, rid)
    return fhir_response(_history_bundle(request, resource_type, rid, versions, params))


async def _update(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    if record.row_id(rid) is None:
        raise _missing(resource_type, rid)
    body = await _body(request, resource_type)
    if body.get("id") != rid:
        raise BadRequest(
            N_("The resource's id must be the id in the URL."),
            errors=[FieldError(f"{resource_type}.id", N_("must be %(id)s"), {"id": rid})],
        )
    meta = body.get("meta")
    body_version = meta.get("versionId") if isinstance(meta, dict) else None
    expected = parse_if_match(request.headers.get("if-match"), body_version=body_version)
    with _elements(resource_type):
        stored = await record.update_resource(
            session, principal, resource_type, rid, body, if_match=expected
        )
    return resource_response(request, mapper.to_fhir(stored), location=True)


# the creates another domain also takes: decided by what the resource says


def _cancer_notification(body: Any) -> bool:
    """A Condition with the cancer registry's marks (fhir/cancer.py)."""
    if not isinstance(body, dict):
        return False
    exts = body.get("extension")
    if isinstance(exts, list) and any(
        isinstance(e, dict) and e.get("url") == cancer_mapper.MORPHOLOGY_EXT for e in exts
    ):
        return True
    for element in ("bodySite", "category"):
        for concept in body.get(element) or []:
            for c in (concept.get("coding") or []) if isinstance(concept, dict) else []:
                if isinstance(c, dict) and (
                    c.get("system") == cancer_mapper.ICDO3
                    or c.get("code") == cancer_mapper.REGISTRY_CODE
                ):
                    return True
    return False


def _sick_leave_document(body: Any) -> bool:
    """A DocumentReference whose type is a sick-leave kind or reason (fhir/sick_leave.py)."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), dict):
        return False
    systems = (sick_leave_mapper.KIND_SYSTEM, sick_leave_mapper.REASON_SYSTEM)
    return any(
        isinstance(c, dict) and c.get("system") in systems for c in body["type"].get("coding") or []
    )


async def _create_shared(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    theirs: Callable[[Any], bool],
    handler: Handler,
    permission: str,
) -> Response:
    if not allowed(principal.role, "record:write"):
        await Require(permission)(request)  # the other domain's refusal, as before
        return await handler(request, session, principal)
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, ValueError):
        body = None
    if theirs(body):
        await Require(permission)(request)
        return await handler(request, session, principal)
    await Require("record:write")(request)
    return await _create(request, session, principal, resource_type)


def _add_routes(resource_type: str) -> None:
    t = resource_type
    shared = t in SHARED

    async def search(request: Request, session: Session, principal: Anyone) -> Response:
        items = list(request.query_params.multi_items())
        return fhir_response(await search_bundle(request, session, principal, t, items))

    async def create(request: Request, session: Session, principal: Writer) -> Response:
        return await _create(request, session, principal, t)

    async def read(
        request: Request, session: Session, resource_id: str, principal: Reader
    ) -> Response:
        return await _read(request, session, principal, t, resource_id)

    async def vread(
        request: Request,
        session: Session,
        resource_id: str,
        version: Version,
        principal: Reader,
    ) -> Response:
        return await _vread(request, session, principal, t, resource_id, version)

    async def history(
        request: Request, session: Session, resource_id: str, principal: Reader
    ) -> Response:
        return await _history(request, session, principal, t, resource_id)

    async def update(
        request: Request, session: Session, resource_id: str, principal: Writer
    ) -> Response:
        return await _update(request, session, principal, t, resource_id)

    for fn in (search, create, read, vread, history, update):
        fn.__name__ = f"{fn.__name__}_record_{t.lower()}"
    path = f"/{t}/{{resource_id}}"
    if t == "Condition":
        writes.add_api_route(
            f"/{t}",
            search,
            methods=["GET"],
            route_class_override=claimed_route(_claims_conditions),
        )
    if shared:
        if t != "Condition":
            router.add_api_route(
                f"/{t}",
                search,
                methods=["GET"],
                route_class_override=claimed_route(_claims_search(t)),
            )
        router.add_api_route(
            path, read, methods=["GET"], route_class_override=claimed_route(_claims_id)
        )
    else:
        router.add_api_route(f"/{t}", search, methods=["GET"])
        router.add_api_route(path, read, methods=["GET"])
    router.add_api_route(f"{path}/_history/{{version}}", vread, methods=["GET"])
    router.add_api_route(f"{path}/_history", history, methods=["GET"])
    router.add_api_route(path, update, methods=["PUT"])
    if t == "Condition":
        other, check, perm = cancer_api.notify_condition, _cancer_notification, "cancer:notify"
    elif t == "DocumentReference":
        other, check, perm = (
            sick_leave_api.create_document,
            _sick_leave_document,
            "sick_leave:issue",
        )
    else:
        router.add_api_route(f"/{t}", create, methods=["POST"], status_code=201)
        return

    async def create_shared(request: Request, session: Session, principal: Anyone) -> Response:
        return await _create_shared(request, session, principal, t, check, other, perm)

    create_shared.__name__ = f"create_record_{t.lower()}"
    writes.add_api_route(f"/{t}", create_shared, methods=["POST"], status_code=201)


for _t in RESOURCE_TYPES:
    _add_routes(_t)


# ---- NamingSystem ------------------------------------------------------------------------


@router.post("/NamingSystem", status_code=201)
async def create_naming_system(
    request: Request, session: Session, principal: Namer
) -> JSONResponse:
    """Register another system's identifier system (its URI in uniqueId)."""
    data = mapper.naming_system_in(mapper.parse_body(await request.body(), "NamingSystem"))
    with _elements("NamingSystem"):
        out = await record.register_naming_system(session, principal, data)
    res = mapper.naming_system(out)
    return fhir_response(res, 201, {"Location": f"{base_url(request)}/NamingSystem/{res['id']}"})


@router.get("/NamingSystem")
async def search_naming_systems(
    request: Request, session: Session, principal: Anyone
) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(NAMING_PARAMS) | PAGING)
    url = params.get("value") or params.get("url")
    found = await record.list_naming_systems(session, url=url, name=params.get("name"))
    page = params.page()
    shown = found[page.offset : page.offset + page.limit]
    base = base_url(request)
    from fhir.resources.R4B.bundle import Bundle

    from salomat.fhir.common import page_links

    entries = []
    for ns in shown:
        res = mapper.naming_system(ns)
        entry: dict[str, Any] = {"resource": res, "search": {"mode": "match"}}
        if ns.id is not None:
            entry["fullUrl"] = f"{base}/NamingSystem/{ns.id}"
        entries.append(entry)
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": page_links(base, "/NamingSystem", params.items, len(found), page),
        "entry": entries,
    }
    return fhir_response(Bundle.model_validate(body).model_dump(mode="json", exclude_none=True))


@router.get("/NamingSystem/{naming_system_id}")
async def read_naming_system(
    session: Session, naming_system_id: RowId, principal: Anyone
) -> JSONResponse:
    return fhir_response(
        mapper.naming_system(await record.get_naming_system(session, naming_system_id))
    )
