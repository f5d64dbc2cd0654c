"""The citizen's list of who opened her record: names, facilities, local times, reasons.

Her own doings are left out (reading her own record, her logins, this list): she
knows them, and they would bury the entries she looks for. Rows are those about
her person (``patient_id``) not written by an account of hers; refusals stay in
(someone tried and was refused). Paged by id, newest first, as the auditor's list.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.audit import AuditEvent, AuditQuery, where
from salomat.core.config import get_settings
from salomat.core.errors import InvalidState
from salomat.core.security import Principal
from salomat.domains.accounts.models import User
from salomat.domains.accounts.schemas import AccessLogEntry, AccessLogPage
from salomat.domains.accounts.service.audit_rows import local_zone, read_rows

__all__ = ["access_log_of_self"]


def _not_hers(person_id: int) -> object:
    """Rows not written by any account of hers (after a merge she may have two)."""
    return or_(
        AuditEvent.user_id.is_(None),
        AuditEvent.user_id.not_in(select(User.id).where(User.person_id == person_id)),
    )


async def access_log_of_self(
    session: AsyncSession,
    principal: Principal,
    *,
    before: int | None = None,
    limit: int | None = None,
) -> AccessLogPage:
    """Who opened her record, when, why, under break-the-glass or not; the reading is audited."""
    if principal.person_id is None:
        raise InvalidState("This account is not linked to a person.")
    size = limit or get_settings().default_page_size
    person_id = principal.person_id
    mine = _not_hers(person_id)
    q = AuditQuery(patient_id=person_id, before_id=before)
    rows = await read_rows(session, q, size + 1, mine)
    total = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(*where(AuditQuery(patient_id=person_id)), mine)
    )
    more = len(rows) > size
    rows = rows[:size]
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="AccessLog",
        patient_id=person_id,
        purpose="own access log",
    )
    return AccessLogPage(
        items=[AccessLogEntry.of(r) for r in rows],
        total=int(total or 0),
        limit=size,
        before=before,
        next_before=rows[-1].id if more and rows else None,
        time_zone=str(local_zone()),
    )
