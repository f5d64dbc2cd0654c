"""The citizen's portal page "My sanatorium referrals": each referral in plain words (its
status, place in line, how many are ahead, the waiting range, the pseudonym on the
public list), the open offer to accept or decline, the booked voucher as a PDF with the
QR code of its public check, the queue's log, withdrawing, and applying where the pack
allows a citizen to apply herself. A parent or guardian applies for her child under 18
too (the registry's relation says whose child), and each referral says whose it is.

The voucher carries no diagnosis: she shows it at the sanatorium's door, and the QR code
holds only the referral number and the voucher code.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import (
    CancelIn,
    PositionOut,
    ReasonIn,
    ReferralOut,
    SelfApplyIn,
)
from salomat.domains.sanatorium.web.common import (
    base_ctx,
    category_name,
    errors_of,
    loose,
    or_none,
    page_language,
    read_form,
    values,
)
from salomat.domains.sanatorium.web.public import (
    QUEUE_PAGE,
    public_ctx,
    qr_png_data_uri,
    queue_link,
    voucher_check_url,
)
from salomat.ui import forms
from salomat.ui.pdf import render_pdf
from salomat.ui.templating import NavItem, redirect, register_nav, render

pages = router(include_in_schema=False)

Holder = Annotated[Principal, Depends(Require("sanatorium:portal"))]

register_nav(NavItem(N_("My sanatorium referrals"), "/my/sanatorium", "sanatorium:portal", order=8))

#: what a finished action says above the page (``?done=``)
DONE = {
    "applied": N_(
        "Your application is stored. A doctor of your polyclinic confirms the medical "
        "indication; your place in line counts from today."
    ),
    "accepted": N_("The place is booked for you. Download your voucher below."),
    "declined": N_("You declined the offer: the place goes to the next person in line."),
    "withdrawn": N_("Your referral is withdrawn."),
}
#: what the pack's rule does to her place when she declines or lets an offer lapse
OUTCOMES = {
    "keep": N_("you keep your place in line and are offered the next arrival"),
    "end_of_queue": N_("you join the end of the line, with a new application time"),
    "withdraw": N_("your referral is withdrawn"),
}
#: a referral in progress (she may not apply again meanwhile)
ACTIVE = ("pending_indication", "referred", "queued", "offered", "booked", "arrived")
#: statuses from which she may still withdraw (the service decides; the page offers it)
WITHDRAWABLE = ("pending_indication", "referred", "queued", "offered", "booked")
#: a voucher worth printing
VOUCHER_STATUSES = ("booked", "arrived", "fulfilled")
APPLY_FIELDS = ("person_id", "profile", "category", "last_stay_ended_on")
#: a wait this long or longer is said in months
MONTHS_FROM_DAYS = 45
#: her own referrals and applications, beside her children's
MYSELF = N_("Myself")


# ---- helpers -------------------------------------------------------------------------


def wait_words(pos: PositionOut) -> str:
    """The waiting range in plain words, in the current language: "about 3 months,
    between 80 and 113 days"; said plainly when there is nothing to estimate from."""
    expected, low, high = pos.wait_days_expected, pos.wait_days_shortest, pos.wait_days_longest
    if expected is None or low is None:
        return i18n.gettext(
            N_(
                "The wait cannot be estimated yet: no place in this line was given in the "
                "last three months."
            )
        )
    params: dict[str, Any] = {
        "days": max(round(expected), 1),
        "months": max(round(expected / service.DAYS_PER_MONTH), 1),
        "low": math.floor(low),
        "high": math.ceil(high) if high is not None else None,
    }
    if expected >= MONTHS_FROM_DAYS:
        msgid = (
            N_("about %(months)s months, between %(low)s and %(high)s days")
            if high is not None
            else N_(
                "about %(months)s months, at least %(low)s days (in one of the last three "
                "months no place was given, so there is no upper limit)"
            )
        )
    else:
        msgid = (
            N_("about %(days)s days, between %(low)s and %(high)s days")
            if high is not None
            else N_(
                "about %(days)s days, at least %(low)s days (in one of the last three "
                "months no place was given, so there is no upper limit)"
            )
        )
    return i18n.gettext(msgid) % params


def category_options() -> dict[str, str]:
    """The categories one may apply in (not the hospital's direct ones), named in the
    current language (the page's, when the template calls it)."""
    cats = service.sanatorium_rules().categories
    return {code: category_name(code) for code, c in cats.items() if not c.direct}


# ---- the page ------------------------------------------------------------------------


def _whose(principal: Principal, children: list[tuple[int, str]]) -> dict[int, str]:
    """Person id -> whose referral it is, in the current language: "Myself" or the child's
    name (her children under 18 in the registry)."""
    out = {} if principal.person_id is None else {principal.person_id: i18n.gettext(MYSELF)}
    out.update({child: name for child, name in children if child != principal.person_id})
    return out


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
    children: list[tuple[int, str]] | None = None,
) -> Response:
    with page_language(request):  # the sanatoriums' names in the page's language
        items: list[ReferralOut] = await service.my_referrals(session, principal)
        events = {r.id: await service.my_referral_events(session, principal, r.id) for r in items}
        if children is None:
            children = await service.my_children(session, principal)
        whose = _whose(principal, children)
    rules = service.sanatorium_rules()
    # she applies for herself or a child of hers with no referral in progress
    busy = {r.person_id for r in items if r.status in ACTIVE}
    applicants = {str(pid): name for pid, name in whose.items() if pid not in busy}
    can_apply = rules.self_application and bool(applicants)
    forms_shown = {f"withdraw-{r.id}" for r in items if r.status in WITHDRAWABLE}
    forms_shown |= {f"offer-{r.offer.id}" for r in items if r.offer and r.offer.status == "open"}
    if can_apply:
        forms_shown.add("apply")
    ctx: dict[str, Any] = {
        **public_ctx(),
        "items": items,
        "events": events,
        "queue_links": {r.id: queue_link(r.position) for r in items if r.position is not None},
        "wait_words": wait_words,
        "rules": rules,
        "on_decline": OUTCOMES[rules.offer.on_decline],
        "on_lapse": OUTCOMES[rules.offer.on_lapse],
        "withdrawable": WITHDRAWABLE,
        "voucher_statuses": VOUCHER_STATUSES,
        "can_apply": can_apply,
        "has_children": bool(children),
        "whose": whose,
        "applicants": applicants,
        "applicant": next(iter(applicants), ""),
        "category_options": category_options,
        "done": DONE.get(request.query_params.get("done", "")),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        "queue_page": QUEUE_PAGE,
        **(extra or {}),
    }
    # a refusal whose form is no longer on the page (an offer answered meanwhile) is
    # shown at the top
    ctx["top_error"] = ctx["error"] if ctx["failed"] not in forms_shown else None
    return render(request, "sanatorium/my_sanatorium.html", ctx, status=status)


def _refused(e: SalomatError, failed: str, form: dict[str, str], shown: tuple[str, ...]) -> dict:
    errors = errors_of(e.errors)
    return {
        "failed": failed,
        "form": form,
        "errors": errors,
        "loose": loose(errors, shown),
        "error": e,
    }


@pages.get("/my/sanatorium", response_class=HTMLResponse)
async def my_sanatorium_page(request: Request, session: DbSession, principal: Holder) -> Response:
    """Her referrals, newest first: where she stands, offers, vouchers, the log."""
    return await _page(request, session, principal)


@pages.post("/my/sanatorium/apply", response_class=HTMLResponse)
async def apply_page(request: Request, session: DbSession, principal: Holder) -> Response:
    """Her own application or her child's (where the pack allows it); a doctor confirms
    the indication."""
    posted = await read_form(request)
    form = values(posted, APPLY_FIELDS)
    children = await service.my_children(session, principal)
    try:
        raw = or_none(form)
        errors = []
        mine = {str(pid) for pid in _whose(principal, children)}
        if form["person_id"] and form["person_id"] not in mine:
            errors.append(FieldError("person_id", N_("choose yourself or a child of yours")))
            raw["person_id"] = None
        try:
            data = forms.validate(SelfApplyIn, raw)
        except Invalid as e:
            raise Invalid.fields([*errors, *e.errors]) from e
        if errors:
            raise Invalid.fields(errors)
        await service.self_apply(session, principal, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = _refused(e, "apply", form, APPLY_FIELDS)
        return await _page(request, session, principal, extra, e.status, children)
    return redirect("/my/sanatorium?done=applied")


@pages.post("/my/sanatorium/offers/{offer_id}/accept", response_class=HTMLResponse)
async def accept_page(
    request: Request, session: DbSession, offer_id: RowId, principal: Holder
) -> Response:
    """Accept the offer: a bed is booked for the period, the voucher can be printed."""
    await read_form(request)
    try:
        await service.accept_offer(session, principal, offer_id)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = _refused(e, f"offer-{offer_id}", {}, ())
        return await _page(request, session, principal, extra, e.status)
    return redirect("/my/sanatorium?done=accepted")


@pages.post("/my/sanatorium/offers/{offer_id}/decline", response_class=HTMLResponse)
async def decline_page(
    request: Request, session: DbSession, offer_id: RowId, principal: Holder
) -> Response:
    """Decline the offer (a reason is optional): her place follows the pack's rule."""
    posted = await read_form(request)
    reason = forms.text(posted, "reason")
    try:
        data = forms.validate(ReasonIn, {"reason": reason or None})
        await service.decline_offer(session, principal, offer_id, data.reason)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = _refused(e, f"offer-{offer_id}", {"reason": reason}, ("reason",))
        return await _page(request, session, principal, extra, e.status)
    return redirect("/my/sanatorium?done=declined")


@pages.post("/my/sanatorium/{referral_id}/withdraw", response_class=HTMLResponse)
async def withdraw_page(
    request: Request, session: DbSession, referral_id: RowId, principal: Holder
) -> Response:
    """Leave the line (or give up a booked place): the reason is required."""
    posted = await read_form(request)
    reason = forms.text(posted, "reason")
    try:
        if not reason:
            raise Invalid.fields([FieldError("reason", N_("is required"))])
        data = forms.validate(CancelIn, {"reason": reason})
        await service.withdraw_my_referral(session, principal, referral_id, data.reason)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = _refused(e, f"withdraw-{referral_id}", {"reason": reason}, ("reason",))
        return await _page(request, session, principal, extra, e.status)
    return redirect("/my/sanatorium?done=withdrawn")


# ---- the voucher ---------------------------------------------------------------------


@pages.get("/my/sanatorium/vouchers/{stay_id}.pdf")
async def my_voucher_pdf(
    request: Request, session: DbSession, stay_id: RowId, principal: Holder
) -> Response:
    """Her voucher to print or show: where, when, which bed, the voucher code and the QR
    code of its public check; no diagnosis."""
    with page_language(request):  # the sanatorium's name in the page's language
        s = await service.my_voucher(session, principal, stay_id)
    person = await registry.get_person(
        session, principal, s.person_id, purpose="citizen portal: sanatorium voucher"
    )
    url = voucher_check_url(request, s.referral_number, s.voucher_code)
    ctx = {
        **base_ctx(),
        "s": s,
        "person": person,
        "qr": qr_png_data_uri(url),
        "verify": url,
    }
    return await render_pdf(
        request,
        "sanatorium/voucher_pdf.html",
        ctx,
        filename=f"sanatorium-voucher-{s.referral_number}",
    )
