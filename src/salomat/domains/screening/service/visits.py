"""Recording a screening visit: what the programme measures, the result and the next step.

A screening of someone outside the programme's target group on the day (another age or
sex, not yet due, under dynamic observation for the condition) is kept and marked
opportunistic: it is part of her record, and is never counted as the programme's
coverage. An abnormal result names its next step: a referral to the specialist, or an
enrolment in a disease-management programme (done with ``enrol``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import ScreeningObservation, ScreeningVisit
from salomat.domains.screening.schemas import MeasurementIn, ScreeningVisitIn, ScreeningVisitOut
from salomat.domains.screening.service import common
from salomat.domains.screening.service.eligibility import (
    eligibility,
    last_screenings,
    open_programmes,
)
from salomat.domains.screening.service.measurements import Checked, check_measurement
from salomat.domains.screening.service.rules import ScreeningRules

__all__ = ["check_measurements", "get_visit", "record_screening", "visit_out"]


def check_measurements(
    rules: ScreeningRules, items: list[MeasurementIn], allowed: tuple[str, ...] | None = None
) -> tuple[list[Checked], list[FieldError]]:
    """Every measurement checked (all errors at once, each naming ``measurements.<i>.<part>``)."""
    checked: list[Checked] = []
    errors: list[FieldError] = []
    for i, m in enumerate(items):
        field = f"measurements.{i}"
        if allowed is not None and m.kind not in allowed:
            errors.append(
                FieldError(
                    f"{field}.kind",
                    N_("%(value)s is not measured by this programme (%(kinds)s)"),
                    {"value": m.kind, "kinds": ", ".join(allowed)},
                )
            )
            continue
        c, errs = check_measurement(
            rules, field, m.kind, systolic=m.systolic, diastolic=m.diastolic, value=m.value,
            unit=m.unit, code=m.code,
        )  # fmt: skip
        errors.extend(errs)
        if c is not None:
            checked.append(c)
    return checked, errors


def new_observation(c: Checked, **kw: object) -> ScreeningObservation:
    return ScreeningObservation(
        kind=c.kind,
        systolic=c.systolic,
        diastolic=c.diastolic,
        value=c.value,
        unit=c.unit,
        value_entered=c.value_entered,
        unit_entered=c.unit_entered,
        code=c.code,
        loinc=c.loinc,
        created_at=datetime.now(UTC),
        **kw,
    )


def visit_out(
    v: ScreeningVisit, observations: list[ScreeningObservation], reason: str | None = None
) -> ScreeningVisitOut:
    return ScreeningVisitOut(
        id=v.id,
        person_id=v.person_id,
        facility_id=v.facility_id,
        programme=v.programme,
        performed_on=v.performed_on,
        opportunistic=v.opportunistic,
        opportunistic_reason=reason,
        result=v.result,
        next_step=v.next_step,
        notes=v.notes,
        recorded_by=v.recorded_by,
        measurements=[common.observation_out(o) for o in observations],
    )


async def record_screening(
    session: AsyncSession, principal: Principal, person_id: int, data: ScreeningVisitIn
) -> ScreeningVisitOut:
    """Record one screening of a person in the user's scope (audited)."""
    facility_id = common.facility_of(principal)
    facts = await common.person_in_scope(
        session, principal, person_id, action="create", resource_type=common.VISIT
    )
    r = common.rules()
    errors = common.check_day(facts, data.performed_on, "performed_on")
    programme = None
    try:
        programme = r.programme(data.programme, data.performed_on)
    except Invalid as e:  # an unknown programme: reported with the other fields
        errors.extend(e.errors)
    if data.result == "abnormal" and data.next_step == "none":
        errors.append(
            FieldError("next_step", N_("an abnormal result needs a next step: refer or enrol"))
        )
    if data.result == "normal" and data.next_step != "none":
        errors.append(FieldError("next_step", N_("a normal result has no next step")))
    checked, m_errors = check_measurements(
        r, data.measurements, programme.measures if programme else None
    )
    errors.extend(m_errors)
    common.refuse(errors)
    assert programme is not None
    await registry.hold_person(session, person_id)
    last = (await last_screenings(session, person_id, data.performed_on)).get(programme.code)
    e = eligibility(
        programme,
        sex=facts.sex,
        birth=facts.birth_date,
        deceased_on=facts.deceased_on,
        day=data.performed_on,
        last_on=last,
        under_dmp=await open_programmes(session, person_id, data.performed_on),
    )
    now = datetime.now(UTC)
    visit = ScreeningVisit(
        person_id=person_id,
        facility_id=facility_id,
        programme=programme.code,
        performed_on=data.performed_on,
        opportunistic=not e.in_group,
        result=data.result,
        next_step=data.next_step,
        notes=data.notes,
        recorded_by=principal.username,
        created_at=now,
    )
    session.add(visit)
    await session.flush()
    observations = [
        new_observation(
            c,
            person_id=person_id,
            facility_id=facility_id,
            observed_on=data.performed_on,
            screening_visit_id=visit.id,
            recorded_by=principal.username,
        )
        for c in checked
    ]
    session.add_all(observations)
    await session.flush()
    return visit_out(visit, observations, e.reason)


async def get_visit(
    session: AsyncSession, principal: Principal, visit_id: int
) -> ScreeningVisitOut:
    missing = NotFound(N_("Screening visit %(id)s not found."), params={"id": visit_id})
    v = await session.get(ScreeningVisit, visit_id)
    if v is None:
        raise missing
    try:
        await require_person(
            session, principal, v.person_id, action="read", resource_type=common.VISIT,
            purpose=common.PURPOSE,
        )  # fmt: skip
    except NotFound:
        raise missing from None
    obs = list(
        await session.scalars(
            select(ScreeningObservation)
            .where(ScreeningObservation.screening_visit_id == v.id)
            .order_by(ScreeningObservation.id)
        )
    )
    return visit_out(v, obs)
