"""REST routes of the programme indicators (/api/v1/screening/indicators): the HEARTS /
Simple control figures of a closed month or quarter, by facility, district or region,
as JSON or CSV. Aggregates only, counts below five withheld (service ``indicators``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.screening.service import indicators

api = router(prefix="/api/v1/screening", tags=["screening"])
routers = [api]

#: aggregate figures, no person: the programme's aggregate readers (core.policy:
#: nurses and family doctors, analysts, epidemiologists)
Reader = Annotated[Principal, Depends(Require("screening:coverage"))]
PeriodParam = Annotated[
    str, Query(max_length=16, description="a closed month (YYYY-MM) or quarter (YYYY-Qn)")
]
AreaParam = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
ByParam = Annotated[
    str | None,
    Query(
        max_length=16,
        description="region | district | facility (default: one level below the area)",
    ),
]
ProgrammeParam = Annotated[
    str, Query(max_length=32, description="a disease-management programme of the pack")
]


@api.get("/indicators", response_model=indicators.AreaIndicators)
async def programme_indicators(
    session: DbSession,
    principal: Reader,
    period: PeriodParam,
    area: AreaParam = None,
    by: ByParam = None,
    programme: ProgrammeParam = "hypertension",
) -> indicators.AreaIndicators:
    """Registered, under care, controlled, not controlled, visited without BP, missed
    visits (Simple's denominator since 2021 and with the lost to follow-up kept, both
    labelled), lost to follow-up, the cohort whose follow-up ends with the period, and
    for a diabetes programme sugar control by DHIS2 and by Simple; each definition with
    its denominator in ``definitions``."""
    return await indicators.programme_indicators(
        session, principal, period=period, area=area, by=by, programme=programme
    )


@api.get(
    "/indicators.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def programme_indicators_csv(
    session: DbSession,
    principal: Reader,
    period: PeriodParam,
    area: AreaParam = None,
    by: ByParam = None,
    programme: ProgrammeParam = "hypertension",
) -> Response:
    """The same figures as CSV with stable column codes (withheld cells empty, text
    cells neutralised against spreadsheet formulas)."""
    result = await indicators.programme_indicators(
        session, principal, period=period, area=area, by=by, programme=programme
    )
    return csv_download(indicators.indicators_csv(result))


@api.get("/indicators/coverage", response_model=indicators.AreaCoverage)
async def screening_coverage(
    session: DbSession, principal: Reader, period: PeriodParam, area: AreaParam = None
) -> indicators.AreaCoverage:
    """Coverage of every inviting programme on the last day of a closed period: the
    target group and the people of it screened in the programme's interval (opportunistic
    screenings not counted), by region or district, and the area's total."""
    return await indicators.screening_coverage(session, principal, period=period, area=area)
