"""REST routes of screening and the disease-management programmes: screening visits,
enrolments and their follow-up visits, a patient's programme card, the facility's target
groups and worklists, and the citizen's screenings due. Retried POSTs with the same
``Idempotency-Key`` create one record (the unit of work replays them); ending an
enrolment takes ``If-Match``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.screening import service
from salomat.domains.screening.schemas import (
    DmpVisitIn,
    DmpVisitOut,
    DueItem,
    EnrolmentEndIn,
    EnrolmentIn,
    EnrolmentOut,
    ProgrammeCard,
    ScreeningVisitIn,
    ScreeningVisitOut,
    TargetGroupCount,
    Worklist,
)
from salomat.domains.screening.service.common import today

api = router(prefix="/api/v1", tags=["screening"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("screening:read"))]
Recorder = Annotated[Principal, Depends(Require("screening:record"))]
Enroller = Annotated[Principal, Depends(Require("screening:enrol"))]
WorklistReader = Annotated[Principal, Depends(Require("screening:worklist"))]
Counter = Annotated[Principal, Depends(Require("screening:coverage"))]
Citizen = Annotated[Principal, Depends(Require("screening:portal"))]
IfMatch = Annotated[str | None, Header()]

_WRITE = {
    404: {"description": "no such person, or not in the user's scope"},
    409: {"description": "already enrolled in the programme; the enrolment has ended"},
    422: {
        "description": "a field is wrong (each named): an impossible measurement (systolic "
        "400, HbA1c 40 per cent), an unknown unit, a diagnosis that does not qualify, an "
        "abnormal result without its next step"
    },
}


@api.post(
    "/persons/{person_id}/screenings",
    response_model=ScreeningVisitOut,
    status_code=201,
    responses=_WRITE,
)
async def record_screening(
    session: DbSession, person_id: RowId, data: ScreeningVisitIn, response: Response,
    principal: Recorder,
) -> ScreeningVisitOut:  # fmt: skip
    """Record a screening with its measurements (converted to canonical UCUM units), the
    result and the next step. Outside the programme's target group it is kept and marked
    ``opportunistic`` (with the reason), never counted as coverage."""
    v = await service.record_screening(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/screenings/{v.id}"
    return v


@api.get("/screenings/{visit_id}", response_model=ScreeningVisitOut)
async def read_screening(
    session: DbSession, visit_id: RowId, principal: Reader
) -> ScreeningVisitOut:
    return await service.get_visit(session, principal, visit_id)


@api.get("/persons/{person_id}/screening-card", response_model=ProgrammeCard)
async def screening_card(
    session: DbSession, person_id: RowId, principal: Reader, on: date | None = None
) -> ProgrammeCard:
    """The patient's screenings, enrolments, control (latest readings) and trends, and
    the screenings due."""
    return await service.programme_card(session, principal, person_id, on)


@api.post(
    "/persons/{person_id}/dmp-enrolments",
    response_model=EnrolmentOut,
    status_code=201,
    responses=_WRITE,
)
async def enrol(
    session: DbSession, person_id: RowId, data: EnrolmentIn, response: Response,
    principal: Enroller,
) -> EnrolmentOut:  # fmt: skip
    """Enrol in a disease-management programme with a qualifying ICD-10 diagnosis; the
    patient is assigned to the user's facility."""
    e = await service.enrol(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/dmp-enrolments/{e.id}"
    response.headers["ETag"] = etag(e.version)
    return e


@api.get("/persons/{person_id}/dmp-enrolments", response_model=list[EnrolmentOut])
async def list_enrolments(
    session: DbSession, person_id: RowId, principal: Reader
) -> list[EnrolmentOut]:
    return await service.list_enrolments(session, principal, person_id)


@api.get("/dmp-enrolments/{enrolment_id}", response_model=EnrolmentOut)
async def read_enrolment(
    session: DbSession, enrolment_id: RowId, response: Response, principal: Reader
) -> EnrolmentOut:
    e = await service.get_enrolment(session, principal, enrolment_id)
    response.headers["ETag"] = etag(e.version)
    return e


@api.post(
    "/dmp-enrolments/{enrolment_id}/end",
    response_model=EnrolmentOut,
    responses={**_WRITE, 412: {"description": "If-Match missing or stale"}},
)
async def end_enrolment(
    session: DbSession, enrolment_id: RowId, data: EnrolmentEndIn, response: Response,
    principal: Enroller, if_match: IfMatch = None,
) -> EnrolmentOut:  # fmt: skip
    """End an enrolment (died, transferred, withdrawn, recovered). Needs ``If-Match``."""
    e = await service.end_enrolment(
        session, principal, enrolment_id, data, parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(e.version)
    return e


@api.post(
    "/dmp-enrolments/{enrolment_id}/visits",
    response_model=DmpVisitOut,
    status_code=201,
    responses=_WRITE,
)
async def record_dmp_visit(
    session: DbSession, enrolment_id: RowId, data: DmpVisitIn, principal: Recorder
) -> DmpVisitOut:
    """A follow-up visit: readings, their control, the next visit date."""
    return await service.record_dmp_visit(session, principal, enrolment_id, data)


@api.get("/screening/target-groups", response_model=list[TargetGroupCount])
async def target_groups(
    session: DbSession,
    principal: Counter,
    on: date | None = None,
    area: Annotated[str | None, Query(max_length=32)] = None,
    programme: Annotated[str | None, Query(max_length=32)] = None,
) -> list[TargetGroupCount]:
    """Eligible, due and screened (not opportunistic) people per programme: of the user's
    facility, or of a district or region (``area``: its territory code). Counts only."""
    return await service.target_group_counts(
        session, principal, on or today(), area=area, programme=programme
    )


@api.get("/screening/worklists/invitations", response_model=Worklist)
async def invitations(
    session: DbSession,
    principal: WorklistReader,
    on: date | None = None,
    programme: Annotated[str | None, Query(max_length=32)] = None,
    section: Annotated[str | None, Query(max_length=17)] = None,
) -> Worklist:
    """The people of the facility (or one section; ``-``: no section) due a screening."""
    return await service.invitation_worklist(
        session, principal, on or today(), programme=programme, section=section
    )


@api.get("/screening/worklists/{kind}", response_model=Worklist)
async def dmp_worklist(
    session: DbSession,
    kind: str,
    principal: WorklistReader,
    on: date | None = None,
    programme: Annotated[str | None, Query(max_length=32)] = None,
) -> Worklist:
    """DMP patients assigned here: ``overdue``, ``uncontrolled`` or ``high_risk``."""
    return await service.dmp_worklist(session, principal, kind, on or today(), programme=programme)


@api.get("/me/screenings-due", response_model=list[DueItem])
async def my_screenings_due(session: DbSession, principal: Citizen) -> list[DueItem]:
    """The citizen's own screenings: each programme of her age and sex, when it is due."""
    return await service.my_screenings_due(session, principal)
