"""What every sick-leave use case shares: loading in scope, numbers, the three views, versions.

Every read and write of a certificate opens its holder's record through
``policy.require_person`` (scope check and an audit row, resource type
``SickLeave``): out of scope answers 404 exactly like a missing certificate.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, NotFound, PreconditionFailed
from salomat.core.policy import CLINICAL_ROLES, Role, require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import (
    SickLeaveCertificate,
    SickLeavePeriod,
    SickLeaveVersion,
    VkkDecision,
)
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    EmployerCertificateOut,
    EmployerPeriodOut,
    PeriodOut,
    VkkOut,
)
from salomat.domains.sickleave.service.rules import days_between

__all__ = [
    "CHECK_ALPHABET",
    "SICK_LEAVE",
    "effective_end",
    "new_check_code",
    "new_number",
    "normalise_check_code",
    "normalise_number",
]

#: the audit's resource type
SICK_LEAVE = "SickLeave"
#: no 0/O, 1/I/L: what is read out is what is typed
CHECK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
NUMBER_DIGITS = 12
CHECK_LENGTH = 6


def new_number(today: date) -> str:
    """12 digits grouped 4-4-4, the first two the year of issue: 2612-3456-7890."""
    raw = f"{today.year % 100:02d}" + "".join(
        secrets.choice("0123456789") for _ in range(NUMBER_DIGITS - 2)
    )
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_number(text: str) -> str:
    """A number as typed or read out (spaces, dashes) in its stored form."""
    raw = re.sub(r"\D", "", text or "")
    if len(raw) != NUMBER_DIGITS:
        return raw
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def new_check_code() -> str:
    return "".join(secrets.choice(CHECK_ALPHABET) for _ in range(CHECK_LENGTH))


def normalise_check_code(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text or "").upper()


def effective_end(c: SickLeaveCertificate) -> date:
    """The last day of incapacity: the closing day when closed, else the last period's end."""
    return c.closed_on if c.closed_on is not None else c.ends_on


def certificate_days(c: SickLeaveCertificate) -> int:
    if c.status == "cancelled":
        return 0
    return days_between(c.starts_on, effective_end(c))


def not_found(certificate_id: int | str) -> NotFound:
    return NotFound(
        N_("Sick-leave certificate %(id)s not found."), params={"id": str(certificate_id)}
    )


async def load(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> SickLeaveCertificate:
    c = await session.get(SickLeaveCertificate, certificate_id)
    if c is None:
        await audit.denied(
            session,
            principal,
            resource_type=SICK_LEAVE,
            resource_id=str(certificate_id),
            detail="no such certificate",
        )
        raise not_found(certificate_id)
    return c


async def open_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    action: str,
    purpose: str | None = None,
) -> None:
    await require_person(
        session, principal, person_id, action=action, resource_type=SICK_LEAVE, purpose=purpose
    )


async def scoped(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    *,
    action: str,
    purpose: str | None = None,
) -> SickLeaveCertificate:
    """The certificate when its holder is in the user's scope (audited), else 404."""
    c = await load(session, principal, certificate_id)
    try:
        await open_person(session, principal, c.person_id, action=action, purpose=purpose)
    except NotFound:
        raise not_found(certificate_id) from None
    return c


def check_version(c: SickLeaveCertificate, expected: int | None) -> None:
    if expected is not None and expected != c.version:
        raise PreconditionFailed(
            N_("Sick-leave certificate %(id)s changed (version %(version)s); reload it."),
            params={"id": c.id, "version": c.version},
        )


async def periods_of(session: AsyncSession, certificate_id: int) -> list[SickLeavePeriod]:
    return list(
        (
            await session.execute(
                select(SickLeavePeriod)
                .where(SickLeavePeriod.certificate_id == certificate_id)
                .order_by(SickLeavePeriod.seq)
            )
        ).scalars()
    )


async def decisions_of(session: AsyncSession, certificate_id: int) -> list[VkkDecision]:
    return list(
        (
            await session.execute(
                select(VkkDecision)
                .where(VkkDecision.certificate_id == certificate_id)
                .order_by(VkkDecision.decided_on, VkkDecision.id)
            )
        ).scalars()
    )


def _period_out(p: SickLeavePeriod) -> PeriodOut:
    return PeriodOut(
        seq=p.seq,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        days=days_between(p.starts_on, p.ends_on),
        granted_as=p.granted_as,
        granted_by=p.granted_by,
        facility_id=p.facility_id,
        vkk_decision_id=p.vkk_decision_id,
        cosigned_by=p.cosigned_by,
    )


def facility_label(names: dict[int, Any], facility_id: int | None) -> str:
    f = names.get(facility_id) if facility_id is not None else None
    if f is None:
        return ""
    return str(f.names.get(i18n.current_language()) or f.name)


async def new_certificate_out(
    session: AsyncSession,
    c: SickLeaveCertificate,
    periods: list[SickLeavePeriod],
    decisions: list[VkkDecision],
) -> CertificateOut:
    """The view of a certificate just written, from the rows in hand (no read-back)."""
    names = await registry.facility_names(session, [c.facility_id])
    o = CertificateOut.model_validate(c)
    o.days = certificate_days(c)
    o.facility_name = facility_label(names, c.facility_id)
    o.periods = [_period_out(p) for p in periods]
    o.vkk_decisions = [VkkOut.model_validate(d) for d in decisions]
    return o


async def certificates_out(
    session: AsyncSession, rows: list[SickLeaveCertificate]
) -> list[CertificateOut]:
    """The clinician's (and the holder's) view of many certificates: one statement each for
    their periods, the commission's decisions and the facilities, whatever their number."""
    if not rows:
        return []
    ids = [c.id for c in rows]
    periods: dict[int, list[SickLeavePeriod]] = {i: [] for i in ids}
    for p in (
        await session.execute(
            select(SickLeavePeriod)
            .where(SickLeavePeriod.certificate_id.in_(ids))
            .order_by(SickLeavePeriod.certificate_id, SickLeavePeriod.seq)
        )
    ).scalars():
        periods[p.certificate_id].append(p)
    decisions: dict[int, list[VkkDecision]] = {i: [] for i in ids}
    for d in (
        await session.execute(
            select(VkkDecision)
            .where(VkkDecision.certificate_id.in_(ids))
            .order_by(VkkDecision.decided_on, VkkDecision.id)
        )
    ).scalars():
        decisions[d.certificate_id].append(d)
    names = await registry.facility_names(session, {c.facility_id for c in rows})
    out = []
    for c in rows:
        o = CertificateOut.model_validate(c)
        o.days = certificate_days(c)
        o.facility_name = facility_label(names, c.facility_id)
        o.periods = [_period_out(p) for p in periods[c.id]]
        o.vkk_decisions = [VkkOut.model_validate(d) for d in decisions[c.id]]
        out.append(o)
    return out


async def certificate_out(session: AsyncSession, c: SickLeaveCertificate) -> CertificateOut:
    """The clinician's (and the holder's) view, with periods and the commission's decisions."""
    return (await certificates_out(session, [c]))[0]


def employer_view(
    c: SickLeaveCertificate, periods: list[SickLeavePeriod], facility: str
) -> EmployerCertificateOut:
    """Built field by field from what an employer may know: no reason, no diagnosis."""
    end = effective_end(c)
    return EmployerCertificateOut(
        number=c.number,
        kind=c.kind,  # type: ignore[arg-type]
        status=c.status,  # type: ignore[arg-type]
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        closed_on=c.closed_on,
        return_to_work_on=c.return_to_work_on,
        days=certificate_days(c),
        issuing_facility=facility,
        duplicate_no=c.duplicate_no,
        periods=[
            EmployerPeriodOut(starts_on=p.starts_on, ends_on=min(p.ends_on, end))
            for p in periods
            if p.starts_on <= end
        ],
    )


def sees_clinical(principal: Principal, holder_id: int) -> bool:
    """The reason, diagnosis, closure and VKK decisions: clinical roles and the holder."""
    if principal.role in CLINICAL_ROLES:
        return True
    return principal.role == Role.citizen and principal.person_id == holder_id


def redacted(principal: Principal, out: CertificateOut) -> CertificateOut:
    """The view for a reader who is neither a clinician nor the holder (a parent): the
    certificate's dates, periods and status, nothing clinical."""
    if sees_clinical(principal, out.person_id):
        return out
    return out.model_copy(
        update={
            "reason": None,
            "diagnosis": None,
            "closure": None,
            "pregnancy_id": None,
            "zone_document": None,
            "cancel_reason": None,
            "vkk_decisions": [],
            "periods": [
                p.model_copy(update={"vkk_decision_id": None, "granted_as": ""})
                for p in out.periods
            ],
        }
    )


def snapshot(c: SickLeaveCertificate, periods: list[SickLeavePeriod]) -> dict[str, Any]:
    return {
        "number": c.number,
        "status": c.status,
        "kind": c.kind,
        "reason": c.reason,
        "diagnosis": c.diagnosis,
        "cared_person_id": c.cared_person_id,
        "pregnancy_id": c.pregnancy_id,
        "starts_on": c.starts_on.isoformat(),
        "ends_on": c.ends_on.isoformat(),
        "closed_on": c.closed_on.isoformat() if c.closed_on else None,
        "closure": c.closure,
        "return_to_work_on": c.return_to_work_on.isoformat() if c.return_to_work_on else None,
        "duplicate_no": c.duplicate_no,
        "periods": [
            [p.seq, p.starts_on.isoformat(), p.ends_on.isoformat(), p.granted_as, p.granted_by]
            for p in periods
        ],
    }


async def write_version(
    session: AsyncSession,
    c: SickLeaveCertificate,
    *,
    change: str,
    by: str,
    reason: str | None = None,
    periods: list[SickLeavePeriod] | None = None,
) -> None:
    """Flush the certificate (a change moves its version on), then keep what it became
    and why. Opening leaves it at version 1."""
    if change != "opened":
        c.updated_at = utcnow()
    await session.flush()
    session.add(
        SickLeaveVersion(
            certificate_id=c.id,
            person_id=c.person_id,
            version=c.version,
            change=change,
            reason=reason,
            snapshot=snapshot(
                c, periods if periods is not None else await periods_of(session, c.id)
            ),
            by=by,
            at=utcnow(),
        )
    )
    await session.flush()
