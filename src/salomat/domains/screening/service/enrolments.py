"""Disease-management programmes: enrolment with the qualifying diagnosis, follow-up
visits with their readings and the next visit date, the end of an enrolment.

An enrolment needs a diagnosis from the programme's ICD-10 list (hypertension I10-I15,
type 2 diabetes E11, chronic heart failure I50 in the packs): anything else is refused,
naming ``diagnosis_code``. One open enrolment per person and programme is a database
constraint (``ux_dmp_enrolment_open``); a second answers 409. While enrolled, the person
leaves the target group of every screening the pack excludes for that condition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.errors import N_, Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, DmpVisit, ScreeningObservation
from salomat.domains.screening.schemas import (
    Control,
    DmpVisitIn,
    DmpVisitOut,
    EnrolmentEndIn,
    EnrolmentIn,
    EnrolmentOut,
)
from salomat.domains.screening.service import common
from salomat.domains.screening.service.control import bp_controlled, sugar_control
from salomat.domains.screening.service.rules import Edition, ScreeningRules
from salomat.domains.screening.service.visits import check_measurements, new_observation

__all__ = [
    "control_of",
    "end_enrolment",
    "enrol",
    "get_enrolment",
    "list_enrolments",
    "record_dmp_visit",
]

#: what a follow-up visit may measure
DMP_MEASURES = ("bp", "hba1c", "glucose_fasting", "cholesterol", "bmi", "smoking")


async def enrol(
    session: AsyncSession, principal: Principal, person_id: int, data: EnrolmentIn
) -> EnrolmentOut:
    """Enrol a person in a programme of the pack, assigned to the user's facility."""
    facility_id = common.facility_of(principal)
    facts = await common.person_in_scope(
        session, principal, person_id, action="create", resource_type=common.ENROLMENT
    )
    r = common.rules()
    errors = common.check_day(facts, data.enrolled_on, "enrolled_on")
    dmp = None
    try:
        dmp = r.dmp(data.programme, data.enrolled_on)
    except Invalid as e:
        errors.extend(e.errors)
    code = data.diagnosis_code.strip().upper()
    if dmp is not None and not dmp.qualifies(code):
        errors.append(
            FieldError(
                "diagnosis_code",
                N_("%(value)s does not qualify for this programme (ICD-10 %(codes)s)"),
                {"value": data.diagnosis_code, "codes": dmp.diagnoses_text},
            )
        )
    if data.next_visit_due is not None and data.next_visit_due < data.enrolled_on:
        errors.append(FieldError("next_visit_due", N_("is before the enrolment")))
    common.refuse(errors)
    assert dmp is not None
    await registry.hold_person(session, person_id)
    existing = await session.scalar(
        select(DmpEnrolment.id).where(
            DmpEnrolment.person_id == person_id,
            DmpEnrolment.programme == dmp.code,
            DmpEnrolment.ended_on.is_(None),
        )
    )
    if existing is not None:
        raise Conflict(
            N_("The person is already enrolled in this programme (enrolment %(id)s)."),
            params={"id": existing},
        )
    e = DmpEnrolment(
        person_id=person_id,
        facility_id=facility_id,
        programme=dmp.code,
        diagnosis_code=code,
        enrolled_on=data.enrolled_on,
        next_visit_due=data.next_visit_due
        or data.enrolled_on + timedelta(days=dmp.visit_interval_days),
        prior_mi_stroke=data.prior_mi_stroke,
        recorded_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(e)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("The person was enrolled in this programme at the same time.")) from exc
    return common.enrolment_out(e)


async def _load(
    session: AsyncSession, principal: Principal, enrolment_id: int, *, action: str
) -> DmpEnrolment:
    missing = NotFound(N_("Enrolment %(id)s not found."), params={"id": enrolment_id})
    e = await session.get(DmpEnrolment, enrolment_id)
    if e is None:
        raise missing
    try:
        await require_person(
            session, principal, e.person_id, action=action, resource_type=common.ENROLMENT,
            purpose=common.PURPOSE,
        )  # fmt: skip
    except NotFound:
        raise missing from None
    return e


async def get_enrolment(
    session: AsyncSession, principal: Principal, enrolment_id: int
) -> EnrolmentOut:
    return common.enrolment_out(await _load(session, principal, enrolment_id, action="read"))


async def list_enrolments(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[EnrolmentOut]:
    await common.person_in_scope(
        session, principal, person_id, action="read", resource_type=common.ENROLMENT
    )
    rows = await session.scalars(
        select(DmpEnrolment)
        .where(DmpEnrolment.person_id == person_id)
        .order_by(DmpEnrolment.enrolled_on, DmpEnrolment.id)
    )
    return [common.enrolment_out(e) for e in rows]


async def end_enrolment(
    session: AsyncSession,
    principal: Principal,
    enrolment_id: int,
    data: EnrolmentEndIn,
    expected_version: int | None,
) -> EnrolmentOut:
    """End an open enrolment (died, transferred, withdrawn, recovered); ``If-Match``."""
    common.facility_of(principal)
    e = await _load(session, principal, enrolment_id, action="update")
    if expected_version is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected_version != e.version:
        raise PreconditionFailed(
            N_("The enrolment changed since you read it (version %(version)s); reload it."),
            params={"version": e.version},
        )
    if e.ended_on is not None:
        raise Conflict(N_("The enrolment has ended already."))
    errors: list[FieldError] = []
    if data.ended_on < e.enrolled_on:
        errors.append(FieldError("ended_on", N_("is before the enrolment")))
    elif data.ended_on > common.today():
        errors.append(FieldError("ended_on", N_("is in the future")))
    common.refuse(errors)
    e.ended_on = data.ended_on
    e.end_reason = data.end_reason
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed(N_("The enrolment changed at the same time; reload it.")) from exc
    return common.enrolment_out(e)


def control_of(
    r: ScreeningRules, edition: Edition, observations: list[ScreeningObservation]
) -> list[Control]:
    """The control of the latest reading of each kind (BP, HbA1c, fasting glucose)."""
    latest: dict[str, ScreeningObservation] = {}
    for o in observations:
        if o.kind in ("bp", "hba1c", "glucose_fasting"):
            cur = latest.get(o.kind)
            if cur is None or (o.observed_on, o.id) > (cur.observed_on, cur.id):
                latest[o.kind] = o
    out: list[Control] = []
    for kind in ("bp", "hba1c", "glucose_fasting"):
        o = latest.get(kind)
        if o is None:
            continue
        if kind == "bp":
            assert o.systolic is not None
            assert o.diastolic is not None
            out.append(
                Control(
                    kind=kind,
                    observed_on=o.observed_on,
                    shown=f"{o.systolic}/{o.diastolic} mm Hg",
                    controlled=bp_controlled(edition, o.systolic, o.diastolic),
                )
            )
        elif o.value is not None:
            s = sugar_control(r, edition, kind, o.value)
            out.append(
                Control(
                    kind=kind,
                    observed_on=o.observed_on,
                    shown=f"{o.value_entered} {o.unit_entered}",
                    controlled=s.controlled,
                    lenient_controlled=s.lenient_controlled,
                )
            )
    return out


async def record_dmp_visit(
    session: AsyncSession, principal: Principal, enrolment_id: int, data: DmpVisitIn
) -> DmpVisitOut:
    """A follow-up visit: its readings, their control and the next visit date (default:
    the programme's interval after the visit); the enrolment's next visit moves to it."""
    facility_id = common.facility_of(principal)
    e = await _load(session, principal, enrolment_id, action="create")
    if e.ended_on is not None:
        raise Conflict(N_("The enrolment has ended: record a new enrolment first."))
    facts = await registry.person_facts(session, e.person_id)
    assert facts is not None
    r = common.rules()
    errors = common.check_day(facts, data.visited_on, "visited_on", not_before=e.enrolled_on)
    checked, m_errors = check_measurements(r, data.measurements, DMP_MEASURES)
    errors.extend(m_errors)
    if data.next_visit_due is not None and data.next_visit_due <= data.visited_on:
        errors.append(FieldError("next_visit_due", N_("is not after the visit")))
    common.refuse(errors)
    dmp = r.dmp(e.programme, data.visited_on)
    next_due = data.next_visit_due or data.visited_on + timedelta(days=dmp.visit_interval_days)
    now = datetime.now(UTC)
    visit = DmpVisit(
        person_id=e.person_id,
        enrolment_id=e.id,
        facility_id=facility_id,
        visited_on=data.visited_on,
        next_visit_due=next_due,
        notes=data.notes,
        recorded_by=principal.username,
        created_at=now,
    )
    session.add(visit)
    await session.flush()
    obs = [
        new_observation(
            c,
            person_id=e.person_id,
            facility_id=facility_id,
            observed_on=data.visited_on,
            enrolment_id=e.id,
            dmp_visit_id=visit.id,
            recorded_by=principal.username,
        )
        for c in checked
    ]
    session.add_all(obs)
    latest_visit = await session.scalar(
        select(DmpVisit.visited_on)
        .where(DmpVisit.enrolment_id == e.id, DmpVisit.id != visit.id)
        .order_by(DmpVisit.visited_on.desc())
        .limit(1)
    )
    if latest_visit is None or data.visited_on >= latest_visit:
        e.next_visit_due = next_due
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict(N_("The enrolment changed at the same time; retry.")) from exc
    return DmpVisitOut(
        id=visit.id,
        enrolment_id=e.id,
        person_id=e.person_id,
        visited_on=visit.visited_on,
        next_visit_due=next_due,
        measurements=[common.observation_out(o) for o in obs],
        control=control_of(r, r.edition(data.visited_on), obs),
    )
