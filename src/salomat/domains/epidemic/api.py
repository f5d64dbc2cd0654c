"""REST routes of epidemic surveillance (/api/v1/epidemic/...): case notifications (entry,
read, search, CSV import and export), daily counts by area, registered beds and daily
occupancy (docs/epidemic.md "API").

A notification is a diagnosis: entered by the notifying clinicians (``epidemic:report``),
read by the epidemiologist (``epidemic:cases``) and the notifying facility; counts and
capacity are aggregates (``epidemic:read``), small counts suppressed for the analyst.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from salomat.core.downloads import CsvFile, csv_download
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import RowId
from salomat.core.policy import Require, RequireAny
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.api_params import (
    _INVALID,
    Area,
    AreaDays,
    Language,
    counts_query,
    notifications_query,
)
from salomat.domains.epidemic.schemas import (
    AreaCountsOut,
    BedsIn,
    BedsOut,
    CapacityOut,
    CountsOut,
    NotificationImportOut,
    NotificationIn,
    NotificationOut,
    NotificationPage,
    OccupancyIn,
    OccupancyOut,
)
from salomat.domains.epidemic.service import capacity, counts, notification_csv, notifications

api = router(prefix="/api/v1/epidemic", tags=["epidemic"])
routers = [api]

Reporter = Annotated[Principal, Depends(Require("epidemic:report"))]
CaseReader = Annotated[Principal, Depends(Require("epidemic:cases"))]
OneReader = Annotated[Principal, Depends(RequireAny("epidemic:cases", "epidemic:report"))]
Reader = Annotated[Principal, Depends(Require("epidemic:read"))]
CapacityReporter = Annotated[Principal, Depends(Require("epidemic:capacity"))]
CapacityReader = Annotated[Principal, Depends(RequireAny("epidemic:read", "epidemic:capacity"))]
#: ``district``, ``from``, ``to``, ``by`` of the notifications' search and export
NotificationsQuery = Annotated[AreaDays, Depends(notifications_query)]
#: ``area``, ``from``, ``to``, ``by`` of the daily counts
CountsQuery = Annotated[AreaDays, Depends(counts_query)]


@api.post("/notifications", response_model=NotificationOut, status_code=201, responses=_INVALID)
async def create_notification(
    data: NotificationIn, session: DbSession, principal: Reporter, lang: Language
) -> NotificationOut:
    """Notify a case of a notifiable disease (the pack's ICD-10 list). Refused, naming the
    field: onset after report, onset before the person's birth, a report in the future, an
    ICD-10 code unknown or not notifiable, an unknown district or facility. A retry with
    the same ``Idempotency-Key`` answers the first notification."""
    return await notifications.create_notification(session, principal, data, language=lang)


@api.get("/notifications", response_model=NotificationPage, responses=_INVALID)
async def search_notifications(
    session: DbSession,
    principal: CaseReader,
    lang: Language,
    q: NotificationsQuery,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NotificationPage:
    """Notifications of a district or region by report (or onset) date, newest first; each
    one shown is audited."""
    items, total = await notifications.search_notifications(
        session, principal, district=q.area, start=q.start, end=q.end, by=q.by,
        limit=limit, offset=offset, language=lang,
    )  # fmt: skip
    return NotificationPage(items=items, total=total)


@api.get("/notifications.csv", responses=_INVALID)
async def export_notifications(
    session: DbSession, principal: CaseReader, lang: Language, q: NotificationsQuery
) -> Any:
    """The search as CSV (the import's columns), every cell neutralised: every
    notification found, up to ``EXPORT_MAX`` (more: 422 naming ``from`` and ``to``)."""
    items = await notifications.export_notifications(
        session, principal, district=q.area, start=q.start, end=q.end, by=q.by,
        language=lang,
    )  # fmt: skip
    return csv_download(CsvFile("notifications.csv", notification_csv.export_csv(items)))


@api.get("/notifications/{notification_id}", response_model=NotificationOut)
async def read_notification(
    notification_id: RowId, session: DbSession, principal: OneReader, lang: Language
) -> NotificationOut:
    """One notification: the epidemiologist's, or the notifying facility's own."""
    return await notifications.get_notification(session, principal, notification_id, language=lang)


_CSV_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
}


@api.post(
    "/notifications/import",
    response_model=NotificationImportOut,
    status_code=201,
    openapi_extra=_CSV_BODY,
    responses={
        422: {
            "description": "lines refused, each named lines.<line>.<column> (the header is "
            "line 1); nothing is stored"
        }
    },
)
async def import_notifications(
    request: Request, session: DbSession, principal: Reporter, lang: Language
) -> NotificationImportOut:
    """Notifications as CSV (text/csv): ``person_id,icd10,onset_date,report_date,district``
    and optionally ``lab_confirmed,lab_facility,hospitalised,admission_date,
    reporting_facility``. All lines or none."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid.fields([FieldError("file", N_("The file is not UTF-8 text"))]) from e
    if "\x00" in text:
        raise Invalid.fields([FieldError("file", N_("The file is not UTF-8 text"))])
    report = await notification_csv.import_csv(session, principal, text, language=lang)
    if report.issues:
        raise Invalid.fields(
            [
                FieldError(f"lines.{line}.{e.field}", e.msgid, e.params)
                for line, e in report.issues[:200]
            ]
        )
    return NotificationImportOut(lines=report.lines, imported=len(report.ids), ids=report.ids)


@api.get("/counts", response_model=CountsOut, responses=_INVALID)
async def read_counts(
    session: DbSession, principal: Reader, lang: Language, q: CountsQuery
) -> CountsOut:
    """Daily cases: the country by region (no ``area``), a region by district, or one
    district, over ``from..to`` (default the last 28 days). Counts of 1-4 are shown as
    "<5" to readers who do not read notifications."""
    start, end = q.window(notifications.today())
    result, areas, suppressed = await counts.published_counts(
        session, principal, area=q.area, start=start, end=end, by=q.by, language=lang
    )
    return CountsOut(
        by=q.by,
        days=list(result.days),
        areas=[
            AreaCountsOut(code=a.code, name=a.name, level=a.level, counts=a.counts) for a in areas
        ],
        suppressed=suppressed,
    )


@api.post("/beds", response_model=BedsOut, status_code=201, responses=_INVALID)
async def register_beds(data: BedsIn, session: DbSession, principal: CapacityReporter) -> BedsOut:
    """Beds of a profile (the pack's: infectious, icu, general) at a facility from a day
    on; the same facility, profile and day again replaces the number."""
    return await capacity.register_beds(session, principal, data)


@api.post("/occupancy", response_model=OccupancyOut, status_code=201, responses=_INVALID)
async def report_occupancy(
    data: OccupancyIn, session: DbSession, principal: CapacityReporter, lang: Language
) -> OccupancyOut:
    """A day's occupancy of a profile at a facility; refused, naming the field: occupied
    above the beds registered (with their number), a negative count, a future day."""
    return await capacity.report_occupancy(session, principal, data, language=lang)


@api.get("/occupancy", response_model=CapacityOut, responses=_INVALID)
async def read_occupancy(
    session: DbSession,
    principal: CapacityReader,
    lang: Language,
    day: date,
    facility: Area = None,
    region: Area = None,
) -> CapacityOut:
    """Beds and occupancy on ``day`` of a facility, or summed over a region (neither: the
    country). A reporter without ``epidemic:read`` sees their own facility only."""
    return await capacity.read_capacity(session, principal, facility, region, day, language=lang)
