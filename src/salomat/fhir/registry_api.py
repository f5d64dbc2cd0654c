"""FHIR Organization, Location, Practitioner and PractitionerRole: the other registries.

The four share one shape (read, vread, ``_history``, search, create with
``If-None-Exist``, update with ``If-Match``), so their routes are made from
one description per resource (``Kind``); what differs is the mapper and
which service calls answer.
"""

# no ``from __future__ import annotations``: the routes made in ``add_routes`` name their
# permission through a closure variable, which FastAPI must see evaluated.
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from pydantic import BaseModel

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid, NotFound, PreconditionFailed
from salomat.core.pagination import PageParams
from salomat.core.params import SmallRowId, Version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    FacilityIn,
    FacilityOut,
    FacilityPatch,
    FacilityQuery,
    PractitionerIn,
    PractitionerOut,
    PractitionerPatch,
    PractitionerQuery,
    PractitionerRoleIn,
    PractitionerRoleOut,
    PractitionerRolePatch,
    TerritoryIn,
    TerritoryOut,
    TerritoryPatch,
)
from salomat.domains.registry.service import FacilitySite
from salomat.fhir import (
    facility_registry,
    facility_registry_api,
    location,
    organization,
    practitioner,
)
from salomat.fhir.common import (
    FACILITY_SYSTEM,
    PAGING,
    TERRITORY_SYSTEM,
    BadRequest,
    Params,
    base_url,
    boolean_param,
    fhir_response,
    fields_as,
    history_bundle,
    parse_if_match,
    read_body,
    resource_response,
    searchset,
)
from salomat.fhir.patient_api import build

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Found = tuple[list[Any], int]


@dataclass(frozen=True)
class Kind:
    """One registry resource: its models, permissions, search parameters and service calls."""

    type: str
    model: type[BaseModel]
    out: type[BaseModel]
    read: str
    manage: str
    params: dict[str, tuple[str, str]]
    to_fhir: Callable[[Any, datetime | None], dict[str, Any]]
    get: Callable[[Any, int], Awaitable[Any]]
    search: Callable[[Any, Params, PageParams], Awaitable[Found]]
    create: Callable[[Any, Principal, Any], Awaitable[Any]]
    update: Callable[[Any, Principal, int, Any, int], Awaitable[Any]]

    @property
    def capability(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{self.type}",
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
                {"name": n, "type": t, "documentation": d} for n, (t, d) in self.params.items()
            ]
            + [{"name": "_count", "type": "number"}],
        }


def _token(params: Params, name: str, system: str) -> str | None:
    """``<system>|<code>`` or ``<code>``; another system -> ``""`` (matches nothing)."""
    raw = params.get(name)
    if raw is None:
        return None
    sys, sep, code = raw.rpartition("|")
    if sep and sys != system:
        return ""
    if not code:
        raise Invalid.fields([FieldError(name, "give the code: <system>|<code>")])
    return code


def _ref(params: Params, name: str, kind: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    v = raw.removeprefix(f"{kind}/")
    if not (v.isascii() and v.isdigit()):
        raise Invalid.fields([FieldError(name, f"must be {kind}/<id> or <id>")])
    return int(v)


def _same(current: Any, wanted: Any, path: str, why: str) -> FieldError | None:
    return FieldError(path, why) if wanted is not None and wanted != current else None


def _refuse(*errors: FieldError | None) -> None:
    found = [e for e in errors if e is not None]
    if found:
        raise Invalid.fields(found)


def _by(principal: Principal) -> str:
    return principal.username


# ---- Organization ---------------------------------------------------------------------------


async def _org_search(session: Any, params: Params, page: PageParams) -> Found:
    code = _token(params, "identifier", FACILITY_SYSTEM)
    kind = _token(params, "type", organization.TYPE_SYSTEM)
    if code == "" or kind == "":
        return [], 0
    parent = _ref(params, "partof", "Organization")
    parent_code = None
    if parent is not None:
        try:
            parent_code = (await service.get_facility(session, parent)).code
        except NotFound:
            return [], 0
    q = FacilityQuery(
        code=code, kind=kind, parent_code=parent_code, is_open=boolean_param(params, "active")
    )
    found = await service.list_facilities(session, page, q)
    return found.items, found.total


async def _org_create(session: Any, principal: Principal, res: Organization) -> FacilityOut:
    values = organization.from_fhir(res)
    _refuse(_same(True, res.active, "Organization.active", "a new facility is open"))
    data = build(FacilityIn, values, organization.FIELDS)
    with fields_as(organization.FIELDS):
        return await service.create_facility(session, data, by=_by(principal))


async def _org_update(
    session: Any, principal: Principal, fid: int, res: Organization, expected: int
) -> FacilityOut:
    values = organization.from_fhir(res)
    current = await service.get_facility(session, fid)
    _refuse(
        _same(current.code, values.pop("code"), "Organization.identifier", "the code stays"),
        _same(
            current.is_open,
            res.active,
            "Organization.active",
            "close or reopen the facility through /api/v1/facilities/{id}/close or /reopen",
        ),
    )
    patch = build(FacilityPatch, values, organization.FIELDS)
    with fields_as(organization.FIELDS):
        return await service.update_facility(
            session, fid, patch, expected_version=expected, by=_by(principal)
        )


ORGANIZATION = Kind(
    type="Organization",
    model=Organization,
    out=FacilityOut,
    read="facility:read",
    manage="facility:manage",
    params={
        "identifier": ("token", f"the facility code: {FACILITY_SYSTEM}|<code>, or <code>"),
        "type": ("token", f"the facility type of the country pack ({organization.TYPE_SYSTEM})"),
        "active": ("token", "true (open) or false (closed)"),
        "partof": ("reference", "the parent organisation: Organization/<id>"),
    },
    to_fhir=organization.to_fhir,
    get=service.get_facility,
    search=_org_search,
    create=_org_create,
    update=_org_update,
)


# ---- Location (territory) ---------------------------------------------------------------


async def _territory(session: Any, tid: int) -> TerritoryOut:
    return await service.get_territory_by_id(session, tid)


async def _loc_search(session: Any, params: Params, page: PageParams) -> Found:
    """Territories, or facility sites when the query asks for them (a facility type, a
    facility code, ``near``, ``organization``, ``_id``, ``_lastUpdated``, or ``partof`` a
    settlement: a settlement holds facilities, no smaller units)."""
    parent = _ref(params, "partof", "Location")
    parent_unit = None
    if parent is not None:
        try:
            parent_unit = await _territory(session, parent)
        except NotFound:
            return [], 0
    sites = facility_registry_api.asks_for_sites(params)
    if sites or (parent_unit is not None and parent_unit.level == "settlement"):
        if parent_unit is not None and parent_unit.level != "settlement":
            return [], 0
        return await facility_registry_api.search_sites(
            session, params, page, settlement_ids=[parent] if parent is not None else None
        )
    code = _token(params, "identifier", TERRITORY_SYSTEM)
    mcsd, _, mcsd_code = (params.get("type") or "").rpartition("|")
    if mcsd == facility_registry.MCSD_TYPES:
        if mcsd_code != "jurisdiction":
            return [], 0
        level = None  # mCSD's jurisdiction: every territorial unit
    else:
        level = _token(params, "type", location.LEVEL_SYSTEM)
        if level == "jurisdiction" and "|" not in (params.get("type") or ""):
            level = None
    if code == "" or level == "":
        return [], 0
    if level is not None and level not in ("region", "district", "settlement"):
        raise Invalid.fields([FieldError("type", "region, district or settlement")])
    parent_code = parent_unit.code if parent_unit is not None else None
    name = params.get("name")
    if code is not None:
        unit = await service.territory_by_code(session, code)
        hits = [
            u
            for u in ([unit] if unit else [])
            if (level is None or u.level == level)
            and (parent_code is None or u.parent_code == parent_code)
            and (name is None or name.lower() in u.name.lower())
        ]
        return hits[page.offset : page.offset + page.limit], len(hits)
    with fields_as({"parent_code": "partof"}):
        found = await service.list_territory(
            session, page, level=level, parent_code=parent_code, name=name
        )
    return found.items, found.total


async def _loc_create(session: Any, principal: Principal, res: Location) -> TerritoryOut:
    data = build(TerritoryIn, location.from_fhir(res), location.FIELDS)
    with fields_as(location.FIELDS):
        return await service.create_territory(session, data, by=_by(principal))


async def _loc_update(
    session: Any, principal: Principal, tid: int, res: Location, expected: int
) -> TerritoryOut:
    values = location.from_fhir(res)
    current = await _territory(session, tid)
    stays = "a reform makes new units: code, level and parent stay"
    _refuse(
        _same(current.code, values.pop("code"), "Location.identifier", stays),
        _same(current.level, values.pop("level"), "Location.type", stays),
        _same(current.parent_code, values.pop("parent_code"), "Location.partOf", stays),
    )
    patch = build(TerritoryPatch, values, location.FIELDS)
    with fields_as(location.FIELDS):
        return await service.update_territory(
            session, current.code, patch, expected_version=expected, by=_by(principal)
        )


LOCATION = Kind(
    type="Location",
    model=Location,
    out=TerritoryOut,
    read="territory:read",
    manage="territory:manage",
    params={
        "identifier": (
            "token",
            "the classifier code (SOATO, KATO): urn:salomat:territory|<code>; a facility site "
            f"by its facility code: {FACILITY_SYSTEM}|<code>",
        ),
        "name": ("string", "part of the name (case-insensitive)"),
        "type": (
            "token",
            f"the level ({location.LEVEL_SYSTEM}): region, district, settlement "
            "(mCSD jurisdiction: all); facility sites: a facility type "
            f"({organization.TYPE_SYSTEM}) or mCSD facility (all)",
        ),
        "partof": (
            "reference",
            "the unit above: Location/<id>; a settlement's id gives the facility sites in it",
        ),
        **facility_registry_api.SITE_PARAMS,
    },
    to_fhir=location.to_fhir,
    get=_territory,
    search=_loc_search,
    create=_loc_create,
    update=_loc_update,
)


# ---- Practitioner -------------------------------------------------------------------------


async def _pr_search(session: Any, params: Params, page: PageParams) -> Found:
    raw = params.get("identifier")
    if raw is not None and raw.rpartition("|")[0] != practitioner.LICENCE_SYSTEM:
        raise Invalid.fields(
            [
                FieldError(
                    "identifier",
                    f"search by the licence number: {practitioner.LICENCE_SYSTEM}|<number>",
                )
            ]
        )
    licence = _token(params, "identifier", practitioner.LICENCE_SYSTEM)
    q = build(
        PractitionerQuery,
        {
            "name": params.get("name"),
            "licence_number": licence,
            "active": boolean_param(params, "active"),
        },
        {"licence_number": "identifier"},
    )
    found = await service.list_practitioners(session, page, q)
    return found.items, found.total


async def _pr_create(session: Any, principal: Principal, res: Practitioner) -> PractitionerOut:
    values = practitioner.from_fhir(res)
    _refuse(
        _same(True, values.pop("active"), "Practitioner.active", "a new practitioner is active")
    )
    data = build(PractitionerIn, values, practitioner.FIELDS)
    with fields_as(practitioner.FIELDS):
        return await service.create_practitioner(session, principal, data)


async def _pr_update(
    session: Any, principal: Principal, pid: int, res: Practitioner, expected: int
) -> PractitionerOut:
    values = practitioner.from_fhir(res)
    if values["active"] is None:
        del values["active"]
    patch = build(PractitionerPatch, values, practitioner.FIELDS)
    with fields_as(practitioner.FIELDS):
        return await service.update_practitioner(
            session, principal, pid, patch, expected_version=expected
        )


PRACTITIONER = Kind(
    type="Practitioner",
    model=Practitioner,
    out=PractitionerOut,
    read="practitioner:read",
    manage="practitioner:manage",
    params={
        "identifier": ("token", f"the licence number: {practitioner.LICENCE_SYSTEM}|<number>"),
        "name": ("string", "part of the family or given name (case-insensitive)"),
        "active": ("token", "true or false"),
    },
    to_fhir=practitioner.to_fhir,
    get=service.get_practitioner,
    search=_pr_search,
    create=_pr_create,
    update=_pr_update,
)


# ---- PractitionerRole ------------------------------------------------------------------------


async def _role(session: Any, rid: int) -> PractitionerRoleOut:
    return await service.get_practitioner_role(session, rid)


async def _roles_at(session: Any, facility_code: str) -> list[PractitionerRoleOut]:
    size = get_settings().max_page_size
    roles: list[PractitionerRoleOut] = []
    offset, total = 0, 1
    while offset < total:
        page = await service.list_practitioners(
            session, PageParams(size, offset), PractitionerQuery(facility_code=facility_code)
        )
        roles += [r for p in page.items for r in p.roles if r.facility_code == facility_code]
        offset, total = offset + size, page.total
    return roles


async def _role_search(session: Any, params: Params, page: PageParams) -> Found:
    pid = _ref(params, "practitioner", "Practitioner")
    fid = _ref(params, "organization", "Organization")
    if pid is None and fid is None:
        raise Invalid.fields(
            [
                FieldError(name, "give the practitioner or the organization")
                for name in ("practitioner", "organization")
            ]
        )
    active = boolean_param(params, "active")
    try:
        if pid is not None:
            roles = (await service.get_practitioner(session, pid)).roles
            if fid is not None:
                roles = [r for r in roles if r.facility_id == fid]
        else:
            assert fid is not None
            roles = await _roles_at(session, (await service.get_facility(session, fid)).code)
    except NotFound:
        return [], 0
    if active is not None:
        roles = [r for r in roles if r.current == active]
    roles.sort(key=lambda r: r.id)
    return roles[page.offset : page.offset + page.limit], len(roles)


async def _facility_code(session: Any, values: dict[str, Any]) -> str:
    if values["facility_id"] is None:
        return str(values["facility_code"])
    try:
        return (await service.get_facility(session, values["facility_id"])).code
    except NotFound:
        raise Invalid.fields(
            [
                FieldError(
                    "PractitionerRole.organization", f"no Organization {values['facility_id']}"
                )
            ]
        ) from None


async def _role_create(
    session: Any, principal: Principal, res: PractitionerRole
) -> PractitionerRoleOut:
    values = practitioner.role_from_fhir(res)
    values["facility_code"] = await _facility_code(session, values)
    pid = values.pop("practitioner_id")
    values.pop("facility_id")
    data = build(PractitionerRoleIn, values, practitioner.ROLE_FIELDS)
    try:
        with fields_as(practitioner.ROLE_FIELDS):
            return await service.add_practitioner_role(session, principal, pid, data)
    except NotFound as e:
        raise Invalid.fields(
            [FieldError("PractitionerRole.practitioner", f"no Practitioner {pid}")]
        ) from e


async def _role_update(
    session: Any, principal: Principal, rid: int, res: PractitionerRole, expected: int
) -> PractitionerRoleOut:
    values = practitioner.role_from_fhir(res)
    current = await _role(session, rid)
    code = await _facility_code(session, values)
    _refuse(
        _same(
            current.practitioner_id,
            values.pop("practitioner_id"),
            "PractitionerRole.practitioner",
            "the practitioner stays",
        ),
        _same(
            current.facility_code,
            code,
            "PractitionerRole.organization",
            "a move to another facility is a new role",
        ),
    )
    values.pop("facility_id"), values.pop("facility_code")
    patch = build(PractitionerRolePatch, values, practitioner.ROLE_FIELDS)
    with fields_as(practitioner.ROLE_FIELDS):
        return await service.update_practitioner_role(
            session, principal, rid, patch, expected_version=expected
        )


PRACTITIONER_ROLE = Kind(
    type="PractitionerRole",
    model=PractitionerRole,
    out=PractitionerRoleOut,
    read="practitioner:read",
    manage="practitioner:manage",
    params={
        "practitioner": ("reference", "Practitioner/<id>: all of their roles"),
        "organization": ("reference", "Organization/<id>: the current roles there"),
        "active": ("token", "true (started and not ended today) or false"),
    },
    to_fhir=practitioner.role_to_fhir,
    get=_role,
    search=_role_search,
    create=_role_create,
    update=_role_update,
)

KINDS = (ORGANIZATION, LOCATION, PRACTITIONER, PRACTITIONER_ROLE)


# ---- the routes -------------------------------------------------------------------------------


async def _updated(session: Any, kind: Kind, rid: int, version: int) -> datetime | None:
    try:
        return (await service.stored_version(session, kind.type, rid, version)).recorded_at
    except NotFound:
        return None


async def _resource(session: Any, kind: Kind, out: Any) -> dict[str, Any]:
    if isinstance(out, FacilitySite):  # a Location search's facility site
        return facility_registry.site_to_fhir(out)
    return kind.to_fhir(out, await _updated(session, kind, out.id, out.version))


def add_routes(api: APIRouter, kind: Kind) -> None:
    t = kind.type
    params_allowed = frozenset(kind.params) | PAGING

    async def search(
        request: Request,
        session: Session,
        principal: Annotated[Principal, Depends(Require(kind.read))],
    ) -> JSONResponse:
        params = Params(list(request.query_params.multi_items()), params_allowed)
        page = params.page()
        items, total = await kind.search(session, params, page)
        resources = [await _resource(session, kind, x) for x in items]
        return fhir_response(searchset(base_url(request), t, params.items, resources, total, page))

    async def create(
        request: Request,
        session: Session,
        principal: Annotated[Principal, Depends(Require(kind.manage))],
    ) -> JSONResponse:
        res = await read_body(request, t, kind.model)
        condition = request.headers.get("if-none-exist")
        if condition is not None:
            pairs = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
            if not pairs:
                raise Invalid.fields([FieldError("If-None-Exist", "give search parameters")])
            try:
                found, total = await kind.search(
                    session, Params(pairs, frozenset(kind.params)), PageParams(2, 0)
                )
            except Invalid as e:
                e.errors = [FieldError(f"If-None-Exist: {f.field}", f.message) for f in e.errors]
                raise
            if total > 1:
                raise PreconditionFailed(f"If-None-Exist matches {total} resources.")
            if total == 1:
                return resource_response(request, await _resource(session, kind, found[0]))
        out = await kind.create(session, principal, res)
        return resource_response(
            request, await _resource(session, kind, out), status=201, location=True
        )

    async def read(
        request: Request,
        session: Session,
        rid: SmallRowId,
        principal: Annotated[Principal, Depends(Require(kind.read))],
    ) -> JSONResponse:
        out = await kind.get(session, rid)
        return resource_response(request, await _resource(session, kind, out))

    async def vread(
        request: Request,
        session: Session,
        rid: SmallRowId,
        version: Version,
        principal: Annotated[Principal, Depends(Require(kind.read))],
    ) -> JSONResponse:
        stored = await service.stored_version(session, t, rid, version)
        out = kind.out.model_validate(stored.data)
        return resource_response(request, kind.to_fhir(out, stored.recorded_at))

    async def history(
        request: Request,
        session: Session,
        rid: SmallRowId,
        principal: Annotated[Principal, Depends(Require(kind.read))],
    ) -> JSONResponse:
        params = Params(list(request.query_params.multi_items()), PAGING)
        page = params.page()
        await kind.get(session, rid)
        stored = await service.history(session, t, rid, page)
        versions = [
            (v.action, kind.to_fhir(kind.out.model_validate(v.data), v.recorded_at))
            for v in stored.items
        ]
        return fhir_response(
            history_bundle(base_url(request), t, rid, versions, stored.total, page)
        )

    async def update(
        request: Request,
        session: Session,
        rid: SmallRowId,
        principal: Annotated[Principal, Depends(Require(kind.manage))],
    ) -> JSONResponse:
        res = await read_body(request, t, kind.model)
        if res.id != str(rid):  # type: ignore[attr-defined]
            raise BadRequest(
                "The resource's id must be the id in the URL.",
                errors=[FieldError(f"{t}.id", f"must be {rid}")],
            )
        meta = res.meta  # type: ignore[attr-defined]
        expected = parse_if_match(
            request.headers.get("if-match"), body_version=meta.versionId if meta else None
        )
        out = await kind.update(session, principal, rid, res, expected)
        return resource_response(request, await _resource(session, kind, out), location=True)

    api.add_api_route(f"/{t}", search, methods=["GET"], name=f"search_{t}")
    api.add_api_route(f"/{t}", create, methods=["POST"], name=f"create_{t}")
    api.add_api_route(f"/{t}/{{rid}}", read, methods=["GET"], name=f"read_{t}")
    api.add_api_route(f"/{t}/{{rid}}", update, methods=["PUT"], name=f"update_{t}")
    api.add_api_route(f"/{t}/{{rid}}/_history", history, methods=["GET"], name=f"history_{t}")
    api.add_api_route(
        f"/{t}/{{rid}}/_history/{{version}}", vread, methods=["GET"], name=f"vread_{t}"
    )


for _kind in KINDS:
    add_routes(router, _kind)
#: what ``/fhir/metadata`` lists for these resources
CAPABILITIES = [k.capability for k in KINDS]
