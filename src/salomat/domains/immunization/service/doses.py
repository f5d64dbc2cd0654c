"""The immunization register: record and correct doses, exemptions, the card and the plan.

Every read and write goes through ``policy.require_person`` (scope check and
audit row in one call, resource type ``Immunization``): an out-of-scope user
gets 404, as for a missing record. Writes check every field before anything
is added to the session, so a refused request stores nothing.

A dose given before its minimum age or interval (``schedule.check_dose``) is
refused here with the reason on ``given_on``, unless it is a historical dose
given elsewhere (``given_elsewhere``): WHO keeps such a dose on the card but
does not count it, so it is stored with ``valid = false`` and the reason and
the schedule asks for it again. One valid dose per antigen and dose number is
a partial unique index (``ux_immunization_dose_valid``); the check here only
makes the usual case's message friendlier.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.schemas import (
    CardOut,
    DoseIn,
    DoseOut,
    DueDoseOut,
    ExemptionIn,
    ExemptionOut,
    ScheduleOut,
)
from salomat.domains.immunization.service import schedule as engine
from salomat.domains.registry import service as registry

__all__ = [
    "IMMUNIZATION",
    "calendar_options",
    "due_dose_out",
    "get_card",
    "get_dose",
    "get_schedule",
    "list_doses",
    "list_exemptions",
    "mark_entered_in_error",
    "record_dose",
    "record_exemption",
    "search_doses",
    "withdraw_exemption",
]

#: the audit's resource type (FHIR Immunization)
IMMUNIZATION = "Immunization"


def _country() -> str:
    return get_settings().country


def calendar_options(country: str | None = None) -> engine.Calendar:
    """The deployed country's calendar (series, vaccines, sites) for forms and FHIR."""
    return engine.calendar(country or _country())


def _dose_out(d: Dose, cal: engine.Calendar | None = None) -> DoseOut:
    out = DoseOut.model_validate(d)
    series = (cal or calendar_options()).get(d.antigen)
    out.label = series.label if series else d.antigen
    return out


def due_dose_out(d: engine.DueDose) -> DueDoseOut:
    data = {k: getattr(d, k) for k in DueDoseOut.model_fields}
    data["waiting_for"] = f"{d.waiting_for[0]}/{d.waiting_for[1]}" if d.waiting_for else None
    return DueDoseOut.model_validate(data)


def _exemption_out(e: Exemption, today: date | None = None) -> ExemptionOut:
    out = ExemptionOut.model_validate(e)
    day = today or date.today()
    out.active = (
        (e.withdrawn_on is None or e.withdrawn_on > day)
        and e.starts_on <= day
        and (e.ends_on is None or e.ends_on >= day)
    )
    return out


async def _open(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    action: str,
    purpose: str | None = None,
) -> tuple[date, str]:
    """Scope check and audit; the person's birth date and sex."""
    await require_person(
        session, principal, person_id, action=action, resource_type=IMMUNIZATION, purpose=purpose
    )
    person = await registry.get_person(
        session, principal, person_id, purpose=purpose or "immunization"
    )
    return person.birth_date, person.sex


async def _doses(session: AsyncSession, person_id: int) -> list[Dose]:
    rows = await session.execute(
        select(Dose).where(Dose.person_id == person_id).order_by(Dose.given_on, Dose.id)
    )
    return list(rows.scalars())


async def _exemptions(session: AsyncSession, person_id: int) -> list[Exemption]:
    rows = await session.execute(
        select(Exemption)
        .where(Exemption.person_id == person_id)
        .order_by(Exemption.starts_on, Exemption.id)
    )
    return list(rows.scalars())


# ---- reading --------------------------------------------------------------------------


async def list_doses(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    include_errors: bool = False,
) -> list[DoseOut]:
    """Every dose on the card, oldest first, invalid ones with their reason."""
    await _open(session, principal, person_id, action="read")
    cal = calendar_options()
    return [
        _dose_out(d, cal)
        for d in await _doses(session, person_id)
        if include_errors or d.status != "entered_in_error"
    ]


async def search_doses(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    antigen: str | None = None,
    vaccine: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
) -> list[DoseOut]:
    """Doses of one person filtered (the FHIR search); entered-in-error ones only by status."""
    await _open(session, principal, person_id, action="search")
    cal = calendar_options()
    out = []
    for d in await _doses(session, person_id):
        if status is None and d.status == "entered_in_error":
            continue
        if status is not None and d.status != status:
            continue
        if antigen is not None and d.antigen != antigen:
            continue
        if vaccine is not None and d.vaccine != vaccine:
            continue
        if date_from is not None and d.given_on < date_from:
            continue
        if date_to is not None and d.given_on > date_to:
            continue
        out.append(_dose_out(d, cal))
    return out


async def _load_dose(session: AsyncSession, principal: Principal, dose_id: int) -> Dose:
    d = await session.get(Dose, dose_id)
    if d is None:
        await audit.denied(
            session,
            principal,
            resource_type=IMMUNIZATION,
            resource_id=str(dose_id),
            detail="no such dose",
        )
        raise NotFound(f"Immunization {dose_id} not found.")
    return d


async def get_dose(session: AsyncSession, principal: Principal, dose_id: int) -> DoseOut:
    """One dose (any status); out of scope answers like a missing one."""
    d = await _load_dose(session, principal, dose_id)
    try:
        await _open(session, principal, d.person_id, action="read")
    except NotFound:
        raise NotFound(f"Immunization {dose_id} not found.") from None
    return _dose_out(d)


def _schedule(
    birth: date,
    sex: str,
    doses: list[Dose],
    exemptions: list[Exemption],
    today: date,
) -> list[engine.DueDose]:
    return engine.schedule_for(birth, sex, doses, exemptions, today, _country())


async def get_schedule(
    session: AsyncSession, principal: Principal, person_id: int, *, on: date | None = None
) -> ScheduleOut:
    """Every calendar dose with its status (given, due, overdue, upcoming, ...) as of ``on``."""
    birth, sex = await _open(session, principal, person_id, action="read")
    today = on or date.today()
    items = _schedule(
        birth, sex, await _doses(session, person_id), await _exemptions(session, person_id), today
    )
    return ScheduleOut(
        person_id=person_id,
        birth_date=birth,
        sex=sex,
        country=_country(),
        on=today,
        overdue_after_days=engine.OVERDUE_AFTER_DAYS,
        doses=[due_dose_out(i) for i in items],
    )


async def get_card(
    session: AsyncSession, principal: Principal, person_id: int, *, on: date | None = None
) -> CardOut:
    """The vaccination card: doses (invalid ones with their reason), the plan, exemptions."""
    birth, sex = await _open(session, principal, person_id, action="read")
    today = on or date.today()
    doses = await _doses(session, person_id)
    exemptions = await _exemptions(session, person_id)
    cal = calendar_options()
    return CardOut(
        person_id=person_id,
        birth_date=birth,
        sex=sex,
        doses=[_dose_out(d, cal) for d in doses if d.status != "entered_in_error"],
        schedule=[due_dose_out(i) for i in _schedule(birth, sex, doses, exemptions, today)],
        exemptions=[_exemption_out(e, today) for e in exemptions],
    )


# ---- writing --------------------------------------------------------------------------


def _check_fields(data: DoseIn, birth: date, today: date, cal: engine.Calendar) -> list[FieldError]:
    errors: list[FieldError] = []
    series = cal.get(data.antigen)
    if series is None:
        known = ", ".join(s.antigen for s in cal.series)
        errors.append(FieldError("antigen", f"{data.antigen!r} is not in the calendar ({known})"))
    elif cal.rule(data.antigen, data.dose_number) is None:
        numbers = ", ".join(str(r.dose_number) for r in series.doses)
        errors.append(
            FieldError(
                "dose_number",
                f"{data.antigen} has no dose {data.dose_number} in the calendar ({numbers})",
            )
        )
    if data.vaccine is not None:
        if data.vaccine not in cal.vaccines:
            errors.append(FieldError("vaccine", f"{data.vaccine!r} is not a known vaccine"))
        elif series is not None and data.vaccine not in series.vaccines:
            errors.append(
                FieldError("vaccine", f"{data.vaccine} is not a vaccine for {data.antigen}")
            )
    elif not data.given_elsewhere:
        errors.append(FieldError("vaccine", "is required for a dose given here"))
    if data.site is not None and data.site not in cal.sites:
        errors.append(FieldError("site", f"{data.site!r} is not a known site"))
    if data.given_on > today:
        errors.append(FieldError("given_on", "is in the future"))
    elif data.given_on < birth:
        errors.append(FieldError("given_on", f"is before the date of birth ({birth:%d.%m.%Y})"))
    if data.expires_on is not None and data.expires_on < data.given_on:
        errors.append(FieldError("expires_on", "the lot had expired on the day it was given"))
    if data.given_elsewhere and not (data.place or "").strip():
        errors.append(FieldError("place", "is required for a dose given elsewhere"))
    if not data.given_elsewhere and data.place:
        errors.append(FieldError("place", "only for a dose given elsewhere"))
    return errors


async def record_dose(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: DoseIn,
    *,
    source: str | None = None,
) -> DoseOut:
    """Record a dose for a living person.

    Refused (422, naming the field): unknown antigen, dose number, vaccine or
    site; a date in the future or before birth; a dose before its minimum
    age or interval (on ``given_on``, with the reason) unless it was given
    elsewhere, in which case it is stored invalid with the reason. A second
    valid dose of the same antigen and number is a 409.
    """
    birth, _sex = await _open(session, principal, person_id, action="create")
    today = date.today()
    await registry.require_alive(session, person_id, min(data.given_on, today))
    cal = calendar_options()
    errors = _check_fields(data, birth, today, cal)
    if data.practitioner_id is not None and not await registry.practitioner_exists(
        session, data.practitioner_id
    ):
        errors.append(FieldError("practitioner_id", "no such practitioner"))
    if errors:
        raise Invalid.fields(errors)
    doses = [d for d in await _doses(session, person_id) if d.status != "entered_in_error"]
    check = engine.check_dose(birth, data.antigen, data.dose_number, data.given_on, doses, cal)
    if not check.valid and not data.given_elsewhere:
        raise Invalid.fields(
            [FieldError("given_on", f"too early: {check.reason}")],
            detail=f"{data.antigen} dose {data.dose_number} on {data.given_on:%d.%m.%Y} "
            f"would not count: {check.reason}",
        )
    if check.valid:
        for d in doses:
            if d.valid and d.antigen == data.antigen and d.dose_number == data.dose_number:
                raise Conflict(
                    f"{data.antigen} dose {data.dose_number} is already recorded "
                    f"(Immunization {d.id}, {d.given_on:%d.%m.%Y}).",
                    extensions={"existing": d.id},
                )
    dose = Dose(
        person_id=person_id,
        antigen=data.antigen,
        dose_number=data.dose_number,
        given_on=data.given_on,
        vaccine=data.vaccine,
        lot=(data.lot or "").strip() or None,
        expires_on=data.expires_on,
        site=data.site,
        facility_id=None if data.given_elsewhere else principal.facility_id,
        place_elsewhere=(data.place or "").strip() or None,
        practitioner_id=data.practitioner_id,
        valid=check.valid,
        invalid_reason=None if check.valid else check.reason,
        status="completed",
        source=source or ("elsewhere" if data.given_elsewhere else "entered"),
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(dose)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict(f"{data.antigen} dose {data.dose_number} is already recorded.") from e
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=IMMUNIZATION,
        resource_id=str(dose.id),
        patient_id=person_id,
        detail=f"{dose.antigen}/{dose.dose_number}" + ("" if dose.valid else " invalid"),
    )
    return _dose_out(dose, cal)


async def mark_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    dose_id: int,
    expected_version: int | None,
    reason: str | None = None,
) -> DoseOut:
    """The dose was recorded by mistake: kept, but no longer on the card or in the schedule."""
    d = await _load_dose(session, principal, dose_id)
    try:
        await _open(session, principal, d.person_id, action="update")
    except NotFound:
        raise NotFound(f"Immunization {dose_id} not found.") from None
    if expected_version is None:
        raise PreconditionFailed("Send If-Match with the version you read (its ETag).")
    if expected_version != d.version:
        raise PreconditionFailed(
            f"The dose changed since you read it (version {d.version}, you sent "
            f"{expected_version}); reload and retry."
        )
    if d.status == "entered_in_error":
        raise InvalidState(f"Immunization {dose_id} is already marked entered in error.")
    d.status = "entered_in_error"
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The dose changed while you edited it; reload.") from e
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=IMMUNIZATION,
        resource_id=str(d.id),
        patient_id=d.person_id,
        detail=f"entered in error: {reason}" if reason else "entered in error",
    )
    return _dose_out(d)


async def list_exemptions(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[ExemptionOut]:
    """Contraindications and refusals, withdrawn ones included (``active`` says which count)."""
    await _open(session, principal, person_id, action="read")
    return [_exemption_out(e) for e in await _exemptions(session, person_id)]


async def record_exemption(
    session: AsyncSession, principal: Principal, person_id: int, data: ExemptionIn
) -> ExemptionOut:
    """A contraindication or refusal: the schedule shows the antigen as exempt meanwhile."""
    await _open(session, principal, person_id, action="create")
    await registry.require_alive(session, person_id)
    cal = calendar_options()
    today = date.today()
    starts = data.starts_on or today
    errors: list[FieldError] = []
    if data.antigen is not None and cal.get(data.antigen) is None:
        errors.append(FieldError("antigen", f"{data.antigen!r} is not in the calendar"))
    if not data.reason.strip():
        errors.append(FieldError("reason", "is required"))
    if data.ends_on is not None and data.ends_on < starts:
        errors.append(FieldError("ends_on", "is before starts_on"))
    if errors:
        raise Invalid.fields(errors)
    e = Exemption(
        person_id=person_id,
        kind=data.kind,
        antigen=data.antigen,
        reason=data.reason.strip(),
        starts_on=starts,
        ends_on=data.ends_on,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(e)
    await session.flush()
    return _exemption_out(e, today)


async def withdraw_exemption(
    session: AsyncSession,
    principal: Principal,
    exemption_id: int,
    withdrawn_on: date | None = None,
) -> ExemptionOut:
    """The contraindication is over or the refusal taken back: the antigen is planned again."""
    e = await session.get(Exemption, exemption_id)
    if e is None:
        await audit.denied(
            session,
            principal,
            resource_type=IMMUNIZATION,
            resource_id=f"exemption/{exemption_id}",
            detail="no such exemption",
        )
        raise NotFound(f"Exemption {exemption_id} not found.")
    try:
        await _open(session, principal, e.person_id, action="update")
    except NotFound:
        raise NotFound(f"Exemption {exemption_id} not found.") from None
    if e.withdrawn_on is not None:
        raise InvalidState(f"Exemption {exemption_id} was withdrawn on {e.withdrawn_on}.")
    day = withdrawn_on or date.today()
    if day > date.today():
        raise Invalid.fields([FieldError("withdrawn_on", "is in the future")])
    e.withdrawn_on = day
    await session.flush()
    return _exemption_out(e)


# ---- a registry merge moves the card ---------------------------------------------------

_MOVED: dict[str, type[Dose] | type[Exemption]] = {
    "immunization_dose": Dose,
    "immunization_exemption": Exemption,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points every dose and exemption; an unmerge, exactly the rows it moved.

    Refused when both records hold a valid dose of the same antigen and number
    (one must be marked entered in error first: the card keeps one per dose).
    """
    if event.only is None:
        mine = {
            (d.antigen, d.dose_number)
            for d in await _doses(session, event.from_id)
            if d.valid and d.status == "completed"
        }
        theirs = {
            (d.antigen, d.dose_number)
            for d in await _doses(session, event.to_id)
            if d.valid and d.status == "completed"
        }
        both = sorted(mine & theirs)
        if both:
            named = ", ".join(f"{a} dose {n}" for a, n in both)
            raise Conflict(
                f"Both records have {named}; mark the duplicate entered in error before merging."
            )
    for key, model in _MOVED.items():
        q = select(model.id).where(model.person_id == event.from_id)
        if event.only is not None:
            ids = event.only.get(key, [])
            if not ids:
                continue
            q = q.where(model.id.in_(ids))
        moved = [int(i) for i in (await session.execute(q)).scalars()]
        if moved:
            await session.execute(
                update(model).where(model.id.in_(moved)).values(person_id=event.to_id)
            )
            event.moved[key] = moved
    if event.moved:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Dose | Exemption):
                session.expire(obj)
