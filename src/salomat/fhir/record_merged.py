"""The searches another register answers too (record_params.MERGED): a search by
``patient`` alone (or with the register's own filters) of Encounter, Observation,
Condition or DocumentReference is answered by the register's (or sick leave's) route and
the record's together: theirs first, as their route gives them, then the record's of the
same person, paged and counted across both (a Condition search also answers the
disease-management programmes' diagnoses, fhir/screening_dmp.py, after the register's,
an Observation search the screening measurements and follow-up readings);
so is ``Condition?identifier=…`` with the cancer registry's tumours (MERGED_IDENTIFIER),
and ``Observation?patient=…&code=<TNM stage code>`` with the cancer registry's stages too.
With ``_sort`` both shares are merged, then sorted (``sort_merged``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.fhir_dates import fhir_interval
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from salomat.fhir import cancer_api, maternal_api, sick_leave_api
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    Params,
)
from salomat.fhir.record_chain import is_chain
from salomat.fhir.record_params import (
    MERGED,
    MERGED_IDENTIFIER,
    OWN_RESULT,
    RESULT,
    read_query,
    searchset_of,
)

# ---- the other domains' share, for the searches both answer ---------------------------------

#: the route of the register (or sick leave) answering the same search, and its permission
Handler = Callable[[Request, Any, Principal], Awaitable[Response]]
_OTHERS: dict[str, tuple[Handler, str]] = {
    "Encounter": (maternal_api.search_encounters, "pregnancy:read"),
    "Observation": (maternal_api.search_observations, "pregnancy:read"),
    "Condition": (maternal_api.search_conditions, "pregnancy:read"),
    "DocumentReference": (sick_leave_api.search_documents, "sick_leave:read"),
}


def _withread_query(request: Request, items: list[tuple[str, str]]) -> Request:
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
    items = [(k, v) for k, v in items if k not in RESULT | OWN_RESULT]
    top = get_settings().max_page_size
    out: list[dict[str, Any]] = []
    while True:
        q = [*items, ("_count", str(top)), ("_offset", str(len(out)))]
        body = _answer(await handler(_withread_query(request, q), session, principal))
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
    if resource_type == "Condition":
        # the disease-management programmes' diagnoses (fhir/screening_dmp.py)
        from salomat.fhir import screening_dmp

        out.append((screening_dmp.search_conditions, "screening:read"))
    if resource_type == "Encounter":
        # the mobile medical teams' visits (fhir/mobile_encounter.py)
        from salomat.fhir import mobile_encounter

        out.append((mobile_encounter.search_encounters, mobile_encounter.PERMISSION))
    if resource_type == "Observation":
        # the screening measurements and the follow-up readings (fhir/screening_api.py)
        from salomat.fhir import screening_api

        out.append((screening_api.search_screening_observations, "screening:read"))
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


async def merged_search(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    kind: str,
    items: list[tuple[str, str]],
    persons: list[int] | None = None,
) -> dict[str, Any]:
    """The merged searchset of ``items``. ``persons``: the persons a chain on ``patient``
    named (``patient.identifier=…``, record_chain.py), each searched on the other route as
    ``patient=<id>`` (a person it refuses, out of the caller's scope, adds nothing: a
    chain is a search, not a read), the record's share by all of them; None for a search
    by ``patient`` itself. There, a person the other route refuses (404: out of scope) is
    still answered with what the caller's facility sent of the record (its sender's
    right), the other share left out; with nothing sent, the refusal stands as before."""
    names = MERGED_IDENTIFIER if kind == "identifier" else MERGED[resource_type]
    chained = persons is not None
    own_items = [(k, v) for k, v in items if not is_chain(k)] if chained else items
    link = Params(
        items, names | RESULT | OWN_RESULT | frozenset(k for k, _ in items if is_chain(k))
    )
    params = Params(own_items, names | RESULT | OWN_RESULT)
    sources = _sources(resource_type, kind, params)
    ours_allowed = allowed(principal.role, "record:read")
    theirs_allowed = [(h, p) for h, p in sources if allowed(principal.role, p)]
    if not chained and not ours_allowed and len(theirs_allowed) <= 1:
        # as before the record: the other route answers (or refuses) alone
        handler, permission = theirs_allowed[0] if theirs_allowed else sources[0]
        await Require(permission)(request)
        return _answer(await handler(_withread_query(request, items), session, principal))
    if not ours_allowed and not theirs_allowed:
        await Require(sources[0][1])(request)
    q = read_query(resource_type, params)
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
    if persons is not None:
        if q.person_id is not None:
            persons = [p for p in persons if p == q.person_id]
        if not persons:
            return searchset_of(request, resource_type, link, [], 0, q.limit, q.offset)
        q = q.model_copy(update={"person_id": None, "person_ids": persons})
    theirs: list[dict[str, Any]] = []
    refused = False
    rest = [(k, v) for k, v in own_items if k != "patient"]
    mobile_share = False
    for handler, _permission in theirs_allowed:
        if resource_type == "Encounter":
            # the mobile teams' reads are audited for the page shown (audit_shown, below)
            from salomat.fhir import mobile_encounter

            if handler is mobile_encounter.search_encounters:
                handler, mobile_share = mobile_encounter.search_unaudited, True
        for asked in [[*rest, ("patient", str(p))] for p in persons] if persons else [own_items]:
            try:
                theirs += await _theirs(request, session, principal, handler, asked)
            except NotFound:
                if not chained and not await _sent(session, principal, kind, ours_allowed, q):
                    raise
                refused = True
    if refused:
        # the other route's refusals (audited as denials once the request fails) stand
        # beside an answer: written now
        await audit.write_after_rollback(session)
    bundle = await _with_ours(
        request, session, principal, resource_type, link, q, theirs, ours_allowed
    )
    if mobile_share:
        from salomat.fhir import mobile_encounter

        await mobile_encounter.audit_shown(session, principal, bundle)
    return bundle


async def _sent(
    session: Any, principal: Principal, kind: str, ours_allowed: bool, q: RecordQuery
) -> bool:
    """Whether a search by ``patient`` the other route refused may still answer the
    record's share: the caller reads the record and its facility sent some of it for
    that person."""
    return (
        kind == "patient"
        and ours_allowed
        and q.person_id is not None
        and await record.sent_for(session, principal, q.person_id)
    )


async def _with_ours(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    params: Params,
    q: RecordQuery,
    theirs: list[dict[str, Any]],
    ours_allowed: bool,
) -> dict[str, Any]:
    """The page of ``theirs`` then the record's share of ``q`` (or both sorted)."""
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
        return searchset_of(
            request, resource_type, params, resources, len(theirs) + ours_total, limit, offset
        )
    merged = sort_merged(theirs + ours_items, q.sort) if q.sort else theirs + ours_items
    return searchset_of(
        request,
        resource_type,
        params,
        merged[offset : offset + limit],
        len(theirs) + ours_total,
        limit,
        offset,
    )
