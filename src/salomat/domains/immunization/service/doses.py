"""The immunization register: record and correct doses, exemptions, the card and the plan.

Every read and write goes through ``policy.require_person`` (scope check and
audit row in one call, resource type ``Immunization``): an out-of-scope user
gets 404, as for a missing record. Writes check every field before anything
is added to the session, so a refused request stores nothing.

Doses count in order (``counting``): each write recounts the person's doses
in date order and stores, on every dose whose verdict changed, where it
counts (``counted_as``), whether it is valid and why not. The recorded
``dose_number`` is kept as the clinician wrote it; when it differs from the
place the dose counts in, the dose is flagged for review (``needs_review``).

The same dose entered twice (antigen, number and day) is 409. A dose given
before its minimum age or interval, at or after its upper age (``max_age``),
or once its series is complete, is refused here (422 on ``given_on``, 409),
unless it is a
historical dose given elsewhere (``given_elsewhere``): WHO keeps such a dose
on the card but does not count it, so it is stored with ``valid = false`` and
the reason and the schedule asks for it again. One dose per counted place is
a partial unique index (``ux_immunization_dose_counted``): two nurses
recording a dose of the same series at once store one; the other gets 409.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit, events, i18n
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
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
    ExemptionOut,
    ScheduleOut,
)
from salomat.domains.immunization.service import schedule as engine
from salomat.domains.immunization.service.labels import invalid_reason_text
from salomat.domains.registry import service as registry

__all__ = [
    "IMMUNIZATION",
    "calendar_options",
    "due_dose_out",
    "get_card",
    "get_dose",
    "get_schedule",
    "list_doses",
    "mark_entered_in_error",
    "record_dose",
    "search_doses",
]

#: the audit's resource type (FHIR Immunization)
IMMUNIZATION = "Immunization"


def _country() -> str:
    return get_settings().country


def calendar_options(country: str | None = None) -> engine.Calendar:
    """The deployed country's calendar (series, vaccines, sites) for forms and FHIR."""
    return engine.calendar(country or _country())


def _dose_out(d: Dose, cal: engine.Calendar | None = None) -> DoseOut:
    cal = cal or calendar_options()
    out = DoseOut.model_validate(d)
    series = cal.get(d.antigen)
    out.label = series.label if series else d.antigen
    out.needs_review = (
        d.status == "completed" and d.counted_as is not None and d.counted_as != d.dose_number
    )
    if d.status == "completed" and d.counted_as is not None and series is not None:
        chain = cal.chain(d.antigen)
        place = next(
            (r for r in (chain.places if chain else ()) if r.dose_number == d.counted_as), None
        )
        if place is not None and place.antigen != d.antigen:
            other = cal.get(place.antigen)
            out.counted_in = place.antigen
            out.counted_in_label = other.label if other else place.antigen
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
        raise NotFound(N_("Immunization %(id)s not found."), params={"id": dose_id})
    return d


async def get_dose(session: AsyncSession, principal: Principal, dose_id: int) -> DoseOut:
    """One dose (any status); out of scope answers like a missing one."""
    d = await _load_dose(session, principal, dose_id)
    try:
        await _open(session, principal, d.person_id, action="read")
    except NotFound:
        raise NotFound(N_("Immunization %(id)s not found."), params={"id": dose_id}) from None
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


Change = tuple[Dose, bool, str | None, int | None]


def _changes(doses: list[Dose], verdicts: list[engine.Counted | None]) -> list[Change]:
    """The doses whose stored verdict the count changes: (dose, valid, reason, counted_as)."""
    out: list[Change] = []
    for d, v in zip(doses, verdicts, strict=True):
        if v is None:
            now = (d.valid, d.invalid_reason, None)  # entered in error: counts nowhere
        elif v.unknown:
            continue
        else:
            now = (v.valid, v.reason, v.counted_as)
        if (d.valid, d.invalid_reason, d.counted_as) != now:
            out.append((d, *now))
    return out


async def _store_counts(session: AsyncSession, changes: list[Change]) -> None:
    """Write new verdicts; rows that move to another place first leave theirs.

    One dose per counted place is a unique index, checked row by row: when an
    earlier dose entered late moves dose 1 to 2 and 2 to 3, the rows that move
    are cleared in one statement before any is set (the version is not bumped
    twice: the ORM update that follows carries the one change).
    """
    moving = [
        d.id
        for d, _valid, _reason, counted in changes
        if d.id is not None and d.counted_as is not None and d.counted_as != counted
    ]
    if moving:
        await session.execute(
            update(Dose)
            .where(Dose.id.in_(moving))
            .values(counted_as=None)
            .execution_options(synchronize_session=False)
        )
    for d, valid, reason, counted in changes:
        d.valid, d.invalid_reason, d.counted_as = valid, reason, counted


async def recount(session: AsyncSession, person_id: int, birth: date) -> int:
    """Count the person's doses again and store what changed; how many changed."""
    await registry.hold_person(session, person_id)  # one writer of the card at a time
    doses = await _doses(session, person_id)
    changes = _changes(doses, engine.count_doses(birth, doses, calendar_options()))
    await _store_counts(session, changes)
    try:
        await session.flush()
    except (IntegrityError, StaleDataError) as e:
        raise Conflict(N_("The vaccination card changed meanwhile; reload and retry.")) from e
    return len(changes)


def _check_fields(data: DoseIn, birth: date, today: date, cal: engine.Calendar) -> list[FieldError]:
    errors: list[FieldError] = []
    series = cal.get(data.antigen)
    if series is None:
        known = ", ".join(s.antigen for s in cal.all_series)
        errors.append(
            FieldError(
                "antigen",
                N_("%(antigen)r is not in the calendar (%(known)s)"),
                {"antigen": data.antigen, "known": known},
            )
        )
    elif not cal.accepts(data.antigen, data.dose_number):
        chain = cal.chain(data.antigen)
        numbers = ", ".join(str(n) for n in (chain.numbers if chain else ()))
        errors.append(
            FieldError(
                "dose_number",
                N_("%(antigen)s has no dose %(dose)s in the calendar (%(numbers)s)"),
                {"antigen": data.antigen, "dose": data.dose_number, "numbers": numbers},
            )
        )
    if data.vaccine is not None:
        if data.vaccine not in cal.vaccines:
            errors.append(
                FieldError(
                    "vaccine", N_("%(vaccine)r is not a known vaccine"), {"vaccine": data.vaccine}
                )
            )
        elif series is not None and data.vaccine not in series.vaccines:
            errors.append(
                FieldError(
                    "vaccine",
                    N_("%(vaccine)s is not a vaccine for %(antigen)s"),
                    {"vaccine": data.vaccine, "antigen": data.antigen},
                )
            )
    elif not data.given_elsewhere:
        errors.append(FieldError("vaccine", N_("is required for a dose given here")))
    if data.site is not None and data.site not in cal.sites:
        errors.append(FieldError("site", N_("%(site)r is not a known site"), {"site": data.site}))
    if data.given_on > today:
        errors.append(FieldError("given_on", N_("is in the future")))
    elif data.given_on < birth:
        errors.append(
            FieldError(
                "given_on",
                N_("is before the date of birth (%(birth)s)"),
                {"birth": f"{birth:%d.%m.%Y}"},
            )
        )
    if data.expires_on is not None and data.expires_on < data.given_on:
        errors.append(FieldError("expires_on", N_("the lot had expired on the day it was given")))
    if data.given_elsewhere and not (data.place or "").strip():
        errors.append(FieldError("place", N_("is required for a dose given elsewhere")))
    if not data.given_elsewhere and data.place:
        errors.append(FieldError("place", N_("only for a dose given elsewhere")))
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
    age or interval, or at or after its upper age (on ``given_on``, with the
    reason) unless it was given elsewhere, in which case it is stored invalid
    with the reason and counts nowhere. A second valid dose of the same
    antigen and number is a 409.
    """
    birth, _sex = await _open(session, principal, person_id, action="create")
    today = date.today()
    await registry.require_alive(session, person_id, min(data.given_on, today))
    cal = calendar_options()
    errors = _check_fields(data, birth, today, cal)
    if data.practitioner_id is not None and not await registry.practitioner_exists(
        session, data.practitioner_id
    ):
        errors.append(FieldError("practitioner_id", N_("no such practitioner")))
    if errors:
        raise Invalid.fields(errors)
    # the card is counted from what is read: two doses recorded at once (a Penta and a DTP
    # of one chain, or two doses of a series) must not both be counted from the same card
    await registry.hold_person(session, person_id)
    doses = await _doses(session, person_id)
    for d in doses:
        if (
            d.status == "completed"
            and d.antigen == data.antigen
            and d.given_on == data.given_on
            and d.dose_number == data.dose_number
        ):
            raise Conflict(
                N_("Dose %(dose)s of this vaccine given on %(day)s is already recorded."),
                params={"dose": data.dose_number, "day": f"{data.given_on:%d.%m.%Y}"},
                errors=[FieldError("dose_number", N_("is already recorded for this day"))],
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
        valid=True,
        invalid_reason=None,
        counted_as=None,
        status="completed",
        source=source or ("elsewhere" if data.given_elsewhere else "entered"),
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    verdicts = engine.count_doses(birth, [*doses, dose], cal)
    mine = verdicts[-1]
    assert mine is not None
    if not mine.valid and not data.given_elsewhere:
        _refuse(data, mine, doses)
    changes = _changes([*doses, dose], verdicts)
    await _store_counts(session, changes)
    session.add(dose)
    try:
        await session.flush()
    except (IntegrityError, StaleDataError) as e:
        raise Conflict(
            N_(
                "Another dose of this vaccine was recorded for this person at the same time; "
                "reload the card and retry."
            )
        ) from e
    moved = len([c for c in changes if c[0] is not dose])
    detail = f"{dose.antigen}/{dose.dose_number}"
    if mine.counted_as is not None and mine.counted_as != dose.dose_number:
        detail += f" counted as {mine.counted_as}"
    if not mine.valid:
        detail += " invalid"
    if moved:
        detail += f"; {moved} other dose(s) recounted"
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=IMMUNIZATION,
        resource_id=str(dose.id),
        patient_id=person_id,
        detail=detail,
    )
    await events.publish(session, events.ResourceChanged("Immunization", str(dose.id), person_id))
    return _dose_out(dose, cal)


class _VerdictError(FieldError):
    """The engine's reason, as stored in English; in another language its translation."""

    __slots__ = ("reason",)

    def __init__(self, field: str, message: str, *, reason: str) -> None:
        super().__init__(field, message)
        self.reason = reason

    @property
    def message(self) -> str:
        if i18n.current_language() == "en":
            return self.english
        return invalid_reason_text(self.reason) or self.english


def _refuse(data: DoseIn, verdict: engine.Counted, doses: list[Dose]) -> None:
    """A dose given here that would not count: 409 when the series is complete, else 422
    (too early, or at or after the upper age: a rotavirus dose at 38 months)."""
    reason = verdict.reason
    if verdict.code == "series_complete":
        last = max(
            (d for d in doses if d.antigen == data.antigen and d.counted_as is not None),
            key=lambda d: d.given_on,
            default=None,
        )
        raise Conflict(
            f"{data.antigen}: {reason}.",
            extensions={"existing": last.id} if last is not None else None,
        )
    when = "too late" if verdict.code == "too_late_age" else "too early"
    raise Invalid.fields(
        [_VerdictError("given_on", f"{when}: {reason}", reason=reason or "")],
        detail=f"{data.antigen} dose {data.dose_number} on {data.given_on:%d.%m.%Y} "
        f"would not count: {reason}",
    )


async def mark_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    dose_id: int,
    expected_version: int | None,
    reason: str | None = None,
) -> DoseOut:
    """The dose was recorded by mistake: kept, but no longer on the card or in the schedule.

    A dose already marked is answered as it is, whatever version was sent (a retry whose
    answer was lost): the mark is all the dose stores; the first reason stays in the audit.
    """
    d = await _load_dose(session, principal, dose_id)
    try:
        await _open(session, principal, d.person_id, action="update")
    except NotFound:
        raise NotFound(N_("Immunization %(id)s not found."), params={"id": dose_id}) from None
    if expected_version is None:
        raise PreconditionFailed("Send If-Match with the version you read (its ETag).")
    if d.status == "entered_in_error":
        return _dose_out(d)
    if expected_version != d.version:
        raise PreconditionFailed(
            f"The dose changed since you read it (version {d.version}, you sent "
            f"{expected_version}); reload and retry."
        )
    d.status = "entered_in_error"
    d.counted_as = None
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The dose changed while you edited it; reload.") from e
    birth = (await registry.birth_dates(session, [d.person_id]))[d.person_id]
    await recount(session, d.person_id, birth)
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=IMMUNIZATION,
        resource_id=str(d.id),
        patient_id=d.person_id,
        detail=f"entered in error: {reason}" if reason else "entered in error",
    )
    await events.publish(session, events.ResourceChanged("Immunization", str(d.id), d.person_id))
    return _dose_out(d)
