"""FHIR search of the shared health record (fhir/record_api.py serves it): the search
parameters of the record's types, their reading into the service's RecordQuery, and
``search_bundle``, the searchset Bundle that ``GET /fhir/<Type>?…`` and a Bundle's
``GET <Type>?…`` entry (fhir/bundle.py) both answer.

A search by ``patient`` alone (or with the register's own filters) of Encounter,
Observation, Condition or DocumentReference is answered by the register's (or sick
leave's) route and the record's together (MERGED): theirs first, as their route gives
them, then the record's of the same person, paged and counted across both; so is
``Condition?identifier=…`` with the cancer registry's tumours (MERGED_IDENTIFIER).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from salomat.fhir import cancer_api, maternal_api, sick_leave_api
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    reference_id,
    searchset,
)
from salomat.fhir.search import PREFIXES, parse_date_param

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


def merge_kind(resource_type: str, items: list[tuple[str, str]]) -> str | None:
    """Which merged search this is: ``patient`` (the register's or sick leave's route and
    ours), ``identifier`` (the cancer registry's and ours), or None. ``_summary=count``
    and ``_count=0`` count both."""
    names = {k for k, _ in items} - PAGING - {"_summary"}
    if resource_type in MERGED and "patient" in names and names <= MERGED[resource_type]:
        return "patient"
    if resource_type == "Condition" and "identifier" in names and names <= MERGED_IDENTIFIER:
        return "identifier"
    return None


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


# ---- the search ----------------------------------------------------------------------------


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
    kind = merge_kind(resource_type, items) if resource_type in SHARED else None
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
