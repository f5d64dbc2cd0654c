"""A patient's programme card (screenings, enrolments, control and its trend) and the
screenings due for her, which the citizen sees as "my screenings due"."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, ScreeningObservation, ScreeningVisit
from salomat.domains.screening.schemas import DueItem, ProgrammeCard, TrendPoint
from salomat.domains.screening.service import common
from salomat.domains.screening.service.control import bp_controlled, sugar_control
from salomat.domains.screening.service.eligibility import (
    eligibility,
    last_screenings,
    open_programmes,
)
from salomat.domains.screening.service.enrolments import control_of
from salomat.domains.screening.service.visits import visit_out

__all__ = ["due_for", "my_screenings_due", "programme_card"]


async def due_for(session: AsyncSession, person_id: int, facts: object, day: date) -> list[DueItem]:
    """Each inviting programme whose target group she is in by age and sex, with the
    date her next screening is due (excluded while under dynamic observation)."""
    r = common.rules()
    edition = r.edition(day)
    last = await last_screenings(session, person_id, day)
    under = await open_programmes(session, person_id, day)
    lang = i18n.current_language()
    out = []
    for p in edition.programmes.values():
        e = eligibility(
            p, sex=facts.sex, birth=facts.birth_date, deceased_on=facts.deceased_on,  # type: ignore[attr-defined]
            day=day, last_on=last.get(p.code), under_dmp=under,
        )  # fmt: skip
        if e.in_group or e.reason == "not_due":
            out.append(
                DueItem(
                    programme=p.code,
                    name=p.name(lang),
                    last_on=e.last_on,
                    due_on=e.due_on,
                    due_now=e.in_group,
                )
            )
    return out


async def programme_card(
    session: AsyncSession, principal: Principal, person_id: int, day: date | None = None
) -> ProgrammeCard:
    """Everything of the person's screenings and programmes (audited read)."""
    facts = await common.person_in_scope(
        session, principal, person_id, action="read", resource_type=common.ENROLMENT
    )
    return await _card(session, person_id, facts, common.report_day(day or common.today()))


async def _card(session: AsyncSession, person_id: int, facts: object, day: date) -> ProgrammeCard:
    """The card as it stood on ``day``: nothing recorded after it (a past day shows the
    readings and control of that day, not later ones)."""
    r = common.rules()
    edition = r.edition(day)
    enrolments = list(
        await session.scalars(
            select(DmpEnrolment)
            .where(DmpEnrolment.person_id == person_id, DmpEnrolment.enrolled_on <= day)
            .order_by(DmpEnrolment.enrolled_on, DmpEnrolment.id)
        )
    )
    visits = list(
        await session.scalars(
            select(ScreeningVisit)
            .where(ScreeningVisit.person_id == person_id, ScreeningVisit.performed_on <= day)
            .order_by(ScreeningVisit.performed_on.desc(), ScreeningVisit.id.desc())
        )
    )
    observations = list(
        await session.scalars(
            select(ScreeningObservation)
            .where(
                ScreeningObservation.person_id == person_id,
                ScreeningObservation.observed_on <= day,
            )
            .order_by(ScreeningObservation.observed_on, ScreeningObservation.id)
        )
    )
    by_visit: dict[int, list[ScreeningObservation]] = {}
    for o in observations:
        if o.screening_visit_id is not None:
            by_visit.setdefault(o.screening_visit_id, []).append(o)
    bp_trend = [
        TrendPoint(
            observed_on=o.observed_on,
            systolic=o.systolic,
            diastolic=o.diastolic,
            controlled=bp_controlled(edition, o.systolic, o.diastolic),
        )
        for o in observations
        if o.kind == "bp" and o.systolic is not None and o.diastolic is not None
    ]
    sugar_trend = [
        TrendPoint(
            observed_on=o.observed_on,
            value=o.value,
            unit=o.unit,
            controlled=sugar_control(r, edition, o.kind, o.value).controlled,
        )
        for o in observations
        if o.kind in ("hba1c", "glucose_fasting") and o.value is not None
    ]
    return ProgrammeCard(
        person_id=person_id,
        enrolments=[common.enrolment_out(e) for e in enrolments],
        visits=[visit_out(v, by_visit.get(v.id, [])) for v in visits],
        control=control_of(r, edition, observations),
        bp_trend=bp_trend,
        sugar_trend=sugar_trend,
        due=await due_for(session, person_id, facts, day),
    )


async def my_screenings_due(session: AsyncSession, principal: Principal) -> list[DueItem]:
    """The citizen's own screenings due (her own record: audited as her read)."""
    if principal.person_id is None:
        return []
    facts = await registry.person_facts(session, principal.person_id)
    if facts is None:
        return []
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=common.ENROLMENT,
        resource_id=str(principal.person_id),
        patient_id=principal.person_id,
        purpose="citizen portal: screenings due",
    )
    return await due_for(session, principal.person_id, facts, common.today())
