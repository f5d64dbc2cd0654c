"""Following the registry's merges and unmerges: the maternal rows move with the person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import Conflict
from salomat.domains.maternal.models import (
    AdviceItem,
    AntenatalContact,
    Baby,
    BirthRecord,
    Diagnosis,
    ExternalReading,
    PostnatalContact,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.service.pregnancy import _current
from salomat.domains.registry import service as registry

__all__: list[str] = []

#: key in ``PersonRowsMoved.moved`` -> (model, the column naming the person). A row with
#: two people (a baby row names mother and baby) has one key per column, so an unmerge
#: moves back exactly the column the merge moved.
_MOVED: dict[str, tuple[Any, str]] = {
    "pregnancy": (Pregnancy, "person_id"),
    "antenatal_contact": (AntenatalContact, "person_id"),
    "antenatal_advice": (AdviceItem, "person_id"),
    "antenatal_diagnosis": (Diagnosis, "person_id"),
    "antenatal_external_reading": (ExternalReading, "person_id"),
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
