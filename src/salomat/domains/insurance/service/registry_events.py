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

from sqlalchemy.ext.asyncio import AsyncSession

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
    await registry.move_person_rows(session, event, _MOVED, _KEYS)
