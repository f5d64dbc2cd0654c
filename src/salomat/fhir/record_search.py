"""FHIR search of the shared health record (fhir/record_api.py serves it): the search
parameters of the record's types, their reading into the service's RecordQuery, and
``search_bundle``, the searchset Bundle that ``GET /fhir/<Type>?…`` and a Bundle's
``GET <Type>?…`` entry (fhir/bundle.py) both answer.

A search by ``patient`` alone (or with the register's own filters) of Encounter,
Observation, Condition or DocumentReference is answered by the register's (or sick
leave's) route and the record's together (MERGED): theirs first, as their route gives
them, then the record's of the same person, paged and counted across both; so is
``Condition?identifier=…`` with the cancer registry's tumours (MERGED_IDENTIFIER), and
``Observation?patient=…&code=<TNM stage code>`` with the cancer registry's stages too.
With ``_sort`` both shares are merged, then sorted (``sort_merged``). A search by
``patient`` naming a parameter of the record's that the other route cannot answer is
refused naming it (``unmergeable``), never answered with one share alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.fhir_dates import date_value, fhir_interval
from salomat.core.policy import Require, allowed, person_scope
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from salomat.domains.registry import service as registry
from salomat.fhir import cancer_api, maternal_api, sick_leave_api
from salomat.fhir import patient as patient_mapper
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    reference_id,
    searchset,
)

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
    out["_sort"] = (
        "string",
        "date, -date, _lastUpdated, -_lastUpdated, _id, -_id (with patient on a type another "
        "register shares: date or _lastUpdated, both shares merged, then sorted; a resource "
        "without that time comes last)",
    )
    out["_summary"] = ("token", "count: the total only")
    out["_offset"] = ("number", "how many matches to skip (the next link sets it)")
    return out


SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    t: _search_params(t) for t in RESOURCE_TYPES
}

#: the modifiers the record takes: ``:missing`` on these (the service's name of each),
#: ``:not`` on its tokens; no string parameter, so no ``:exact`` / ``:contains``
_MISSING_PARAMS = {
    "code": "code",
    "category": "category",
    "status": "status",
    "clinical-status": "status",
    "date": "date",
    "encounter": "encounter",
    "identifier": "identifier",
}
_NOT_PARAMS = ("code", "category", "status", "clinical-status")
MODIFIERS: dict[str, frozenset[str]] = {
    t: frozenset(
        [f"{p}:missing" for p in _MISSING_PARAMS if p in SEARCH_PARAMS[t]]
        + [f"{p}:not" for p in _NOT_PARAMS if p in SEARCH_PARAMS[t]]
    )
    for t in RESOURCE_TYPES
}
MODIFIERS_DOC = (
    ":missing=true|false on code, category, status (clinical-status), date, encounter and "
    "identifier (has none / has one); :not on code, category and status (clinical-status): "
    "none of the values, a resource without any too; any other modifier 422"
)

#: a search by patient with only these besides answers both (the register's and ours):
#: each filter is one both take with the same meaning, and goes to both
MERGED: dict[str, frozenset[str]] = {
    "Encounter": frozenset({"patient"}),
    "Observation": frozenset({"patient", "code"}),
    "Condition": frozenset({"patient", "code", "clinical-status"}),
    "DocumentReference": frozenset({"patient", "status"}),
}
#: Condition?identifier=… (with code or clinical-status at most) answers both too: the
#: cancer registry's tumours of a report and the record's Conditions of the identifier
MERGED_IDENTIFIER = frozenset({"identifier", "code", "clinical-status"})
#: what a merged search takes besides its filters: both shares merged, then sorted or paged
#: (``_elements`` applies to the merged page)
_RESULT = PAGING | {"_summary", "_sort", "_elements"}
#: what the record's own searches take besides SEARCH_PARAMS and _RESULT (a search by
#: patient naming one is the record's alone, refused naming it as ``unmergeable`` says)
_OWN_RESULT = frozenset({"_include", "_revinclude"})
#: parameters only the register's (or sick leave's) routes take: a search naming one is
#: theirs alone (the record leaves it to them)
THEIRS: dict[str, frozenset[str]] = {
    "Encounter": frozenset({"episode-of-care", "type"}),
    "Observation": frozenset({"focus"}),
    "Condition": frozenset({"body-site", "verification-status"}),
    "DocumentReference": frozenset({"type", "period", "status", "identifier", "date"}),
}


def merge_kind(resource_type: str, items: list[tuple[str, str]]) -> str | None:
    """Which merged search this is: ``patient`` (the register's or sick leave's route and
    ours), ``identifier`` (the cancer registry's and ours), or None. ``_summary=count``
    and ``_count=0`` count both; ``_sort`` sorts both."""
    names = {k for k, _ in items} - _RESULT
    if resource_type in MERGED and "patient" in names and names <= MERGED[resource_type]:
        return "patient"
    if resource_type == "Condition" and "identifier" in names and names <= MERGED_IDENTIFIER:
        return "identifier"
    return None


def unmergeable(resource_type: str, items: list[tuple[str, str]]) -> list[str]:
    """The record's own parameters that a search by ``patient`` of a type another register
    shares names beside it, which that register cannot answer: answering them would give
    the record's share alone under a search that promises both, so they are refused
    (``subject`` instead of ``patient`` searches the record alone). None when the search
    also names ``subject``, a record ``_id``/``encounter`` (the record's alone anyway), or
    a parameter only the other register takes (its alone)."""
    names = {k for k, _ in items} - _RESULT
    if resource_type not in MERGED or "patient" not in names:
        return []
    if names & ({"subject", "_id", "encounter"} | THEIRS[resource_type]):
        return []
    return sorted(names - MERGED[resource_type])


def parse_token(raw: str) -> tuple[str | None, str]:
    """One token value as (system, code), R4 search "token": ``<code>`` any system (None),
    ``|<code>`` no system (""), ``<system>|<code>`` that system, ``<system>|`` any code of
    that system (code "")."""
    system, bar, code = raw.rpartition("|")
    return (system if bar else None), code


def _tokens(
    params: Params, name: str, *, whole_system: bool = True
) -> list[tuple[str | None, str]]:
    """A token parameter's values (comma: any of them). ``<system>|`` names every code of
    the system when ``whole_system``; a value naming neither code nor system is refused."""
    raw = params.get(name)
    if raw is None:
        return []
    out = [parse_token(v) for v in raw.split(",")]
    if any(not code and not (whole_system and system) for system, code in out):
        raise Invalid.fields([FieldError(name, N_("give the code: <system>|<code> or <code>"))])
    return out


def _dates(params: Params, name: str) -> list[tuple[str, datetime, datetime]]:
    """Each value as (prefix, start, end): the interval its precision implies, read by the
    shared date parser (core.fhir_dates)."""
    return [date_value(raw, name) for k, raw in params.items if k == name]


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
        values = raw.split(",")
        ours = [v.startswith(record.ID_PREFIX) for v in values]
        if any(ours) and not all(ours):
            raise Invalid.fields(
                [
                    FieldError(
                        "_id",
                        N_(
                            "Give the shared record's ids (shr-<n>) apart from other "
                            "registers' ids: one search looks up one kind."
                        ),
                    )
                ]
            )
        ids = [i for v in values if (i := record.row_id(v)) is not None]
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
    statuses = [c for _, c in _tokens(params, status_name, whole_system=False)]
    missing: dict[str, bool] = {}
    for key, raw in params.items:
        name, _, modifier = key.partition(":")
        if modifier != "missing":
            continue
        if raw not in ("true", "false"):
            raise Invalid.fields([FieldError(key, N_("must be true or false"))])
        missing[_MISSING_PARAMS[name]] = raw == "true"
    return RecordQuery(
        missing=missing,
        not_codes=_tokens(params, "code:not"),
        not_categories=_tokens(params, "category:not"),
        not_statuses=[c for _, c in _tokens(params, f"{status_name}:not", whole_system=False)],
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


# ---- _elements ------------------------------------------------------------------------------

#: R4's mark of a resource returned with elements left out (search, _elements)
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
#: what every subset keeps
_ALWAYS = ("resourceType", "id", "meta")
#: the record types' choice elements: ``_elements=value`` keeps valueQuantity, …
_CHOICES = frozenset({"value", "effective", "onset", "abatement", "performed", "occurrence"})
_ELEMENT = re.compile(r"^[a-z][A-Za-z0-9]{0,63}$")
ELEMENTS_DOC = (
    "top-level elements to return, comma-separated (value: value[x], as for effective, "
    "onset, abatement, performed); each match keeps them with id and meta, and is tagged "
    "SUBSETTED; included resources are whole"
)


def _element_names(params: Params) -> frozenset[str] | None:
    """``_elements``' names, None when not given; a name that is not an element name is
    refused."""
    raw = params.get("_elements")
    if raw is None:
        return None
    names = [v.strip() for v in raw.split(",")]
    if not all(_ELEMENT.match(v) for v in names):
        raise Invalid.fields(
            [FieldError("_elements", N_("give top-level element names, comma-separated"))]
        )
    return frozenset(names)


def _kept(key: str, names: frozenset[str]) -> bool:
    if key in _ALWAYS or key in names:
        return True
    root = next((c for c in _CHOICES if key.startswith(c)), None)
    return root is not None and root in names and key[len(root) : len(root) + 1].isupper()


def subset(resource: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """``resource`` with only the top-level elements ``names`` (and resourceType, id and
    meta), meta.tag SUBSETTED added."""
    out = {k: v for k, v in resource.items() if _kept(k, names)}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def _with_elements(bundle: dict[str, Any], names: frozenset[str] | None) -> dict[str, Any]:
    if names is None:
        return bundle
    for entry in bundle.get("entry", []):
        if entry.get("search", {}).get("mode", "match") == "match":
            entry["resource"] = subset(entry["resource"], names)
    return bundle


# ---- _include and _revinclude ---------------------------------------------------------------

#: ``_include=<Type>:<param>``: the type each reference parameter names
INCLUDES: dict[str, dict[str, str]] = {
    t: {
        **({"encounter": "Encounter"} if t != "Encounter" else {}),
        **({"subject": "Patient"} if t != "AllergyIntolerance" else {}),
        "patient": "Patient",
        **({"result": "Observation"} if t == "DiagnosticReport" else {}),
    }
    for t in RESOURCE_TYPES
}
INCLUDE_DOC = (
    "_include=<Type>:<param> (encounter, subject, patient, DiagnosticReport:result; "
    "*:<param> or * for the searched type) adds what the matches name; "
    "_revinclude=<Type>:encounter on an Encounter search adds the record's resources of "
    "the matched encounters (at most the page limit of each); search.mode include, only "
    "what the caller may read; :iterate not supported (422)"
)


def _include_wanted(resource_type: str, params: Params) -> tuple[list[tuple[str, str]], list[str]]:
    """(the includes as (param, target type), the revincluded types), refused naming
    ``_include`` or ``_revinclude`` when not ones the record answers."""
    includes: list[tuple[str, str]] = []
    revincludes: list[str] = []
    errors: list[FieldError] = []
    for key, raw in params.items:
        if key == "_include":
            ours = INCLUDES[resource_type]
            source, _, rest = raw.partition(":")
            param, _, target = rest.partition(":")
            if raw == "*":
                wanted = list(ours.items())
            elif source in (resource_type, "*") and param in ours and target in ("", ours[param]):
                wanted = [(param, ours[param])]
            else:
                errors.append(
                    FieldError(
                        "_include",
                        N_("%(value)s: include one of %(known)s"),
                        {
                            "value": raw,
                            "known": ", ".join(f"{resource_type}:{p}" for p in ours) or "-",
                        },
                    )
                )
                continue
            includes += [w for w in wanted if w not in includes]
        elif key == "_revinclude":
            source, _, rest = raw.partition(":")
            param, _, target = rest.partition(":")
            if (
                resource_type == "Encounter"
                and source in RESOURCE_TYPES
                and source != "Encounter"
                and param == "encounter"
                and target in ("", "Encounter")
            ):
                if source not in revincludes:
                    revincludes.append(source)
            else:
                errors.append(
                    FieldError(
                        "_revinclude",
                        N_(
                            "%(value)s: the shared record answers <Type>:encounter on an "
                            "Encounter search"
                        ),
                        {"value": raw},
                    )
                )
    if errors:
        raise Invalid.fields(errors)
    return includes, revincludes


def _reference_ids(value: Any, target: str) -> list[int]:
    """The record's row ids of ``target`` a reference (or a list of them) names."""
    refs = value if isinstance(value, list) else [value]
    out = []
    for ref in refs:
        raw = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(raw, str):
            continue
        parts = raw.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == target:
            rid = record.row_id(parts[-1])
            if rid is not None:
                out.append(rid)
    return out


async def _patients(
    session: Any, principal: Principal, person_ids: list[int]
) -> list[dict[str, Any]]:
    """The Patients of ``person_ids`` the caller may read (the registry's scope, each
    shown audited as a Patient search audits it); none without ``person:read``."""
    if not person_ids or not allowed(principal.role, "person:read"):
        return []
    shown = []
    for person, codes in await registry.people_with_codes(session, person_ids):
        scope = await person_scope(session, principal, person.id)
        if scope is not None:
            shown.append((person, codes, scope))
    await audit.record_listing(
        session,
        principal,
        [audit.Access(p.id, scope.reason, scope.break_glass_grant) for p, _, scope in shown],
        resource_type="Patient",
    )
    return [
        patient_mapper.to_fhir(await registry.person_out(session, p, codes=codes))
        for p, codes, _ in shown
    ]


async def _included(
    session: Any,
    principal: Principal,
    resource_type: str,
    page: list[Any],
    includes: list[tuple[str, str]],
    revincludes: list[str],
) -> list[dict[str, Any]]:
    """What the page's matches name (``includes``) and what names them (``revincludes``),
    read through the record's service (or the registry's, for Patients): one search per
    include, what the caller may not read left out; none twice, no match again."""
    out: list[dict[str, Any]] = []
    seen = {(resource_type, s.fhir_id) for s in page}
    top = get_settings().max_page_size
    for param, target in includes:
        if target == "Patient":
            found = await _patients(
                session, principal, list(dict.fromkeys(s.person_id for s in page))
            )
        else:
            wanted = list(
                dict.fromkeys(
                    i for s in page for i in _reference_ids(s.resource.get(param), target)
                )
            )
            if not wanted:
                continue
            got = await record.search_resources(
                session, principal, target, RecordQuery(ids=wanted, limit=len(wanted))
            )
            found = [mapper.to_fhir(s) for s in got.items]
        for res in found:
            key = (res["resourceType"], res["id"])
            if key not in seen:
                seen.add(key)
                out.append(res)
    encounters = [s.id for s in page] if resource_type == "Encounter" else []
    for source in revincludes if encounters else []:
        got = await record.search_resources(
            session, principal, source, RecordQuery(encounter_ids=encounters, limit=top)
        )
        for s in got.items:
            if (source, s.fhir_id) not in seen:
                seen.add((source, s.fhir_id))
                out.append(mapper.to_fhir(s))
    return out


def capability(resource_type: str) -> dict[str, Any]:
    """What the CapabilityStatement declares of the record's search besides SEARCH_PARAMS
    (record_api's ``_capability``): the result parameters with their definitions, in the
    type's documentation (R4 lists search parameters in searchParam, and the other
    registers sharing a type list exactly theirs and ours there)."""
    return {
        "documentation": f"_elements: {ELEMENTS_DOC}; _include, _revinclude: {INCLUDE_DOC}; "
        f"modifiers: {MODIFIERS_DOC}",
        "searchInclude": [f"{resource_type}:{p}" for p in INCLUDES[resource_type]],
        "searchRevInclude": [
            f"{t}:encounter" for t in RESOURCE_TYPES if resource_type == "Encounter" != t
        ],
    }


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
    items = [(k, v) for k, v in items if k not in _RESULT]
    top = get_settings().max_page_size
    out: list[dict[str, Any]] = []
    while True:
        q = [*items, ("_count", str(top)), ("_offset", str(len(out)))]
        body = _answer(await handler(_with_query(request, q), session, principal))
        page = [e["resource"] for e in body.get("entry", [])]
        out += page
        if not page or len(out) >= body.get("total", 0):
            return out


def _sources(resource_type: str, kind: str, params: Params) -> list[tuple[Handler, str]]:
    """The other routes a merged search answers with (before the record's share)."""
    if kind == "identifier":
        return [(cancer_api.search_tumours, "cancer:read")]
    out = [_OTHERS[resource_type]]
    code = params.get("code")
    if resource_type == "Observation" and code is not None and cancer_api.stage_code(code):
        # the cancer registry's TNM stages of the patient answer this code too
        out.append((cancer_api.search_stages, "cancer:read"))
    return out


def _instant(value: Any) -> datetime | None:
    try:
        return fhir_interval(value)[0] if isinstance(value, str) else None
    except ValueError:
        return None


def _sort_key(resource: dict[str, Any], key: str) -> datetime | None:
    """The time a merged search sorts ``resource`` by: ``date`` its clinical time as the
    record reads it (the start of effective, period, onset, performed, … as the type has
    it), ``_lastUpdated`` its meta.lastUpdated; None when it has none."""
    if key == "_lastUpdated":
        meta = resource.get("meta")
        return _instant(meta.get("lastUpdated")) if isinstance(meta, dict) else None
    try:
        return record.describe(resource).effective_start
    except Invalid:
        return None


def sort_merged(
    resources: list[dict[str, Any]], sort: list[tuple[str, bool]]
) -> list[dict[str, Any]]:
    """``resources`` sorted by ``sort`` (first key first), as the record sorts its own: a
    resource without the time comes after those with it, either way; ties keep the order
    given (stable)."""
    out = list(resources)
    for key, desc in reversed(sort):
        keyed = [(_sort_key(r, key), r) for r in out]
        timed = [(k, r) for k, r in keyed if k is not None]
        timed.sort(key=lambda kr: kr[0], reverse=desc)  # type: ignore[arg-type,return-value]
        out = [r for _, r in timed] + [r for k, r in keyed if k is None]
    return out


async def _merged_search(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    kind: str,
    items: list[tuple[str, str]],
) -> dict[str, Any]:
    names = MERGED_IDENTIFIER if kind == "identifier" else MERGED[resource_type]
    params = Params(items, names | _RESULT)
    sources = _sources(resource_type, kind, params)
    ours_allowed = allowed(principal.role, "record:read")
    theirs_allowed = [(h, p) for h, p in sources if allowed(principal.role, p)]
    if not ours_allowed and len(theirs_allowed) <= 1:
        # as before the record: the other route answers (or refuses) alone
        handler, permission = theirs_allowed[0] if theirs_allowed else sources[0]
        await Require(permission)(request)
        return _answer(await handler(_with_query(request, items), session, principal))
    q = _query(resource_type, params)
    assert q is not None
    if any(key == "_id" for key, _ in q.sort):
        raise Invalid.fields(
            [
                FieldError(
                    "_sort",
                    N_(
                        "A search by patient answers another register's resources too, whose "
                        "ids have no order with the shared record's: sort by date or "
                        "_lastUpdated."
                    ),
                )
            ]
        )
    theirs: list[dict[str, Any]] = []
    for handler, _permission in theirs_allowed:
        theirs += await _theirs(request, session, principal, handler, items)
    limit, offset = q.limit, q.offset
    if not ours_allowed:
        ours_total, ours_items = 0, []
    elif q.sort and limit:
        # merged, then sorted: the first offset+limit of ours in that order are all a page
        # of both can hold
        page = await record.search_resources(
            session,
            principal,
            resource_type,
            q.model_copy(update={"offset": 0, "limit": offset + limit}),
        )
        ours_total, ours_items = page.total, [mapper.to_fhir(s) for s in page.items]
    else:
        shown_theirs = theirs[offset : offset + limit]
        page = await record.search_resources(
            session,
            principal,
            resource_type,
            q.model_copy(
                update={
                    "offset": max(0, offset - len(theirs)),
                    "limit": limit - len(shown_theirs),
                }
            ),
        )
        ours_total = page.total
        resources = shown_theirs + [mapper.to_fhir(s) for s in page.items]
        return _searchset(
            request, resource_type, params, resources, len(theirs) + ours_total, limit, offset
        )
    merged = sort_merged(theirs + ours_items, q.sort) if q.sort else theirs + ours_items
    return _searchset(
        request,
        resource_type,
        params,
        merged[offset : offset + limit],
        len(theirs) + ours_total,
        limit,
        offset,
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
        merged = MERGED_IDENTIFIER if kind == "identifier" else MERGED[resource_type]
        names = _element_names(Params(items, merged | _RESULT))
        bundle = await _merged_search(request, session, principal, resource_type, kind, items)
        return _with_elements(bundle, names)
    await Require("record:read")(request)
    refused = unmergeable(resource_type, items)
    if refused:
        raise Invalid.fields(
            [
                FieldError(
                    name,
                    N_(
                        "A search by patient answers another register's resources too, which "
                        "this parameter cannot filter; search by subject for the shared "
                        "record's alone."
                    ),
                )
                for name in refused
            ]
        )
    params = Params(
        items,
        frozenset(SEARCH_PARAMS[resource_type]) | MODIFIERS[resource_type] | _RESULT | _OWN_RESULT,
    )
    names = _element_names(params)
    includes, revincludes = _include_wanted(resource_type, params)
    q = _query(resource_type, params)
    limit, offset = _count(params)
    if q is None:
        return _searchset(request, resource_type, params, [], 0, limit, offset)
    page = await record.search_resources(session, principal, resource_type, q)
    bundle = _searchset(
        request,
        resource_type,
        params,
        [mapper.to_fhir(s) for s in page.items],
        page.total,
        limit,
        offset,
    )
    if page.items and (includes or revincludes):
        base = base_url(request)
        extra = await _included(
            session, principal, resource_type, page.items, includes, revincludes
        )
        bundle["entry"] += [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "include"},
            }
            for r in extra
        ]
    return _with_elements(bundle, names)
