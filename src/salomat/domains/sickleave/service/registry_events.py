"""What other domains' events do to certificates: a death closes, a birth extends, a merge moves.

The handlers run in the publisher's transaction (``core.events``), so the death,
birth or merge and the certificates' change commit or roll back together.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import (
    SickLeaveCertificate,
    SickLeavePeriod,
    SickLeaveShare,
    SickLeaveVersion,
    VkkDecision,
)
from salomat.domains.sickleave.service.changes import add_period
from salomat.domains.sickleave.service.common import periods_of, write_version
from salomat.domains.sickleave.service.rules import last_day, sick_leave_rules

__all__: list[str] = []

_BY_REGISTRY = "registry:death"


@events.subscribe(registry.PersonDied)
async def close_at_death(session: AsyncSession, event: registry.PersonDied) -> None:
    """Open certificates close on the day of death (closure ``death``); one that would
    have started after it is cancelled."""
    # locked and read afresh: a change committed meanwhile is seen, not overwritten
    rows = await session.execute(
        select(SickLeaveCertificate)
        .where(
            SickLeaveCertificate.person_id == event.person_id,
            SickLeaveCertificate.status == "open",
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for c in rows.scalars():
        if event.deceased_on < c.starts_on:
            c.status = "cancelled"
            c.cancel_reason = "death before the certificate's first day"
            await write_version(session, c, change="cancelled", by=_BY_REGISTRY, reason="death")
            continue
        c.status = "closed"
        c.closure = "death"
        c.closed_on = min(c.ends_on, event.deceased_on)
        await write_version(session, c, change="closed", by=_BY_REGISTRY, reason="death")


@events.subscribe(maternal.BirthRecorded)
async def extend_after_birth(session: AsyncSession, event: maternal.BirthRecorded) -> None:
    """A complicated birth (the pack's birth modes) or two or more babies add the pack's
    days to the pregnancy's maternity leave, once."""
    rules = sick_leave_rules().maternity
    if event.mode not in rules.complicated_birth_modes and event.babies < 2:
        return
    c = (
        await session.execute(
            select(SickLeaveCertificate)
            .where(
                SickLeaveCertificate.pregnancy_id == event.pregnancy_id,
                SickLeaveCertificate.status != "cancelled",
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if c is None or c.status != "open" or len(await periods_of(session, c.id)) > 1:
        return
    await add_period(
        session,
        c,
        ends_on=last_day(c.ends_on + timedelta(days=1), rules.extension_days),
        granted_as="birth_record",
        by=event.recorded_by,
        facility_id=event.facility_id,
        change="extended",
        reason="birth record: complicated birth or two or more babies",
    )


_MOVED: dict[str, Any] = {
    "sick_leave_certificate": SickLeaveCertificate,
    "sick_leave_period": SickLeavePeriod,
    "sick_leave_vkk_decision": VkkDecision,
    "sick_leave_version": SickLeaveVersion,
    "sick_leave_share": SickLeaveShare,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points the holder's certificates (and the child cared for); an unmerge
    moves back exactly what the merge moved."""
    await registry.move_person_rows(session, event, _MOVED)
    key = "sick_leave_certificate.cared_person_id"
    q = select(SickLeaveCertificate.id).where(SickLeaveCertificate.cared_person_id == event.from_id)
    if event.only is not None:
        ids = event.only.get(key, [])
        q = q.where(SickLeaveCertificate.id.in_(ids or [-1]))
    moved = [int(i) for i in (await session.execute(q)).scalars()]
    if moved:
        await session.execute(
            update(SickLeaveCertificate)
            .where(SickLeaveCertificate.id.in_(moved))
            .values(cared_person_id=event.to_id)
            .execution_options(synchronize_session=False)
        )
        event.moved[key] = moved
