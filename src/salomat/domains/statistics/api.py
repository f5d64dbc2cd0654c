"""REST routes of the national health indicators (/api/v1/statistics/...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from salomat.core.downloads import csv_download
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.statistics import service
from salomat.domains.statistics.schemas import (
    Indicator,
    MortalityDataQuality,
    Trend,
    ValueSet,
)

api = router(prefix="/api/v1/statistics", tags=["statistics"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("statistics:read"))]
Computer = Annotated[Principal, Depends(Require("statistics:compute"))]
PeriodParam = Annotated[
    str, Query(max_length=16, description="a closed year (YYYY) or month (YYYY-MM)")
]
AreaParam = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
ByParam = Annotated[
    str | None,
    Query(max_length=16, description="sex | urban_rural | age_group | region | district"),
]


class AggregateIn(BaseModel):
    periods: list[str] = Field(min_length=1, max_length=60)


class AggregateOut(BaseModel):
    job_id: int
    periods: list[str]


@api.get("/indicators", response_model=list[Indicator])
async def list_indicators(principal: Reader) -> list[Indicator]:
    """The catalogue: every indicator's definition, sources, reference and targets."""
    return service.catalogue()


@api.get("/indicators/{code}", response_model=Indicator)
async def get_indicator(code: str, principal: Reader) -> Indicator:
    return service.get_indicator(code)


@api.get("/indicators/{code}/values", response_model=ValueSet)
async def indicator_values(
    code: str,
    session: DbSession,
    principal: Reader,
    period: PeriodParam,
    area: AreaParam = None,
    by: ByParam = None,
) -> ValueSet:
    """The indicator for a closed period in the country, a region or a district, whole
    or broken down; cells with fewer than five events are suppressed."""
    service.get_indicator(code)
    return await service.indicator_values(session, principal, code, period, area=area, by=by)


@api.get(
    "/indicators/{code}/values.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def indicator_values_csv(
    code: str,
    session: DbSession,
    principal: Reader,
    period: PeriodParam,
    area: AreaParam = None,
    by: ByParam = None,
) -> Response:
    """The same values as CSV (suppressed cells withheld)."""
    service.get_indicator(code)
    vs = await service.indicator_values(session, principal, code, period, area=area, by=by)
    return csv_download(service.values_csv(vs))


@api.get("/indicators/{code}/trend", response_model=Trend)
async def indicator_trend(
    code: str,
    session: DbSession,
    principal: Reader,
    area: AreaParam = None,
    years: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Trend:
    """Yearly values of the last closed years, the target's line and the on-track status."""
    service.get_indicator(code)
    return await service.indicator_trend(session, principal, code, area=area, years=years)


@api.get("/data-quality", response_model=MortalityDataQuality)
async def data_quality(
    session: DbSession, principal: Reader, period: PeriodParam
) -> MortalityDataQuality:
    """The causes of death behind the mortality indicators: share certified, waiting for
    a coder, ill-defined (national)."""
    return await service.mortality_data_quality(session, principal, period)


@api.post("/aggregate", response_model=AggregateOut, status_code=202)
async def aggregate(body: AggregateIn, session: DbSession, principal: Computer) -> AggregateOut:
    """Recompute closed periods now (a background job; the nightly run does last month
    and last year by itself)."""
    job_id = await service.request_aggregate(session, body.periods, requested_by=principal.username)
    return AggregateOut(job_id=job_id, periods=body.periods)
