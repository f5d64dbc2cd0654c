"""FHIR for the shared health record: what other systems send for a person (Encounter,
Condition, Observation, Procedure, AllergyIntolerance, DiagnosticReport, DocumentReference),
stored as sent with ids ``shr-<n>``; and NamingSystem, the identifier systems they use.

create (``If-None-Exist``: identifier, _id), read, vread, history, update (``If-Match``),
search. Every call goes through the record service (domains/record), which checks scope
and audits: the caller reads a person's resources in its scope (or break-the-glass) and
what its own facility sent, nothing else; a resource it may not read is 404 like a missing
one (405 on update: no update as create), a search leaves it out. Permissions:
``record:read``, ``record:write``, ``record:naming`` (registering a NamingSystem; every
account reads them).

**Shared types.** Encounter, Condition, Observation and DocumentReference are also served
by the pregnancy register, the cancer registry, the sanatorium and sick leave under their
own ids. The record's routes claim only what is the record's (fhir/common.claimed_route):

- create: ``writes`` comes before the cancer registry's and sick leave's routes. A Condition
  carrying the cancer registry's marks (the morphology extension, an ICD-O-3 body site, the
  IARC basis of diagnosis) is a cancer notification and goes to the registry's create; one
  carrying a case notification's extension (``{EXT}notification-*``) is a notifiable case
  and goes to epidemic surveillance's ``$notify`` (``epidemic:report``); a
  DocumentReference whose type is a sick-leave kind or reason goes to sick leave's.
- read, vread, history, update: ``shr-<n>`` ids.
- search: which searches the record claims, which stay with the other domains and which
  both answer (the other domain's resources first, then the record's) is record_claims.py
  and record_search.py; docs/fhir.md ("Shared health record") states the rules.

The search itself (its parameters, the merged searches, ``search_bundle``, which a
Bundle's GET entries call too) is fhir/record_search.py; the claims are
fhir/record_claims.py; this module holds the routes and the CapabilityStatement's part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import RowId, Version, load_json
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.record import service as record
from salomat.fhir import cancer_api, capability, epidemic, epidemic_api, sick_leave_api
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    PAGING,
    BadRequest,
    Params,
    base_url,
    bundle_out,
    claimed_route,
    fhir_response,
    page_links,
    parse_if_match,
    resource_response,
)
from salomat.fhir.record_claims import (
    cancer_notification,
    claims_conditions,
    claims_id,
    claims_search,
    sick_leave_document,
)
from salomat.fhir.record_http import (
    HISTORY_PARAMS,
    INTERACTIONS,
    OPERATIONS,
    elements,
    history_bundle,
    missing,
    parse_since,
    store_update,
)
from salomat.fhir.record_search import (
    RESOURCE_TYPES,
    SEARCH_PARAMS,
    SHARED,
    Handler,
    search_bundle,
)

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

NAMING_PARAMS: dict[str, tuple[str, str]] = {
    "value": ("string", "the system's URI (uniqueId.value), exactly"),
    "url": (
        "uri",
        "local (R4 defines no url parameter on NamingSystem): the system's URI, as value",
    ),
    "name": (
        "string",
        "the name, or its beginning, any case; name:exact the whole name as written (case "
        "too), name:contains a name containing it, any case",
    ),
}
_DOCS = "Shared health record: resources other systems sent, ids shr-<n> (docs/record.md)"


def _capability(resource_type: str) -> dict[str, Any]:
    from salomat.fhir.record_search import capability

    extra = capability(resource_type)
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": f"{_DOCS}; search: {extra.pop('documentation')}",
        "interaction": [
            {"code": c}
            for c in ("read", "vread", "update", "history-instance", "create", "search-type")
        ]
        + INTERACTIONS,
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
        "operation": OPERATIONS,
        **extra,
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
    ours = [_capability(t) for t in RESOURCE_TYPES]
    return [*capability.merge(resources, ours, label="shared record"), NAMING_CAPABILITY]


# ---- helpers -------------------------------------------------------------------------------


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


# ---- the routes ----------------------------------------------------------------------------


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
    with elements(resource_type):
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
        raise missing(resource_type, rid)
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
        raise missing(resource_type, rid)
    stored = await record.read_resource(session, principal, resource_type, rid, version=version)
    return resource_response(request, mapper.to_fhir(stored))


async def _history(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    """Every version (``_since``: those stored at or after it), newest first, paged by
    ``_count`` and ``_offset``."""
    params = Params(list(request.query_params.multi_items()), HISTORY_PARAMS)
    page = params.page()  # refused before anything is read
    since = parse_since(params.get("_since"))
    if record.row_id(rid) is None:
        raise missing(resource_type, rid)
    if since is not None:
        found = await record.resource_history_since(
            session, principal, resource_type, rid, since=since, offset=page.offset,
            limit=page.limit,
        )  # fmt: skip
    else:
        found = await record.resource_history_page(
            session, principal, resource_type, rid, offset=page.offset, limit=page.limit
        )
    path = f"/{resource_type}/{rid}/_history"
    return fhir_response(history_bundle(request, path, found.items, found.total, params))


async def _update(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    if record.row_id(rid) is None:
        raise missing(resource_type, rid)
    body = await _body(request, resource_type)
    if body.get("id") != rid:
        raise BadRequest(
            N_("The resource's id must be the id in the URL."),
            errors=[FieldError(f"{resource_type}.id", N_("must be %(id)s"), {"id": rid})],
        )
    meta = body.get("meta")
    body_version = meta.get("versionId") if isinstance(meta, dict) else None
    expected = parse_if_match(request.headers.get("if-match"), body_version=body_version)
    return await store_update(request, session, principal, resource_type, rid, body, expected)


#: a shared create's hooks: (is the body theirs, their handler, their permission)
Hook = tuple[Callable[[Any], bool], Handler, str]


async def _create_shared(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    theirs: Callable[[Any], bool],
    handler: Handler,
    permission: str,
) -> Response:
    """A shared create with one other domain's hook (screening's Observation calls it)."""
    return await _create_hooked(
        request, session, principal, resource_type, [(theirs, handler, permission)]
    )


async def _create_hooked(
    request: Request, session: Any, principal: Principal, resource_type: str, hooks: list[Hook]
) -> Response:
    """The first hook whose ``theirs`` claims the body handles it (with its permission);
    else the record's create, or the first hook's refusal for one without record:write."""
    try:
        # too deep, a NUL or a huge integer (BodyError, a ValueError) is the record's to
        # refuse with its 400, as any malformed body
        body = load_json(await request.body())
    except (UnicodeDecodeError, ValueError):
        body = None
    for theirs, handler, permission in hooks:
        if theirs(body):
            await Require(permission)(request)
            return await handler(request, session, principal)
    if not allowed(principal.role, "record:write"):
        _, handler, permission = hooks[0]
        await Require(permission)(request)  # the other domain's refusal, as before
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
            route_class_override=claimed_route(claims_conditions),
        )
    if shared:
        if t != "Condition":
            router.add_api_route(
                f"/{t}",
                search,
                methods=["GET"],
                route_class_override=claimed_route(claims_search(t)),
            )
        router.add_api_route(
            path, read, methods=["GET"], route_class_override=claimed_route(claims_id)
        )
    else:
        router.add_api_route(f"/{t}", search, methods=["GET"])
        router.add_api_route(path, read, methods=["GET"])
    router.add_api_route(f"{path}/_history/{{version}}", vread, methods=["GET"])
    router.add_api_route(f"{path}/_history", history, methods=["GET"])
    router.add_api_route(path, update, methods=["PUT"])
    hooks: list[Hook]
    if t == "Condition":
        hooks = [
            (cancer_notification, cancer_api.notify_condition, "cancer:notify"),
            (epidemic.notification_body, epidemic_api.notify_created, "epidemic:report"),
        ]
    elif t == "DocumentReference":
        hooks = [(sick_leave_document, sick_leave_api.create_document, "sick_leave:issue")]
    else:
        router.add_api_route(f"/{t}", create, methods=["POST"], status_code=201)
        return

    async def create_shared(request: Request, session: Session, principal: Anyone) -> Response:
        return await _create_hooked(request, session, principal, t, hooks)

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
    sent = mapper.parse_body(await request.body(), "NamingSystem")
    data = mapper.naming_system_in(sent)
    kept = mapper.naming_system_kept(sent)
    with elements("NamingSystem"):
        out = await record.register_naming_system(session, principal, data, body=kept)
    res = mapper.naming_system(out, kept)
    return fhir_response(res, 201, {"Location": f"{base_url(request)}/NamingSystem/{res['id']}"})


@router.get("/NamingSystem")
async def search_naming_systems(
    request: Request, session: Session, principal: Anyone
) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()),
        frozenset(NAMING_PARAMS) | {"name:exact", "name:contains"} | PAGING,
    )
    url = params.get("value") or params.get("url")
    found = await record.list_naming_systems(session, url=url, name=params.get("name"))
    exact, contained = params.get("name:exact"), params.get("name:contains")
    if exact is not None:
        found = [ns for ns in found if ns.name == exact]
    if contained is not None:
        found = [ns for ns in found if contained.casefold() in ns.name.casefold()]
    page = params.page()
    shown = found[page.offset : page.offset + page.limit]
    base = base_url(request)
    kept = await record.naming_system_bodies(session, [ns.id for ns in shown if ns.id])
    entries = []
    for ns in shown:
        res = mapper.naming_system(ns, kept.get(ns.id) if ns.id is not None else None)
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
    return fhir_response(bundle_out(body))


@router.get("/NamingSystem/{naming_system_id}")
async def read_naming_system(
    session: Session, naming_system_id: RowId, principal: Anyone
) -> JSONResponse:
    ns = await record.get_naming_system(session, naming_system_id)
    kept = await record.naming_system_bodies(session, [naming_system_id])
    return fhir_response(mapper.naming_system(ns, kept.get(naming_system_id)))
