"""Mobile medical teams' visits as FHIR R4 Encounters (issue 22 item 5): one Encounter
``mobile-<visit>-<person>`` per person seen, class ``FLD`` (field), finished on the visit
day at the settlement's Location, the team's facility as serviceProvider and the
services given as ``type``. Read by id, searched by ``patient`` (merged with the other
registers' Encounters, fhir/record_merged.py), by ``location`` (a settlement) with
``date``, and by ``_id``.

Everything goes through the planning service (service/mobile_visits.py), which checks
the reader's scope set-wise and audits each encounter shown; the permission is
``planning:mobile`` (a team's nurse and the family doctor), 403 for any other role.
No parent Encounter for the visit itself: docs/fhir.md, "Mobile medical teams".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from fhir.resources.R4B.encounter import Encounter
from starlette.types import Scope

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.fhir_dates import LATEST, date_value, parse_date_param, split_prefix
from salomat.core.params import parse_row_id
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import pack
from salomat.domains.planning.service import mobile, mobile_visits
from salomat.domains.planning.service.mobile_visits import MobileEncounter
from salomat.fhir import capability
from salomat.fhir.common import (
    PAGING,
    TERRITORY_SYSTEM,
    Params,
    base_url,
    claimed_route,
    fhir_response,
    meta,
    query_of,
    reference_param,
    resource_response,
    searchset,
    validated,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
PERMISSION = "planning:mobile"
Reader = Annotated[Principal, Depends(Require(PERMISSION))]

PREFIX = "mobile-"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
FIELD = ("FLD", "field")
#: the services a team gives (planning's SERVICES), published by the terminology
SERVICE_SYSTEM = "urn:salomat:mobile-service"
SERVICE_NAMES = {
    "consultation": N_("Consultation"),
    "screening": N_("Screening"),
    "vaccination": N_("Vaccination"),
    "prescription": N_("Prescription"),
    "referral": N_("Referral"),
}
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": (
        "reference",
        "mobile medical teams: the visits that saw the person (merged with the other "
        "registers' Encounters)",
    ),
    "location": (
        "reference",
        "mobile medical teams: the settlement visited, Location/<territory id> (people in "
        "the reader's scope only)",
    ),
    "date": (
        "date",
        "mobile medical teams: with location, the visit day (prefixes eq ge gt le lt sa eb)",
    ),
    "_id": ("token", "mobile medical teams: mobile-<visit>-<person> (comma: any of them)"),
}
DOCS = (
    "Mobile medical teams: one Encounter per person seen during a visit to a settlement, "
    "ids mobile-<visit>-<person>, class FLD; permission planning:mobile"
)


def parse_id(value: str) -> tuple[int, int] | None:
    """(visit, person) of ``mobile-<visit>-<person>``, None when it is not one."""
    if not value.startswith(PREFIX):
        return None
    visit, dash, person = value.removeprefix(PREFIX).partition("-")
    v, p = parse_row_id(visit), parse_row_id(person)
    return (v, p) if dash and v is not None and p is not None else None


def encounter(e: MobileEncounter) -> dict[str, Any]:
    day = e.visited_on.isoformat()
    resource = {
        "resourceType": "Encounter",
        "id": e.id,
        "meta": meta(1, e.recorded_at),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": FIELD[0], "display": FIELD[1]},
        "type": [
            {"coding": [{"system": SERVICE_SYSTEM, "code": c, "display": SERVICE_NAMES.get(c, c)}]}
            for c in e.services
        ],
        "subject": {"reference": f"Patient/{e.person_id}"},
        "period": {"start": day, "end": day},
        "location": [
            {
                "location": {
                    "reference": f"Location/{e.settlement_id}",
                    "identifier": {"system": TERRITORY_SYSTEM, "value": e.settlement_code},
                    "display": e.settlement_name,
                }
            }
        ],
        "serviceProvider": {"reference": f"Organization/{e.facility_id}"},
    }
    return validated(Encounter, resource)


# ---- routes ----------------------------------------------------------------------------


def _missing(rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": "Encounter", "id": rid}
    )


async def read_mobile_encounter(
    request: Request, session: Session, encounter_id: str, principal: Reader
) -> Response:
    parsed = parse_id(encounter_id)
    if parsed is None:
        raise _missing(encounter_id)
    e = await mobile.get_encounter(session, principal, *parsed)
    return resource_response(request, encounter(e))


def _days(values: list[str]) -> tuple[date, date]:
    """The visit days ``date`` covers (both included; none when the first is after the
    last): a day matches when any of it lies in the interval the values give. A visit day
    is the country's civil day (``pack.time_zone``): an instant is read on the country's
    clock (``2026-03-04T23:30Z`` is already the 5th in Tashkent), a date without a time is
    that day as such."""
    parse_date_param(values)  # refuses what the shared record's date search refuses
    zone = pack.time_zone(get_settings().country)
    since: datetime | None = None
    until: datetime | None = None
    for raw in values:
        prefix, value = split_prefix(raw)
        _, start, end = date_value(raw, "date")
        if "T" in value:  # an instant: on the country's clock
            start, end = _local(start, zone), _local(end, zone)
        else:  # a day, month or year: its days as such (read at UTC midnights)
            start, end = _naive(start), _naive(end)
        if prefix == "eq":
            since, until = _later(since, start), _earlier(until, end)
        elif prefix == "ge":
            since = _later(since, start)
        elif prefix in ("gt", "sa"):
            since = _later(since, end)
        elif prefix in ("lt", "eb"):
            until = _earlier(until, start)
        else:  # le
            until = _earlier(until, end)
    first, last = FIRST_DAY, LAST_DAY
    if since is not None:
        first = max(first, since.date())
    if until is not None:
        day = until.date()
        if until.time() == time(0):  # the interval stops as that day begins
            day = day - timedelta(days=1) if day > FIRST_DAY else FIRST_DAY - timedelta(days=1)
        last = min(last, day)
    return first, last


def _naive(t: datetime) -> datetime:
    return datetime.max if t == LATEST else t.replace(tzinfo=None)


def _local(t: datetime, zone: tzinfo) -> datetime:
    """``t`` on the country's clock, naive; past the last day a clock can show, the last."""
    if t == LATEST:
        return datetime.max
    try:
        return t.astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        return datetime.max if t.year > 1 else datetime.min


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _ids(raw: str) -> list[tuple[int, int]]:
    out = []
    for v in raw.split(","):
        parsed = parse_id(v)
        if parsed is None:
            raise Invalid.fields(
                [FieldError("_id", N_("%(value)s is not a mobile encounter id"), {"value": v})]
            )
        out.append(parsed)
    return list(dict.fromkeys(out))


async def search_encounters(
    request: Request, session: Any, principal: Principal, *, audit_reads: bool = True
) -> JSONResponse:
    """Mobile encounters by ``patient``, ``location`` (with ``date``) or ``_id``; the
    filters given narrow each other, and the service counts and pages them and audits the
    page it answers. Also called by the merged search of ``Encounter?patient=…``
    (fhir/record_merged.py, which checks the permission) as ``search_unaudited``."""
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    page = params.page()
    person = reference_param(params.get("patient"), "Patient", "patient")
    settlement = reference_param(params.get("location"), "Location", "location")
    dates = [v for k, v in params.items if k == "date"]
    if dates and settlement is None:
        raise Invalid.fields([FieldError("date", N_("needs location"))])
    first, last = _days(dates) if dates else (FIRST_DAY, LAST_DAY)
    raw_ids = params.get("_id")
    ids = tuple(_ids(raw_ids)) if raw_ids is not None else None
    if person is None and settlement is None and ids is None:
        raise Invalid.fields([FieldError("location", N_("is required"))])
    q = mobile_visits.EncounterQuery(
        person_id=person,
        settlement_id=settlement,
        first=first,
        last=last,
        ids=ids,
        limit=page.limit,
        offset=page.offset,
    )
    total, shown = await mobile_visits.search_encounters(
        session, principal, q, audit_reads=audit_reads
    )
    return fhir_response(
        searchset(
            base_url(request), "Encounter", params.items, [encounter(e) for e in shown], total, page
        )
    )


async def search_unaudited(request: Request, session: Any, principal: Principal) -> JSONResponse:
    """``search_encounters`` with the reads left to ``audit_shown``: the merged search by
    patient gathers every register's share, then shows one page of all of them."""
    return await search_encounters(request, session, principal, audit_reads=False)


async def audit_shown(session: Any, principal: Principal, bundle: dict[str, Any]) -> None:
    """Audit the mobile encounters ``bundle`` (the merged search's answer) shows, each
    once, through one service call."""
    shown = [
        parsed
        for entry in bundle.get("entry", [])
        if entry.get("resource", {}).get("resourceType") == "Encounter"
        and (parsed := parse_id(str(entry["resource"].get("id", "")))) is not None
    ]
    if shown:
        await mobile_visits.audit_encounters(session, principal, shown)


async def search_mobile_encounters(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    return await search_encounters(request, session, principal)


def _claims_search(scope: Scope) -> bool:
    """A search naming ``location``, or an ``_id`` of mobile encounters (no other domain
    searches Encounter by location)."""
    return any(
        k == "location" or (k == "_id" and any(v.startswith(PREFIX) for v in value.split(",")))
        for k, value in query_of(scope)
    )


def _claims_read(scope: Scope) -> bool:
    return str(scope.get("path_params", {}).get("encounter_id", "")).startswith(PREFIX)


def _route(path: str, endpoint: Callable[..., Any], claim: Callable[[Scope], bool]) -> None:
    router.add_api_route(path, endpoint, methods=["GET"], route_class_override=claimed_route(claim))


_route("/Encounter", search_mobile_encounters, _claims_search)
_route("/Encounter/{encounter_id}", read_mobile_encounter, _claims_read)


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s Encounter entry with the mobile teams' share merged in."""
    entry = {
        "type": "Encounter",
        "profile": "http://hl7.org/fhir/StructureDefinition/Encounter",
        "documentation": DOCS,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": t, "documentation": d} for n, (t, d) in SEARCH_PARAMS.items()
        ],
    }
    return capability.merge(resources, [entry], label="mobile medical teams")
