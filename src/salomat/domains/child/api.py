"""REST routes of the child health passport: growth, well-child visits, newborn data."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.child import service
from salomat.domains.child.schemas import (
    MeasurementErrorIn,
    MeasurementIn,
    MeasurementOut,
    NewbornIn,
    NewbornOut,
    PassportOut,
    VisitIn,
    VisitOut,
)

api = router(prefix="/api/v1", tags=["child"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("child:read"))]
Recorder = Annotated[Principal, Depends(Require("child:record"))]
#: a row's id in a path: ids are 64-bit, a larger number is refused (422) before it reaches
#: the database (where it would fail: a 500)
PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@api.post("/persons/{person_id}/growth", response_model=MeasurementOut, status_code=201)
async def record_measurement(
    session: DbSession,
    person_id: int,
    data: MeasurementIn,
    response: Response,
    principal: Recorder,
) -> MeasurementOut:
    """Record a measurement; the answer carries the WHO z-scores, flags and classification.

    Impossible values are refused (422, naming each field); implausible z-scores
    (WHO Anthro's limits: weight-for-age < -6 or > +5, length/height-for-age
    beyond +-6, the others beyond +-5) are stored and flagged in ``implausible``.
    """
    m = await service.record_measurement(session, principal, person_id, data)
    response.headers["ETag"] = etag(m.version)
    return m


@api.get("/growth/{measurement_id}", response_model=MeasurementOut)
async def read_measurement(
    session: DbSession, measurement_id: PathId, response: Response, principal: Reader
) -> MeasurementOut:
    """One measurement; the ETag is for If-Match."""
    m = await service.get_measurement(session, principal, measurement_id)
    response.headers["ETag"] = etag(m.version)
    return m


@api.post(
    "/growth/{measurement_id}/entered-in-error",
    response_model=MeasurementOut,
    responses={
        409: {"description": "already marked entered in error"},
        412: {"description": "no If-Match, or the measurement changed since it was read"},
    },
)
async def mark_measurement_entered_in_error(
    session: DbSession,
    measurement_id: PathId,
    data: MeasurementErrorIn,
    response: Response,
    principal: Recorder,
    if_match: Annotated[str | None, Header()] = None,
) -> MeasurementOut:
    """The measurement was recorded by mistake (``reason`` required; If-Match required, with
    the version read: its ETag or ``version``): it stays in the list, marked
    ``entered_in_error``, and leaves the charts, the z-score trend and the print.
    No If-Match or a stale one: 412. Marking it twice: 409."""
    m = await service.mark_measurement_entered_in_error(
        session, principal, measurement_id, data.reason, parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(m.version)
    return m


@api.get("/persons/{person_id}/growth", response_model=list[MeasurementOut])
async def list_measurements(
    session: DbSession, person_id: int, principal: Reader
) -> list[MeasurementOut]:
    """The child's measurements, oldest first (those entered in error too, marked)."""
    return await service.list_measurements(session, principal, person_id)


@api.get("/persons/{person_id}/passport", response_model=PassportOut)
async def read_passport(session: DbSession, person_id: int, principal: Reader) -> PassportOut:
    """The mother-and-child health passport (child sections under 18; a woman's pregnancies)."""
    return await service.get_passport(session, principal, person_id)


@api.post("/persons/{person_id}/well-child-visits", response_model=VisitOut, status_code=201)
async def record_visit(
    session: DbSession, person_id: int, data: VisitIn, principal: Recorder
) -> VisitOut:
    """Record a well-child visit: milestones, feeding, illnesses since the last, notes."""
    return await service.record_visit(session, principal, person_id, data)


@api.get("/persons/{person_id}/well-child-visits", response_model=list[VisitOut])
async def list_visits(session: DbSession, person_id: int, principal: Reader) -> list[VisitOut]:
    """The child's well-child visits, oldest first."""
    return await service.list_visits(session, principal, person_id)


@api.put("/persons/{person_id}/newborn-screening", response_model=NewbornOut)
async def put_newborn_screening(
    session: DbSession,
    person_id: int,
    data: NewbornIn,
    response: Response,
    principal: Recorder,
    if_match: Annotated[str | None, Header()] = None,
) -> NewbornOut:
    """Create or replace the newborn screening results (If-Match optional, from the ETag).

    Born in the system: birth weight, length and Apgar come from the birth record.
    """
    out = await service.record_newborn_screening(
        session, principal, person_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(out.version)
    return out
