"""What an employer sees, what the holder shares, and the public check of a certificate.

An employer (role ``employer``, bound to one employer organisation) sees a
certificate only when its holder shared it with that organisation, or when it
gives the certificate's number together with the holder's national id. What it
sees is ``EmployerCertificateOut``: no reason, no diagnosis, nothing clinical.
Every view writes an audit row on the holder's record (so it appears in her
"who opened my record"); anything else answers 404 like a missing certificate.

Public verification (no login) answers valid, invalid or cancelled with the
dates, for a number and its check code; a lost copy's code stops verifying
when a duplicate is issued.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod, SickLeaveShare
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    EmployerCertificateOut,
    ShareOut,
    VerifyOut,
)
from salomat.domains.sickleave.service.common import (
    SICK_LEAVE,
    certificate_out,
    certificates_out,
    effective_end,
    employer_view,
    facility_label,
    normalise_check_code,
    normalise_number,
    periods_of,
)

__all__ = [
    "employer_certificate",
    "employer_lookup",
    "employer_shared_certificates",
    "my_certificate",
    "my_certificates",
    "my_shares",
    "my_shares_by_certificate",
    "share_certificate",
    "verify_certificate",
    "withdraw_share",
]


# ---- the holder (citizen portal) -------------------------------------------------------


async def _mine(
    session: AsyncSession, principal: Principal, certificate_id: int, *, action: str
) -> SickLeaveCertificate:
    c = await session.get(SickLeaveCertificate, certificate_id)
    if c is None or principal.person_id is None or c.person_id != principal.person_id:
        await audit.denied(
            session,
            principal,
            resource_type=SICK_LEAVE,
            resource_id=str(certificate_id),
            detail="not the holder's certificate",
        )
        raise NotFound(
            N_("Sick-leave certificate %(id)s not found."), params={"id": str(certificate_id)}
        )
    await audit.record(
        session,
        principal,
        action=action,
        resource_type=SICK_LEAVE,
        resource_id=str(c.id),
        patient_id=c.person_id,
        purpose="citizen portal: sick leave",
    )
    return c


async def my_certificates(session: AsyncSession, principal: Principal) -> list[CertificateOut]:
    """The citizen's own certificates, newest first."""
    if principal.person_id is None:
        return []
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=SICK_LEAVE,
        resource_id=str(principal.person_id),
        patient_id=principal.person_id,
        purpose="citizen portal: sick leave",
    )
    rows = await session.execute(
        select(SickLeaveCertificate)
        .where(SickLeaveCertificate.person_id == principal.person_id)
        .order_by(SickLeaveCertificate.starts_on.desc(), SickLeaveCertificate.id.desc())
    )
    return await certificates_out(session, list(rows.scalars()))


async def my_certificate(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> CertificateOut:
    return await certificate_out(
        session, await _mine(session, principal, certificate_id, action="read")
    )


async def _share_outs(session: AsyncSession, shares: list[SickLeaveShare]) -> list[ShareOut]:
    out = []
    employers: dict[int, Any] = {}
    for s in shares:
        if s.employer_id not in employers:  # one read per organisation, not per share
            employers[s.employer_id] = await registry.get_employer(session, s.employer_id)
        e = employers[s.employer_id]
        out.append(
            ShareOut(
                certificate_id=s.certificate_id,
                employer_business_id=e.business_id,
                employer_name=e.name,
                shared_at=s.shared_at,
                withdrawn_at=s.withdrawn_at,
            )
        )
    return out


async def my_shares(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> list[ShareOut]:
    c = await _mine(session, principal, certificate_id, action="read")
    rows = await session.execute(
        select(SickLeaveShare)
        .where(SickLeaveShare.certificate_id == c.id)
        .order_by(SickLeaveShare.shared_at)
    )
    return await _share_outs(session, list(rows.scalars()))


async def my_shares_by_certificate(
    session: AsyncSession, principal: Principal
) -> dict[int, list[ShareOut]]:
    """Every share of the citizen's certificates, by certificate, in one statement (her
    page lists them all; reading her own certificates was audited with them)."""
    if principal.person_id is None:
        return {}
    rows = await session.execute(
        select(SickLeaveShare)
        .where(SickLeaveShare.person_id == principal.person_id)
        .order_by(SickLeaveShare.shared_at)
    )
    out: dict[int, list[ShareOut]] = {}
    for share in await _share_outs(session, list(rows.scalars())):
        out.setdefault(share.certificate_id, []).append(share)
    return out


async def share_certificate(
    session: AsyncSession, principal: Principal, certificate_id: int, business_id: str
) -> ShareOut:
    """The holder lets an employer (by its business id) see this certificate. Sharing
    again with the same employer answers the live share."""
    c = await _mine(session, principal, certificate_id, action="update")
    if c.status == "cancelled":
        raise Invalid.fields(
            [FieldError("certificate", N_("a cancelled certificate cannot be shared"))]
        )
    employer = await registry.employer_by_business_id(session, business_id.strip())
    if employer is None or not employer.active:
        raise Invalid.fields(
            [FieldError("employer_business_id", N_("no registered employer has this number"))]
        )
    live = await session.scalar(
        select(SickLeaveShare).where(
            SickLeaveShare.certificate_id == c.id,
            SickLeaveShare.employer_id == employer.id,
            SickLeaveShare.withdrawn_at.is_(None),
        )
    )
    if live is None:
        live = SickLeaveShare(
            certificate_id=c.id,
            person_id=c.person_id,
            employer_id=employer.id,
            shared_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(live)
                await session.flush()
        except IntegrityError:  # the same share at once: the other one stands
            live = await session.scalar(
                select(SickLeaveShare).where(
                    SickLeaveShare.certificate_id == c.id,
                    SickLeaveShare.employer_id == employer.id,
                    SickLeaveShare.withdrawn_at.is_(None),
                )
            )
            assert live is not None
    return (await _share_outs(session, [live]))[0]


async def withdraw_share(
    session: AsyncSession, principal: Principal, certificate_id: int, business_id: str
) -> None:
    c = await _mine(session, principal, certificate_id, action="update")
    employer = await registry.employer_by_business_id(session, business_id.strip())
    if employer is None:
        return
    live = await session.scalar(
        select(SickLeaveShare).where(
            SickLeaveShare.certificate_id == c.id,
            SickLeaveShare.employer_id == employer.id,
            SickLeaveShare.withdrawn_at.is_(None),
        )
    )
    if live is not None:
        live.withdrawn_at = utcnow()
        await session.flush()


# ---- the employer ---------------------------------------------------------------------


async def _employer_id(session: AsyncSession, principal: Principal) -> int:
    """The caller's employer organisation, while it is registered as active: a closed
    organisation's accounts see nothing more."""
    employer_id = getattr(principal, "employer_id", None)
    if employer_id is not None:
        employer = await registry.get_employer(session, int(employer_id))
        if employer.active:
            return int(employer_id)
    raise Forbidden(N_("Your account is bound to no active employer organisation."))


async def _view(
    session: AsyncSession, principal: Principal, c: SickLeaveCertificate, purpose: str
) -> EmployerCertificateOut:
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=SICK_LEAVE,
        resource_id=str(c.id),
        patient_id=c.person_id,
        purpose=purpose,
    )
    names = await registry.facility_names(session, [c.facility_id])
    return employer_view(c, await periods_of(session, c.id), facility_label(names, c.facility_id))


def _missing(what: str) -> NotFound:
    return NotFound(N_("Sick-leave certificate %(id)s not found."), params={"id": what})


async def employer_shared_certificates(
    session: AsyncSession, principal: Principal, *, limit: int = 500
) -> list[EmployerCertificateOut]:
    """Certificates shared with the employer (live shares), newest first; set-wise: one
    statement each for the certificates, their periods, the facilities and the audit rows
    (one per employee shown)."""
    employer_id = await _employer_id(session, principal)
    rows = list(
        (
            await session.execute(
                select(SickLeaveCertificate)
                .join(SickLeaveShare, SickLeaveShare.certificate_id == SickLeaveCertificate.id)
                .where(
                    SickLeaveShare.employer_id == employer_id,
                    SickLeaveShare.withdrawn_at.is_(None),
                )
                .order_by(SickLeaveCertificate.starts_on.desc(), SickLeaveCertificate.id.desc())
                .limit(limit)
            )
        ).scalars()
    )
    await audit.record_listing(
        session,
        principal,
        [audit.Access(c.person_id, "employer: shared certificate") for c in rows],
        action="read",
        resource_type=SICK_LEAVE,
    )
    if not rows:
        return []
    periods: dict[int, list[SickLeavePeriod]] = {c.id: [] for c in rows}
    for p in (
        await session.execute(
            select(SickLeavePeriod)
            .where(SickLeavePeriod.certificate_id.in_(list(periods)))
            .order_by(SickLeavePeriod.certificate_id, SickLeavePeriod.seq)
        )
    ).scalars():
        periods[p.certificate_id].append(p)
    names = await registry.facility_names(session, {c.facility_id for c in rows})
    return [employer_view(c, periods[c.id], facility_label(names, c.facility_id)) for c in rows]


async def employer_certificate(
    session: AsyncSession, principal: Principal, number: str
) -> EmployerCertificateOut:
    """One certificate shared with the employer, by its number."""
    employer_id = await _employer_id(session, principal)
    c = await session.scalar(
        select(SickLeaveCertificate)
        .join(SickLeaveShare, SickLeaveShare.certificate_id == SickLeaveCertificate.id)
        .where(
            SickLeaveCertificate.number == normalise_number(number),
            SickLeaveShare.employer_id == employer_id,
            SickLeaveShare.withdrawn_at.is_(None),
        )
    )
    if c is None:
        await audit.denied(
            session, principal, resource_type=SICK_LEAVE, detail="not shared with this employer"
        )
        raise _missing(number)
    return await _view(session, principal, c, "employer: shared certificate")


async def employer_lookup(
    session: AsyncSession, principal: Principal, number: str, national_id: str
) -> EmployerCertificateOut:
    """A certificate by its number and the holder's national id (both must match)."""
    await _employer_id(session, principal)
    person_id = await registry.person_id_by_national_id(session, national_id.strip())
    c = None
    if person_id is not None:
        c = await session.scalar(
            select(SickLeaveCertificate).where(
                SickLeaveCertificate.number == normalise_number(number),
                SickLeaveCertificate.person_id == person_id,
            )
        )
    if c is None:
        await audit.denied(
            session,
            principal,
            resource_type=SICK_LEAVE,
            detail="employer check: number and national id do not match",
        )
        raise _missing(number)
    return await _view(session, principal, c, "employer: check by number and national id")


# ---- anyone -----------------------------------------------------------------------------


async def verify_certificate(
    session: AsyncSession, number: str, check_code: str, *, today: date | None = None
) -> VerifyOut:
    """valid | invalid | cancelled, with the dates (never who, never why)."""
    c = await session.scalar(
        select(SickLeaveCertificate).where(SickLeaveCertificate.number == normalise_number(number))
    )
    if c is None or c.check_code != normalise_check_code(check_code):
        return VerifyOut(status="invalid")
    status = "cancelled" if c.status == "cancelled" else "valid"
    return VerifyOut(
        status=status,  # type: ignore[arg-type]
        starts_on=c.starts_on,
        ends_on=effective_end(c),
        closed_on=c.closed_on,
    )
