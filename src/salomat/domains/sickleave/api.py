"""REST routes of sick leave: doctors, the commission, the holder, employers, the public."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import PUBLIC, Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.sickleave import api_analytics, service
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    CloseIn,
    CorrectIn,
    EmployerCertificateOut,
    EmployerLookupIn,
    ExtendIn,
    MaternityIn,
    OpenIn,
    ReasonIn,
    ShareIn,
    ShareOut,
    VerifyOut,
    VersionOut,
    VkkIn,
)

api = router(prefix="/api/v1", tags=["sick leave"])
routers = [api_analytics.api, api]

Issuer = Annotated[Principal, Depends(Require("sick_leave:issue"))]
Reader = Annotated[Principal, Depends(Require("sick_leave:read"))]
Commission = Annotated[Principal, Depends(Require("sick_leave:vkk"))]
Holder = Annotated[Principal, Depends(Require("sick_leave:portal"))]
Employer = Annotated[Principal, Depends(Require("sick_leave:employer"))]
IfMatch = Annotated[str | None, Header()]
Number = Annotated[str, Query(min_length=1, max_length=32)]

_CHANGED = {
    409: {"description": "the certificate is not open, or it was extended meanwhile"},
    412: {"description": "If-Match names an older version"},
    422: {"description": "a field is wrong (each named), or a limit needs a VKK decision"},
}


def _tagged(response: Response, c: CertificateOut) -> CertificateOut:
    response.headers["ETag"] = etag(c.version)
    return c


# ---- the doctor ------------------------------------------------------------------------


@api.post(
    "/persons/{person_id}/sick-leave",
    response_model=CertificateOut,
    status_code=201,
    responses={
        404: {"description": "no such person, or not in the user's scope"},
        409: {"description": "the person died, or already has a certificate for these days"},
        422: {"description": "a field is wrong (each named), or the length needs a VKK decision"},
    },
)
async def open_certificate(
    session: DbSession, person_id: RowId, data: OpenIn, response: Response, principal: Issuer
) -> CertificateOut:
    """Open a certificate; the first period is granted by the caller."""
    c = await service.open_certificate(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/sick-leave/{c.id}"
    return _tagged(response, c)


@api.post(
    "/persons/{person_id}/sick-leave/maternity",
    response_model=CertificateOut,
    status_code=201,
    responses={422: {"description": "before the pack's week, or no pregnancy on the register"}},
)
async def open_maternity(
    session: DbSession, person_id: RowId, data: MaternityIn, response: Response, principal: Issuer
) -> CertificateOut:
    """Maternity leave from the pregnancy register (the pack's week and days)."""
    c = await service.open_maternity(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/sick-leave/{c.id}"
    return _tagged(response, c)


@api.get("/persons/{person_id}/sick-leave", response_model=list[CertificateOut])
async def list_certificates(
    session: DbSession,
    person_id: RowId,
    principal: Reader,
    status: Annotated[str | None, Query(pattern="^(open|closed|cancelled)$")] = None,
) -> list[CertificateOut]:
    """A person's certificates, newest first."""
    return await service.list_certificates(session, principal, person_id, status=status)


@api.get("/sick-leave/{certificate_id}", response_model=CertificateOut)
async def read_certificate(
    session: DbSession, certificate_id: RowId, response: Response, principal: Reader
) -> CertificateOut:
    """One certificate with its periods and the commission's decisions; ETag for If-Match."""
    return _tagged(response, await service.get_certificate(session, principal, certificate_id))


@api.get("/sick-leave/{certificate_id}/versions", response_model=list[VersionOut])
async def certificate_versions(
    session: DbSession, certificate_id: RowId, principal: Reader
) -> list[VersionOut]:
    """Every change with its reason (nothing is deleted)."""
    return await service.certificate_versions(session, principal, certificate_id)


@api.post("/sick-leave/{certificate_id}/extend", response_model=CertificateOut, responses=_CHANGED)
async def extend_certificate(
    session: DbSession,
    certificate_id: RowId,
    data: ExtendIn,
    response: Response,
    principal: Issuer,
    if_match: IfMatch = None,
) -> CertificateOut:
    """A further period from the day after the last one."""
    c = await service.extend_certificate(
        session, principal, certificate_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, c)


@api.post(
    "/sick-leave/{certificate_id}/vkk",
    response_model=CertificateOut,
    status_code=201,
    responses=_CHANGED,
)
async def record_vkk_decision(
    session: DbSession,
    certificate_id: RowId,
    data: VkkIn,
    response: Response,
    principal: Commission,
) -> CertificateOut:
    """The medical advisory commission's decision: extend to a day, or refer to disability."""
    c = await service.record_vkk_decision(session, principal, certificate_id, data)
    return _tagged(response, c)


@api.post("/sick-leave/{certificate_id}/close", response_model=CertificateOut, responses=_CHANGED)
async def close_certificate(
    session: DbSession,
    certificate_id: RowId,
    data: CloseIn,
    response: Response,
    principal: Issuer,
    if_match: IfMatch = None,
) -> CertificateOut:
    """Back to work on a day, or referred to disability assessment."""
    c = await service.close_certificate(
        session, principal, certificate_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, c)


@api.post("/sick-leave/{certificate_id}/correct", response_model=CertificateOut, responses=_CHANGED)
async def correct_certificate(
    session: DbSession,
    certificate_id: RowId,
    data: CorrectIn,
    response: Response,
    principal: Issuer,
    if_match: IfMatch = None,
) -> CertificateOut:
    """A new version with its reason: the diagnosis, or an earlier last day."""
    c = await service.correct_certificate(
        session, principal, certificate_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, c)


@api.post("/sick-leave/{certificate_id}/cancel", response_model=CertificateOut, responses=_CHANGED)
async def cancel_certificate(
    session: DbSession,
    certificate_id: RowId,
    data: ReasonIn,
    response: Response,
    principal: Issuer,
    if_match: IfMatch = None,
) -> CertificateOut:
    """Cancelled with a reason; kept with every version."""
    c = await service.cancel_certificate(
        session, principal, certificate_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, c)


@api.post(
    "/sick-leave/{certificate_id}/duplicate", response_model=CertificateOut, responses=_CHANGED
)
async def reissue_duplicate(
    session: DbSession,
    certificate_id: RowId,
    data: ReasonIn,
    response: Response,
    principal: Issuer,
    if_match: IfMatch = None,
) -> CertificateOut:
    """A duplicate of a lost certificate: a new check code, the old one stops verifying."""
    c = await service.reissue_duplicate(
        session, principal, certificate_id, data, expected_version=parse_if_match(if_match)
    )
    return _tagged(response, c)


# ---- the holder ------------------------------------------------------------------------


@api.get("/me/sick-leave", response_model=list[CertificateOut])
async def my_certificates(session: DbSession, principal: Holder) -> list[CertificateOut]:
    """The citizen's own certificates."""
    return await service.my_certificates(session, principal)


@api.get("/me/sick-leave/{certificate_id}", response_model=CertificateOut)
async def my_certificate(
    session: DbSession, certificate_id: RowId, principal: Holder
) -> CertificateOut:
    return await service.my_certificate(session, principal, certificate_id)


@api.get("/me/sick-leave/{certificate_id}/shares", response_model=list[ShareOut])
async def my_shares(session: DbSession, certificate_id: RowId, principal: Holder) -> list[ShareOut]:
    """Which employers may see this certificate (and when a share was withdrawn)."""
    return await service.my_shares(session, principal, certificate_id)


@api.post("/me/sick-leave/{certificate_id}/shares", response_model=ShareOut, status_code=201)
async def share_certificate(
    session: DbSession, certificate_id: RowId, data: ShareIn, principal: Holder
) -> ShareOut:
    """Let an employer (by its business id) see this certificate: dates and status only."""
    return await service.share_certificate(
        session, principal, certificate_id, data.employer_business_id
    )


@api.delete("/me/sick-leave/{certificate_id}/shares/{business_id}", status_code=204)
async def withdraw_share(
    session: DbSession,
    certificate_id: RowId,
    business_id: Annotated[str, Path(min_length=1, max_length=20)],
    principal: Holder,
) -> Response:
    await service.withdraw_share(session, principal, certificate_id, business_id)
    return Response(status_code=204)


# ---- the employer ----------------------------------------------------------------------


@api.get("/employer/sick-leave", response_model=list[EmployerCertificateOut])
async def employer_certificates(
    session: DbSession, principal: Employer
) -> list[EmployerCertificateOut]:
    """Certificates the employees shared with this employer."""
    return await service.employer_shared_certificates(session, principal)


@api.post("/employer/sick-leave/lookup", response_model=EmployerCertificateOut)
async def employer_lookup(
    session: DbSession, data: EmployerLookupIn, principal: Employer
) -> EmployerCertificateOut:
    """A certificate by its number and the employee's national id (both must match)."""
    return await service.employer_lookup(session, principal, data.number, data.national_id)


@api.get("/employer/sick-leave/by-number", response_model=EmployerCertificateOut)
async def employer_certificate(
    session: DbSession, number: Number, principal: Employer
) -> EmployerCertificateOut:
    """One shared certificate by its number."""
    return await service.employer_certificate(session, principal, number)


# ---- anyone ----------------------------------------------------------------------------


@api.get("/public/sick-leave/verify", response_model=VerifyOut, dependencies=[Depends(PUBLIC)])
async def verify_certificate(
    session: DbSession,
    number: Number,
    code: Annotated[str, Query(min_length=1, max_length=16)],
) -> VerifyOut:
    """valid, invalid or cancelled, with the dates: nothing about the person."""
    return await service.verify_certificate(session, number, code)
