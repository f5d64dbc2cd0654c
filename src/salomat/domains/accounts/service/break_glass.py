"""Break the glass: a clinician opens one person outside their scope, with a reason."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import InvalidState, NotFound
from salomat.core.policy import CLINICAL_ROLES, Scope, bulk_scope_provider, scope_provider
from salomat.core.security import Principal
from salomat.domains.accounts.models import BreakGlassGrant
from salomat.domains.accounts.schemas import BreakGlassIn, BreakGlassOut
from salomat.domains.registry import service as registry

__all__ = ["break_glass", "live_break_glass_grant"]


async def break_glass(
    session: AsyncSession, principal: Principal, data: BreakGlassIn
) -> BreakGlassOut:
    """One person, a stated reason, a short expiry; flagged in every audit row under it."""
    if principal.role not in CLINICAL_ROLES:
        raise InvalidState("Only clinicians may break the glass.")
    if not await registry.person_exists(session, data.person_id):
        raise NotFound(f"Patient {data.person_id} not found.")
    now = utcnow()
    grant = BreakGlassGrant(
        user_id=principal.user_id,
        person_id=data.person_id,
        facility_id=principal.facility_id,
        reason=data.reason,
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().break_glass_minutes),
    )
    session.add(grant)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="BreakGlass",
        resource_id=str(grant.id),
        patient_id=data.person_id,
        purpose=data.reason,
        break_glass_grant=grant.id,
    )
    return BreakGlassOut.model_validate(grant)


@scope_provider
async def live_break_glass_grant(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    row = (
        await session.execute(
            select(BreakGlassGrant.id, BreakGlassGrant.reason)
            .where(
                BreakGlassGrant.user_id == principal.user_id,
                BreakGlassGrant.person_id == person_id,
                BreakGlassGrant.expires_at > utcnow(),
            )
            .order_by(BreakGlassGrant.expires_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Scope(f"break-the-glass: {row.reason}", break_glass_grant=row.id)


@bulk_scope_provider(live_break_glass_grant)
async def live_break_glass_grants(
    session: AsyncSession, principal: Principal, person_ids: list[int]
) -> dict[int, Scope]:
    """The same for many people: one statement per 500 of them (the latest-expiring grant)."""
    out: dict[int, Scope] = {}
    now = utcnow()
    for i in range(0, len(person_ids), 500):
        for row in await session.execute(
            select(BreakGlassGrant.person_id, BreakGlassGrant.id, BreakGlassGrant.reason)
            .where(
                BreakGlassGrant.user_id == principal.user_id,
                BreakGlassGrant.person_id.in_(person_ids[i : i + 500]),
                BreakGlassGrant.expires_at > now,
            )
            .order_by(BreakGlassGrant.expires_at.desc())
        ):
            out.setdefault(
                row.person_id, Scope(f"break-the-glass: {row.reason}", break_glass_grant=row.id)
            )
    return out
