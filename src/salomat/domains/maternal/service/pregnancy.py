"""The pregnancy register: open, record antenatal contacts, close; and the advice.

Every read and write of a pregnancy goes through ``policy.require_person``
(scope check and audit row in one call): an out-of-scope clinician gets 404,
as for a missing record. Writes check every field before anything is added
to the session, so a refused request stores nothing. One current pregnancy
per woman is a unique index (``ux_pregnancy_current``); the check here only
makes the usual case's message friendlier.

After each write the rules (``service.rules``, the WHO ANC DAK decision
tables) run over the whole pregnancy: the advice they give replaces the
active set, and the risk level and level of care are stored on the pregnancy.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, events
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import (
    AdviceItem,
    AntenatalContact,
    Baby,
    BirthRecord,
    Diagnosis,
    PostnatalContact,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.schemas import (
    AdviceOut,
    CloseIn,
    ContactIn,
    ContactOut,
    PregnancyDetail,
    PregnancyIn,
    PregnancyOut,
)
from salomat.domains.maternal.service import dating, rules

# re-exported: the other maternal modules read the facts and dates through ``pregnancy``
from salomat.domains.maternal.service.evaluation import (
    _contacts as _contacts,
)
from salomat.domains.maternal.service.evaluation import (
    _country as _country,
)
from salomat.domains.maternal.service.evaluation import (
    _diagnoses,
    _save,
    _start,
    diagnoses_out,
    evaluate,
    ga_on,
)
from salomat.domains.maternal.service.evaluation import (
    _facts as _facts,
)
from salomat.domains.maternal.service.evaluation import (
    _json as _json,
)
from salomat.domains.registry import service as registry

__all__ = [
    "close_pregnancy",
    "current_pregnancy_of",
    "evaluate",
    "get_pregnancy",
    "list_advice",
    "list_contacts",
    "list_pregnancies",
    "open_pregnancy",
    "record_contact",
]

#: FHIR's name for a pregnancy record (an episode of antenatal care), in the audit
RESOURCE = "EpisodeOfCare"
#: an antenatal contact, in the audit
CONTACT = "Encounter"

#: outcomes that only a birth record gives (it registers the babies)
BIRTH_OUTCOMES = ("live_birth", "stillbirth")
#: from 22 completed weeks a fetal death is a stillbirth, not a miscarriage (WHO, ICD-10)
STILLBIRTH_FROM_DAYS = 22 * 7
#: age at the LMP outside which a registration is a typing error
AGE_RANGE = (10, 60)
#: impossible values (not abnormal ones: those are what the rules are for)
LIMITS: dict[str, tuple[float, float, str]] = {
    "systolic_1": (50, 300, "mmHg"),
    "systolic_2": (50, 300, "mmHg"),
    "diastolic_1": (20, 200, "mmHg"),
    "diastolic_2": (20, 200, "mmHg"),
    "temperature_c_1": (30, 45, "°C"),
    "temperature_c_2": (30, 45, "°C"),
    "pulse_1": (20, 250, "/min"),
    "pulse_2": (20, 250, "/min"),
    "spo2": (50, 100, "%"),
    "fetal_heart_rate_1": (50, 250, "/min"),
    "fetal_heart_rate_2": (50, 250, "/min"),
    "fundal_height_cm": (5, 50, "cm"),
    "weight_kg": (25, 250, "kg"),
    "height_cm": (100, 220, "cm"),
    "haemoglobin_g_l": (20, 250, "g/L"),
    "fasting_glucose_mmol_l": (1, 40, "mmol/L"),
    "ogtt_1h_mmol_l": (1, 40, "mmol/L"),
    "ogtt_2h_mmol_l": (1, 40, "mmol/L"),
    "random_glucose_mmol_l": (1, 40, "mmol/L"),
}
_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def weeks(days: int) -> str:
    return f"{days // 7}w{days % 7}d"


# ---- reading --------------------------------------------------------------------------


async def _load(session: AsyncSession, principal: Principal, pregnancy_id: int) -> Pregnancy:
    p = await session.get(Pregnancy, pregnancy_id)
    if p is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(pregnancy_id),
            detail="no such pregnancy",
        )
        raise NotFound(N_("Pregnancy %(id)s not found."), params={"id": pregnancy_id})
    return p


async def _open(
    session: AsyncSession, principal: Principal, pregnancy_id: int, *, action: str, what: str
) -> Pregnancy:
    """Load and check scope: an out-of-scope pregnancy is ``NotFound`` like a missing one."""
    p = await _load(session, principal, pregnancy_id)
    try:
        await require_person(
            session, principal, p.person_id, action=action, resource_type=what, purpose=None
        )
    except NotFound:
        raise NotFound(N_("Pregnancy %(id)s not found."), params={"id": pregnancy_id}) from None
    return p


def _out(p: Pregnancy) -> PregnancyOut:
    out = PregnancyOut.model_validate(p)
    out.ga_days = ga_on(p, p.closed_on or date.today())
    out.ga_weeks = weeks(out.ga_days)
    return out


def _contact_out(c: AntenatalContact) -> ContactOut:
    out = ContactOut.model_validate(c)
    out.ga_weeks = weeks(c.ga_days)
    return out


async def _advice(
    session: AsyncSession, pregnancy_id: int, *, retired: bool = False
) -> list[AdviceOut]:
    q = select(AdviceItem).where(AdviceItem.pregnancy_id == pregnancy_id)
    if not retired:
        q = q.where(AdviceItem.active.is_(True))
    rows = await session.execute(q.order_by(AdviceItem.id))
    return [AdviceOut.model_validate(a) for a in rows.scalars()]


async def _detail(session: AsyncSession, p: Pregnancy) -> PregnancyDetail:
    out = PregnancyDetail.model_validate(_out(p).model_dump())
    contacts = await _contacts(session, p.id)
    out.contacts = [_contact_out(c) for c in contacts]
    out.advice = await _advice(session, p.id)
    out.diagnoses = diagnoses_out(await _diagnoses(session, p.id), contacts)
    return out


async def get_pregnancy(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> PregnancyDetail:
    """The pregnancy with its contacts, its active advice and its risk level."""
    p = await _open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    return await _detail(session, p)


async def list_pregnancies(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[PregnancyOut]:
    """Her pregnancies, the newest first."""
    await require_person(session, principal, person_id, action="read", resource_type=RESOURCE)
    rows = await session.execute(
        select(Pregnancy)
        .where(Pregnancy.person_id == person_id)
        .order_by(Pregnancy.edd.desc(), Pregnancy.id.desc())
    )
    return [_out(p) for p in rows.scalars()]


async def current_pregnancy_of(
    session: AsyncSession, principal: Principal, person_id: int
) -> PregnancyOut | None:
    await require_person(session, principal, person_id, action="read", resource_type=RESOURCE)
    p = await _current(session, person_id)
    return _out(p) if p is not None else None


async def _current(session: AsyncSession, person_id: int) -> Pregnancy | None:
    return (
        await session.execute(
            select(Pregnancy).where(Pregnancy.person_id == person_id, Pregnancy.status == "current")
        )
    ).scalar_one_or_none()


async def list_contacts(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> list[ContactOut]:
    await _open(session, principal, pregnancy_id, action="read", what=CONTACT)
    return [_contact_out(c) for c in await _contacts(session, pregnancy_id)]


async def list_advice(
    session: AsyncSession, principal: Principal, pregnancy_id: int, *, retired: bool = False
) -> list[AdviceOut]:
    """The active advice (with ``retired``, every evaluation's, oldest first)."""
    await _open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    return await _advice(session, pregnancy_id, retired=retired)


# ---- writing --------------------------------------------------------------------------


def _check_version(p: Pregnancy, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != p.version:
        raise PreconditionFailed(
            N_(
                "The pregnancy record changed since you read it (version %(version)s, you "
                "sent %(sent)s); reload and retry."
            ),
            params={"version": p.version, "sent": expected},
        )


def _codes(values: list[str], field: str) -> tuple[list[str], list[FieldError]]:
    """Lower-case snake_case codes, each once, in the order given."""
    out: list[str] = []
    errors = []
    for v in values:
        code = v.strip().lower()
        if not code or not set(code) <= _CODE_CHARS or len(code) > 64:
            errors.append(
                FieldError(
                    field,
                    N_("%(value)s is not a code (lower-case letters, digits, _)"),
                    {"value": repr(v)},
                )
            )
        elif code not in out:
            out.append(code)
    return out, errors


async def open_pregnancy(
    session: AsyncSession, principal: Principal, person_id: int, data: PregnancyIn
) -> PregnancyDetail:
    """Register a pregnancy: dated, history recorded, evaluated by the rules.

    Refused for a man, a woman who has died, an age at the LMP outside 10-60
    years and a woman who already has a current pregnancy (409, with its id).
    """
    await require_person(session, principal, person_id, action="create", resource_type=RESOURCE)
    person = await registry.get_person(
        session, principal, person_id, purpose="pregnancy registration"
    )
    if person.sex != "female":
        raise InvalidState(
            N_(
                "Patient %(id)s is not registered as female: a pregnancy is registered for a woman."
            ),
            params={"id": person_id},
        )
    today = date.today()
    on = data.registered_on or today
    await registry.require_alive(session, person_id, on)

    errors: list[FieldError] = []
    if on > today:
        errors.append(FieldError("registered_on", N_("is in the future")))
    if data.parity >= data.gravida:
        errors.append(
            FieldError(
                "parity",
                N_("must be less than gravida (%(gravida)s): this pregnancy counts"),
                {"gravida": data.gravida},
            )
        )
    if data.stillbirths > data.parity:
        errors.append(
            FieldError("stillbirths", N_("must not exceed parity (%(n)s)"), {"n": data.parity})
        )
    if data.miscarriages > data.gravida - 1 - data.parity:
        errors.append(
            FieldError(
                "miscarriages",
                N_("must not exceed gravida - 1 - parity (%(n)s)"),
                {"n": max(data.gravida - 1 - data.parity, 0)},
            )
        )
    conditions, bad = _codes(data.conditions, "conditions")
    errors += bad
    dated: dating.Dating | None = None
    try:
        dated = dating.date_pregnancy(
            on, data.lmp, data.scan_on, data.ga_days_at_scan, data.fundal_height_cm
        )
    except Invalid as e:
        errors += e.errors
    if dated is not None:
        start = dated.edd - timedelta(days=dating.PREGNANCY_DAYS)
        age = registry.age_on(person.birth_date, start)
        if not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
            field = "lmp" if data.lmp else "scan_on" if data.scan_on else "fundal_height_cm"
            errors.append(
                FieldError(
                    field,
                    N_(
                        "she would have been %(age)s at the start of this pregnancy (born "
                        "%(born)s); expected %(low)s-%(high)s"
                    ),
                    {
                        "age": age,
                        "born": f"{person.birth_date:%d.%m.%Y}",
                        "low": AGE_RANGE[0],
                        "high": AGE_RANGE[1],
                    },
                )
            )
    if errors or dated is None:
        raise Invalid.fields(errors)

    existing = await _current(session, person_id)
    if existing is not None:
        raise _already(existing.id)
    settlement = person.settlement_code
    if settlement is None and principal.facility_id is not None:
        settlement = (await registry.get_facility(session, principal.facility_id)).settlement_code
    now = utcnow()
    p = Pregnancy(
        person_id=person_id,
        status="current",
        registered_on=on,
        age_years=registry.age_on(person.birth_date, on),
        lmp=data.lmp,
        scan_on=data.scan_on,
        ga_days_at_scan=data.ga_days_at_scan,
        fundal_height_cm=data.fundal_height_cm,
        edd=dated.edd,
        dating_method=dated.method,
        suboptimally_dated=dated.suboptimal,
        dating_discrepancy_days=dated.discrepancy_days,
        gravida=data.gravida,
        parity=data.parity,
        previous_caesarean=data.previous_caesarean,
        previous_pre_eclampsia=data.previous_pre_eclampsia,
        previous_pph=data.previous_pph,
        previous_instrumental_birth=data.previous_instrumental_birth,
        previous_convulsions=data.previous_convulsions,
        previous_severe_tear=data.previous_severe_tear,
        stillbirths=data.stillbirths,
        miscarriages=data.miscarriages,
        multiple_pregnancy=data.multiple_pregnancy,
        conditions=conditions,
        facility_id=principal.facility_id,
        settlement_id=(
            await registry.territory_id_by_code(session, settlement) if settlement else None
        ),
        registered_by=principal.username,
        opened_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(p)
    try:
        await session.flush()
    except IntegrityError as e:
        raise _already(None) from e
    await evaluate(session, p)
    return await _detail(session, p)


def _already(pregnancy_id: int | None) -> Conflict:
    return Conflict(
        N_("She already has a current pregnancy; close it (with its outcome) first."),
        errors=[FieldError("person_id", N_("already has a current pregnancy"))],
        extensions={"current_pregnancy_id": pregnancy_id} if pregnancy_id else None,
    )


def _check_contact(p: Pregnancy, data: ContactIn, on: date) -> list[FieldError]:
    errors: list[FieldError] = []
    values = data.model_dump()
    for field, (low, high, unit) in LIMITS.items():
        v = values.get(field)
        if v is not None and not low <= v <= high:
            errors.append(
                FieldError(
                    field,
                    N_("%(value)s %(unit)s is impossible (expected %(low)s-%(high)s)"),
                    {"value": f"{v:g}", "unit": unit, "low": low, "high": high},
                )
            )
    for n in (1, 2):
        s, d = values[f"systolic_{n}"], values[f"diastolic_{n}"]
        if (s is None) != (d is None):
            missing = f"diastolic_{n}" if d is None else f"systolic_{n}"
            errors.append(FieldError(missing, N_("give both values of a blood-pressure reading")))
        elif s is not None and d is not None and d >= s:
            errors.append(
                FieldError(f"diastolic_{n}", N_("must be below the systolic (%(s)s)"), {"s": s})
            )
    if values["systolic_2"] is not None and values["systolic_1"] is None:
        errors.append(FieldError("systolic_1", N_("the second reading needs a first one")))
    if on > date.today():
        errors.append(FieldError("on", N_("is in the future")))
    start = _start(p)
    if on < start:
        errors.append(
            FieldError(
                "on",
                N_("is before this pregnancy began (dated from %(day)s)"),
                {"day": f"{start:%d.%m.%Y}"},
            )
        )
    elif ga_on(p, on) > dating.MAX_GA_DAYS:
        errors.append(
            FieldError(
                "on",
                N_(
                    "gestational age would be %(ga)s, over %(max)s weeks: check the date or "
                    "the pregnancy's dating"
                ),
                {"ga": weeks(ga_on(p, on)), "max": dating.MAX_GA_DAYS // 7},
            )
        )
    return errors


async def record_contact(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: ContactIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Record one antenatal contact and re-evaluate the rules over the whole pregnancy."""
    p = await _open(session, principal, pregnancy_id, action="create", what=CONTACT)
    _check_version(p, expected_version)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is closed."), params={"id": pregnancy_id})
    on = data.on or date.today()
    errors = _check_contact(p, data, on)
    danger, bad = _codes(data.danger_signs, "danger_signs")
    known = ", ".join(sorted(rules.DANGER_SIGNS))
    bad += [
        FieldError(
            "danger_signs",
            N_("%(code)s is not a danger sign (known: %(known)s)"),
            {"code": d, "known": known},
        )
        for d in danger
        if d not in rules.DANGER_SIGNS
    ]
    symptoms, bad2 = _codes(data.symptoms, "symptoms")
    errors += bad + bad2
    if errors:
        raise Invalid.fields(errors)
    await registry.require_alive(session, p.person_id, on)
    values = data.model_dump(exclude={"on", "danger_signs", "symptoms"})
    contact = AntenatalContact(
        pregnancy_id=p.id,
        person_id=p.person_id,
        on=on,
        ga_days=ga_on(p, on),
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
        danger_signs=danger,
        symptoms=symptoms,
        **values,
    )
    session.add(contact)
    await _save(session, p)
    await evaluate(session, p, contact_id=contact.id)
    return await _detail(session, p)


async def close_pregnancy(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: CloseIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Record a miscarriage or termination; she may then have a new pregnancy registered.

    A live birth or stillbirth is recorded with ``record_birth`` (the babies are
    registered), a maternal death by registering the death: both close the
    pregnancy themselves, so ``close`` refuses those outcomes, naming ``outcome``. Closed
    already with this outcome (and date, if one is sent): answered as it is, whatever
    version was read.
    """
    p = await _open(session, principal, pregnancy_id, action="update", what=RESOURCE)
    if (
        expected_version is not None
        and p.status == "closed"
        and p.outcome == data.outcome
        and data.closed_on in (None, p.closed_on)
    ):
        return await _detail(session, p)
    _check_version(p, expected_version)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is already closed."), params={"id": pregnancy_id})
    closed_on = data.closed_on or date.today()
    errors = []
    if data.outcome in BIRTH_OUTCOMES:
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "a live birth or a stillbirth is recorded as a birth, with its babies "
                    "(POST /api/v1/pregnancies/%(id)s/birth), which closes the pregnancy"
                ),
                {"id": p.id},
            )
        )
    elif data.outcome == "miscarriage" and ga_on(p, closed_on) >= STILLBIRTH_FROM_DAYS:
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "at %(ga)s a fetal death is a stillbirth (from 22 weeks, ICD-10 / WHO): "
                    "record it as a birth"
                ),
                {"ga": weeks(ga_on(p, closed_on))},
            )
        )
    elif data.outcome == "maternal_death":
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "register her death on her patient record (the medical death "
                    "certificate); that closes the pregnancy"
                ),
            )
        )
    if closed_on > date.today():
        errors.append(FieldError("closed_on", N_("is in the future")))
    if closed_on < _start(p):
        errors.append(FieldError("closed_on", N_("is before this pregnancy began")))
    last = max((c.on for c in await _contacts(session, p.id)), default=None)
    if last is not None and closed_on < last:
        errors.append(
            FieldError(
                "closed_on",
                N_("is before the last contact (%(day)s)"),
                {"day": f"{last:%d.%m.%Y}"},
            )
        )
    if errors:
        raise Invalid.fields(errors)
    p.status, p.closed_on, p.outcome = "closed", closed_on, data.outcome
    await _end_referral_care(session, p)
    await _save(session, p)
    return await _detail(session, p)


async def _end_referral_care(session: AsyncSession, p: Pregnancy) -> None:
    """The outcome ends the care its accepted or seen referrals opened.

    The receiving centre loses her record with the pregnancy; the referrals
    keep their status (the centre did not return them).
    """
    rels = await session.scalars(
        select(Referral.care_relationship_id).where(
            Referral.pregnancy_id == p.id,
            Referral.status.in_(("accepted", "seen")),
            Referral.care_relationship_id.is_not(None),
        )
    )
    for rel_id in rels.all():
        await registry.close_care_relationship(session, rel_id)


# ---- events from the registry -----------------------------------------------------------


@events.subscribe(registry.PersonDied)
async def close_at_death(session: AsyncSession, event: registry.PersonDied) -> None:
    """A death closes her current pregnancy with outcome ``maternal_death``."""
    p = await _current(session, event.person_id)
    if p is not None:
        p.status, p.outcome = "closed", "maternal_death"
        p.closed_on = max(event.deceased_on, _start(p))
        await _end_referral_care(session, p)
        await _save(session, p)


#: key in ``PersonRowsMoved.moved`` -> (model, the column naming the person). A row with
#: two people (a baby row names mother and baby) has one key per column, so an unmerge
#: moves back exactly the column the merge moved.
_MOVED: dict[str, tuple[Any, str]] = {
    "pregnancy": (Pregnancy, "person_id"),
    "antenatal_contact": (AntenatalContact, "person_id"),
    "antenatal_advice": (AdviceItem, "person_id"),
    "antenatal_diagnosis": (Diagnosis, "person_id"),
    "antenatal_referral": (Referral, "person_id"),
    "birth_record": (BirthRecord, "person_id"),
    "birth_baby": (Baby, "mother_person_id"),
    "birth_baby.person_id": (Baby, "person_id"),
    "postnatal_contact": (PostnatalContact, "person_id"),
    "postnatal_contact.baby_person_id": (PostnatalContact, "baby_person_id"),
}
_MOVED_MODELS = tuple({model for model, _ in _MOVED.values()})


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points every maternal row naming her (or the baby); an unmerge, exactly
    the rows the merge recorded. Refused when both records have a current pregnancy."""
    if event.only is None:
        mine = await _current(session, event.from_id)
        theirs = await _current(session, event.to_id)
        if mine is not None and theirs is not None:
            raise Conflict(
                f"Both records have a current pregnancy ({mine.id} and {theirs.id}); close the "
                "one entered in error before merging."
            )
    for key, (model, column) in _MOVED.items():
        col = getattr(model, column)
        q = select(model.id).where(col == event.from_id)
        if event.only is not None:
            ids = event.only.get(key, [])
            if not ids:
                continue
            q = q.where(model.id.in_(ids))
        moved = [int(i) for i in (await session.execute(q)).scalars()]
        if moved:
            await session.execute(
                update(model).where(model.id.in_(moved)).values({column: event.to_id})
            )
            event.moved[key] = moved
    if event.moved:
        # the ORM's copies are stale after a Core update
        for obj in list(session.identity_map.values()):
            if isinstance(obj, _MOVED_MODELS):
                session.expire(obj)
