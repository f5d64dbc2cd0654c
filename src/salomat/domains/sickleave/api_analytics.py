"""REST routes of the ministry's sick-leave figures (aggregates, small cells suppressed).

Included from ``api.routers`` before the certificate routes, so that
``/sick-leave/analytics`` is not read as a certificate id.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.sickleave import service

api = router(prefix="/api/v1", tags=["sick leave"])

Analyst = Annotated[Principal, Depends(Require("sick_leave:analytics"))]
Region = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
MonthFrom = Annotated[
    str | None,
    Query(alias="from", max_length=7, description="first month, YYYY-MM (default: 11 back)"),
]
MonthTo = Annotated[
    str | None, Query(alias="to", max_length=7, description="last month, YYYY-MM (default: now)")
]
Table = Literal["units", "chapters", "reasons", "months", "doctors", "long"]


@api.get(
    "/sick-leave/analytics",
    response_model=service.SickLeaveAnalytics,
    responses={422: {"description": "a wrong month or territorial unit (each named)"}},
)
async def sick_leave_analytics(
    session: DbSession,
    principal: Analyst,
    region: Region = None,
    month_from: MonthFrom = None,
    month_to: MonthTo = None,
) -> service.SickLeaveAnalytics:
    """Certificates and days of incapacity by unit, ICD-10 chapter, reason and month; the long
    certificates; certificates per doctor with outliers flagged. Counts of 1 to 4 are "<5"
    and "x" marks what is withheld so that none can be recovered from a total."""
    return await service.sick_leave_analytics(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )


@api.get(
    "/sick-leave/analytics/{table}.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def sick_leave_analytics_csv(
    session: DbSession,
    principal: Analyst,
    table: Table,
    region: Region = None,
    month_from: MonthFrom = None,
    month_to: MonthTo = None,
) -> Response:
    """One table of the figures as CSV, suppressed as in the answer: ``units``, ``chapters``,
    ``reasons``, ``months`` (then a total line), ``doctors`` or ``long``."""
    a = await service.sick_leave_analytics(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )
    return csv_download(service.analytics_csv(a, table))
