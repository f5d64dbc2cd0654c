"""Undoing a merge exactly: the rows it moved go back, the fields it filled empty again,
the tombstone lives (the rules are in ``merge``'s docstring and docs/registries.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, InvalidState, NotFound
from salomat.core.security import Principal
from salomat.domains.registry.models import (
    Attachment,
    CareRelationship,
    DuplicatePair,
    Merge,
    PersonRelation,
)
from salomat.domains.registry.schemas import MergeOut
from salomat.domains.registry.service.merge import (
    _REGISTRY_ROWS,
    PersonRowsMoved,
    _audit,
    _flush,
    _in_scope,
    _load_for_update,
    _save_versions,
)

__all__ = [
    "get_merge",
    "unmerge",
]


async def get_merge(session: AsyncSession, merge_id: int) -> MergeOut:
    row = await session.get(Merge, merge_id)
    if row is None:
        raise NotFound(f"Merge {merge_id} not found.")
    return MergeOut.model_validate(row)


async def unmerge(
    session: AsyncSession, principal: Principal, merge_id: int, reason: str
) -> MergeOut:
    """Undo one merge exactly: rows move back, filled fields empty again, the tombstone lives."""
    if len(reason.strip()) < 10:
        raise Invalid.fields([FieldError("reason", N_("say why, in at least 10 characters"))])
    row = await session.get(Merge, merge_id, with_for_update=True)
    if row is None:
        raise NotFound(f"Merge {merge_id} not found.")
    if row.undone_at is not None:
        raise InvalidState(
            N_("Merge %(id)s was already undone on %(day)s."),
            params={"id": merge_id, "day": f"{row.undone_at:%d.%m.%Y}"},
        )
    people = await _load_for_update(session, [row.survivor_id, row.merged_id])
    survivor, merged = people[row.survivor_id], people[row.merged_id]
    for pid in (survivor.id, merged.id):
        await _in_scope(session, principal, pid)
    moved: dict[str, Any] = row.moved
    if survivor.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into Patient %(into)s since: undo that merge first."),
            params={"id": survivor.id, "into": survivor.merged_into_id},
        )
    if merged.merged_into_id != survivor.id:
        raise InvalidState(
            N_("Patient %(id)s is no longer merged into Patient %(into)s."),
            params={"id": merged.id, "into": survivor.id},
        )
    changed = [f for f, (_, new) in moved["fields"].items() if getattr(survivor, f) != new]
    if moved.get("national_id") and survivor.national_id != moved["national_id"]:
        changed.append("national_id")
    if changed:
        raise InvalidState(
            N_(
                "Patient %(id)s changed since the merge (%(fields)s): "
                "it cannot be restored exactly; correct the records by hand."
            ),
            params={"id": survivor.id, "fields": ", ".join(sorted(changed))},
        )

    # other domains first, with exactly the rows they moved
    await events.publish(
        session,
        PersonRowsMoved(from_id=survivor.id, to_id=merged.id, only=moved.get("domains", {})),
    )
    pairs = moved["duplicate_pair"]
    for pair_id, a, b in pairs["repointed"]:
        await session.execute(
            update(DuplicatePair)
            .where(DuplicatePair.id == pair_id)
            .values(person_a_id=a, person_b_id=b)
        )
    if pairs["resolved"] is not None:
        old = pairs["resolved"]
        pair = await session.get(DuplicatePair, old["id"])
        if pair is not None:
            pair.status, pair.reviewed_by = old["status"], old["reviewed_by"]
            pair.reviewed_at = (
                _parse_time(old["reviewed_at"]) if old["reviewed_at"] is not None else None
            )
    if moved["care_relationship_closed"]:
        await session.execute(
            update(CareRelationship)
            .where(CareRelationship.id.in_(moved["care_relationship_closed"]))
            .values(closed_at=None)
        )
    for table, model in _REGISTRY_ROWS.items():
        if moved[table]:
            await session.execute(
                update(model)
                .where(model.id.in_(moved[table]), model.person_id == survivor.id)
                .values(person_id=merged.id)
            )
    # merges made before relations existed recorded none
    if moved.get("person_relation"):
        await session.execute(
            update(PersonRelation)
            .where(
                PersonRelation.id.in_(moved["person_relation"]),
                PersonRelation.person_id == survivor.id,
            )
            .values(person_id=merged.id)
        )
    if moved.get("person_relation_related"):
        await session.execute(
            update(PersonRelation)
            .where(
                PersonRelation.id.in_(moved["person_relation_related"]),
                PersonRelation.related_person_id == survivor.id,
            )
            .values(related_person_id=merged.id)
        )
    if moved.get("person_relation_closed"):
        await session.execute(
            update(PersonRelation)
            .where(PersonRelation.id.in_(moved["person_relation_closed"]))
            .values(ends_on=None)
        )
    # reopened only once back with the merged person: one open attachment each
    if moved["attachment_closed"]:
        await session.execute(
            update(Attachment)
            .where(Attachment.id.in_(moved["attachment_closed"]))
            .values(end_on=None)
        )
    now = utcnow()
    for f, (old, _) in moved["fields"].items():
        setattr(survivor, f, old)
    if moved.get("national_id"):
        survivor.national_id = None
    survivor.updated_at = now
    await _flush(session)  # the national id leaves the survivor before the tombstone takes it
    merged.merged_into_id, merged.updated_at = None, now
    if moved.get("national_id"):
        merged.national_id = moved["national_id"]
    row.undone_at, row.undone_by, row.note = utcnow(), principal.username, reason.strip()
    await _save_versions(session, principal, survivor, merged)
    purpose = f"unmerge: {reason.strip()}"
    await _audit(
        session,
        principal,
        survivor.id,
        purpose,
        f"merge {row.id} undone: Patient {merged.id} separated again",
    )
    await _audit(
        session,
        principal,
        merged.id,
        purpose,
        f"merge {row.id} undone: this record restored from Patient {survivor.id}",
    )
    return MergeOut.model_validate(row)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)
