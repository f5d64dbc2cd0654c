"""REST routes of the ministry's sanatorium dashboard (aggregates, small cells suppressed).

``main`` includes ``routers`` (or ``api.routers`` lists them): ``/sanatorium/dashboard``
has no path parameter in common with the staff's ``/sanatorium/...`` routes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.sanatorium import service

api = router(prefix="/api/v1", tags=["sanatorium"])
routers = [api]

Analyst = Annotated[Principal, Depends(Require("sanatorium:dashboard"))]
Region = Annotated[
    str | None,
    Query(max_length=32, description="a region's code; none: the whole country"),
]
MonthFrom = Annotated[
    str | None,
    Query(alias="from", max_length=7, description="first month, YYYY-MM (default: 11 back)"),
]
MonthTo = Annotated[
    str | None,
    Query(alias="to", max_length=7, description="last month, YYYY-MM (default: this one)"),
]
Table = Literal["queues", "occupancy"]


@api.get(
    "/sanatorium/dashboard",
    response_model=service.SanatoriumDashboard,
    responses={422: {"description": "a wrong month or region (each named)"}},
)
async def sanatorium_dashboard(
    session: DbSession,
    principal: Analyst,
    region: Region = None,
    month_from: MonthFrom = None,
    month_to: MonthTo = None,
) -> service.SanatoriumDashboard:
    """Queue lengths, waits, offers and no-shows by profile and region; occupancy per
    sanatorium and profile. Offer outcomes and no-shows of 1 to 4 are "<5", and "x" marks
    what is withheld so that none can be worked out from a total."""
    return await service.sanatorium_dashboard(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )


@api.get(
    "/sanatorium/dashboard/{table}.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def sanatorium_dashboard_csv(
    session: DbSession,
    principal: Analyst,
    table: Table,
    region: Region = None,
    month_from: MonthFrom = None,
    month_to: MonthTo = None,
) -> Response:
    """One table of the dashboard as CSV, suppressed as in the answer: ``queues`` or
    ``occupancy`` (then a line per profile and a total line)."""
    a = await service.sanatorium_dashboard(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )
    return csv_download(service.dashboard_csv(a, table))
