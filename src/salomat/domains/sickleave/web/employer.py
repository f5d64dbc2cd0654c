"""The employer's page: certificates its employees shared with it, a check by certificate
number and the employee's national id, and the employer's view as a PDF.

Everything here is rendered from ``EmployerCertificateOut``, which has no field for the
diagnosis, the reason or anything clinical: the page cannot show what it is not given.
Every view is audited on the holder's record by the service ("who opened my record").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.config import get_settings
from salomat.core.errors import SalomatError
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import national_id
from salomat.domains.registry import service as registry
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import EmployerCertificateOut, EmployerLookupIn
from salomat.domains.sickleave.web.common import base_ctx, errors_of, loose, read_form
from salomat.ui import forms
from salomat.ui.pdf import render_pdf
from salomat.ui.templating import render

pages = router(include_in_schema=False)

Employer = Annotated[Principal, Depends(Require("sick_leave:employer"))]
LOOKUP_FIELDS = ("number", "national_id")


async def _organisation(session: DbSession, principal: Principal) -> str:
    if principal.employer_id is None:
        return ""
    return (await registry.get_employer(session, principal.employer_id)).name


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    ctx: dict[str, Any] = {
        **base_ctx(),
        "organisation": await _organisation(session, principal),
        "items": await service.employer_shared_certificates(session, principal),
        "national_id_name": national_id.name(get_settings().country),
        "found": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sickleave/employer.html", ctx, status=status)


@pages.get("/employer/sick-leave", response_class=HTMLResponse)
async def employer_page(request: Request, session: DbSession, principal: Employer) -> Response:
    """The certificates shared with the organisation, and the check form."""
    return await _page(request, session, principal)


async def _find(
    session: DbSession, principal: Principal, form: dict[str, str]
) -> EmployerCertificateOut:
    data = forms.validate(EmployerLookupIn, form)
    return await service.employer_lookup(session, principal, data.number, data.national_id)


async def _posted(request: Request) -> dict[str, str]:
    posted = await read_form(request)
    return {k: forms.text(posted, k) for k in LOOKUP_FIELDS}


@pages.post("/employer/sick-leave", response_class=HTMLResponse)
async def employer_lookup_page(
    request: Request, session: DbSession, principal: Employer
) -> Response:
    """A certificate by its number and the employee's national id (both must match): a
    wrong pair is answered like a missing number (404), on the page."""
    form = await _posted(request)
    try:
        found = await _find(session, principal, form)
    except SalomatError as e:
        errors = errors_of(e.errors)
        extra = {"form": form, "errors": errors, "loose": loose(errors, LOOKUP_FIELDS), "error": e}
        return await _page(request, session, principal, extra, e.status)
    return await _page(request, session, principal, {"found": found, "form": form})


async def _pdf(request: Request, c: EmployerCertificateOut, organisation: str) -> Response:
    ctx = {**base_ctx(), "c": c, "organisation": organisation}
    return await render_pdf(
        request, "sickleave/employer_pdf.html", ctx, filename=f"sick-leave-{c.number}"
    )


@pages.get("/employer/sick-leave/{number}.pdf")
async def employer_certificate_pdf(
    request: Request,
    session: DbSession,
    number: Annotated[str, Path(min_length=1, max_length=32)],
    principal: Employer,
) -> Response:
    """A certificate shared with the organisation, as the employer's view (404 otherwise)."""
    c = await service.employer_certificate(session, principal, number)
    return await _pdf(request, c, await _organisation(session, principal))


@pages.post("/employer/sick-leave/check.pdf")
async def employer_lookup_pdf(
    request: Request, session: DbSession, principal: Employer
) -> Response:
    """The certificate found by number and national id, as the employer's view; posted, so
    the employee's national id stays out of addresses and logs."""
    c = await _find(session, principal, await _posted(request))
    return await _pdf(request, c, await _organisation(session, principal))
