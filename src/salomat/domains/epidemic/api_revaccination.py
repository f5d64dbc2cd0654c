"""REST routes of revaccination (issue 23, item 6): coverage by region and age group with
both denominators against the target, its CSV and FHIR MeasureReport, and the worklist of
those due per section."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.service import revaccination_due as due
from salomat.domains.epidemic.service import revaccination_report as report
from salomat.domains.epidemic.service import revaccination_sql as service
from salomat.domains.epidemic.service.revaccination_due import RevaccinationWorklist
from salomat.domains.epidemic.service.revaccination_sql import RevaccinationCoverage

api = router(prefix="/api/v1/epidemic/revaccination", tags=["epidemic"])
routers = [api]

CoverageReader = Annotated[Principal, Depends(Require("immunization:coverage"))]
WorklistUser = Annotated[Principal, Depends(Require("immunization:worklist"))]
AreaParam = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
OnParam = Annotated[
    str | None, Query(max_length=10, description="the day counted (YYYY-MM-DD); default: today")
]
SectionParam = Annotated[
    str | None,
    Query(max_length=16, description="a section code of your facility; '-': no section"),
]


@api.get("/coverage", response_model=RevaccinationCoverage)
async def revaccination_coverage(
    session: DbSession, principal: CoverageReader, area: AreaParam = None, on: OnParam = None
) -> RevaccinationCoverage:
    """Coverage of the previously vaccinated per unit one level down and age group: of
    those eligible and of all with a completed primary series, each against the target."""
    return await service.revaccination_coverage(session, principal, area=area, on=on)


@api.get(
    "/coverage.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def revaccination_coverage_csv(
    session: DbSession, principal: CoverageReader, area: AreaParam = None, on: OnParam = None
) -> Response:
    """The same figures as CSV: one line per unit and age group, then the area's."""
    c = await service.revaccination_coverage(session, principal, area=area, on=on)
    return csv_download(service.coverage_csv(c))


@api.get("/coverage/measure-report")
async def revaccination_measure_report(
    session: DbSession, principal: CoverageReader, area: AreaParam = None, on: OnParam = None
) -> dict[str, Any]:
    """The area's coverage as a FHIR R4 MeasureReport (summary): one group per
    denominator, one stratifier by age group."""
    c = await service.revaccination_coverage(session, principal, area=area, on=on)
    return report.measure_report(c)


@api.get("/worklist", response_model=RevaccinationWorklist)
async def revaccination_worklist(
    session: DbSession, principal: WorklistUser, section: SectionParam = None, on: OnParam = None
) -> RevaccinationWorklist:
    """People of your facility due a revaccination: primary series completed at least the
    interval ago, no revaccination dose; longest due first."""
    return await due.revaccination_worklist(session, principal, section=section, on=on)


@api.get(
    "/worklist.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def revaccination_worklist_csv(
    session: DbSession, principal: WorklistUser, section: SectionParam = None, on: OnParam = None
) -> Response:
    """The invitation list: name, birth date, phone, address, section, due since."""
    w = await due.revaccination_worklist(session, principal, section=section, on=on)
    return csv_download(due.worklist_csv(w))
