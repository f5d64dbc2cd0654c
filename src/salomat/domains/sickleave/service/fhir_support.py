"""What the FHIR adapter needs beyond the REST views (fhir/sick_leave_api.py).

A ``DocumentReference`` carries when the certificate was issued (``date``), when it
last changed (``meta.lastUpdated``) and whether a correction was made
(``docStatus`` amended); ``CertificateOut`` has none of these. The reads open the
holder's record exactly as ``get_certificate`` and ``list_certificates`` do (scope
check and audit: out of scope answers 404 like a missing certificate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeaveVersion
from salomat.domains.sickleave.schemas import CertificateOut
from salomat.domains.sickleave.service.common import (
    certificate_out,
    certificates_out,
    open_person,
    scoped,
)

__all__ = [
    "CertificateRecord",
    "certificates_for_people",
    "fhir_certificate",
    "fhir_certificates",
    "fhir_record",
]


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate as the clinician sees it, with its times and whether it was corrected."""

    certificate: CertificateOut
    created_at: datetime
    updated_at: datetime
    corrected: bool


async def _corrected(session: AsyncSession, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.execute(
        select(SickLeaveVersion.certificate_id)
        .where(SickLeaveVersion.certificate_id.in_(ids), SickLeaveVersion.change == "corrected")
        .distinct()
    )
    return set(rows.scalars())


async def _record(session: AsyncSession, c: SickLeaveCertificate) -> CertificateRecord:
    corrected = bool(await _corrected(session, [c.id]))
    return CertificateRecord(
        await certificate_out(session, c), c.created_at, c.updated_at, corrected
    )


async def fhir_certificate(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> CertificateRecord:
    """One certificate (audited read; out of scope answers like a missing one)."""
    return await _record(session, await scoped(session, principal, certificate_id, action="read"))


async def fhir_record(session: AsyncSession, written: CertificateOut) -> CertificateRecord:
    """The record of a certificate the caller has just opened or extended through the
    service (which checked scope and audited the change): no second audit row."""
    c = await session.get(SickLeaveCertificate, written.id)
    assert c is not None
    return await _record(session, c)


async def fhir_certificates(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[CertificateRecord]:
    """A person's certificates, newest first (one audited search of her record)."""
    await open_person(session, principal, person_id, action="search")
    found = list(
        (
            await session.execute(
                select(SickLeaveCertificate)
                .where(SickLeaveCertificate.person_id == person_id)
                .order_by(SickLeaveCertificate.starts_on.desc(), SickLeaveCertificate.id.desc())
            )
        ).scalars()
    )
    corrected = await _corrected(session, [c.id for c in found])
    views = await certificates_out(session, found)
    return [
        CertificateRecord(out, c.created_at, c.updated_at, c.id in corrected)
        for c, out in zip(found, views, strict=True)
    ]


async def certificates_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[CertificateRecord]]:
    """Each holder's certificates, newest first (as ``fhir_certificates``), for a page of
    people in a fixed few statements (the certificates, their corrections, and
    ``certificates_out``'s periods, decisions and facilities): a bulk export or
    Patient/$everything, whose caller chose the people by scope and audits each person
    it writes (no scope check or audit here). ``since``: those changed after it
    (``sick_leave_certificate.updated_at``)."""
    if not person_ids:
        return {}
    q = select(SickLeaveCertificate).where(
        SickLeaveCertificate.person_id.in_(sorted(set(person_ids)))
    )
    if since is not None:
        q = q.where(SickLeaveCertificate.updated_at > since)
    found = list(
        (
            await session.execute(
                q.order_by(
                    SickLeaveCertificate.person_id,
                    SickLeaveCertificate.starts_on.desc(),
                    SickLeaveCertificate.id.desc(),
                )
            )
        ).scalars()
    )
    corrected = await _corrected(session, [c.id for c in found])
    views = await certificates_out(session, found)
    out: dict[int, list[CertificateRecord]] = {}
    for c, view in zip(found, views, strict=True):
        out.setdefault(c.person_id, []).append(
            CertificateRecord(view, c.created_at, c.updated_at, c.id in corrected)
        )
    return out
