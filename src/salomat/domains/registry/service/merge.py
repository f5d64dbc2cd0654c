"""Merging two records of one person (undone by ``unmerge``; pairs reviewed in ``pair_review``).

A merge keeps the survivor's id. Everything that pointed at the merged record
is re-pointed to the survivor: the registry's own rows here, every other
domain's through the ``PersonRowsMoved`` event (each subscriber records which
of its rows it moved). The survivor takes the merged record's values only
for fields it has none of, and the merged record stays as a tombstone
(``merged_into_id``). All of it is written to ``Merge.moved``, so that
``unmerge`` restores exactly what was there.

Decisions (docs/registries.md, "Duplicates and merges"):

- Two different national ids are refused: one of them is wrong, and which
  one is for a registrar to correct first (``update_person``, audited and
  versioned); then the merge goes through. A different sex is refused the
  same way.
- A dead survivor is fine (the merged record's open attachments and care
  episodes are closed at the merge, as a death would have closed them). A
  dead merged record into a living survivor is refused: make the dead record
  the survivor, or register the death on the survivor first.
- Unmerge is refused when the survivor was itself merged since (undo that
  first), or when a field the merge filled has changed since: there is then
  no exact state to return to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

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
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.country import names
from salomat.domains.registry.models import (
    Attachment,
    CareRelationship,
    DuplicatePair,
    Merge,
    Person,
    PersonRelation,
)
from salomat.domains.registry.schemas import MergeOut
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.people import RESOURCE, person_out

__all__ = [
    "PersonRowsMoved",
    "merge_persons",
    "on_person_rows_moved",
]


#: fields the survivor takes from the merged record when it has none, in groups
#: that move together (an attachment is a facility and its section)
#: (the national id too, but it moves separately: the tombstone must let go of it first)
_FILLABLE: tuple[tuple[str, ...], ...] = (
    ("patronymic", "patronymic_alt"),
    ("phone",),
    ("settlement_id",),
    ("address",),
    ("attached_facility_id", "section_id"),
)


#: registry tables whose ``person_id`` follows the person
_REGISTRY_ROWS: dict[str, Any] = {"attachment": Attachment, "care_relationship": CareRelationship}


@dataclass
class PersonRowsMoved:
    """Published by a merge and an unmerge, in their transaction.

    Every domain above the registry re-points its rows from ``from_id`` to
    ``to_id`` and writes the ids it moved into ``moved[its table name]``. At
    a merge ``only`` is None: move every row. At an unmerge ``only`` is what
    the merge recorded: move exactly those rows back, nothing else.
    """

    from_id: int
    to_id: int
    only: dict[str, list[int]] | None = None
    moved: dict[str, list[int]] = field(default_factory=dict)


def on_person_rows_moved(fn: events.Handler) -> events.Handler:
    """Decorator for the domains above: subscribe ``fn`` to ``PersonRowsMoved``."""
    return events.subscribe(PersonRowsMoved)(fn)


# ---- helpers (unmerge and pair_review use them too) ----------------------------------


async def _load_for_update(session: AsyncSession, ids: list[int]) -> dict[int, Person]:
    """Both records, row-locked on PostgreSQL so that two merges cannot interleave; locked
    in id order, so that A into B and B into A at once wait instead of deadlocking."""
    rows = await session.scalars(
        select(Person)
        .where(Person.id.in_(ids))
        .order_by(Person.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {p.id: p for p in rows}


async def _in_scope(session: AsyncSession, principal: Principal, person_id: int) -> None:
    if await person_scope(session, principal, person_id) is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(person_id),
            patient_id=person_id,
            detail="outside the user's scope",
        )
        raise NotFound(f"Patient {person_id} not found.")


async def _audit(
    session: AsyncSession, principal: Principal, person_id: int, purpose: str, detail: str
) -> None:
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(person_id),
        patient_id=person_id,
        purpose=purpose,
        detail=detail,
    )


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("A record changed while it was being merged; retry.") from e
    except IntegrityError as e:
        raise Conflict("The merge conflicts with another change; reload and retry.") from e


async def _save_versions(session: AsyncSession, principal: Principal, *people: Person) -> None:
    """Each record changed in exactly one flush, so its version goes up by one."""
    await _flush(session)
    for p in people:
        out = await person_out(session, p)
        await versions.record_version(
            session, RESOURCE, out, action="update", by=principal.username
        )


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _close_on(start: date, day: date) -> date:
    return max(start, day)


# ---- merge -------------------------------------------------------------------------------


def _check_mergeable(survivor: Person, merged: Person) -> None:
    if survivor.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was itself merged into Patient %(into)s; merge into that record."),
            params={"id": survivor.id, "into": survivor.merged_into_id},
        )
    if merged.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s is already merged into Patient %(into)s."),
            params={"id": merged.id, "into": merged.merged_into_id},
        )
    if survivor.national_id and merged.national_id and survivor.national_id != merged.national_id:
        raise Conflict(
            N_(
                "The two records have different national ids: "
                "correct the wrong one first, then merge."
            ),
            errors=[FieldError("merged_id", N_("has another national id than the survivor"))],
        )
    if survivor.sex != merged.sex:
        raise Conflict(
            N_("The two records have a different sex: correct the wrong one first, then merge."),
            errors=[FieldError("merged_id", N_("has another sex than the survivor"))],
        )
    if merged.deceased_on is not None and survivor.deceased_on is None:
        raise InvalidState(
            N_(
                "Patient %(merged)s has a registered death and Patient %(survivor)s has none: "
                "keep the record with the death as the survivor, or register the death first."
            ),
            params={"merged": merged.id, "survivor": survivor.id},
        )


def _fill(survivor: Person, merged: Person) -> dict[str, list[Any]]:
    """Copy the merged record's values where the survivor has none: {field: [old, new]}."""
    copied: dict[str, list[Any]] = {}
    for group in _FILLABLE:
        if getattr(survivor, group[0]) is not None or getattr(merged, group[0]) is None:
            continue
        values = {f: getattr(merged, f) for f in group}
        if group[0] == "patronymic" and merged.name_script != survivor.name_script:
            # the survivor's names are in its own script: take the other script's form
            values = {"patronymic": merged.patronymic_alt, "patronymic_alt": merged.patronymic}
        for f, v in values.items():
            copied[f] = [getattr(survivor, f), v]
            setattr(survivor, f, v)
    if "patronymic" in copied:
        key = names.name_key(survivor.family_name, survivor.given_name, survivor.patronymic)[:320]
        copied["name_key"] = [survivor.name_key, key]
        survivor.name_key = key
    return copied


async def _repoint_registry(
    session: AsyncSession, survivor: Person, merged: Person, moved: dict[str, Any]
) -> None:
    # one open attachment at a time (a unique index): the survivor's wins, and a dead
    # survivor has none open; the merged one's is closed *before* it is re-pointed
    today = date.today()
    closed: list[int] = []
    survivor_open = await session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.person_id == survivor.id, Attachment.end_on.is_(None))
    )
    if survivor_open or survivor.deceased_on is not None:
        end = survivor.deceased_on or today
        for a in (
            await session.scalars(
                select(Attachment).where(
                    Attachment.person_id == merged.id, Attachment.end_on.is_(None)
                )
            )
        ).all():
            a.end_on = _close_on(a.start_on, end)
            closed.append(a.id)
        await session.flush()
    for table, model in _REGISTRY_ROWS.items():
        ids = list(
            (await session.scalars(select(model.id).where(model.person_id == merged.id))).all()
        )
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(person_id=survivor.id)
                .execution_options(synchronize_session=False)
            )
        moved[table] = ids
    moved["attachment_closed"] = closed
    care_closed: list[int] = []
    if survivor.deceased_on is not None:
        now = utcnow()
        for c in (
            await session.scalars(
                select(CareRelationship).where(
                    CareRelationship.id.in_(moved["care_relationship"] or [0]),
                    CareRelationship.closed_at.is_(None),
                )
            )
        ).all():
            c.closed_at = now
            care_closed.append(c.id)
    moved["care_relationship_closed"] = care_closed
    await _repoint_relations(session, survivor, merged, moved)


async def _repoint_relations(
    session: AsyncSession, survivor: Person, merged: Person, moved: dict[str, Any]
) -> None:
    """Both ends of a parent-child relation follow the person.

    A relation that would become a second open one (the survivor already has
    a mother, or already this guardian) is ended at the merge; a relation
    between the two records themselves stays with the tombstone.
    """
    today = date.today()
    as_child: list[int] = []
    as_parent: list[int] = []
    closed: list[int] = []
    rows = (
        await session.scalars(
            select(PersonRelation)
            .where(
                or_(
                    PersonRelation.person_id == merged.id,
                    PersonRelation.related_person_id == merged.id,
                )
            )
            .order_by(PersonRelation.id)
        )
    ).all()
    for r in rows:
        child = survivor.id if r.person_id == merged.id else r.person_id
        parent = survivor.id if r.related_person_id == merged.id else r.related_person_id
        if child == parent:
            continue
        if r.ends_on is None:
            same = and_(PersonRelation.related_person_id == parent, PersonRelation.kind == r.kind)
            parent_kind = and_(
                PersonRelation.kind == r.kind, PersonRelation.kind.in_(("mother", "father"))
            )
            clash = await session.scalar(
                select(PersonRelation.id).where(
                    PersonRelation.person_id == child,
                    PersonRelation.ends_on.is_(None),
                    PersonRelation.id != r.id,
                    or_(same, parent_kind),
                )
            )
            if clash is not None:
                r.ends_on = _close_on(r.starts_on, today)
                closed.append(r.id)
        if r.person_id != child:
            as_child.append(r.id)
        if r.related_person_id != parent:
            as_parent.append(r.id)
        r.person_id, r.related_person_id = child, parent
        await _flush(session)
    moved["person_relation"] = as_child
    moved["person_relation_related"] = as_parent
    moved["person_relation_closed"] = closed


async def _repoint_pairs(
    session: AsyncSession, principal: Principal, survivor: Person, merged: Person
) -> dict[str, Any]:
    """The pair of the two becomes ``merged``; the merged record's other pairs follow it."""
    out: dict[str, Any] = {"resolved": None, "repointed": []}
    a, b = _pair_key(survivor.id, merged.id)
    pair = await session.scalar(
        select(DuplicatePair).where(DuplicatePair.person_a_id == a, DuplicatePair.person_b_id == b)
    )
    if pair is not None:
        out["resolved"] = {
            "id": pair.id,
            "status": pair.status,
            "reviewed_by": pair.reviewed_by,
            "reviewed_at": pair.reviewed_at.isoformat() if pair.reviewed_at else None,
        }
        pair.status, pair.reviewed_by, pair.reviewed_at = "merged", principal.username, utcnow()
    others = (
        await session.scalars(
            select(DuplicatePair).where(
                or_(DuplicatePair.person_a_id == merged.id, DuplicatePair.person_b_id == merged.id),
                DuplicatePair.id != (pair.id if pair is not None else 0),
            )
        )
    ).all()
    for p in others:
        other = p.person_b_id if p.person_a_id == merged.id else p.person_a_id
        na, nb = _pair_key(survivor.id, other)
        taken = await session.scalar(
            select(DuplicatePair.id).where(
                DuplicatePair.person_a_id == na, DuplicatePair.person_b_id == nb
            )
        )
        if taken is not None:
            continue  # the survivor already has this pair: the old one stays with the tombstone
        out["repointed"].append([p.id, p.person_a_id, p.person_b_id])
        p.person_a_id, p.person_b_id = na, nb
        await session.flush()
    return out


async def merge_persons(
    session: AsyncSession,
    principal: Principal,
    survivor_id: int,
    merged_id: int,
    reason: str,
    *,
    expected_versions: tuple[int | None, int | None] | None = None,
) -> MergeOut:
    """Merge ``merged_id`` into ``survivor_id``; returns the merge (its ``moved`` says what).

    ``expected_versions`` are the (survivor, merged) versions the registrar
    reviewed; a record changed since is refused with ``PreconditionFailed``.
    """
    if survivor_id == merged_id:
        raise Invalid.fields([FieldError("merged_id", "is the survivor itself")])
    if len(reason.strip()) < 10:
        raise Invalid.fields([FieldError("reason", N_("say why, in at least 10 characters"))])
    people = await _load_for_update(session, [survivor_id, merged_id])
    for pid in (survivor_id, merged_id):
        if pid not in people:
            await audit.denied(
                session,
                principal,
                resource_type=RESOURCE,
                resource_id=str(pid),
                detail="no such person",
            )
            raise NotFound(f"Patient {pid} not found.")
        await _in_scope(session, principal, pid)
    survivor, merged = people[survivor_id], people[merged_id]
    if expected_versions is not None:
        for p, expected in zip((survivor, merged), expected_versions, strict=True):
            if expected is not None and expected != p.version:
                raise PreconditionFailed(
                    N_(
                        "Patient %(id)s changed since you reviewed it (version %(current)s, "
                        "you saw %(seen)s); reload and retry."
                    ),
                    params={"id": p.id, "current": p.version, "seen": expected},
                )
    _check_mergeable(survivor, merged)

    now = utcnow()
    nid = merged.national_id if survivor.national_id is None else None
    # the tombstone first, in its own flush: the unique national id must leave it first
    merged.merged_into_id, merged.updated_at = survivor.id, now
    if nid:
        merged.national_id = None
    await _flush(session)
    moved: dict[str, Any] = {"fields": _fill(survivor, merged), "national_id": nid}
    if nid:
        survivor.national_id = nid
    survivor.updated_at = now
    await _flush(session)
    await _repoint_registry(session, survivor, merged, moved)
    moved["duplicate_pair"] = await _repoint_pairs(session, principal, survivor, merged)
    event = PersonRowsMoved(from_id=merged.id, to_id=survivor.id)
    await events.publish(session, event)
    moved["domains"] = event.moved

    row = Merge(
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason.strip(),
        moved=moved,
        merged_at=utcnow(),
        merged_by=principal.username,
    )
    session.add(row)
    await _save_versions(session, principal, survivor, merged)
    purpose = f"merge: {reason.strip()}"
    await _audit(
        session,
        principal,
        survivor.id,
        purpose,
        f"merge {row.id}: Patient {merged.id} merged into this record",
    )
    await _audit(
        session,
        principal,
        merged.id,
        purpose,
        f"merge {row.id}: this record merged into Patient {survivor.id}",
    )
    return MergeOut.model_validate(row)
