"""FHIR search of the shared health record (fhir/record_api.py serves it):
``search_bundle``, the searchset Bundle that ``GET /fhir/<Type>?…`` and a Bundle's
``GET <Type>?…`` entry (fhir/bundle.py) both answer, and what /fhir/metadata declares of
it (``capability``).

By use case: record_params.py reads the parameters into the service's RecordQuery (and
``_elements``); record_include.py answers ``_include`` / ``_revinclude``;
record_merged.py the searches another register answers too (MERGED). A search by
``patient`` naming a parameter of the record's that the other route cannot answer is
refused naming it (``unmergeable``), never answered with one share alone.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    Params,
    base_url,
)
from salomat.fhir.record_chain import (
    CHAIN_DOC,
    chained_persons,
    chains,
    merged_chain,
    refused_chains,
)
from salomat.fhir.record_include import (
    INCLUDE_DOC,
    INCLUDES,
    include_wanted,
    included,
    person_of,
)
from salomat.fhir.record_merged import Handler, merged_search, sort_merged
from salomat.fhir.record_params import (
    ELEMENTS_DOC,
    MERGED,
    MERGED_IDENTIFIER,
    MODIFIERS,
    MODIFIERS_DOC,
    OWN_RESULT,
    RESOURCE_TYPES,
    RESULT,
    SEARCH_PARAMS,
    SHARED,
    THEIRS,
    element_names,
    merge_kind,
    page_size,
    parse_token,
    read_query,
    searchset_of,
    unmergeable,
    with_elements,
)
from salomat.fhir.search_handling import lenient, split_known, with_ignored

__all__ = [
    "RESOURCE_TYPES",
    "SEARCH_PARAMS",
    "SHARED",
    "THEIRS",
    "Handler",
    "capability",
    "merge_kind",
    "parse_token",
    "search_bundle",
    "sort_merged",
]


def capability(resource_type: str) -> dict[str, Any]:
    """What the CapabilityStatement declares of the record's search besides SEARCH_PARAMS
    (record_api's ``_capability``): the result parameters with their definitions, in the
    type's documentation (R4 lists search parameters in searchParam, and the other
    registers sharing a type list exactly theirs and ours there)."""
    return {
        "documentation": f"_elements: {ELEMENTS_DOC}; _include, _revinclude: {INCLUDE_DOC}; "
        f"modifiers: {MODIFIERS_DOC}; {CHAIN_DOC}; Prefer: {HANDLING_DOC}; _total (none, "
        "estimate, accurate) and _totalMethod=count taken, the total always exact",
        "searchInclude": [f"{resource_type}:{p}" for p in INCLUDES[resource_type]],
        "searchRevInclude": [
            f"{t}:encounter" for t in RESOURCE_TYPES if resource_type == "Encounter" != t
        ],
    }


HANDLING_DOC = (
    "handling=lenient leaves out a parameter the search does not take and says so in an "
    "OperationOutcome entry (search.mode outcome); handling=strict (the default) refuses "
    "it (422 naming it)"
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
    ignored: list[str] = []
    if lenient(request.headers.get("prefer")):
        items, ignored = split_known(items, lambda k: k in known_params(resource_type))
    kind = merge_kind(resource_type, items) if resource_type in SHARED else None
    named: list[int] | None = None
    if kind is None and merged_chain(resource_type, items):
        # patient.identifier=…: merged as patient=<each person it names>
        kind, named = "patient", await chained_persons(session, resource_type, items)
    if kind is not None:
        merged = MERGED_IDENTIFIER if kind == "identifier" else MERGED[resource_type]
        params = Params(items, merged | RESULT | OWN_RESULT | chains(resource_type))
        names = element_names(params)
        includes, revincludes = include_wanted(resource_type, params)
        bundle = await merged_search(request, session, principal, resource_type, kind, items, named)
        page = [e["resource"] for e in bundle.get("entry", [])]
        if page and (includes or revincludes):
            shown = [p for r in page if (p := person_of(r)) is not None]
            extra = await included(
                session, principal, resource_type, page, shown, includes, revincludes
            )
            _add_included(request, bundle, extra)
        return with_ignored(with_elements(bundle, names), ignored)
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
    known = known_params(resource_type)
    unknown = {k for k, _ in items} - known
    if unknown:
        chained = refused_chains(resource_type, unknown)
        named = {e.field for e in chained}
        raise Invalid.fields(
            chained
            + [FieldError(k, N_("unsupported search parameter")) for k in sorted(unknown - named)]
        )
    persons = await chained_persons(session, resource_type, items)
    params = Params(items, known)
    names = element_names(params)
    includes, revincludes = include_wanted(resource_type, params)
    q = read_query(resource_type, params)
    limit, offset = page_size(params)
    if q is not None and persons is not None:
        q = q.model_copy(update={"person_ids": persons}) if persons else None
    if q is None:
        return with_ignored(
            searchset_of(request, resource_type, params, [], 0, limit, offset), ignored
        )
    page = await record.search_resources(session, principal, resource_type, q)
    bundle = searchset_of(
        request,
        resource_type,
        params,
        [mapper.to_fhir(s) for s in page.items],
        page.total,
        limit,
        offset,
    )
    if page.items and (includes or revincludes):
        matches = [e["resource"] for e in bundle["entry"]]
        shown = [s.person_id for s in page.items]
        extra = await included(
            session, principal, resource_type, matches, shown, includes, revincludes
        )
        _add_included(request, bundle, extra)
    return with_ignored(with_elements(bundle, names), ignored)


def _add_included(request: Request, bundle: dict[str, Any], extra: list[dict[str, Any]]) -> None:
    base = base_url(request)
    bundle.setdefault("entry", []).extend(
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "include"},
        }
        for r in extra
    )


def known_params(resource_type: str) -> frozenset[str]:
    """Every parameter name a search of ``resource_type`` takes (a lenient search leaves
    out the others)."""
    return (
        frozenset(SEARCH_PARAMS[resource_type])
        | MODIFIERS[resource_type]
        | RESULT
        | OWN_RESULT
        | chains(resource_type)
    )
