"""Every version of a registry resource, for FHIR vread and ``_history``.

Each write of a person, facility, practitioner, role or territory stores the
REST representation of the new version (``*Out`` schema, as JSON); the FHIR
mappers turn a stored version into the resource as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import NotFound
from salomat.core.pagination import Page, PageParams
from salomat.domains.registry.models import ResourceVersion

__all__ = ["StoredVersion", "history", "record_version", "stored_version", "unchanged"]


class StoredVersion(BaseModel):
    resource_type: str
    resource_id: int
    version: int
    action: str
    recorded_at: datetime
    recorded_by: str
    data: dict[str, Any]


def unchanged(session: AsyncSession, *rows: object) -> bool:
    """No field of ``rows`` holds a value other than the stored one.

    An update whose values are the stored ones is already the state it asks
    for: it answers the current version (200) without a new one, whatever
    version the client read, rather than a 412 whose retry could never change
    anything. Values are assigned first; SQLAlchemy compares them with what
    it loaded (setting the same value is no change).
    """
    return not any(session.is_modified(r, include_collections=False) for r in rows)


async def record_version(
    session: AsyncSession,
    resource_type: str,
    resource: BaseModel,
    *,
    action: str,
    by: str,
) -> None:
    data = resource.model_dump(mode="json")
    session.add(
        ResourceVersion(
            resource_type=resource_type,
            resource_id=data["id"],
            version=data["version"],
            action=action,
            recorded_at=utcnow(),
            recorded_by=by,
            data=data,
        )
    )
    await session.flush()


def _out(row: ResourceVersion) -> StoredVersion:
    return StoredVersion(
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        version=row.version,
        action=row.action,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        data=row.data,
    )


async def stored_version(
    session: AsyncSession, resource_type: str, resource_id: int, version: int
) -> StoredVersion:
    row = await session.get(ResourceVersion, (resource_type, resource_id, version))
    if row is None:
        raise NotFound(f"{resource_type} {resource_id} has no version {version}.")
    return _out(row)


async def history(
    session: AsyncSession, resource_type: str, resource_id: int, page: PageParams
) -> Page[StoredVersion]:
    """Newest first, as FHIR ``_history`` lists them."""
    where = (
        ResourceVersion.resource_type == resource_type,
        ResourceVersion.resource_id == resource_id,
    )
    total = await session.scalar(select(func.count()).select_from(ResourceVersion).where(*where))
    rows = await session.scalars(
        select(ResourceVersion)
        .where(*where)
        .order_by(ResourceVersion.version.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page[StoredVersion](
        items=[_out(r) for r in rows], total=int(total or 0), limit=page.limit, offset=page.offset
    )
