"""A child's mother, father or guardian (``person_relation``).

The birth record links a mother to a child born in the system; everyone
else (fathers, children born abroad or before the system, guardians named by
a court) needs a relation recorded by the registrar from a document. An open
relation lets the parent or guardian open the child's record in the citizen
portal until the child turns 18. Reads and writes go through
``policy.require_person`` (scope check and audit row) like the rest of the
person index.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import Conflict, FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import citizen_scope_provider, person_scope, require_person
from salomat.core.security import Principal
from salomat.domains.registry.models import Person, PersonRelation
from salomat.domains.registry.schemas import RelationEndIn, RelationIn, RelationOut
from salomat.domains.registry.service.people import RESOURCE, age_on

__all__ = [
    "CHILD_UNTIL_YEARS",
    "add_relation",
    "children_of",
    "end_relation",
    "ended_parenthood",
    "list_relations",
    "parent_or_guardian",
]

#: a parent or guardian sees the child's record until the child turns 18
CHILD_UNTIL_YEARS = 18
#: a mother or father is at least this many years older than the child
MIN_PARENT_AGE = 12
#: a guardian is an adult when the guardianship starts
MIN_GUARDIAN_AGE = 18
PORTAL_KINDS = ("mother", "father", "guardian")


def _name(p: Person) -> str:
    return " ".join(v for v in (p.family_name, p.given_name, p.patronymic) if v)


def _out(
    rel: PersonRelation, side: str | None = None, other_name: str | None = None
) -> RelationOut:
    out = RelationOut.model_validate(rel)
    out.side = side  # type: ignore[assignment]
    out.other_name = other_name
    return out


async def _person(session: AsyncSession, principal: Principal, person_id: int) -> Person:
    """The person in the path: a missing one is ``NotFound``, audited as a denial."""
    person = await session.get(Person, person_id)
    if person is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(person_id),
            detail="no such person",
        )
        raise NotFound(f"Patient {person_id} not found.")
    return person


def _unusable(p: Person, field: str) -> FieldError | None:
    if p.merged_into_id is not None:
        return FieldError(field, f"Patient {p.id} was merged into Patient {p.merged_into_id}")
    if p.deceased_on is not None:
        return FieldError(field, f"Patient {p.id} died on {p.deceased_on:%d.%m.%Y}")
    return None


async def add_relation(
    session: AsyncSession, principal: Principal, person_id: int, data: RelationIn
) -> RelationOut:
    """Record that ``data.related_person_id`` is the mother, father or guardian of ``person_id``.

    Refused, naming the field: the registrar herself as the parent or
    guardian (``related_person_id``); an unknown, merged or dead person; a
    relation with oneself; a mother who is not female or a father who is not male; a
    parent less than 12 years older than the child, a guardian under 18; a
    start in the future or before the birth; a second open mother or father,
    or the same open relation twice (the last two are also unique indexes).
    """
    child = await _person(session, principal, person_id)
    await require_person(session, principal, person_id, action="update", purpose="relation")
    if principal.person_id is not None and data.related_person_id == principal.person_id:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(person_id),
            detail="relation to oneself refused",
        )
        raise Invalid.fields(
            [
                FieldError(
                    "related_person_id",
                    "is you: another registrar records a relation to yourself",
                )
            ]
        )
    errors: list[FieldError] = []
    if (bad := _unusable(child, "person_id")) is not None:
        errors.append(bad)
    if data.related_person_id == person_id:
        raise Invalid.fields(
            [*errors, FieldError("related_person_id", "is the child: a relation links two people")]
        )
    parent = await session.get(Person, data.related_person_id)
    if parent is None:
        errors.append(FieldError("related_person_id", f"no person has id {data.related_person_id}"))
        raise Invalid.fields(errors)
    await require_person(
        session,
        principal,
        parent.id,
        action="update",
        purpose=f"relation: {data.kind} of Patient {person_id}",
    )
    if (bad := _unusable(parent, "related_person_id")) is not None:
        errors.append(bad)
    if data.kind == "mother" and parent.sex != "female":
        errors.append(FieldError("kind", f"a mother is female; Patient {parent.id} is male"))
    if data.kind == "father" and parent.sex != "male":
        errors.append(FieldError("kind", f"a father is male; Patient {parent.id} is female"))
    today = date.today()
    starts = data.starts_on or (today if data.kind == "guardian" else child.birth_date)
    if starts > today:
        errors.append(FieldError("starts_on", "is in the future"))
    elif starts < child.birth_date:
        errors.append(
            FieldError("starts_on", f"is before the child's birth ({child.birth_date:%d.%m.%Y})")
        )
    if data.kind in ("mother", "father"):
        if age_on(parent.birth_date, child.birth_date) < MIN_PARENT_AGE:
            errors.append(
                FieldError(
                    "related_person_id",
                    f"born {parent.birth_date:%d.%m.%Y}: less than {MIN_PARENT_AGE} years "
                    f"before the child ({child.birth_date:%d.%m.%Y})",
                )
            )
    elif age_on(parent.birth_date, max(starts, parent.birth_date)) < MIN_GUARDIAN_AGE:
        errors.append(
            FieldError(
                "related_person_id",
                f"a guardian is an adult ({MIN_GUARDIAN_AGE} or older) when the "
                f"guardianship starts; born {parent.birth_date:%d.%m.%Y}",
            )
        )
    if errors:
        raise Invalid.fields(errors)

    open_rows = (
        await session.scalars(
            select(PersonRelation).where(
                PersonRelation.person_id == person_id,
                PersonRelation.ends_on.is_(None),
                or_(
                    PersonRelation.related_person_id == parent.id,
                    PersonRelation.kind.in_(("mother", "father")),
                ),
            )
        )
    ).all()
    for r in open_rows:
        if r.related_person_id == parent.id and r.kind == data.kind:
            raise Conflict(
                f"Patient {parent.id} is already recorded as the {data.kind} of Patient "
                f"{person_id}.",
                errors=[FieldError("related_person_id", f"is already the child's {data.kind}")],
            )
        if r.kind == data.kind:
            raise Conflict(
                f"Patient {person_id} already has a {data.kind} (Patient {r.related_person_id}): "
                "end that relation first.",
                errors=[
                    FieldError(
                        "kind",
                        f"the child already has a {data.kind} (Patient {r.related_person_id}); "
                        "end that relation first",
                    )
                ],
            )
    rel = PersonRelation(
        person_id=person_id,
        related_person_id=parent.id,
        kind=data.kind,
        starts_on=starts,
        document=data.document,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(rel)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict(
            "The same relation was recorded at the same moment by another request; reload."
        ) from e
    return _out(rel, "child", _name(parent))


async def end_relation(
    session: AsyncSession, principal: Principal, relation_id: int, data: RelationEndIn
) -> RelationOut:
    """End a relation (a court order ending a guardianship): the portal access ends with it."""
    rel = await session.get(PersonRelation, relation_id, with_for_update=True)
    if rel is None:
        raise NotFound(f"Relation {relation_id} not found.")
    await require_person(
        session, principal, rel.person_id, action="update", purpose="relation ended"
    )
    if rel.ends_on is not None:
        raise InvalidState(f"Relation {relation_id} already ended on {rel.ends_on:%d.%m.%Y}.")
    ends = data.ends_on or date.today()
    if ends > date.today():
        raise Invalid.fields([FieldError("ends_on", "is in the future")])
    if ends < rel.starts_on:
        raise Invalid.fields(
            [FieldError("ends_on", f"is before the relation's start ({rel.starts_on:%d.%m.%Y})")]
        )
    rel.ends_on, rel.end_document = ends, data.document or None
    rel.ended_by, rel.ended_at = principal.username, utcnow()
    await session.flush()
    return _out(rel, "child")


async def list_relations(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[RelationOut]:
    """The person's parents and guardians, and the people they are parent or guardian of.

    Open relations first. The other person's name is given only when the
    user may see them, and each name shown is audited as a read.
    """
    await _person(session, principal, person_id)
    await require_person(session, principal, person_id, action="read", purpose="relations")
    rows = (
        await session.scalars(
            select(PersonRelation)
            .where(
                or_(
                    PersonRelation.person_id == person_id,
                    PersonRelation.related_person_id == person_id,
                )
            )
            .order_by(
                PersonRelation.ends_on.is_not(None),
                PersonRelation.starts_on,
                PersonRelation.id,
            )
        )
    ).all()
    names: dict[int, str | None] = {}
    shown: list[audit.Access] = []
    out = []
    for r in rows:
        side = "child" if r.person_id == person_id else "parent"
        other = r.related_person_id if side == "child" else r.person_id
        if other not in names:
            scope = await person_scope(session, principal, other)
            other_person = await session.get(Person, other) if scope is not None else None
            names[other] = _name(other_person) if other_person is not None else None
            if scope is not None and other_person is not None:
                shown.append(
                    audit.Access(other, f"relation ({scope.reason})", scope.break_glass_grant)
                )
        out.append(_out(r, side, names[other]))
    if shown:
        await audit.record_listing(session, principal, shown, action="read", resource_type=RESOURCE)
    return out


# ---- the citizen portal ------------------------------------------------------------------


def _portal_rows(citizen_id: int) -> Select[Any]:
    return (
        select(PersonRelation.person_id, PersonRelation.kind, Person.birth_date)
        .join(Person, Person.id == PersonRelation.person_id)
        .where(
            PersonRelation.related_person_id == citizen_id,
            PersonRelation.kind.in_(PORTAL_KINDS),
            PersonRelation.ends_on.is_(None),
            PersonRelation.starts_on <= date.today(),
            Person.merged_into_id.is_(None),
        )
    )


@citizen_scope_provider
async def parent_or_guardian(session: AsyncSession, citizen_id: int, person_id: int) -> str | None:
    """A citizen opens the record of a child she or he is parent or guardian of, under 18."""
    today = date.today()
    rows = (
        await session.execute(_portal_rows(citizen_id).where(PersonRelation.person_id == person_id))
    ).all()
    for _, kind, born in rows:
        if age_on(born, today) < CHILD_UNTIL_YEARS:
            return "guardian" if kind == "guardian" else "parent"
    return None


async def children_of(session: AsyncSession, principal: Principal) -> list[int]:
    """The citizen's children (and wards) under 18 by a registry relation, oldest first."""
    if principal.person_id is None:
        return []
    today = date.today()
    rows = await session.execute(
        _portal_rows(principal.person_id).order_by(Person.birth_date, PersonRelation.person_id)
    )
    ids = [pid for pid, _, born in rows.all() if age_on(born, today) < CHILD_UNTIL_YEARS]
    return list(dict.fromkeys(ids))


async def ended_parenthood(session: AsyncSession, parent_id: int) -> set[int]:
    """The children whose mother or father relation with ``parent_id`` has ended.

    Parental rights withdrawn, the child adopted: a link outside the registry
    (the birth record) no longer opens the child's record. A child with an
    open mother or father relation to the same person again is not included.
    """
    rows = (
        await session.execute(
            select(PersonRelation.person_id, PersonRelation.ends_on).where(
                PersonRelation.related_person_id == parent_id,
                PersonRelation.kind.in_(("mother", "father")),
            )
        )
    ).all()
    ended = {pid for pid, ends in rows if ends is not None}
    still_open = {pid for pid, ends in rows if ends is None}
    return ended - still_open
