"""What the registry's events do to the insurance fund: a merge moves the person's
contributions, protected-category memberships, employments, claim lines and the payers
that are she herself (an independent payer, an entrepreneur, a self-employed person:
``ins_payer.person_id``) to the surviving record (an unmerge moves exactly those rows
back), so that her status is computed from every payment made for either record and
her own payer's next file line, naming the survivor, is not refused as paying for
someone else.

The handler runs in the publisher's transaction (``core.events``): the merge and the
moved rows commit or roll back together. Two records' contributions for one month stay
two rows: ``coverage.allocate`` counts the month once. A row the survivor already has
the same of (one payment line on both records, one category from one day: the tables'
unique keys) stays with the merged record, where the survivor's own copy stands for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.domains.insurance.models import (
    CategoryMember,
    ClaimLine,
    Contribution,
    Employment,
    Payer,
)
from salomat.domains.registry import service as registry

__all__: list[str] = []

_MOVED: dict[str, Any] = {
    "ins_contribution": Contribution,
    "ins_category_member": CategoryMember,
    "ins_employment": Employment,
    "ins_claim_line": ClaimLine,
    "ins_payer": Payer,
}

#: the columns besides ``person_id`` of each table's unique key
_KEYS: dict[str, tuple[str, ...]] = {
    "ins_contribution": ("payer_id", "kind", "month", "paid_on", "amount"),
    "ins_category_member": ("category", "start_on"),
    "ins_employment": ("payer_id", "start_on"),
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """Re-point the insurance rows of ``from_id`` to ``to_id``; at an unmerge, only the
    rows the merge recorded."""
    for key, model in _MOVED.items():
        q = select(model.id).where(model.person_id == event.from_id)
        if key in _KEYS:
            there = aliased(model)
            same = [getattr(there, c) == getattr(model, c) for c in _KEYS[key]]
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
