"""Reading certificates: one, a person's, and a certificate's versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeaveVersion
from salomat.domains.sickleave.schemas import CertificateOut, VersionOut
from salomat.domains.sickleave.service.common import (
    certificate_out,
    certificates_out,
    open_person,
    redacted,
    scoped,
    sees_clinical,
)

__all__ = [
    "certificate_versions",
    "get_certificate",
    "list_certificates",
    "person_certificate_versions",
]


async def get_certificate(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> CertificateOut:
    """One certificate; out of scope answers like a missing one."""
    c = await scoped(session, principal, certificate_id, action="read")
    return redacted(principal, await certificate_out(session, c))


async def list_certificates(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    status: str | None = None,
) -> list[CertificateOut]:
    """A person's certificates, newest first."""
    await open_person(session, principal, person_id, action="search" if status else "read")
    q = (
        select(SickLeaveCertificate)
        .where(SickLeaveCertificate.person_id == person_id)
        .order_by(SickLeaveCertificate.starts_on.desc(), SickLeaveCertificate.id.desc())
    )
    if status is not None:
        q = q.where(SickLeaveCertificate.status == status)
    rows = await certificates_out(session, list((await session.execute(q)).scalars()))
    return [redacted(principal, c) for c in rows]


async def certificate_versions(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> list[VersionOut]:
    """Every change with its reason, oldest first: nothing is ever deleted."""
    c = await scoped(session, principal, certificate_id, action="read")
    rows = await session.execute(
        select(SickLeaveVersion)
        .where(SickLeaveVersion.certificate_id == c.id)
        .order_by(SickLeaveVersion.version)
    )
    versions = [VersionOut.model_validate(v) for v in rows.scalars()]
    if not sees_clinical(principal, c.person_id):
        return [v.model_copy(update={"reason": None}) for v in versions]
    return versions


async def person_certificate_versions(
    session: AsyncSession, principal: Principal, person_id: int
) -> dict[int, list[VersionOut]]:
    """The versions of every certificate of a person, by certificate: one scope check and
    one statement (a person's page lists them all)."""
    await open_person(session, principal, person_id, action="read")
    rows = await session.execute(
        select(SickLeaveVersion)
        .where(SickLeaveVersion.person_id == person_id)
        .order_by(SickLeaveVersion.certificate_id, SickLeaveVersion.version)
    )
    clinical = sees_clinical(principal, person_id)
    out: dict[int, list[VersionOut]] = {}
    for v in rows.scalars():
        item = VersionOut.model_validate(v)
        out.setdefault(v.certificate_id, []).append(
            item if clinical else item.model_copy(update={"reason": None})
        )
    return out
