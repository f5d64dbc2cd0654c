"""REST routes of the medical certificate of cause of death (docs/mortality.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas.death_certificate import (
    CertificateReviewIn,
    CertificateToReview,
    DeathCertificateIn,
    DeathCertificateOut,
    DeathWithoutCertificate,
)

api = router(prefix="/api/v1", tags=["death certificates"])


@api.get("/persons/{person_id}/death-certificate", response_model=DeathCertificateOut)
async def read_death_certificate(
    session: DbSession,
    person_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("death_certificate:read"))],
) -> DeathCertificateOut:
    cert = await service.get_death_certificate(session, principal, person_id)
    response.headers["ETag"] = etag(cert.version)
    return cert


@api.put("/persons/{person_id}/death-certificate", response_model=DeathCertificateOut)
async def certify_death(
    session: DbSession,
    person_id: RowId,
    data: DeathCertificateIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("death_certificate:certify"))],
    if_match: Annotated[str | None, Header()] = None,
) -> DeathCertificateOut:
    """Create the certificate (201), or replace it with ``If-Match`` its version (200).

    The underlying cause is selected and the registry's person follows it; a death not
    yet registered is registered from the certificate."""
    cert, created = await service.save_death_certificate(
        session, principal, person_id, data, expected_version=parse_if_match(if_match)
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(cert.version)
    return cert


@api.post("/persons/{person_id}/death-certificate/review", response_model=DeathCertificateOut)
async def review_death_certificate(
    session: DbSession,
    person_id: RowId,
    data: CertificateReviewIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("death_certificate:review"))],
    if_match: Annotated[str | None, Header()] = None,
) -> DeathCertificateOut:
    """The mortality coder sets the underlying cause, with the reason."""
    cert = await service.review_death_certificate(
        session, principal, person_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(cert.version)
    return cert


@api.get("/death-certificates/missing", response_model=list[DeathWithoutCertificate])
async def deaths_without_certificate(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("death_certificate:certify"))],
) -> list[DeathWithoutCertificate]:
    """Registered deaths of the facility's people that have no certificate yet."""
    return await service.deaths_without_certificate(session, principal)


@api.get("/death-certificates/review-queue", response_model=list[CertificateToReview])
async def certificates_to_review(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("death_certificate:review"))],
) -> list[CertificateToReview]:
    """Certificates whose underlying cause waits for a coder."""
    return await service.certificates_to_review(session, principal)
