"""Referrals in the browser: the Refer form on the record, its cancelling, the inbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import FieldError, Invalid, SalomatError
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import ReferralCancelIn, ReferralIn, ReferralUpdateIn
from salomat.domains.maternal.web.common import _errors_of, _or_none, web
from salomat.domains.maternal.web.labels import (
    DIAGNOSIS_LABELS,
    HISTORY_FLAGS,
    N_,
    REFERRAL_KINDS,
    REFERRAL_STATUSES,
    RISK_LABELS,
    SEXES,
    URGENCY_LABELS,
)
from salomat.domains.maternal.web.record import _page
from salomat.domains.registry import service as registry
from salomat.ui import forms
from salomat.ui.pdf import render_pdf
from salomat.ui.templating import NavItem, redirect, register_nav, render

register_nav(NavItem(N_("Referrals"), "/referrals", "referral:receive", order=30))


# ---- referrals from the record ---------------------------------------------------------


@web.post("/patients/{person_id}/pregnancy/referrals", response_class=HTMLResponse)
async def refer(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> Response:
    """Refer her current pregnancy: to the facility named, else the nearest suitable one."""
    posted = await request.form()
    form = {name: forms.text(posted, name) for name in ("kind", "reason", "to_facility_code")}
    pregnancy_id = forms.text(posted, "pregnancy_id")
    try:
        data = forms.validate(
            ReferralIn,
            {
                "kind": form["kind"],
                "reason": form["reason"],
                "to_facility_code": _or_none(form["to_facility_code"]),
            },
        )
        current = await service.current_pregnancy_of(session, principal, person_id)
        if current is None or str(current.id) != pregnancy_id:
            raise Invalid.fields([FieldError("pregnancy_id", N_("not her current pregnancy"))])
        await service.send_referral(session, principal, current.id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"refer_form": form, "refer_errors": _errors_of(e.errors), "refer_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?referred=1#referrals")


@web.post(
    "/patients/{person_id}/pregnancy/referrals/{referral_id}/cancel",
    response_class=HTMLResponse,
)
async def cancel_referral(
    request: Request,
    session: DbSession,
    person_id: RowId,
    referral_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> Response:
    """The sending facility cancels a sent or accepted referral, with a reason."""
    posted = await request.form()
    version = forms.text(posted, "version")
    reason = forms.text(posted, "reason")
    try:
        data = forms.validate(ReferralCancelIn, {"reason": _or_none(reason)})
        await service.cancel_referral(
            session,
            principal,
            referral_id,
            data,
            expected_version=parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "cancel_error": e,
            "cancel_error_id": referral_id,
            "cancel_errors": _errors_of(e.errors),
            "cancel_reason": reason,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?cancelled=1#referrals")


# ---- the referral inbox ----------------------------------------------------------------


async def _inbox(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    wanted = request.query_params.get("status") or None
    if wanted not in REFERRAL_STATUSES:
        wanted = None
    code = principal.facility_code
    if code is None and principal.facility_id is not None:
        code = (await registry.get_facility(session, principal.facility_id)).code
    items = await service.triage_inbox(session, principal, code or "", status=wanted)
    here = await registry.get_facility(session, principal.facility_id) if code else None
    ctx: dict[str, Any] = {
        "items": items,
        "facility": here,
        "risks": RISK_LABELS,
        "urgencies": URGENCY_LABELS,
        "diagnosis_labels": DIAGNOSIS_LABELS,
        "wanted": wanted,
        "facility_code": code,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "error_id": None,
        **(extra or {}),
    }
    return render(request, "maternal/inbox.html", ctx, status=status)


@web.get("/referrals", response_class=HTMLResponse)
async def referrals_inbox(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
) -> Response:
    """Referrals to the user's facility, oldest first; ``?status=`` filters."""
    return await _inbox(request, session, principal)


#: inbox button -> the service call
_ACTIONS = ("accept", "seen", "return", "decline")


@web.post("/referrals/{referral_id}/{action}", response_class=HTMLResponse)
async def act_on_referral(
    request: Request,
    session: DbSession,
    referral_id: RowId,
    action: str,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
) -> Response:
    """Accept, mark seen, return with a conclusion or decline, at the version shown."""
    posted = await request.form()
    version = forms.text(posted, "version")
    expected = parse_version(version)
    conclusion = _or_none(forms.text(posted, "conclusion"))
    back = forms.text(posted, "back_status")
    back = back if back in REFERRAL_STATUSES else ""
    try:
        if action == "accept":
            await service.accept_referral(
                session, principal, referral_id, expected_version=expected
            )
        elif action == "seen":
            await service.mark_seen(session, principal, referral_id, expected_version=expected)
        elif action in ("return", "decline"):
            data = forms.validate(ReferralUpdateIn, {"conclusion": conclusion})
            move = service.return_referral if action == "return" else service.decline_referral
            await move(session, principal, referral_id, data, expected_version=expected)
        else:
            raise Invalid.fields(
                [FieldError("action", N_("one of %(actions)s"), {"actions": ", ".join(_ACTIONS)})]
            )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "error": e,
            "error_id": referral_id,
            "errors": _errors_of(e.errors),
            "conclusion": conclusion or "",
        }
        return await _inbox(request, session, principal, extra, e.status)
    return redirect("/referrals" + (f"?status={back}" if back else "") + f"#referral-{referral_id}")


# ---- the referral as a document --------------------------------------------------------


@web.get("/referrals/{referral_id}/referral.pdf")
async def referral_pdf(
    request: Request,
    session: DbSession,
    referral_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:read"))],
) -> Response:
    """The referral as a PDF in the page's language, with what the receiving facility needs
    of her and the pregnancy (read and audited as the referral is)."""
    doc = await service.referral_document(session, principal, referral_id)
    ctx = {
        "doc": doc,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "risks": RISK_LABELS,
        "urgencies": URGENCY_LABELS,
        "diagnosis_labels": DIAGNOSIS_LABELS,
        "history": [label for code, label in HISTORY_FLAGS.items() if getattr(doc.pregnancy, code)],
        "sexes": SEXES,
    }
    return await render_pdf(
        request, "maternal/referral_pdf.html", ctx, filename=f"referral-{referral_id}"
    )
