"""The fund's reviewer decides claim lines: accept (the claimed amount), reduce (a
smaller amount, with the reason) or reject (nothing, with the reason). A line is decided
once: one conditional UPDATE on its status decides between reviewers who act at once
(the others are told 409), and each decision is audited on its person. A line of a
month whose settlement is closed is no longer decided (409, ``closing``).

The review queue: flagged lines waiting for a decision, by rule and facility.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import cast, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import dialect_name, utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, Msgid, NotFound
from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.schemas.claims import ClaimLineOut, DecisionIn
from salomat.domains.insurance.service.claims import (
    RESOURCE,
    audit_people,
    line_outs,
    own_facility,
)
from salomat.domains.insurance.service.closing import refuse_if_closed
from salomat.domains.insurance.service.control import RULES
from salomat.domains.insurance.service.rules import add_months, month_of

__all__ = ["decide_line", "get_line", "review_queue"]

QUEUE_LIMIT = 500
OPEN = ("entered", "flagged")


async def _load_line(session: AsyncSession, principal: Principal, line_id: int) -> ClaimLine:
    line = await session.get(ClaimLine, line_id)
    own = own_facility(principal)
    if line is None or (own is not None and line.facility_id != own):
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=f"line-{line_id}",
            detail="no such claim line" if line is None else "another provider's line",
        )
        raise NotFound(N_("Claim line %(id)s not found."), params={"id": line_id})
    return line


async def get_line(session: AsyncSession, principal: Principal, line_id: int) -> ClaimLineOut:
    line = await _load_line(session, principal, line_id)
    await audit_people(session, principal, [line.person_id], f"insurance claim {line.claim_id}")
    return (await line_outs(session, [line]))[0]


def _check(data: DecisionIn, claimed: int) -> int:
    """The amount the decision approves; ``Invalid`` naming each wrong field."""
    errors = []
    if data.decision != "accept" and not data.reason:
        errors.append(FieldError("reason", N_("say why the line is reduced or rejected")))
    if data.decision == "reduce":
        if data.amount_approved is None:
            errors.append(FieldError("amount_approved", N_("give the amount approved")))
        elif data.amount_approved >= claimed:
            errors.append(
                FieldError(
                    "amount_approved",
                    N_("must be less than the amount claimed (%(claimed)s)"),
                    {"claimed": f"{claimed / 100:.2f}"},
                )
            )
    elif data.amount_approved is not None:
        errors.append(FieldError("amount_approved", N_("is given only when a line is reduced")))
    if errors:
        raise Invalid.fields(errors)
    if data.decision == "accept":
        return claimed
    if data.decision == "reject":
        return 0
    assert data.amount_approved is not None
    return data.amount_approved


async def decide_line(
    session: AsyncSession, principal: Principal, line_id: int, data: DecisionIn
) -> ClaimLineOut:
    """Accept, reduce or reject one line that no one has decided; else 409 naming who
    did."""
    line = await _load_line(session, principal, line_id)
    # a line of a closed settlement's month stays as it was paid (the settlement row
    # share-locked until this decision commits: a close waits for it and counts it)
    await refuse_if_closed(session, line.facility_id, line.service_on)
    approved = _check(data, line.amount_claimed)
    status = {"accept": "accepted", "reduce": "reduced", "reject": "rejected"}[data.decision]
    await session.flush()
    # one conditional UPDATE decides: of reviewers deciding at once exactly one changes
    # the row (the others wait for its lock, then find the status changed)
    done = await session.execute(
        update(ClaimLine)
        .where(ClaimLine.id == line.id, or_(*(ClaimLine.status == s for s in OPEN)))
        .values(
            status=status,
            amount_approved=approved,
            decision_note=data.reason or None,
            decided_by=principal.username,
            decided_at=utcnow(),
            version=ClaimLine.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(line)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            N_("The line was already decided (%(status)s) by %(who)s."),
            params={"status": Msgid(line.status), "who": line.decided_by or "?"},
        )
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=f"line-{line.id}",
        patient_id=line.person_id,
        purpose=f"claim line {line.id} {status}",
    )
    return (await line_outs(session, [line]))[0]


def _carries(session: AsyncSession, rule: str) -> Any:
    """The line's flags (a JSON list of objects) hold one of ``rule``: in SQL, so the
    queue reads only the lines it shows (PostgreSQL: containment on the list as jsonb;
    SQLite: the list's elements through ``json_each``)."""
    if dialect_name(session) == "postgresql":
        return cast(ClaimLine.flags, JSONB).contains([{"rule": rule}])
    each = func.json_each(ClaimLine.flags).table_valued("value", joins_implicitly=True)
    return exists().where(func.json_extract(each.c.value, "$.rule") == rule)


async def review_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    rule: str | None = None,
    facility_id: int | None = None,
    month: date | None = None,
    status: str = "flagged",
    limit: int = QUEUE_LIMIT,
) -> list[ClaimLineOut]:
    """Lines waiting for the reviewer (flagged by default), oldest first; by rule,
    facility and month. Each person shown is audited."""
    errors = []
    if rule is not None and rule not in RULES:
        errors.append(
            FieldError("rule", N_("must be one of %(values)s"), {"values": ", ".join(RULES)})
        )
    if status not in ("entered", "flagged", "accepted", "reduced", "rejected"):
        errors.append(FieldError("status", N_("not a status of a claim line")))
    if errors:
        raise Invalid.fields(errors)
    q = select(ClaimLine).where(ClaimLine.status == status).order_by(ClaimLine.id)
    own = own_facility(principal)
    if own is not None:
        q = q.where(ClaimLine.facility_id == own)
    if facility_id is not None:
        q = q.where(ClaimLine.facility_id == facility_id)
    if month is not None:
        start = month_of(month)
        q = q.where(ClaimLine.service_on >= start, ClaimLine.service_on < add_months(start, 1))
    if rule is not None:
        q = q.where(_carries(session, rule))
    lines = list((await session.execute(q.limit(limit))).scalars())
    await audit_people(
        session, principal, [li.person_id for li in lines], "review of insurance claims"
    )
    return await line_outs(session, lines)
