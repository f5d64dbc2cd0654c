"""The facility registry's FHIR routes (IHE mCSD): a facility's site as
``Location/facility-<id>`` (read here; searched through ``GET /fhir/Location``, which
answers facility sites when the query asks for them: fhir/registry_api.py) and
``HealthcareService`` (read and search).

Reads need ``facility:read``, as the Organization's do (deny by default). Registry data
names no person: no audit entry, as for the other registry resources.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations
import math
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.fhir_dates import parse_date_param
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.policy import PUBLIC, Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.service import FacilitySite, Near, SiteQuery
from salomat.domains.sanatorium import service as sanatorium
from salomat.fhir import capability, sanatorium_api
from salomat.fhir import facility_registry as mapper
from salomat.fhir.common import (
    FACILITY_SYSTEM,
    PAGING,
    Params,
    base_url,
    boolean_param,
    claimed_route,
    fhir_response,
    query_of,
    resource_response,
    searchset,
)
from salomat.fhir.location import LEVEL_SYSTEM
from salomat.fhir.organization import TYPE_SYSTEM

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession

#: half the Earth's circumference (km): no two points are farther apart
_MAX_KM = 20037.6
#: ``near``'s distance units (UCUM) and their kilometres
_UNITS = {"km": 1.0, "m": 0.001, "[mi_i]": 1.609344, "mi": 1.609344}

#: the Location search parameters that ask for facility sites (fhir/registry_api.py)
SITE_ONLY_PARAMS = frozenset({"near", "organization", "_id", "_lastUpdated"})

SITE_PARAMS: dict[str, tuple[str, str]] = {
    "near": (
        "special",
        "facility sites within a distance: <latitude>|<longitude>|<distance>|<units> "
        "(units km (the default), m or [mi_i]); great-circle distance from the site's "
        "position (its settlement's coordinates)",
    ),
    "organization": ("reference", "facility sites of Organization/<id>"),
    "_id": ("token", "facility sites by id: facility-<facility id>"),
    "_lastUpdated": ("date", "facility sites changed in that interval (ge, gt, le, lt, eq)"),
}

SERVICE_PARAMS: dict[str, tuple[str, str]] = {
    "organization": ("reference", "the providing Organization/<id>"),
    "location": ("reference", "the facility site: Location/facility-<id>"),
    "service-type": (
        "token",
        f"a service ({mapper.SERVICE_SYSTEM}): primary_care, obstetric_care; commas for any",
    ),
    "service-category": (
        "token",
        f"the facility type ({TYPE_SYSTEM}); commas for any",
    ),
    "active": ("token", "true (open facility) or false"),
    "name": ("string", "part of the facility's name (case-insensitive)"),
    "identifier": ("token", f"the facility code: {FACILITY_SYSTEM}|<code>, or <code>"),
    "_id": ("token", "facility-<facility id>"),
}


def _codes(params: Params, name: str, system: str) -> list[str] | None:
    """The codes of a token parameter (commas: any of them); a value in another system
    matches nothing and is left out (an empty list matches nothing)."""
    raw = params.get(name)
    if raw is None:
        return None
    out = []
    for value in raw.split(","):
        sys, sep, code = value.rpartition("|")
        if not code:
            raise Invalid.fields([FieldError(name, N_("give the code: <system>|<code> or <code>"))])
        if not sep or sys == system:
            out.append(code)
    return out


def _ref_ids(params: Params, name: str, kind: str, *, site: bool = False) -> list[int] | None:
    """``<kind>/<id>`` or ``<id>`` (``facility-<id>`` for a site); commas: any of them."""
    raw = params.get(name)
    if raw is None:
        return None
    out = []
    for value in raw.split(","):
        v = value.removeprefix(f"{kind}/")
        if site:
            fid = mapper.parse_site_id(v)
            if fid is None and not (v.isascii() and v.isdigit()):
                raise Invalid.fields([FieldError(name, f"must be {kind}/facility-<id>")])
            if fid is not None:
                out.append(fid)
        elif v.isascii() and v.isdigit() and len(v) <= 9:
            out.append(int(v))
        else:
            raise Invalid.fields([FieldError(name, f"must be {kind}/<id> or <id>")])
    return out


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_near(raw: str) -> Near:
    """``<latitude>|<longitude>|<distance>|<units>`` (R4 Location ``near``)."""
    parts = raw.split("|")
    why = N_("give <latitude>|<longitude>|<distance>|<units>, e.g. 43.2|76.9|10|km")
    if len(parts) not in (3, 4):
        raise Invalid.fields([FieldError("near", why)])
    lat, lon, dist = (_number(p) for p in parts[:3])
    unit = parts[3] if len(parts) == 4 and parts[3] else "km"
    errors = []
    if lat is None or not -90 <= lat <= 90:
        errors.append(FieldError("near", N_("the latitude must be a number from -90 to 90")))
    if lon is None or not -180 <= lon <= 180:
        errors.append(FieldError("near", N_("the longitude must be a number from -180 to 180")))
    if unit not in _UNITS:
        errors.append(FieldError("near", N_("the units must be km, m or [mi_i]")))
    elif dist is None or dist < 0 or dist * _UNITS[unit] > _MAX_KM:
        errors.append(
            FieldError("near", N_("the distance must be a number from 0 to half the globe"))
        )
    if errors:
        raise Invalid.fields(errors)
    assert lat is not None
    assert lon is not None
    assert dist is not None
    return Near(lat, lon, dist * _UNITS[unit])


def _updated(params: Params) -> tuple[Any, Any]:
    values = [v for k, v in params.items if k == "_lastUpdated"]
    return parse_date_param(values, "_lastUpdated") if values else (None, None)


def _intersect(a: list[int] | None, b: list[int] | None) -> list[int] | None:
    if a is None:
        return b
    if b is None:
        return a
    return sorted(set(a) & set(b))


async def search_sites(
    session: Any, params: Params, page: PageParams, *, settlement_ids: list[int] | None
) -> tuple[list[FacilitySite], int]:
    """The facility sites a ``GET /fhir/Location`` query selects (``settlement_ids``: its
    ``partof``, already resolved to settlements by the caller)."""
    ids = None
    if params.get("_id") is not None:
        ids = [
            fid
            for v in (params.get("_id") or "").split(",")
            if (fid := mapper.parse_site_id(v)) is not None
        ]
    ids = _intersect(ids, _ref_ids(params, "organization", "Organization"))
    kinds = None
    raw_type = params.get("type")
    if raw_type is not None:
        known = service.facility_types()
        kinds = []
        for value in raw_type.split(","):
            sys, sep, code = value.rpartition("|")
            if not code:
                why = N_("give the code: <system>|<code> or <code>")
                raise Invalid.fields([FieldError("type", why)])
            if (sys, code) == (mapper.MCSD_TYPES, "facility") or (not sep and code == "facility"):
                kinds += list(known)
                continue
            if (sys == TYPE_SYSTEM or not sep) and code in known:
                kinds.append(code)
            if sys == mapper.UNIT_SYSTEM or not sep:
                kinds += mapper.kinds_of_unit(code)
    codes = None
    raw_id = params.get("identifier")
    if raw_id is not None:
        codes = _codes(params, "identifier", FACILITY_SYSTEM)
    since, until = _updated(params)
    raw_near = params.get("near")
    q = SiteQuery(
        ids=ids,
        codes=codes,
        kinds=kinds,
        settlement_ids=settlement_ids,
        name=params.get("name"),
        updated_since=since,
        updated_until=until,
        near=parse_near(raw_near) if raw_near is not None else None,
    )
    return await service.facility_sites(session, q, page)


def asks_for_sites(params: Params) -> bool:
    """Whether a ``GET /fhir/Location`` query is about facility sites (else territories):
    a site-only parameter, a facility type, a facility code."""
    if any(params.get(n) is not None for n in SITE_ONLY_PARAMS):
        return True
    raw_type = params.get("type")
    if raw_type is not None:
        for value in raw_type.split(","):
            sys, sep, code = value.rpartition("|")
            if (
                sys in (mapper.MCSD_TYPES, TYPE_SYSTEM, mapper.UNIT_SYSTEM)
                and code != "jurisdiction"
            ):
                return True
            if not sep and code not in ("region", "district", "settlement", "jurisdiction"):
                return True
            if sys == LEVEL_SYSTEM:
                return False
    raw_id = params.get("identifier")
    return raw_id is not None and raw_id.rpartition("|")[0] == FACILITY_SYSTEM


# ---- Location/facility-<id> -------------------------------------------------------------


async def _site(session: Any, raw: str, what: str) -> FacilitySite:
    fid = mapper.parse_site_id(raw)
    found = (
        await service.facility_sites(session, SiteQuery(ids=[fid]), PageParams(1, 0))
        if fid is not None
        else ([], 0)
    )
    if not found[0]:
        raise NotFound(f"{what}/{raw} not found.")
    return found[0][0]


async def read_site(
    request: Request,
    session: Session,
    site_id: str,
    principal: Annotated[Principal, Depends(Require("facility:read"))],
) -> JSONResponse:
    """A facility's site: ``Location/facility-<facility id>``."""
    site = await _site(session, site_id, "Location")
    return resource_response(request, mapper.site_to_fhir(site))


def _claims_site(scope: Any) -> bool:
    return str(scope.get("path_params", {}).get("site_id", "")).startswith(mapper.SITE_PREFIX)


router.add_api_route(
    "/Location/{site_id}",
    read_site,
    methods=["GET"],
    route_class_override=claimed_route(_claims_site),
)


# ---- HealthcareService ----------------------------------------------------------------


def _service_resource(site: FacilitySite) -> dict[str, Any]:
    return mapper.service_to_fhir(site, service.facility_types().get(site.kind, {}))


async def _search_services(
    session: Any, params: Params, page: PageParams
) -> tuple[list[FacilitySite], int]:
    ids = None
    if params.get("_id") is not None:
        ids = [
            fid
            for v in (params.get("_id") or "").split(",")
            if (fid := mapper.parse_site_id(v)) is not None
        ]
    ids = _intersect(ids, _ref_ids(params, "organization", "Organization"))
    ids = _intersect(ids, _ref_ids(params, "location", "Location", site=True))
    types = service.facility_types()
    offers = None
    wanted = _codes(params, "service-type", mapper.SERVICE_SYSTEM)
    if wanted is not None:
        primary = [k for k, t in types.items() if t.get("primary_care")]
        offers = (primary if "primary_care" in wanted else [], "obstetric_care" in wanted)
    q = SiteQuery(
        ids=ids,
        codes=_codes(params, "identifier", FACILITY_SYSTEM),
        kinds=_codes(params, "service-category", TYPE_SYSTEM),
        name=params.get("name"),
        is_open=boolean_param(params, "active"),
        kinds_or_perinatal=offers,
    )
    return await service.facility_sites(session, q, page)


async def search_healthcare_services(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("facility:read"))],
) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SERVICE_PARAMS) | PAGING)
    page = params.page()
    sites, total = await _search_services(session, params, page)
    resources = [_service_resource(s) for s in sites]
    return fhir_response(
        searchset(base_url(request), "HealthcareService", params.items, resources, total, page)
    )


async def read_healthcare_service(
    request: Request,
    session: Session,
    service_id: str,
    principal: Annotated[Principal, Depends(Require("facility:read"))],
) -> JSONResponse:
    site = await _site(session, service_id, "HealthcareService")
    return resource_response(request, _service_resource(site))


#: the HealthcareService search parameters only the facility registry takes: a query with
#: one of them (or an ``_id`` of ours) is ours
SERVICE_ONLY_PARAMS = frozenset(
    {"location", "service-type", "service-category", "identifier", "name"}
)
#: the parameters only the sanatorium catalogue takes (fhir/sanatorium_api.py: its public
#: search of treatment profiles, ids <facility id>-<profile>)
SANATORIUM_ONLY_PARAMS = frozenset({"specialty"})


def _claims_service_search(scope: Any) -> bool:
    for k, v in query_of(scope):
        if k in SERVICE_ONLY_PARAMS:
            return True
        if k == "_id" and any(x.startswith(mapper.SERVICE_PREFIX) for x in v.split(",")):
            return True
    return False


def _claims_organization_search(scope: Any) -> bool:
    """``organization`` without a parameter of either side (``active`` and paging beside it):
    the IHE mCSD query "the services of these organisations", decided by what they are
    (``search_services_of_organizations``)."""
    query = query_of(scope)
    if not any(k == "organization" for k, _ in query):
        return False
    return not any(k in SANATORIUM_ONLY_PARAMS or k == "_id" for k, _ in query)


async def search_services_of_organizations(request: Request, session: Session) -> JSONResponse:
    """``HealthcareService?organization=``: when every organisation named is a sanatorium,
    the sanatorium catalogue's public search (its treatment profiles, as before); otherwise
    the facility registry's services (mCSD), read with ``facility:read``. The catalogue
    holds nothing for other facilities, so no answer it gave is lost."""
    params = Params(list(request.query_params.multi_items()), frozenset(SERVICE_PARAMS) | PAGING)
    ids = _ref_ids(params, "organization", "Organization") or []
    names = await service.facility_names(session, ids) if ids else {}
    if ids and all(i in names and names[i].kind == sanatorium.FACILITY_KIND for i in ids):
        return await sanatorium_api.search_services(request, session)
    principal = await Require("facility:read")(request)
    return await search_healthcare_services(request, session, principal)


def _claims_service(scope: Any) -> bool:
    value = str(scope.get("path_params", {}).get("service_id", ""))
    return value.startswith(mapper.SERVICE_PREFIX)


router.add_api_route(
    "/HealthcareService",
    search_healthcare_services,
    methods=["GET"],
    route_class_override=claimed_route(_claims_service_search),
)
router.add_api_route(
    "/HealthcareService",
    search_services_of_organizations,
    methods=["GET"],
    # public as the sanatorium catalogue is; the registry's answer checks facility:read
    dependencies=[Depends(PUBLIC)],
    route_class_override=claimed_route(_claims_organization_search),
)
router.add_api_route(
    "/HealthcareService/{service_id}",
    read_healthcare_service,
    methods=["GET"],
    route_class_override=claimed_route(_claims_service),
)


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the facility registry's HealthcareService merged
    into the sanatorium's entry (one per type). The Location's share is in the registry's
    Location entry (fhir/registry_api.py)."""
    ours = {
        "type": "HealthcareService",
        "profile": "http://hl7.org/fhir/StructureDefinition/HealthcareService",
        "documentation": "Facility registry (IHE mCSD): the services each facility offers, "
        "ids facility-<facility id>, read with facility:read; a search is the registry's when "
        "it names one of location, service-type, service-category, identifier, name or an "
        "_id facility-<n>, or organization (without specialty or _id) naming an "
        "organization that is not a sanatorium",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": t, "documentation": d} for n, (t, d) in SERVICE_PARAMS.items()
        ]
        + [{"name": "_count", "type": "number"}],
    }
    return capability.merge(resources, [ours], label="facility registry", their_label=None)
