"""The row-moving loop the domains' ``PersonRowsMoved`` handlers share: a merge moves a
person's rows to the surviving record, an unmerge moves exactly the recorded rows back.

The registry imports no domain: each handler passes its ORM model classes (by the key
it records them under in ``event.moved``, its table name) and, for a table with a
unique key, the key's columns besides ``person_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.domains.registry.service.merge import PersonRowsMoved

__all__ = ["move_person_rows"]


async def move_person_rows(
    session: AsyncSession,
    event: PersonRowsMoved,
    tables: Mapping[str, Any],
    unique_keys: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Re-point each table's rows of ``event.from_id`` to ``event.to_id`` (one UPDATE a
    table, in the order of ``tables``) and record their ids in ``event.moved[key]``.

    At an unmerge (``event.only`` set) only the rows the merge recorded under ``key``
    move. A row whose unique key (``unique_keys[key]``, the columns besides
    ``person_id``) the target record already has stays where it is: the target's own
    copy stands for it.
    """
    keys = unique_keys or {}
    for key, model in tables.items():
        q = select(model.id).where(model.person_id == event.from_id)
        if key in keys:
            there = aliased(model)
            same = [getattr(there, c) == getattr(model, c) for c in keys[key]]
            q = q.where(~exists().where(and_(there.person_id == event.to_id, *same)))
        if event.only is not None:
            ids = event.only.get(key, [])
            if not ids:
                continue
            q = q.where(model.id.in_(ids))
        moved = [int(i) for i in (await session.execute(q)).scalars()]
        if moved:
            await session.execute(
                update(model)
                .where(model.id.in_(moved))
                .values(person_id=event.to_id)
                .execution_options(synchronize_session=False)
            )
            event.moved[key] = moved
