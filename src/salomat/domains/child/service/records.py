"""Well-child visits and the newborn record (birth values and newborn screening).

Also what the child domain does on registry events: a merge re-points its
rows to the surviving record (DESIGN rule 8: through the event, not the
registry's code).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, PreconditionFailed
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.child.models import GrowthMeasurement, NewbornRecord, WellChildVisit
from salomat.domains.child.schemas import NewbornIn, NewbornOut, VisitIn, VisitOut
from salomat.domains.child.service.growth import refuse_merged
from salomat.domains.child.service.milestones import milestones as pack_milestones
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry

__all__ = [
    "SCREENING_TESTS",
    "get_newborn",
    "list_visits",
    "record_newborn_screening",
    "record_visit",
]

#: a well-child visit, in the audit
VISIT = "Encounter"
#: the newborn record, in the audit
NEWBORN = "Observation"
SCREENING_TESTS = ("hearing", "hypothyroidism", "phenylketonuria")
NEWBORN_LIMITS: dict[str, tuple[float, float, str]] = {
    "birth_weight_g": (300, 7000, "g"),
    "birth_length_cm": (20, 70, "cm"),
    "apgar_1": (0, 10, ""),
    "apgar_5": (0, 10, ""),
}


# ---- well-child visits ------------------------------------------------------------------


async def record_visit(
    session: AsyncSession, principal: Principal, person_id: int, data: VisitIn
) -> VisitOut:
    await require_person(session, principal, person_id, action="create", resource_type=VISIT)
    person = await registry.get_person(session, principal, person_id, purpose="well-child visit")
    refuse_merged(person)
    on = data.on or date.today()
    errors: list[FieldError] = []
    if on > date.today():
        errors.append(FieldError("on", "is in the future"))
    elif on < person.birth_date:
        errors.append(FieldError("on", f"is before the birth ({person.birth_date:%d.%m.%Y})"))
    elif person.deceased_on is not None and on > person.deceased_on:
        errors.append(
            FieldError("on", f"is after the child's death ({person.deceased_on:%d.%m.%Y})")
        )
    # the codes of the pack's list only; stored sorted, each once
    known = {m.code for m in pack_milestones()}
    milestones = sorted(set(data.milestones))
    for i, code in enumerate(data.milestones):
        if code not in known:
            shown = code if len(code) <= 64 else code[:64] + "…"
            errors.append(
                FieldError(
                    f"milestones.{i}",
                    N_('"%(code)s" is not in the list of milestones'),
                    {"code": shown},
                )
            )
    illnesses = [s.strip() for s in data.illnesses if s.strip()]
    for i, text in enumerate(illnesses):
        if len(text) > 200:
            errors.append(FieldError(f"illnesses.{i}", "at most 200 characters"))
    if errors:
        raise Invalid.fields(errors)
    v = WellChildVisit(
        person_id=person_id,
        on=on,
        age_days=(on - person.birth_date).days,
        milestones=milestones,
        feeding=data.feeding,
        notes=data.notes or None,
        illnesses=illnesses,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(v)
    await session.flush()
    return VisitOut.model_validate(v)


async def _visits(session: AsyncSession, person_id: int) -> list[VisitOut]:
    rows = await session.execute(
        select(WellChildVisit)
        .where(WellChildVisit.person_id == person_id)
        .order_by(WellChildVisit.on, WellChildVisit.id)
    )
    return [VisitOut.model_validate(v) for v in rows.scalars()]


async def list_visits(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[VisitOut]:
    """A child's well-child visits, oldest first."""
    await registry.get_person(session, principal, person_id, purpose="well-child visits")
    await require_person(session, principal, person_id, action="read", resource_type=VISIT)
    return await _visits(session, person_id)


# ---- the newborn record -----------------------------------------------------------------


def _from_birth(person_id: int, birth: Any) -> NewbornOut | None:
    baby = next((b for b in birth.babies if b.person_id == person_id), None)
    if baby is None:
        return None
    return NewbornOut(
        person_id=person_id,
        stored=False,
        from_birth_record=True,
        birth_weight_g=baby.birth_weight_g,
        birth_length_cm=baby.length_cm,
        apgar_1=baby.apgar_1,
        apgar_5=baby.apgar_5,
        ga_days=birth.ga_days,
        screening={},
        screened_on=None,
    )


async def _newborn_row(session: AsyncSession, person_id: int) -> NewbornRecord | None:
    return (
        await session.execute(select(NewbornRecord).where(NewbornRecord.person_id == person_id))
    ).scalar_one_or_none()


async def get_newborn(
    session: AsyncSession, principal: Principal, person_id: int
) -> NewbornOut | None:
    """The stored newborn record, else what the birth record says, else None."""
    await require_person(session, principal, person_id, action="read", resource_type=NEWBORN)
    row = await _newborn_row(session, person_id)
    if row is not None:
        return NewbornOut.model_validate(row)
    birth = await maternal.birth_of_baby(session, principal, person_id)
    return None if birth is None else _from_birth(person_id, birth)


#: who and when, not what: a PUT that changes none of the rest changes nothing
_NOT_VALUES = frozenset({"facility_id", "recorded_by", "updated_at"})


async def record_newborn_screening(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: NewbornIn,
    *,
    expected_version: int | None = None,
) -> NewbornOut:
    """Create or replace the newborn record's screening results (PUT; If-Match optional).

    Born in the system: birth weight, length and Apgar are copied from the birth
    record and may not be given. Otherwise they are entered here.
    """
    await require_person(session, principal, person_id, action="update", resource_type=NEWBORN)
    person = await registry.get_person(session, principal, person_id, purpose="newborn record")
    refuse_merged(person)
    birth = await maternal.birth_of_baby(session, principal, person_id)
    linked = None if birth is None else _from_birth(person_id, birth)
    errors: list[FieldError] = []
    values = data.model_dump()
    for name, (low, high, unit) in NEWBORN_LIMITS.items():
        v = values.get(name)
        if v is None:
            continue
        if linked is not None:
            errors.append(FieldError(name, "copied from the birth record; correct it there"))
        elif not math.isfinite(v):
            errors.append(FieldError(name, "must be a finite number"))
        elif not low <= v <= high:
            errors.append(
                FieldError(name, f"{v:g} {unit} is impossible (expected {low}-{high})".strip())
            )
    if data.screened_on is not None:
        if data.screened_on > date.today():
            errors.append(FieldError("screened_on", "is in the future"))
        elif data.screened_on < person.birth_date:
            errors.append(FieldError("screened_on", "is before the birth"))
    if errors:
        raise Invalid.fields(errors)
    row = await _newborn_row(session, person_id)
    screening = {t: values[t] for t in SCREENING_TESTS if values.get(t) is not None}
    source = linked or NewbornOut(
        person_id=person_id,
        stored=False,
        from_birth_record=False,
        birth_weight_g=data.birth_weight_g,
        birth_length_cm=data.birth_length_cm,
        apgar_1=data.apgar_1,
        apgar_5=data.apgar_5,
        ga_days=None,
        screening={},
        screened_on=None,
    )
    fields = {
        "from_birth_record": source.from_birth_record,
        "birth_weight_g": source.birth_weight_g,
        "birth_length_cm": source.birth_length_cm,
        "apgar_1": source.apgar_1,
        "apgar_5": source.apgar_5,
        "ga_days": source.ga_days,
        "screening": screening,
        "screened_on": data.screened_on,
        "facility_id": principal.facility_id,
        "recorded_by": principal.username,
        "updated_at": utcnow(),
    }
    if row is not None and all(
        getattr(row, k) == v for k, v in fields.items() if k not in _NOT_VALUES
    ):
        # the same values again (a retry, a form sent twice): the record as it is, whatever
        # version was read; nothing to refuse and nothing to write
        return NewbornOut.model_validate(row)
    if row is not None and expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(
            f"The newborn record changed since you read it (version {row.version}); reload."
        )
    if row is None:
        row = NewbornRecord(person_id=person_id, **fields)
        session.add(row)
    else:
        for k, v in fields.items():
            setattr(row, k, v)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict("The newborn record was created at the same time; retry.") from e
    return NewbornOut.model_validate(row)


# ---- events from the registry -----------------------------------------------------------

_MOVED: dict[str, Any] = {
    "growth_measurement": GrowthMeasurement,
    "well_child_visit": WellChildVisit,
    "newborn_record": NewbornRecord,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points the child's rows; refused when both records have a newborn record."""
    if event.only is None:
        both = await session.scalar(
            select(NewbornRecord.id).where(NewbornRecord.person_id == event.to_id)
        ) and await session.scalar(
            select(NewbornRecord.id).where(NewbornRecord.person_id == event.from_id)
        )
        if both:
            raise Conflict(
                "Both records have a newborn record; correct the one entered in error first."
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
            if isinstance(obj, tuple(_MOVED.values())):
                session.expire(obj)
