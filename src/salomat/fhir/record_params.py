"""The shared record's search parameters (SEARCH_PARAMS), their reading into the
service's RecordQuery (``read_query``), the searchset Bundle and ``_elements``: what the
record's own searches (record_search.py), the merged ones (record_merged.py) and the
includes (record_include.py) share. Which searches are merged (MERGED, ``merge_kind``,
``unmergeable``) is named here as record_claims.py reads it too.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.fhir_dates import date_value
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
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
        "patient": (
            "reference",
            f"the person, Patient/<id> ({resource_type}.{person}); chained: "
            "patient.identifier or patient:Patient.identifier=<system>|<national id>",
        ),
    }
    if resource_type != "AllergyIntolerance":
        out["subject"] = (
            "reference",
            "the person, Patient/<id> (as patient); chained: subject.identifier or "
            "subject:Patient.identifier=<system>|<national id>",
        )
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
        "type has it); prefixes eq ne lt le gt ge sa eb ap; repeated: all of them, comma in "
        "one value: any of them (date=lt2020,gt2024)",
    )
    if resource_type != "Encounter":
        out["encounter"] = ("reference", "the shared record's Encounter, Encounter/shr-<n>")
    out["_lastUpdated"] = (
        "date",
        "when the platform stored the version; prefixes, repeats and commas as date",
    )
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
RESULT = PAGING | {"_summary", "_sort", "_elements", "_total", "_totalMethod"}
#: ``_total`` (R4) and ``_totalMethod`` (fhirpy's count() sends it): the total is always
#: counted exactly, whichever is asked
TOTALS = ("none", "estimate", "accurate", "count")
#: what the record's own searches take besides SEARCH_PARAMS and RESULT (a search by
#: patient naming one is the record's alone, refused naming it as ``unmergeable`` says)
OWN_RESULT = frozenset({"_include", "_revinclude"})
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
    names = {k for k, _ in items} - RESULT - OWN_RESULT
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
    names = {k for k, _ in items} - RESULT - OWN_RESULT
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


Dates = list[tuple[str, datetime, datetime]]


def date_values(params: Params, name: str) -> tuple[Dates, list[Dates]]:
    """Each value as (prefix, start, end): the interval its precision implies, read by the
    shared date parser (core.fhir_dates). Repeated values must all hold (AND); a value
    with commas is one group of alternatives (OR), returned apart."""
    single: Dates = []
    groups: list[Dates] = []
    for k, raw in params.items:
        if k != name:
            continue
        if "," in raw:
            groups.append([date_value(v, name) for v in raw.split(",")])
        else:
            single.append(date_value(raw, name))
    return single, groups


def page_size(params: Params) -> tuple[int, int]:
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
    for name in ("_total", "_totalMethod"):
        if params.get(name) not in (None, *TOTALS):
            raise Invalid.fields(
                [FieldError(name, N_("must be one of %(values)s"), {"values": ", ".join(TOTALS)})]
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


def read_query(resource_type: str, params: Params) -> RecordQuery | None:
    """The service query; None when nothing can match (an _id or encounter not ours)."""
    limit, offset = page_size(params)
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
    dates, date_any = date_values(params, "date")
    updated, updated_any = date_values(params, "_lastUpdated")
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
        date=dates,
        date_any=date_any,
        last_updated=updated,
        last_updated_any=updated_any,
        encounter_id=encounter_id,
        sort=_sort(params),
        offset=offset,
        limit=limit,
    )


def searchset_of(
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
#: the choice elements of the record's types and Patient: ``_elements=value`` keeps
#: valueQuantity, ``_elements=deceased`` deceasedBoolean, …
_CHOICES = frozenset(
    {"value", "effective", "onset", "abatement", "performed", "occurrence", "deceased",
     "multipleBirth"}
)  # fmt: skip
_ELEMENT = re.compile(r"^[a-z][A-Za-z0-9]{0,63}$")
ELEMENTS_DOC = (
    "top-level elements to return, comma-separated (value: value[x], as for effective, "
    "onset, abatement, performed); each match keeps them with id, meta and the elements "
    "its type requires, and is tagged SUBSETTED; included resources are whole"
)


def element_names(params: Params) -> frozenset[str] | None:
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


@cache
def _mandatory(resource_type: str) -> frozenset[str]:
    """The top-level elements R4 requires of a type (``Encounter.class``, ``status``): a
    subset keeps them whether asked for or not (R4 search.html#elements: "Servers SHOULD
    always return mandatory elements")."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        return frozenset()
    return frozenset(
        f.alias or name
        for name, f in model.model_fields.items()
        if f.is_required() or (f.json_schema_extra or {}).get("element_required")
    )


def subset(resource: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """``resource`` with only the top-level elements ``names`` (and resourceType, id, meta
    and the elements its type requires), meta.tag SUBSETTED added."""
    names = names | _mandatory(str(resource.get("resourceType")))
    out = {k: v for k, v in resource.items() if _kept(k, names)}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def with_elements(bundle: dict[str, Any], names: frozenset[str] | None) -> dict[str, Any]:
    if names is None:
        return bundle
    for entry in bundle.get("entry", []):
        if entry.get("search", {}).get("mode", "match") == "match":
            entry["resource"] = subset(entry["resource"], names)
    return bundle
