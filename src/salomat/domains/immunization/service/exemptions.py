"""Contraindications and refusals: what stands against a dose, from a date, until withdrawn.

The schedule shows the antigen (or every vaccine) as ``exempt`` while one is
in force. Reads and writes go through ``policy.require_person`` like the
doses (``doses._open``): out of scope answers 404, the audit row is written
in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, InvalidState, NotFound
from salomat.core.security import Principal
from salomat.domains.immunization.models import Exemption
from salomat.domains.immunization.schemas import ExemptionIn, ExemptionOut
from salomat.domains.immunization.service.doses import (
    IMMUNIZATION,
    _exemption_out,
    _exemptions,
    _open,
    calendar_options,
)
from salomat.domains.registry import service as registry

__all__ = ["list_exemptions", "record_exemption", "withdraw_exemption"]


async def list_exemptions(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[ExemptionOut]:
    """Contraindications and refusals, withdrawn ones included (``active`` says which count)."""
    await _open(session, principal, person_id, action="read")
    return [_exemption_out(e) for e in await _exemptions(session, person_id)]


async def record_exemption(
    session: AsyncSession, principal: Principal, person_id: int, data: ExemptionIn
) -> ExemptionOut:
    """A contraindication or refusal: the schedule shows the antigen as exempt meanwhile."""
    await _open(session, principal, person_id, action="create")
    await registry.require_alive(session, person_id)
    cal = calendar_options()
    today = date.today()
    starts = data.starts_on or today
    errors: list[FieldError] = []
    if data.antigen is not None and cal.get(data.antigen) is None:
        errors.append(
            FieldError(
                "antigen",
                N_("%(code)s is not a series of the calendar"),
                {"code": data.antigen},
            )
        )
    if not data.reason.strip():
        errors.append(FieldError("reason", N_("is required")))
    if data.ends_on is not None and data.ends_on < starts:
        errors.append(FieldError("ends_on", N_("is before the start day")))
    if errors:
        raise Invalid.fields(errors)
    e = Exemption(
        person_id=person_id,
        kind=data.kind,
        antigen=data.antigen,
        reason=data.reason.strip(),
        starts_on=starts,
        ends_on=data.ends_on,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(e)
    await session.flush()
    return _exemption_out(e, today)


async def withdraw_exemption(
    session: AsyncSession,
    principal: Principal,
    exemption_id: int,
    withdrawn_on: date | None = None,
) -> ExemptionOut:
    """The contraindication is over or the refusal taken back: the antigen is planned again."""
    e = await session.get(Exemption, exemption_id)
    if e is None:
        await audit.denied(
            session,
            principal,
            resource_type=IMMUNIZATION,
            resource_id=f"exemption/{exemption_id}",
            detail="no such exemption",
        )
        raise NotFound(N_("Exemption %(id)s not found."), params={"id": exemption_id})
    try:
        await _open(session, principal, e.person_id, action="update")
    except NotFound:
        raise NotFound(N_("Exemption %(id)s not found."), params={"id": exemption_id}) from None
    if e.withdrawn_on is not None and withdrawn_on in (None, e.withdrawn_on):
        return _exemption_out(e)  # withdrawn already, as asked (a retry): nothing to refuse
    if e.withdrawn_on is not None:
        raise InvalidState(
            N_("Exemption %(id)s was withdrawn on %(day)s."),
            params={"id": exemption_id, "day": e.withdrawn_on},
        )
    day = withdrawn_on or date.today()
    if day > date.today():
        raise Invalid.fields([FieldError("withdrawn_on", N_("is in the future"))])
    e.withdrawn_on = day
    await session.flush()
    return _exemption_out(e)
