"""REST routes of the immunization registry: doses, exemptions, schedule, worklist, coverage."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.etags import etag, parse_if_match
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.immunization import service
from salomat.domains.immunization.schemas import (
    DoseIn,
    DoseOut,
    EnteredInErrorIn,
    ExemptionIn,
    ExemptionOut,
    ExemptionWithdrawIn,
    ImmunizationCoverage,
    ImmunizationWorklist,
    ScheduleOut,
)

api = router(prefix="/api/v1", tags=["immunization"])
routers = [api]


@api.post(
    "/persons/{person_id}/immunizations",
    response_model=DoseOut,
    status_code=201,
    responses={
        409: {"description": "this dose is already recorded, or the person has died"},
        422: {"description": "a field is wrong, or the dose is too early (on given_on)"},
    },
)
async def record_immunization(
    session: DbSession,
    person_id: int,
    data: DoseIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> DoseOut:
    """Record a dose; a historical dose given elsewhere is kept even when it does not count."""
    d = await service.record_dose(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/immunizations/{d.id}"
    response.headers["ETag"] = etag(d.version)
    return d


@api.get("/persons/{person_id}/immunizations", response_model=list[DoseOut])
async def list_immunizations(
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:read"))],
    include_errors: bool = False,
) -> list[DoseOut]:
    """The card's doses, oldest first; invalid ones with ``valid: false`` and the reason."""
    return await service.list_doses(session, principal, person_id, include_errors=include_errors)


@api.get("/immunizations/{dose_id}", response_model=DoseOut)
async def read_immunization(
    session: DbSession,
    dose_id: int,
    response: Response,
    principal: Annotated[Principal, Depends(Require("immunization:read"))],
) -> DoseOut:
    """One dose; the ETag is for If-Match."""
    d = await service.get_dose(session, principal, dose_id)
    response.headers["ETag"] = etag(d.version)
    return d


@api.post("/immunizations/{dose_id}/entered-in-error", response_model=DoseOut)
async def immunization_entered_in_error(
    session: DbSession,
    dose_id: int,
    data: EnteredInErrorIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
    if_match: Annotated[str | None, Header()] = None,
) -> DoseOut:
    """The dose was recorded by mistake (If-Match required): kept, but no longer counted."""
    d = await service.mark_entered_in_error(
        session, principal, dose_id, parse_if_match(if_match), data.reason
    )
    response.headers["ETag"] = etag(d.version)
    return d


@api.get("/persons/{person_id}/immunization-schedule", response_model=ScheduleOut)
async def immunization_schedule(
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:read"))],
    on: date | None = None,
) -> ScheduleOut:
    """Every calendar dose: given, due, overdue, upcoming, not eligible or exempt."""
    return await service.get_schedule(session, principal, person_id, on=on)


@api.post(
    "/persons/{person_id}/immunization-exemptions", response_model=ExemptionOut, status_code=201
)
async def record_immunization_exemption(
    session: DbSession,
    person_id: int,
    data: ExemptionIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> ExemptionOut:
    """A contraindication or a refusal (one antigen, or every vaccine)."""
    e = await service.record_exemption(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/persons/{person_id}/immunization-exemptions"
    return e


@api.get("/persons/{person_id}/immunization-exemptions", response_model=list[ExemptionOut])
async def list_immunization_exemptions(
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:read"))],
) -> list[ExemptionOut]:
    """Contraindications and refusals, withdrawn ones included."""
    return await service.list_exemptions(session, principal, person_id)


@api.post("/immunization-exemptions/{exemption_id}/withdraw", response_model=ExemptionOut)
async def withdraw_immunization_exemption(
    session: DbSession,
    exemption_id: int,
    data: ExemptionWithdrawIn,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> ExemptionOut:
    """The contraindication is over or the refusal taken back."""
    return await service.withdraw_exemption(session, principal, exemption_id, data.withdrawn_on)


# ---- worklist and coverage (issue 5) --------------------------------------------------------


WorklistUser = Annotated[Principal, Depends(Require("immunization:worklist"))]
CoverageReader = Annotated[Principal, Depends(Require("immunization:coverage"))]
SectionParam = Annotated[
    str | None,
    Query(max_length=16, description="a section code of your facility; '-': no section"),
]
WeekParam = Annotated[
    str | None,
    Query(max_length=10, description="2026-W48 or a day of the week; default: this week"),
]
CoverageAreaParam = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
CohortParam = Annotated[int | None, Query(description="birth year; default: this year")]


@api.get("/worklists/immunization", response_model=ImmunizationWorklist)
async def immunization_worklist(
    session: DbSession,
    principal: WorklistUser,
    section: SectionParam = None,
    week: WeekParam = None,
) -> ImmunizationWorklist:
    """Children of your facility with doses due or overdue by the end of the week."""
    return await service.immunization_worklist(session, principal, section=section, week=week)


@api.get(
    "/worklists/immunization.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def immunization_worklist_csv(
    session: DbSession,
    principal: WorklistUser,
    section: SectionParam = None,
    week: WeekParam = None,
) -> Response:
    """The invitation list: name, birth date, phone, address, what is due."""
    w = await service.immunization_worklist(session, principal, section=section, week=week)
    return csv_download(service.worklist_csv(w))


@api.get("/dashboards/immunization", response_model=ImmunizationCoverage)
async def immunization_coverage(
    session: DbSession,
    principal: CoverageReader,
    area: CoverageAreaParam = None,
    cohort: CohortParam = None,
) -> ImmunizationCoverage:
    """Coverage of a birth cohort by antigen and dose, dropout and revaccination (target 65 %),
    for the area and per unit one level down."""
    return await service.immunization_coverage(session, principal, area=area, cohort=cohort)


@api.get(
    "/dashboards/immunization.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def immunization_coverage_csv(
    session: DbSession,
    principal: CoverageReader,
    area: CoverageAreaParam = None,
    cohort: CohortParam = None,
) -> Response:
    """The same figures as CSV: one line per unit, then the area's total."""
    c = await service.immunization_coverage(session, principal, area=area, cohort=cohort)
    return csv_download(service.coverage_csv(c))
