"""The family doctor's page of the shared health record: what other medical information
systems sent for a patient (``GET /patients/{person_id}/record``), newest first.

Each entry says when, what kind (a visit, a diagnosis, a result...), what (the text the
sender gave its code), its value or status and who sent it: the sending facility named in
the page's language and the sender by name. A visit's diagnoses, results and procedures
are shown under it. The service reads the timeline in the reader's scope and audits the
read once; a person outside it answers 404 like every person page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.config import get_settings
from salomat.core.errors import N_
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.core.user_names import user_names
from salomat.country import pack
from salomat.domains.accounts import service as accounts
from salomat.domains.record import service as record
from salomat.domains.record.schemas import TimelineEntry
from salomat.domains.registry import service as registry
from salomat.ui.templating import render, speaking

__all__ = ["web"]

web = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("record:read"))]

#: the newest entries the page shows (the FHIR search reads the rest)
LIMIT = 200

#: what each kind of resource is called on the page (the access log names them alike)
KIND_LABELS: dict[str, str] = accounts.SHARED_RECORD_KINDS
#: an Observation of these categories is a measurement (FHIR observation-category codes)
MEASUREMENT_CATEGORIES = frozenset({"vital-signs", "exam", "activity"})
MEASUREMENT = N_("Measurement")
#: an Encounter by its class (v3 ActCode): a stay in hospital, an emergency visit
ENCOUNTER_CLASSES: dict[str, str] = {
    "IMP": N_("Hospital stay"),
    "ACUTE": N_("Hospital stay"),
    "NONAC": N_("Hospital stay"),
    "EMER": N_("Emergency visit"),
}

#: the FHIR status and clinical-status codes a sender gives, in the page's language
#: (Encounter.status, Condition.clinicalStatus, Observation.status, ...); any other code
#: is shown as sent
STATUS_LABELS: dict[str, str] = {
    "planned": N_("planned"),
    "arrived": N_("arrived"),
    "in-progress": N_("in progress"),
    "onleave": N_("on leave"),
    "finished": N_("finished"),
    "cancelled": N_("cancelled"),
    "entered-in-error": N_("entered in error"),
    "active": N_("active"),
    "recurrence": N_("recurrence"),
    "relapse": N_("relapse"),
    "inactive": N_("inactive"),
    "remission": N_("remission"),
    "resolved": N_("resolved"),
    "registered": N_("registered"),
    "preliminary": N_("preliminary"),
    "final": N_("final"),
    "amended": N_("amended"),
    "corrected": N_("corrected"),
    "completed": N_("completed"),
    "not-done": N_("not done"),
    "stopped": N_("stopped"),
    "current": N_("in force"),  # a document's status
    "superseded": N_("superseded"),
}


@dataclass
class Row:
    """One line of the timeline, with what a visit holds under it."""

    entry: TimelineEntry
    kind: str
    when: str | None
    until: str | None
    facility: str | None
    sender: str
    children: list[Row] = field(default_factory=list)


def kind_of(e: TimelineEntry) -> str:
    """The kind's label (a msgid): an Observation of the vital signs is a measurement, an
    inpatient Encounter a hospital stay."""
    if e.resource_type == "Observation" and e.category in MEASUREMENT_CATEGORIES:
        return MEASUREMENT
    if e.resource_type == "Encounter" and e.category in ENCOUNTER_CLASSES:
        return ENCOUNTER_CLASSES[e.category]
    return KIND_LABELS.get(e.resource_type, e.resource_type)


def _utc(at: datetime) -> datetime:
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)


def _day_only(at: datetime) -> bool:
    return _utc(at).time() == datetime.min.time()


def shown(at: datetime | None, *, day: bool = False) -> str | None:
    """A moment as the pack writes it, in the country's time (``02.11.2026 14:30``), or
    its day alone (``day``: a date sent without a time, kept from midnight UTC)."""
    if at is None:
        return None
    if day:
        return _utc(at).strftime("%d.%m.%Y")
    return _utc(at).astimezone(pack.time_zone(get_settings().country)).strftime("%d.%m.%Y %H:%M")


def span(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    """When an entry happened, as "from" and "until" (``None`` for a moment or when the
    end reads as the start). A day sent without a time is shown as the day."""
    if start is None:
        return None, None
    days = _day_only(start) and (end is None or _day_only(end))
    first = shown(start, day=days)
    last = shown(end, day=days) if end is not None and end > start else None
    return first, (last if last != first else None)


def group(rows: list[Row]) -> list[Row]:
    """Entries sent under a visit of the timeline go under it (in the timeline's order);
    the others, and the visits, stay in the order they came (newest first)."""
    visits = {r.entry.fhir_id: r for r in rows if r.entry.resource_type == "Encounter"}
    top = []
    for r in rows:
        parent = visits.get(r.entry.encounter_fhir_id or "")
        if parent is not None and parent is not r:
            parent.children.append(r)
        else:
            top.append(r)
    return top


@web.get("/patients/{person_id}/record", response_class=HTMLResponse)
async def record_page(
    request: Request, session: DbSession, person_id: RowId, principal: Reader
) -> Response:
    """The patient's shared health record, newest first."""
    with speaking(request):  # the sending facilities named in the page's language
        entries = await record.timeline(session, principal, person_id, limit=LIMIT + 1)
    more, entries = len(entries) > LIMIT, entries[:LIMIT]
    person = (await registry.person_briefs(session, [person_id]))[person_id]
    names = await user_names(session, (e.sender for e in entries))
    rows = [
        Row(
            entry=e,
            kind=kind_of(e),
            when=span(e.start, e.end)[0] or shown(e.last_updated),
            until=span(e.start, e.end)[1],
            facility=e.sender_facility_name or e.sender_facility_code,
            sender=names.get(e.sender, e.sender),
        )
        for e in entries
    ]
    ctx: dict[str, Any] = {
        "person": person,
        "rows": group(rows),
        "more": more,
        "limit": LIMIT,
        "statuses": STATUS_LABELS,
    }
    return render(request, "record/timeline.html", ctx)
