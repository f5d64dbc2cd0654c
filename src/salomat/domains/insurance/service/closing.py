"""A closed settlement is paid as it stands: nothing may change what it counted.

A provider's month is closed when its settlement (facility + month) is ``closed``. A
decision on a line of that month, a new claim for it, or a flag on one of its lines
would change what the closed settlement paid without paying it or taking it back, so
each is refused (or, for the nightly controls, left alone).

The settlement row is read ``FOR SHARE`` (PostgreSQL): a close (an UPDATE of that row)
waits for the change to commit and its own computation then counts it; a change that
comes while a close holds the row waits for it and reads ``closed``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, InvalidState
from salomat.domains.insurance.models import Settlement
from salomat.domains.insurance.service.rules import month_of

__all__ = ["closed_facilities", "refuse_if_closed"]


async def refuse_if_closed(session: AsyncSession, facility_id: int, month: date) -> None:
    """``InvalidState`` (409) when the provider's settlement of ``month`` is closed; else
    its row (if any) stays share-locked until the transaction ends."""
    start = month_of(month)
    status = (
        await session.execute(
            select(Settlement.status)
            .where(Settlement.facility_id == facility_id, Settlement.month == start)
            .with_for_update(read=True)
        )
    ).scalar_one_or_none()
    if status == "closed":
        raise InvalidState(
            N_("The settlement of %(month)s for this provider is closed."),
            params={"month": f"{start:%m.%Y}"},
        )


async def closed_facilities(session: AsyncSession, month: date) -> set[int]:
    """The facilities whose settlement of ``month`` is closed; the month's settlement rows
    stay share-locked until the transaction ends (a close waits for it)."""
    rows = await session.execute(
        select(Settlement.facility_id, Settlement.status)
        .where(Settlement.month == month_of(month))
        .order_by(Settlement.facility_id)
        .with_for_update(read=True)
    )
    return {int(fid) for fid, status in rows.all() if status == "closed"}
