"""The region an epidemic reader is limited to (docs/epidemic.md "Situation, zones and
alerts"; "Case notifications"). Accounts carry no region, so it is kept here
(``epidemic_reader_region``, set by ``salomat epidemic reader-region``): a reader with one
reads that region only; else a reader bound to a facility reads its facility's region (one
in no region reads none); a reader with neither (the ministry's epidemiologists) reads
every region. Alerts (``alerts.list_alerts``) and case notifications
(``notifications.get_notification``, ``search_notifications``) apply the same limit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.epidemic.models_situation import ReaderRegion
from salomat.domains.registry import service as registry

__all__ = ["reader_region", "reader_region_id"]

#: ``reader_region_id``'s answer for a reader limited to no region (reads none)
NONE = 0


async def reader_region_id(session: AsyncSession, principal: Principal) -> int | None:
    """The region id a reader is limited to (``NONE``: none; None: every region)."""
    rid = await session.scalar(
        select(ReaderRegion.region_id).where(ReaderRegion.user_id == principal.user_id)
    )
    if rid is not None:
        return int(rid)
    if principal.facility_id is None:
        return None
    found = await registry.facility_regions(session, [principal.facility_id])
    code = found.get(principal.facility_id)
    if not code:
        return NONE
    return await registry.territory_id_by_code(session, code) or NONE


async def reader_region(session: AsyncSession, principal: Principal) -> str | None:
    """The region code a reader is limited to ('' : none; None: every region)."""
    rid = await session.scalar(
        select(ReaderRegion.region_id).where(ReaderRegion.user_id == principal.user_id)
    )
    if rid is not None:
        return (await registry.get_territory_by_id(session, rid)).code
    if principal.facility_id is None:
        return None
    found = await registry.facility_regions(session, [principal.facility_id])
    return found.get(principal.facility_id) or ""
