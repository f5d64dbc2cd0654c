"""The shared record's resources of many people at once, for a bulk export or
Patient/$everything (issue 19).

One statement for a page of people and one type (``person_id IN (...)``, the index on
person and type). No scope check and no audit here: the caller has chosen the people by
scope, set-wise, and audits each person it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.record.models import RecordResource
from salomat.domains.record.schemas import StoredResource
from salomat.domains.record.service.common import stored

__all__ = ["resources_for_people"]


async def resources_for_people(
    session: AsyncSession,
    person_ids: Sequence[int],
    resource_type: str,
    *,
    since: datetime | None = None,
) -> dict[int, list[StoredResource]]:
    """Each person's current resources of ``resource_type``, oldest first (``since``: only
    those changed after it)."""
    if not person_ids:
        return {}
    q = select(RecordResource).where(
        RecordResource.person_id.in_(sorted(set(person_ids))),
        RecordResource.resource_type == resource_type,
    )
    if since is not None:
        q = q.where(RecordResource.last_updated > since)
    out: dict[int, list[StoredResource]] = {}
    rows = await session.scalars(q.order_by(RecordResource.person_id, RecordResource.id))
    for row in rows.all():
        out.setdefault(row.person_id, []).append(stored(row))
    return out
