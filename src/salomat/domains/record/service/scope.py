"""The sender's scope: a facility that sent a record for a person in the last year may
open her record, as a facility with an open care relationship may (a hospital that
treated her follows up on its own findings). Registered with ``core.policy``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.policy import Scope, scope_provider
from salomat.core.security import Principal
from salomat.domains.record.models import RecordResource
from salomat.domains.record.service.common import SENDER_SCOPE_DAYS

__all__: list[str] = []

REASON = "record-sender"


@scope_provider
async def sent_for_person(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    """Sent (created) a record for this person in the last ``SENDER_SCOPE_DAYS`` days."""
    if principal.facility_id is None:
        return None
    hit = await session.scalar(
        select(RecordResource.id)
        .where(
            RecordResource.sender_facility_id == principal.facility_id,
            RecordResource.person_id == person_id,
            RecordResource.created_at >= utcnow() - timedelta(days=SENDER_SCOPE_DAYS),
        )
        .limit(1)
    )
    return Scope(REASON) if hit is not None else None
