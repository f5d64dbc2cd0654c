"""The citizen's own referrals: position, offers, vouchers; withdrawing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, NotFound
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import SanatoriumReferral
from salomat.domains.sanatorium.schemas import QueueEventOut, ReferralOut
from salomat.domains.sanatorium.service.common import REFERRAL, referrals_out
from salomat.domains.sanatorium.service.queue import with_position
from salomat.domains.sanatorium.service.referrals import cancel_referral, events_of

__all__ = ["my_children", "my_referral_events", "my_referrals", "withdraw_my_referral"]

PURPOSE = "citizen portal: sanatorium"


async def my_referrals(session: AsyncSession, principal: Principal) -> list[ReferralOut]:
    """The citizen's referrals and her young children's (a parent answers their offers),
    newest first; one in line shows its position and wait."""
    if principal.person_id is None:
        return []
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=REFERRAL,
        resource_id=str(principal.person_id),
        patient_id=principal.person_id,
        purpose=PURPOSE,
    )
    people = [principal.person_id, *await registry.children_of(session, principal)]
    refs = list(
        await session.scalars(
            select(SanatoriumReferral)
            .where(SanatoriumReferral.person_id.in_(people))
            .order_by(SanatoriumReferral.id.desc())
            .limit(50)
        )
    )
    for child in {r.person_id for r in refs} - {principal.person_id}:
        await audit.record(
            session,
            principal,
            action="read",
            resource_type=REFERRAL,
            resource_id=str(child),
            patient_id=child,
            purpose=PURPOSE,
        )
    outs = await referrals_out(session, refs)
    return [await with_position(session, r, o) for r, o in zip(refs, outs, strict=True)]


async def my_children(session: AsyncSession, principal: Principal) -> list[tuple[int, str]]:
    """The citizen's children (and wards) under 18 by a registry relation, oldest first,
    with their names: whom she may apply for and whose referrals her page lists. Each
    child's name read is audited on the child's record."""
    ids = await registry.children_of(session, principal)
    briefs = await registry.person_briefs(session, ids)
    out = []
    for child in ids:
        brief = briefs.get(child)
        if brief is None:
            continue
        await audit.record(
            session,
            principal,
            action="read",
            resource_type="Patient",
            resource_id=str(child),
            patient_id=child,
            purpose=PURPOSE,
        )
        out.append((child, brief.name))
    return out


async def _mine(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    *,
    action: str,
    hold: bool = False,
) -> SanatoriumReferral:
    q = select(SanatoriumReferral).where(SanatoriumReferral.id == referral_id)
    if hold:
        q = q.with_for_update()
    r = (await session.execute(q)).scalar_one_or_none()
    scope = (
        await person_scope(session, principal, r.person_id)
        if r is not None and principal.person_id is not None
        else None
    )
    if r is None or scope is None:
        await audit.denied(
            session,
            principal,
            resource_type=REFERRAL,
            resource_id=str(referral_id),
            detail="not the holder's referral",
        )
        raise NotFound(N_("Referral %(id)s not found."), params={"id": str(referral_id)})
    await audit.record(
        session,
        principal,
        action=action,
        resource_type=REFERRAL,
        resource_id=str(r.id),
        patient_id=r.person_id,
        purpose=PURPOSE,
    )
    return r


async def my_referral_events(
    session: AsyncSession, principal: Principal, referral_id: int
) -> list[QueueEventOut]:
    r = await _mine(session, principal, referral_id, action="read")
    return await events_of(session, r.id)


async def withdraw_my_referral(
    session: AsyncSession, principal: Principal, referral_id: int, reason: str
) -> ReferralOut:
    r = await _mine(session, principal, referral_id, action="update", hold=True)
    return await cancel_referral(session, principal, referral_id, reason, r=r)
