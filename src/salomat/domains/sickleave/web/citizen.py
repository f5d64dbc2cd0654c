"""The citizen's certificates (portal page "My sick-leave certificates"): periods and status,
the PDF with its QR code, and sharing a certificate with an employer by its business id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import business_id
from salomat.domains.sickleave import service
from salomat.domains.sickleave.web.common import base_ctx, errors_of, loose, read_form
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

pages = router(include_in_schema=False)

Holder = Annotated[Principal, Depends(Require("sick_leave:portal"))]

register_nav(
    NavItem(N_("My sick-leave certificates"), "/my/sick-leave", "sick_leave:portal", order=7)
)

DONE = {
    "shared": N_("The employer can now see this certificate: its dates and status only."),
    "withdrawn": N_("The employer can no longer see this certificate."),
}


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    items = await service.my_certificates(session, principal)
    shares = await service.my_shares_by_certificate(session, principal)
    ctx: dict[str, Any] = {
        **base_ctx(),
        "items": items,
        "shares": shares,
        "business_id_name": business_id.name(get_settings().country),
        "done": DONE.get(request.query_params.get("done", "")),
        "done_id": request.query_params.get("c", ""),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sickleave/my_certificates.html", ctx, status=status)


@pages.get("/my/sick-leave", response_class=HTMLResponse)
async def my_certificates_page(request: Request, session: DbSession, principal: Holder) -> Response:
    """Her certificates, newest first, with their periods, status and shares."""
    return await _page(request, session, principal)


@pages.post("/my/sick-leave/{certificate_id}/share", response_class=HTMLResponse)
async def share_page(
    request: Request, session: DbSession, certificate_id: RowId, principal: Holder
) -> Response:
    """Let an employer (by its business id) see this certificate's dates and status."""
    posted = await read_form(request)
    form = {"employer_business_id": forms.text(posted, "employer_business_id")}
    try:
        if not form["employer_business_id"]:
            raise Invalid.fields([FieldError("employer_business_id", N_("is required"))])
        await service.share_certificate(
            session, principal, certificate_id, form["employer_business_id"]
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        errors = errors_of(e.errors)
        extra = {
            "failed": certificate_id,
            "form": form,
            "errors": errors,
            "loose": loose(errors, ("employer_business_id",)),
            "error": e,
        }
        return await _page(request, session, principal, extra, e.status)
    return redirect(f"/my/sick-leave?done=shared&c={certificate_id}")


@pages.post("/my/sick-leave/{certificate_id}/withdraw", response_class=HTMLResponse)
async def withdraw_page(
    request: Request, session: DbSession, certificate_id: RowId, principal: Holder
) -> Response:
    """The employer no longer sees this certificate (what it saw before stays audited)."""
    posted = await read_form(request)
    await service.withdraw_share(
        session, principal, certificate_id, forms.text(posted, "employer_business_id")
    )
    return redirect(f"/my/sick-leave?done=withdrawn&c={certificate_id}")
