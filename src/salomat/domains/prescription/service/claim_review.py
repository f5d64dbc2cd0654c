"""Claims to the fund as people read and decide them: a pharmacist her own pharmacy's
claims, the fund's analyst all (anything else answers like a missing claim); the
pharmacy submits the month's claim; the analyst approves or rejects each line.

Claim lines are person-level data, so every read writes one audit row per patient
shown. How claims and lines come to be, and the rules that flag lines: ``claims``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.audit import Access
from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import Role
from salomat.core.security import Principal
from salomat.domains.prescription.models import (
    Claim,
    ClaimLine,
    Dispensing,
    Medicine,
    Prescription,
)
from salomat.domains.prescription.schemas import (
    ClaimFlag,
    ClaimLineOut,
    ClaimOut,
    ClaimReviewIn,
    ClaimTotals,
)
from salomat.domains.prescription.service.claims import (
    RESOURCE,
    RULES,
    WORKLIST_LIMIT,
    claim_month,
    local_day,
    lock_claims,
    report_to_fund,
)
from salomat.domains.registry import service as registry

__all__ = [
    "get_claim",
    "get_claim_line",
    "list_claim_lines",
    "list_claims",
    "review_claim_line",
    "submit_claim",
]


# ---- reading claims --------------------------------------------------------------------


def _scope_facility(principal: Principal) -> int | None:
    """The pharmacy a pharmacist is limited to (None: the fund's analyst sees all)."""
    if principal.role == Role.insurance_analyst:
        return None
    if principal.role == Role.pharmacist and principal.facility_id is not None:
        return principal.facility_id
    return -1  # nobody else holds claim:read; match nothing


async def _facility_id(session: AsyncSession, code: str | None) -> int | None:
    if not code:
        return None
    found = await registry.facility_id_by_code(session, code)
    return found if found is not None else -1


def _totals(lines: Sequence[ClaimLine]) -> ClaimTotals:
    t = ClaimTotals(lines=len(lines))
    for line in lines:
        t.claimed += line.amount
        if line.status == "approved":
            t.approved += line.amount
        elif line.status == "rejected":
            t.rejected += line.amount
        else:
            t.pending += line.amount
        if line.flags:
            t.flagged_lines += 1
    return t


async def _claim_out(
    session: AsyncSession,
    claim: Claim,
    lines: Sequence[ClaimLine],
    line_outs: list[ClaimLineOut] | None = None,
) -> ClaimOut:
    fac = await registry.get_facility(session, claim.facility_id)
    return ClaimOut(
        id=claim.id,
        facility_id=claim.facility_id,
        facility_code=fac.code,
        facility_name=fac.name,
        month=claim.month,
        status=claim.status,
        submitted_at=claim.submitted_at,
        version=claim.version,
        totals=_totals(lines),
        lines=line_outs or [],
    )


async def list_claims(
    session: AsyncSession,
    principal: Principal,
    *,
    facility: str | None = None,
    month: date | None = None,
) -> list[ClaimOut]:
    """Claims with their totals, newest month first (a pharmacist: her pharmacy's only)."""
    q = select(Claim).order_by(Claim.month.desc(), Claim.id)
    own = _scope_facility(principal)
    if own is not None:
        q = q.where(Claim.facility_id == own)
    wanted = await _facility_id(session, facility)
    if wanted is not None:
        q = q.where(Claim.facility_id == wanted)
    if month is not None:
        q = q.where(Claim.month == claim_month(month))
    claims = list((await session.execute(q.limit(WORKLIST_LIMIT))).scalars())
    by_claim: dict[int, list[ClaimLine]] = {c.id: [] for c in claims}
    if claims:
        rows = await session.execute(select(ClaimLine).where(ClaimLine.claim_id.in_(by_claim)))
        for line in rows.scalars():
            by_claim[line.claim_id].append(line)
    await audit.record(
        session,
        principal,
        action="search",
        resource_type=RESOURCE,
        detail=f"claims: {len(claims)}",
        purpose="reimbursement claims (totals, no person data)",
    )
    return [await _claim_out(session, c, by_claim[c.id]) for c in claims]


async def _line_outs(
    session: AsyncSession, rows: Sequence[tuple[ClaimLine, Claim]]
) -> list[ClaimLineOut]:
    if not rows:
        return []
    d_ids = [line.dispensing_id for line, _ in rows]
    facts = await session.execute(
        select(Dispensing, Prescription.code, Prescription.inn, Medicine)
        .join(Prescription, Prescription.id == Dispensing.prescription_id)
        .join(Medicine, Medicine.id == Dispensing.medicine_id)
        .where(Dispensing.id.in_(d_ids))
    )
    by_d = {d.id: (d, code, inn, m) for d, code, inn, m in facts.all()}
    facilities = await registry.facility_names(session, {claim.facility_id for _, claim in rows})
    names = {facility_id: f.name for facility_id, f in facilities.items()}
    out = []
    for line, claim in rows:
        d, code, inn, m = by_d[line.dispensing_id]
        out.append(
            ClaimLineOut(
                id=line.id,
                claim_id=claim.id,
                claim_status=claim.status,
                facility_id=claim.facility_id,
                facility_name=names[claim.facility_id],
                month=claim.month,
                dispensing_id=d.id,
                prescription_id=d.prescription_id,
                prescription_code=code,
                person_id=line.person_id,
                inn=inn,
                medicine=f"{m.trade_name or m.inn} {m.strength}",
                units=d.units,
                dispensed_at=d.dispensed_at,
                amount=line.amount,
                status=line.status,
                flags=[ClaimFlag.model_validate(f) for f in line.flags or []],
                reviewed_by=line.reviewed_by,
                review_note=line.review_note,
                reviewed_at=line.reviewed_at,
            )
        )
    return out


async def _audit_lines(
    session: AsyncSession, principal: Principal, lines: Sequence[ClaimLineOut], purpose: str
) -> None:
    people = dict.fromkeys(line.person_id for line in lines)
    await audit.record_listing(
        session,
        principal,
        [Access(patient_id=pid, purpose=purpose) for pid in people],
        action="read",
        resource_type=RESOURCE,
    )


async def _load_claim(session: AsyncSession, principal: Principal, claim_id: int) -> Claim:
    claim = await session.get(Claim, claim_id)
    own = _scope_facility(principal)
    if claim is None or (own is not None and claim.facility_id != own):
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(claim_id),
            detail="no such claim" if claim is None else "another pharmacy's claim",
        )
        raise NotFound(f"Claim {claim_id} not found.")
    return claim


async def get_claim(session: AsyncSession, principal: Principal, claim_id: int) -> ClaimOut:
    """One claim with its lines (a pharmacist: her pharmacy's only; others' are ``NotFound``)."""
    claim = await _load_claim(session, principal, claim_id)
    lines = list(
        (
            await session.execute(
                select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.id)
            )
        ).scalars()
    )
    outs = await _line_outs(session, [(line, claim) for line in lines])
    await _audit_lines(session, principal, outs, f"reimbursement claim {claim.id}")
    return await _claim_out(session, claim, lines, outs)


async def list_claim_lines(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = "flagged",
    rule: str | None = None,
    month: date | None = None,
    facility: str | None = None,
    facility_id: int | None = None,
    person_id: int | None = None,
) -> list[ClaimLineOut]:
    """The reviewer's worklist: lines by status (flagged by default), rule, month, pharmacy.

    ``facility`` is a pharmacy's code, ``facility_id`` its id (FHIR's provider).
    """
    errors = []
    if status is not None and status not in ("entered", "flagged", "approved", "rejected"):
        errors.append(FieldError("status", "must be entered, flagged, approved or rejected"))
    if rule is not None and rule not in RULES:
        errors.append(FieldError("rule", f"must be one of {', '.join(RULES)}"))
    if errors:
        raise Invalid.fields(errors)
    q = (
        select(ClaimLine, Claim)
        .join(Claim, Claim.id == ClaimLine.claim_id)
        .order_by(Claim.month.desc(), ClaimLine.id)
    )
    if status is not None:
        q = q.where(ClaimLine.status == status)
    own = _scope_facility(principal)
    if own is not None:
        q = q.where(Claim.facility_id == own)
    wanted = await _facility_id(session, facility)
    if wanted is not None:
        q = q.where(Claim.facility_id == wanted)
    if facility_id is not None:
        q = q.where(Claim.facility_id == facility_id)
    if person_id is not None:
        q = q.where(ClaimLine.person_id == person_id)
    if month is not None:
        q = q.where(Claim.month == claim_month(month))
    rows = [(line, claim) for line, claim in (await session.execute(q)).all()]
    if rule is not None:  # the flags are a JSON list: filtered here, the same on both backends
        rows = [(li, c) for li, c in rows if any(f["rule"] == rule for f in li.flags or [])]
    outs = await _line_outs(session, rows[:WORKLIST_LIMIT])
    await _audit_lines(session, principal, outs, "review of reimbursement claims")
    return outs


async def get_claim_line(session: AsyncSession, principal: Principal, line_id: int) -> ClaimLineOut:
    """One line (another pharmacy's, for a pharmacist: ``NotFound``), audited on its patient."""
    line = await session.get(ClaimLine, line_id)
    claim = await session.get(Claim, line.claim_id) if line is not None else None
    own = _scope_facility(principal)
    if line is None or claim is None or (own is not None and claim.facility_id != own):
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=f"line-{line_id}",
            detail="no such claim line" if line is None else "another pharmacy's claim",
        )
        raise NotFound(f"Claim {line_id} not found.")
    outs = await _line_outs(session, [(line, claim)])
    await _audit_lines(session, principal, outs, f"reimbursement claim {claim.id}")
    return outs[0]


# ---- submitting and reviewing ----------------------------------------------------------


async def submit_claim(
    session: AsyncSession, principal: Principal, claim_id: int, *, today: date | None = None
) -> ClaimOut:
    """The pharmacist sends her pharmacy's claim for a month that has ended (open -> submitted)."""
    claim = await _load_claim(session, principal, claim_id)
    if principal.role != Role.pharmacist:
        raise InvalidState("Only the pharmacy submits its claim.")
    claim = (await lock_claims(session, [claim.id]))[0]  # held until this commits
    if claim.status != "open":
        raise InvalidState(f"The claim is {claim.status}; only an open claim can be submitted.")
    now_month = claim_month(today or local_day(utcnow()))
    if claim.month >= now_month:
        raise InvalidState("A month's claim can be submitted once the month has ended.")
    claim.status = "submitted"
    claim.submitted_at = utcnow()
    await session.flush()
    await report_to_fund(session, [claim])
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(claim.id),
        purpose="claim submitted to the fund",
    )
    return await get_claim(session, principal, claim.id)


def _decided_as(line: ClaimLine, data: ClaimReviewIn) -> bool:
    """Whether the line already carries this decision with this note (a review sent twice,
    or by two analysts who agree): nothing to change, so nothing to refuse."""
    status = "approved" if data.decision == "approve" else "rejected"
    return line.status == status and (line.review_note or None) == (data.note or None)


async def review_claim_line(
    session: AsyncSession, principal: Principal, line_id: int, data: ClaimReviewIn
) -> ClaimLineOut:
    """The fund's analyst approves or rejects one line; a rejection carries its reason."""
    line = await session.get(ClaimLine, line_id)
    if line is None:
        raise NotFound(f"Claim line {line_id} not found.")
    # the claim held from here until this review commits: another review of one of its
    # lines waits, then sums the claim's lines for the fund with this one's decision
    # among them (not a total read before it, written over this one's)
    claim = (await lock_claims(session, [line.claim_id]))[0]
    await session.refresh(line)
    if data.decision == "reject" and not data.note:
        raise Invalid.fields([FieldError("note", "give the reason for the rejection")])
    if _decided_as(line, data):  # the same review sent again: the line as it stands
        return (await _line_outs(session, [(line, claim)]))[0]
    if claim.status in ("approved", "rejected"):
        raise InvalidState(f"The claim is {claim.status}; its lines can no longer be reviewed.")
    # one conditional UPDATE decides: of two analysts reviewing at once, or of a
    # review sent twice, exactly one changes the row and the other gets 409
    await session.flush()
    decided = await session.execute(
        update(ClaimLine)
        .where(ClaimLine.id == line.id, ClaimLine.status.in_(("entered", "flagged")))
        .values(
            status="approved" if data.decision == "approve" else "rejected",
            review_note=data.note or None,
            reviewed_by=principal.username,
            reviewed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(line)
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(f"The line was already {line.status} by {line.reviewed_by}.")
    if claim.status != "open":
        await report_to_fund(session, [claim])
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(claim.id),
        patient_id=line.person_id,
        purpose=f"claim line {line.id} {line.status}",
    )
    return (await _line_outs(session, [(line, claim)]))[0]
