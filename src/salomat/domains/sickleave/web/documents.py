"""The certificate as a PDF document: the holder's copy (with the QR code of the public
check) and the employer's view.

Neither carries the diagnosis, the reason or anything clinical: the holder hands her
copy to the employer, and the employer's view has no such field at all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from salomat.core.errors import N_, NotFound
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import CertificateOut
from salomat.domains.sickleave.web.common import base_ctx, qr_png_data_uri, verify_url
from salomat.ui.pdf import render_pdf

pages = router(include_in_schema=False)


def _missing(certificate_id: int) -> NotFound:
    return NotFound(N_("Sick-leave certificate %(id)s not found."), params={"id": certificate_id})


async def holder_pdf(
    request: Request, session: DbSession, principal: Principal, c: CertificateOut
) -> Response:
    """One certificate (read, scope-checked and audited by the caller) as the holder's copy."""
    person = await registry.get_person(session, principal, c.person_id, purpose="sick leave")
    url = verify_url(request, c.number, c.check_code)
    ctx = {**base_ctx(), "c": c, "person": person, "qr": qr_png_data_uri(url), "verify": url}
    return await render_pdf(
        request, "sickleave/certificate_pdf.html", ctx, filename=f"sick-leave-{c.number}"
    )


@pages.get("/patients/{person_id}/sick-leave/{certificate_id}.pdf")
async def patient_certificate_pdf(
    request: Request,
    session: DbSession,
    person_id: RowId,
    certificate_id: RowId,
    principal: Annotated[Principal, Depends(Require("sick_leave:read"))],
) -> Response:
    """The holder's copy, printed by the doctor for a patient without the portal."""
    c = await service.get_certificate(session, principal, certificate_id)
    if c.person_id != person_id:
        raise _missing(certificate_id)
    return await holder_pdf(request, session, principal, c)


@pages.get("/my/sick-leave/{certificate_id}.pdf")
async def my_certificate_pdf(
    request: Request,
    session: DbSession,
    certificate_id: RowId,
    principal: Annotated[Principal, Depends(Require("sick_leave:portal"))],
) -> Response:
    """The citizen's own certificate to print or send."""
    c = await service.my_certificate(session, principal, certificate_id)
    return await holder_pdf(request, session, principal, c)
