"""What the registry's events do to referrals: a death ends them, a merge moves them.

The handlers run in the publisher's transaction (``core.events``): the death or merge
and the queue's change commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.db import utcnow
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    ACTIVE,
    SanatoriumOffer,
    SanatoriumQueueEvent,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.service.common import log_event
from salomat.domains.sanatorium.service.stays import cancel_stay_of

__all__: list[str] = []

_BY_REGISTRY = "registry"


async def _end(session: AsyncSession, r: SanatoriumReferral, reason: str) -> None:
    now = utcnow()
    await session.execute(
        update(SanatoriumOffer)
        .where(SanatoriumOffer.referral_id == r.id, SanatoriumOffer.status == "open")
        .values(status="withdrawn", decided_at=now, decided_by=_BY_REGISTRY)
    )
    if r.status == "booked":
        await cancel_stay_of(session, r, reason)
    r.status = "cancelled"
    r.cancel_reason = reason
    r.updated_at = now
    await session.flush()
    await log_event(session, r, "cancelled", _BY_REGISTRY, reason=reason)


@events.subscribe(registry.PersonDied)
async def end_at_death(session: AsyncSession, event: registry.PersonDied) -> None:
    """A death takes the person's referral out of the queue and frees a booked bed (a
    stay under way is left for the sanatorium to close)."""
    refs = await session.scalars(
        select(SanatoriumReferral)
        .where(
            SanatoriumReferral.person_id == event.person_id,
            SanatoriumReferral.status.in_(
                ("pending_indication", "referred", "queued", "offered", "booked")
            ),
        )
        .with_for_update()
    )
    for r in list(refs):
        await _end(session, r, "death registered")


_MOVED: dict[str, Any] = {
    "sanatorium_referral": SanatoriumReferral,
    "sanatorium_offer": SanatoriumOffer,
    "sanatorium_stay": SanatoriumStay,
    "sanatorium_queue_event": SanatoriumQueueEvent,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points referrals, offers, stays and the log; when both records had a
    referral in progress, the later application is cancelled (one at a time). An
    unmerge moves back exactly what the merge moved."""
    if event.only is None:
        active = list(
            await session.scalars(
                select(SanatoriumReferral)
                .where(
                    SanatoriumReferral.person_id.in_((event.from_id, event.to_id)),
                    SanatoriumReferral.status.in_(ACTIVE),
                )
                .order_by(SanatoriumReferral.applied_at, SanatoriumReferral.id)
                .with_for_update()
            )
        )
        for r in active[1:]:
            await _end(session, r, "merged with another record of the person")
    await registry.move_person_rows(session, event, _MOVED)
