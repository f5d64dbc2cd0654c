"""Reads by the ids FHIR uses (a contact, an advice item) rather than by pregnancy.

Each loads the row only to learn its pregnancy, then goes through the pregnancy
module's ``_open`` (scope check and audit row): out of scope is 404 like missing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import NotFound
from salomat.core.security import Principal
from salomat.domains.maternal.models import AdviceItem, AntenatalContact
from salomat.domains.maternal.schemas import AdviceOut, ContactOut
from salomat.domains.maternal.service.pregnancy import (
    CONTACT,
    RESOURCE,
    _contact_out,
    _open,
)

__all__ = ["get_advice_item", "get_contact"]


async def get_contact(session: AsyncSession, principal: Principal, contact_id: int) -> ContactOut:
    """One antenatal contact (a FHIR Encounter and its Observations)."""
    c = await session.get(AntenatalContact, contact_id)
    if c is None:
        await audit.denied(
            session,
            principal,
            resource_type=CONTACT,
            resource_id=str(contact_id),
            detail="no such contact",
        )
        raise NotFound(f"Contact {contact_id} not found.")
    try:
        await _open(session, principal, c.pregnancy_id, action="read", what=CONTACT)
    except NotFound:
        raise NotFound(f"Contact {contact_id} not found.") from None
    return _contact_out(c)


async def get_advice_item(
    session: AsyncSession, principal: Principal, advice_id: int
) -> tuple[int, AdviceOut]:
    """One advice item, active or retired, with the person it is about."""
    a = await session.get(AdviceItem, advice_id)
    if a is None:
        await audit.denied(
            session,
            principal,
            resource_type="DetectedIssue",
            resource_id=str(advice_id),
            detail="no such advice",
        )
        raise NotFound(f"Advice {advice_id} not found.")
    try:
        await _open(session, principal, a.pregnancy_id, action="read", what=RESOURCE)
    except NotFound:
        raise NotFound(f"Advice {advice_id} not found.") from None
    return a.person_id, AdviceOut.model_validate(a)
