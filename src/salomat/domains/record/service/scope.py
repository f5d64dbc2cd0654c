"""Who may see a resource of the record: whoever holds its person in scope
(``core.policy``: attachment, care relationship, break-the-glass, ...), and the facility
that sent it, for that resource only.

The sender's right is the record's own: it is not a ``core.policy`` scope provider, so
sending a record for a person opens nothing else of hers (neither her other resources
nor any other domain's); a hospital finds again and reads what it sent, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.policy import Scope, person_scope
from salomat.core.security import Principal

__all__: list[str] = []

#: the audit purpose of a read the sender's right admits
REASON = "record-sender"


def sent_by_caller(principal: Principal, sender_facility_id: int | None) -> bool:
    """The resource was sent from the caller's facility."""
    return principal.facility_id is not None and sender_facility_id == principal.facility_id


async def resource_scope(
    session: AsyncSession, principal: Principal, person_id: int, sender_facility_id: int | None
) -> Scope | None:
    """Why the caller may see a resource of ``person_id`` sent by ``sender_facility_id``,
    or None. The person's scope first; the sender's right rather than break-the-glass
    (a grant is not used where it is not needed)."""
    scope = await person_scope(session, principal, person_id)
    if sent_by_caller(principal, sender_facility_id) and (
        scope is None or scope.break_glass_grant is not None
    ):
        return Scope(REASON)
    return scope


async def people_in_scope(
    session: AsyncSession, principal: Principal, people: Iterable[int]
) -> tuple[dict[int, Scope], list[int]]:
    """The people (ids) split: those the caller holds in scope, with why, and the others."""
    allowed: dict[int, Scope] = {}
    refused: list[int] = []
    for pid in people:
        scope = await person_scope(session, principal, pid)
        if scope is None:
            refused.append(pid)
        else:
            allowed[pid] = scope
    return allowed, refused


async def audit_withheld(
    session: AsyncSession, principal: Principal, withheld: Iterable[tuple[int, str]]
) -> None:
    """A denied row for each (person, type) an answer left out as outside the caller's
    scope, written now: the answer itself is a 200 (``audit.denied`` keeps a row for a
    request that fails)."""
    for pid, resource_type in withheld:
        await audit.record(
            session,
            principal,
            action="denied",
            resource_type=resource_type,
            resource_id=str(pid),
            patient_id=pid,
            outcome="failure",
            detail="outside the user's scope",
        )
