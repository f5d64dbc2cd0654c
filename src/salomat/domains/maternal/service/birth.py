"""Birth and after: the birth record, its babies, and postnatal contacts.

Recording a birth closes the pregnancy (outcome ``live_birth`` when any baby
was born alive, else ``stillbirth``) and registers each live-born baby as a
person through the registry, attached where the mother is and linked to her
(``Baby.mother_person_id``; the child passport reads it). The registry's
``register_person`` checks no permission (routes do): the clinician recording
the birth is the principal, so its audit row names them. Every field is
checked before anything is added to the session, so a refused request
stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, events
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import citizen_scope_provider, require_person
from salomat.core.security import Principal
from salomat.country import names
from salomat.domains.maternal.models import Baby, BirthRecord, PostnatalContact, Pregnancy
from salomat.domains.maternal.schemas import (
    BabyOut,
    BirthIn,
    BirthOut,
    PostnatalContactIn,
    PostnatalContactOut,
)
from salomat.domains.maternal.service.pregnancy import (
    RESOURCE,
    _check_version,
    _codes,
    _contacts,
    _end_referral_care,
    _open,
    _save,
    _start,
    ga_on,
    weeks,
)
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PersonIn

__all__ = [
    "BirthRecorded",
    "birth_of_baby",
    "children_of",
    "get_birth",
    "list_postnatal_contacts",
    "mother_of_child",
    "record_birth",
    "record_postnatal_contact",
]

#: a birth, in the audit (FHIR has no Birth resource; the procedure of delivery)
BIRTH = "Procedure"
#: a postnatal contact, in the audit
POSTNATAL = "Encounter"

#: gestational age at birth outside which the record is a typing error (20-45 weeks)
GA_RANGE = (20 * 7, 45 * 7)
#: impossible values (per baby)
BABY_LIMITS: dict[str, tuple[float, float, str]] = {
    "birth_weight_g": (300, 7000, "g"),
    "length_cm": (20, 70, "cm"),
    "apgar_1": (0, 10, ""),
    "apgar_5": (0, 10, ""),
}
POSTNATAL_LIMITS: dict[str, tuple[float, float, str]] = {
    "systolic": (50, 300, "mmHg"),
    "diastolic": (20, 200, "mmHg"),
    "temperature_c": (30, 45, "°C"),
    "pulse": (20, 250, "/min"),
    "baby_weight_g": (300, 10000, "g"),
    "baby_temperature_c": (30, 45, "°C"),
}
#: postnatal contacts are recorded up to this many days after the birth
POSTNATAL_DAYS = 42


def _limits(values: dict, limits: dict[str, tuple[float, float, str]], prefix: str = "") -> list:
    errors = []
    for field, (low, high, unit) in limits.items():
        v = values.get(field)
        if v is not None and not low <= v <= high:
            shown = f"{v:g} {unit}".strip()
            errors.append(
                FieldError(
                    f"{prefix}{field}",
                    N_("%(value)s is impossible (expected %(low)s-%(high)s)"),
                    {"value": shown, "low": low, "high": high},
                )
            )
    return errors


async def _birth(session: AsyncSession, pregnancy_id: int) -> BirthRecord | None:
    return (
        await session.execute(select(BirthRecord).where(BirthRecord.pregnancy_id == pregnancy_id))
    ).scalar_one_or_none()


async def _birth_out(session: AsyncSession, b: BirthRecord) -> BirthOut:
    out = BirthOut.model_validate(b)
    out.ga_weeks = weeks(b.ga_days)
    rows = await session.execute(
        select(Baby).where(Baby.birth_id == b.id).order_by(Baby.birth_order)
    )
    out.babies = [BabyOut.model_validate(x) for x in rows.scalars()]
    return out


def _already_born(pregnancy_id: int) -> Conflict:
    return Conflict(
        N_("The birth of pregnancy %(id)s is already recorded."),
        params={"id": pregnancy_id},
        errors=[FieldError("pregnancy_id", N_("already has a birth record"))],
    )


async def _check_birth(session: AsyncSession, p: Pregnancy, data: BirthIn) -> list[FieldError]:
    errors: list[FieldError] = []
    today = date.today()
    if data.born_on > today:
        errors.append(FieldError("born_on", N_("is in the future")))
    start = _start(p)
    if data.born_on < start:
        errors.append(
            FieldError(
                "born_on",
                N_("is before this pregnancy began (dated from %(day)s)"),
                {"day": f"{start:%d.%m.%Y}"},
            )
        )
    else:
        last = max((c.on for c in await _contacts(session, p.id)), default=None)
        if last is not None and data.born_on < last:
            errors.append(
                FieldError(
                    "born_on",
                    N_("is before the last antenatal contact (%(day)s)"),
                    {"day": f"{last:%d.%m.%Y}"},
                )
            )
    ga = data.ga_days if data.ga_days is not None else ga_on(p, data.born_on)
    if not GA_RANGE[0] <= ga <= GA_RANGE[1]:
        field = "ga_days" if data.ga_days is not None else "born_on"
        errors.append(
            FieldError(
                field,
                N_("gestational age at birth would be %(ga)s; expected %(low)s-%(high)s weeks"),
                {
                    "ga": weeks(ga) if ga >= 0 else ga,
                    "low": GA_RANGE[0] // 7,
                    "high": GA_RANGE[1] // 7,
                },
            )
        )
    for i, baby in enumerate(data.babies):
        at = f"babies.{i}."
        errors += _limits(baby.model_dump(), BABY_LIMITS, at)
        if baby.outcome == "live":
            if not baby.given_name:
                errors.append(FieldError(f"{at}given_name", N_("required for a live-born baby")))
            if baby.sex is None:
                errors.append(FieldError(f"{at}sex", N_("required for a live-born baby")))
            if baby.stillbirth_type is not None:
                errors.append(FieldError(f"{at}stillbirth_type", N_("only for a stillbirth")))
        elif baby.given_name:
            errors.append(FieldError(f"{at}given_name", N_("a stillborn baby is not registered")))
    return errors


@dataclass(frozen=True)
class BirthRecorded:
    """Published when a birth is recorded, in its transaction: programmes above maternal
    act on it (sick leave extends a maternity certificate after a complicated birth)."""

    pregnancy_id: int
    person_id: int
    born_on: date
    mode: str
    ga_days: int
    babies: int
    live_births: int
    facility_id: int | None
    recorded_by: str


async def record_birth(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: BirthIn,
    *,
    expected_version: int | None,
) -> BirthOut:
    """Record the birth: close the pregnancy and register each live-born baby.

    Refused when the pregnancy already has a birth record or is closed (409).
    """
    p = await _open(session, principal, pregnancy_id, action="update", what=RESOURCE)
    _check_version(p, expected_version)
    if await _birth(session, p.id) is not None:
        raise _already_born(p.id)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is already closed."), params={"id": pregnancy_id})
    errors = await _check_birth(session, p, data)
    if errors:
        raise Invalid.fields(errors)
    mother = await registry.get_person(
        session, principal, p.person_id, purpose="birth registration"
    )

    now = utcnow()
    birth = BirthRecord(
        pregnancy_id=p.id,
        person_id=p.person_id,
        born_on=data.born_on,
        mode=data.mode,
        ga_days=data.ga_days if data.ga_days is not None else ga_on(p, data.born_on),
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=now,
    )
    session.add(birth)
    try:
        await session.flush()
    except IntegrityError as e:
        raise _already_born(p.id) from e

    registered: list[int] = []
    for i, baby in enumerate(data.babies):
        person_id = None
        if baby.outcome == "live":
            reason = baby.duplicate_reason
            if reason is None and registered:
                reason = f"born in the same birth as person {registered[0]}"
            child = await registry.register_person(
                session,
                principal,
                PersonIn(
                    # the mother's family name in the child's form (Karimova: a son Karimov)
                    family_name=names.gendered_surname(mother.family_name, baby.sex or "female"),
                    given_name=baby.given_name or "",
                    patronymic=baby.patronymic,
                    birth_date=data.born_on,
                    sex=baby.sex or "female",
                    settlement_code=mother.settlement_code,
                    address=mother.address,
                    attached_facility_code=mother.attached_facility_code,
                    duplicate_reason=reason,
                ),
            )
            person_id = child.id
            registered.append(child.id)
            await events.publish(
                session, events.ResourceChanged("Patient", str(child.id), child.id)
            )
            await audit.record(
                session,
                principal,
                action="create",
                resource_type="RelatedPerson",
                resource_id=str(child.id),
                patient_id=p.person_id,
                purpose="birth registration",
                detail=f"baby {child.id} of mother {p.person_id} (pregnancy {p.id})",
            )
        session.add(
            Baby(
                birth_id=birth.id,
                pregnancy_id=p.id,
                mother_person_id=p.person_id,
                person_id=person_id,
                birth_order=i + 1,
                outcome=baby.outcome,
                stillbirth_type=baby.stillbirth_type,
                sex=baby.sex,
                birth_weight_g=baby.birth_weight_g,
                length_cm=baby.length_cm,
                apgar_1=baby.apgar_1,
                apgar_5=baby.apgar_5,
            )
        )
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=BIRTH,
        resource_id=str(birth.id),
        patient_id=p.person_id,
        purpose="birth registration",
    )
    # the pregnancy closes as close_pregnancy would (its checks are done above)
    p.status, p.closed_on = "closed", data.born_on
    p.outcome = "live_birth" if registered else "stillbirth"
    await _end_referral_care(session, p)
    await _save(session, p)
    await events.publish(
        session,
        BirthRecorded(
            pregnancy_id=p.id,
            person_id=p.person_id,
            born_on=data.born_on,
            mode=birth.mode,
            ga_days=birth.ga_days,
            babies=len(data.babies),
            live_births=sum(1 for b in data.babies if b.outcome == "live"),
            facility_id=birth.facility_id,
            recorded_by=principal.username,
        ),
    )
    return await _birth_out(session, birth)


async def get_birth(session: AsyncSession, principal: Principal, pregnancy_id: int) -> BirthOut:
    await _open(session, principal, pregnancy_id, action="read", what=BIRTH)
    b = await _birth(session, pregnancy_id)
    if b is None:
        raise NotFound(
            N_("No birth is recorded for pregnancy %(id)s."), params={"id": pregnancy_id}
        )
    return await _birth_out(session, b)


async def birth_of_baby(
    session: AsyncSession, principal: Principal, baby_person_id: int
) -> BirthOut | None:
    """The birth record a registered baby was born in (None: not born in the system).

    For the child passport: the caller must have the baby in scope (audited as a
    read of the birth on the baby's record); the mother's own record is not opened.
    """
    await require_person(
        session,
        principal,
        baby_person_id,
        action="read",
        resource_type=BIRTH,
        purpose="child health passport",
    )
    birth_id = await session.scalar(select(Baby.birth_id).where(Baby.person_id == baby_person_id))
    if birth_id is None:
        return None
    b = await session.get(BirthRecord, birth_id)
    return None if b is None else await _birth_out(session, b)


async def record_postnatal_contact(
    session: AsyncSession, principal: Principal, pregnancy_id: int, data: PostnatalContactIn
) -> PostnatalContactOut:
    """A postnatal contact (0-42 days after the birth): the mother's checks and a baby's."""
    p = await _open(session, principal, pregnancy_id, action="update", what=POSTNATAL)
    b = await _birth(session, p.id)
    if b is None:
        raise InvalidState(
            N_("No birth is recorded for pregnancy %(id)s."), params={"id": pregnancy_id}
        )
    on = data.on or date.today()
    values = data.model_dump()
    errors = _limits(values, POSTNATAL_LIMITS)
    s, d = data.systolic, data.diastolic
    if (s is None) != (d is None):
        errors.append(
            FieldError(
                "diastolic" if d is None else "systolic", N_("give both blood-pressure values")
            )
        )
    elif s is not None and d is not None and d >= s:
        errors.append(FieldError("diastolic", N_("must be below the systolic (%(s)s)"), {"s": s}))
    if on > date.today():
        errors.append(FieldError("on", N_("is in the future")))
    day = (on - b.born_on).days
    if day < 0:
        errors.append(
            FieldError("on", N_("is before the birth (%(day)s)"), {"day": f"{b.born_on:%d.%m.%Y}"})
        )
    elif day > POSTNATAL_DAYS:
        errors.append(
            FieldError("on", N_("is %(n)s days after the birth (postnatal: 0-42)"), {"n": day})
        )
    signs, bad = _codes(data.danger_signs, "danger_signs")
    baby_signs, bad_baby = _codes(data.baby_danger_signs, "baby_danger_signs")
    errors += bad + bad_baby
    baby_fields = (data.baby_weight_g, data.baby_temperature_c, data.breastfeeding)
    if data.baby_person_id is not None:
        ours = await session.scalar(
            select(Baby.id).where(Baby.birth_id == b.id, Baby.person_id == data.baby_person_id)
        )
        if ours is None:
            errors.append(FieldError("baby_person_id", N_("is not a live-born baby of this birth")))
    elif any(v is not None for v in baby_fields) or baby_signs:
        errors.append(FieldError("baby_person_id", N_("say which baby was checked")))
    if errors:
        raise Invalid.fields(errors)
    c = PostnatalContact(
        **data.model_dump(exclude={"on", "danger_signs", "baby_danger_signs"}),
        pregnancy_id=p.id,
        person_id=p.person_id,
        on=on,
        day=day,
        danger_signs=signs,
        baby_danger_signs=baby_signs,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(c)
    await session.flush()
    return PostnatalContactOut.model_validate(c)


async def list_postnatal_contacts(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> list[PostnatalContactOut]:
    await _open(session, principal, pregnancy_id, action="read", what=POSTNATAL)
    rows = await session.execute(
        select(PostnatalContact)
        .where(PostnatalContact.pregnancy_id == pregnancy_id)
        .order_by(PostnatalContact.on, PostnatalContact.id)
    )
    return [PostnatalContactOut.model_validate(c) for c in rows.scalars()]


# ---- the mother's view in the citizen portal ---------------------------------------------

#: a mother opens her children's records in the citizen portal until they come of age
CHILD_UNTIL_YEARS = 18


async def _born_to(session: AsyncSession, mother_id: int, child_id: int | None = None) -> list:
    q = (
        select(Baby.person_id, BirthRecord.born_on)
        .join(BirthRecord, BirthRecord.id == Baby.birth_id)
        .where(Baby.mother_person_id == mother_id, Baby.person_id.is_not(None))
    )
    if child_id is not None:
        q = q.where(Baby.person_id == child_id)
    today = date.today()
    rows = (await session.execute(q.order_by(BirthRecord.born_on))).all()
    if not rows:
        return []
    # the registry ended her parenthood (rights withdrawn, the child adopted)
    ended = await registry.ended_parenthood(session, mother_id)
    return [
        (pid, born)
        for pid, born in rows
        if registry.age_on(born, today) < CHILD_UNTIL_YEARS and pid not in ended
    ]


@citizen_scope_provider
async def mother_of_child(session: AsyncSession, citizen_id: int, person_id: int) -> str | None:
    """A citizen may open the record of a child born to her in the system, under 18.

    The birth record is the link (children registered otherwise need a
    relation in the registry). An ended mother relation in the registry for
    the same child (parental rights withdrawn, the child adopted) revokes it.
    """
    return "mother of the child" if await _born_to(session, citizen_id, person_id) else None


async def children_of(session: AsyncSession, principal: Principal) -> list[int]:
    """The person ids of the citizen's children under 18 born in the system, oldest first."""
    if principal.person_id is None:
        return []
    return [pid for pid, _ in await _born_to(session, principal.person_id)]
