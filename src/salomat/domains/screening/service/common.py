"""What the screening use cases share: the pack's rules for the deployed country, the
person checks and the output of rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, ScreeningObservation
from salomat.domains.screening.schemas import EnrolmentOut, ObservationOut
from salomat.domains.screening.service.rules import ScreeningRules, screening_rules

#: audit kinds (accounts' labels name them)
VISIT = "Encounter"
OBSERVATION = "Observation"
ENROLMENT = "EpisodeOfCare"
PURPOSE = "screening and disease management"


def rules() -> ScreeningRules:
    return screening_rules(get_settings().country)


def today() -> date:
    return pack.today(get_settings().country)


def facility_of(principal: Principal) -> int:
    if principal.facility_id is None:
        raise Forbidden(N_("Screening is recorded for a facility; your account has none."))
    return principal.facility_id


async def person_in_scope(
    session: AsyncSession, principal: Principal, person_id: int, *, action: str, resource_type: str
) -> registry.PersonFacts:
    """The person's facts, after the scope check and its audit row (404 out of scope)."""
    await require_person(
        session, principal, person_id, action=action, resource_type=resource_type, purpose=PURPOSE
    )
    facts = await registry.person_facts(session, person_id)
    if facts is None:
        raise NotFound(N_("Person %(id)s not found."), params={"id": person_id})
    return facts


def check_day(
    facts: registry.PersonFacts, day: date, field: str, *, not_before: date | None = None
) -> list[FieldError]:
    """A day of care: not in the future, not before birth (or ``not_before``), not after death."""
    errors = []
    if day > today():
        errors.append(FieldError(field, N_("is in the future")))
    elif day < facts.birth_date:
        errors.append(FieldError(field, N_("is before the person's birth")))
    elif facts.deceased_on is not None and day > facts.deceased_on:
        errors.append(FieldError(field, N_("is after the person's death")))
    elif not_before is not None and day < not_before:
        errors.append(FieldError(field, N_("is before %(day)s"), {"day": not_before.isoformat()}))
    return errors


#: the days a list or a count may be asked for (``on``): older or later days are typing
#: errors, and the age and interval arithmetic has no calendar for them
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def report_day(day: date, field: str = "on") -> date:
    """The day a worklist, count or card is asked for; 422 naming ``field`` outside
    1900-2199."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid.fields(
            [FieldError(field, N_("must be between %(first)s and %(last)s"),
                        {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()})]
        )  # fmt: skip
    return day


def refuse(errors: list[FieldError]) -> None:
    if errors:
        raise Invalid.fields(errors)


def observation_out(o: ScreeningObservation) -> ObservationOut:
    return ObservationOut(
        id=o.id,
        person_id=o.person_id,
        observed_on=o.observed_on,
        kind=o.kind,
        systolic=o.systolic,
        diastolic=o.diastolic,
        value=o.value,
        unit=o.unit,
        value_entered=o.value_entered,
        unit_entered=o.unit_entered,
        code=o.code,
        loinc=o.loinc,
        screening_visit_id=o.screening_visit_id,
        enrolment_id=o.enrolment_id,
    )


def enrolment_out(e: DmpEnrolment) -> EnrolmentOut:
    return EnrolmentOut(
        id=e.id,
        person_id=e.person_id,
        facility_id=e.facility_id,
        programme=e.programme,
        diagnosis_code=e.diagnosis_code,
        enrolled_on=e.enrolled_on,
        next_visit_due=e.next_visit_due,
        prior_mi_stroke=e.prior_mi_stroke,
        ended_on=e.ended_on,
        end_reason=e.end_reason,
        version=e.version,
        created_at=e.created_at,
    )
