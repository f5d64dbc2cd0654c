"""The citizen's list of who opened her record."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.audit import AuditEntry, AuditQuery
from salomat.core.errors import InvalidState
from salomat.core.pagination import Page
from salomat.core.security import Principal

__all__ = ["access_log_of_self"]


async def access_log_of_self(
    session: AsyncSession, principal: Principal, q: AuditQuery
) -> Page[AuditEntry]:
    """A citizen's own record: who opened it, when, why, and under break-the-glass or not."""
    if principal.person_id is None:
        raise InvalidState("This account is not linked to a person.")
    query = AuditQuery(patient_id=principal.person_id, limit=q.limit, offset=q.offset)
    items, total = await audit.search(session, query)
    return Page[AuditEntry](items=items, total=total, limit=q.limit, offset=q.offset)
