"""The readings of the disease-management follow-up visits, read on their own (FHIR serves
them as Observations beside the screening measurements: fhir/screening_api.py).

A reading is a ``screening_observation`` row linked to a follow-up visit (``dmp_visit``)
of an enrolment; the readings of a screening visit are read with the visit
(``get_visit``, ``programme_card``). Both reads check the person's scope and write their
audit row as the other screening reads do (a person out of scope is 404 like a missing
one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.screening.models import DmpEnrolment, DmpVisit, ScreeningObservation
from salomat.domains.screening.schemas import ObservationOut
from salomat.domains.screening.service import common

__all__ = ["FollowUpReading", "get_observation", "list_observations"]


@dataclass(frozen=True)
class FollowUpReading:
    """One reading of a follow-up visit, with the visit and the enrolment it belongs to."""

    observation: ObservationOut
    dmp_visit_id: int
    enrolment_id: int
    programme: str
    diagnosis_code: str
    facility_id: int | None
    visited_on: date


def _query():  # type: ignore[no-untyped-def]
    return (
        select(ScreeningObservation, DmpVisit, DmpEnrolment)
        .join(DmpVisit, ScreeningObservation.dmp_visit_id == DmpVisit.id)
        .join(DmpEnrolment, DmpVisit.enrolment_id == DmpEnrolment.id)
    )


def _reading(o: ScreeningObservation, v: DmpVisit, e: DmpEnrolment) -> FollowUpReading:
    return FollowUpReading(
        observation=common.observation_out(o),
        dmp_visit_id=v.id,
        enrolment_id=e.id,
        programme=e.programme,
        diagnosis_code=e.diagnosis_code,
        facility_id=o.facility_id,
        visited_on=v.visited_on,
    )


async def list_observations(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    kinds: frozenset[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[FollowUpReading]:
    """Every follow-up reading of a person in the user's scope (audited as one read),
    oldest first; ``kinds`` and the days (``since``/``until`` inclusive) narrow it in SQL."""
    await common.person_in_scope(
        session, principal, person_id, action="read", resource_type=common.OBSERVATION
    )
    q = _query().where(ScreeningObservation.person_id == person_id)
    if kinds is not None:
        q = q.where(ScreeningObservation.kind.in_(sorted(kinds)))
    if since is not None:
        q = q.where(ScreeningObservation.observed_on >= since)
    if until is not None:
        q = q.where(ScreeningObservation.observed_on <= until)
    q = q.order_by(ScreeningObservation.observed_on, ScreeningObservation.id)
    return [_reading(o, v, e) for o, v, e in (await session.execute(q)).all()]


async def get_observation(
    session: AsyncSession,
    principal: Principal,
    observation_id: int,
    dmp_visit_id: int | None = None,
) -> FollowUpReading:
    """One follow-up reading (of ``dmp_visit_id`` when given); 404 when it is none, or its
    person is out of the user's scope (audited)."""
    missing = NotFound(N_("Reading %(id)s not found."), params={"id": observation_id})
    row = (await session.execute(_query().where(ScreeningObservation.id == observation_id))).first()
    if row is None:
        raise missing
    o, v, e = row
    if dmp_visit_id is not None and v.id != dmp_visit_id:
        raise missing
    try:
        await require_person(
            session, principal, o.person_id, action="read", resource_type=common.OBSERVATION,
            purpose=common.PURPOSE,
        )  # fmt: skip
    except NotFound:
        raise missing from None
    return _reading(o, v, e)
