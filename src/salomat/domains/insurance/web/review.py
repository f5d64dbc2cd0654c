"""The fund reviewer's pages: the queue of flagged claim lines (by rule, facility and
month) with a form on each line to accept, reduce (the amount approved, with a reason)
or reject it (with a reason); and the monthly settlements of providers (compute a month,
read the list, download one as CSV), which a provider reads too, its own facility's
only. A line decided meanwhile by someone else comes back with who decided it (409); a
refused form names its field and keeps what was chosen and typed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.money import MoneyInputError, parse_money
from salomat.core.params import RowId
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.domains.insurance.schemas.claims import DecisionIn
from salomat.domains.insurance.service import claims as claims_service
from salomat.domains.insurance.service.control import RULES
from salomat.domains.insurance.web.claims import money
from salomat.domains.registry import service as registry
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render, speaking

pages = router(include_in_schema=False)

Reviewer = Annotated[Principal, Depends(Require("insurance:review"))]
Reader = Annotated[Principal, Depends(Require("insurance:claim_read"))]

QUEUE = "/insurance/review"
SETTLEMENTS = "/insurance/settlements"
register_nav(NavItem(N_("Claims review"), QUEUE, "insurance:review", order=32))
register_nav(NavItem(N_("Settlements"), SETTLEMENTS, "insurance:claim_read", order=33))
FILTERS = ("rule", "facility", "month")


#: ``SettlementOut.status``
SETTLEMENT_STATUS_LABELS = {
    "draft": N_("draft: computed again on request"),
    "closed": N_("closed: paid as it stands"),
}
#: the largest amount a reviewer types (major units): a claim line's limit
MAX_AMOUNT = Decimal(1_000_000_000)


def _amount(text: str) -> int | None:
    """A typed amount in major units, as the page's language writes it ("12,500.50" in
    English, "12 500,50" in Russian: ``core.money``, never guessed), as minor units."""
    if not text.strip():
        return None
    try:
        value = parse_money(
            text, i18n.babel_locale(i18n.current_language()), places=2, maximum=MAX_AMOUNT
        )
    except MoneyInputError as e:
        raise Invalid.fields([FieldError("amount_approved", e.msgid, e.params)]) from None
    return int(value.scaleb(2))


async def _filters(session: DbSession, q: Any) -> dict[str, Any]:
    raw = {k: (q.get(k) or "").strip()[:32] for k in FILTERS}
    out: dict[str, Any] = {"raw": raw, "rule": None, "facility_id": None, "month": None}
    errors = []
    if raw["rule"]:
        if raw["rule"] in RULES:
            out["rule"] = raw["rule"]
        else:
            errors.append(FieldError("rule", N_("not a control rule")))
    if raw["facility"]:
        found = await registry.facility_id_by_code(session, raw["facility"])
        out["facility_id"] = found if found is not None else -1
    if raw["month"]:
        try:
            out["month"] = claims_service.parse_month(raw["month"])
        except Invalid as e:
            errors.extend(e.errors)
    if errors:
        raise Invalid.fields(errors)
    return out


async def _queue(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    ctx: dict[str, Any] = {
        "rules": service.labels.CONTROL_RULE_LABELS,
        "money": money,
        "lines": [],
        "filters": {k: "" for k in FILTERS},
        "error": None,
        "errors": {},
        "failed": None,
        "posted": {},
        "query": urlencode({k: v for k, v in request.query_params.items() if k in FILTERS}),
        **(extra or {}),
    }
    try:
        f = await _filters(session, request.query_params)
        ctx["filters"] = f["raw"]
        ctx["lines"] = await service.review_queue(
            session, principal, rule=f["rule"], facility_id=f["facility_id"], month=f["month"]
        )
    except Invalid as e:
        ctx["error"], ctx["errors"], status = e, forms.errors_by_field(e.errors), 422
    return render(request, "insurance/review_queue.html", ctx, status=status)


@pages.get(QUEUE, response_class=HTMLResponse)
async def queue_page(request: Request, session: DbSession, principal: Reviewer) -> Response:
    """Flagged lines waiting for a decision, oldest first."""
    with forms.page_language(request):
        return await _queue(request, session, principal)


@pages.post(QUEUE + "/lines/{line_id}", response_class=HTMLResponse)
async def decide_page(
    request: Request, session: DbSession, line_id: RowId, principal: Reviewer
) -> Response:
    with forms.page_language(request):
        posted = await forms.read_form(request)
        form = forms.values(posted, ("decision", "amount_approved", "reason"))
        try:
            data = forms.validate(
                DecisionIn,
                {
                    "decision": form["decision"],
                    "amount_approved": _amount(form["amount_approved"]),
                    "reason": form["reason"] or None,
                },
            )
            await service.decide_line(session, principal, line_id, data)
        except SalomatError as e:
            if e.status not in (409, 422):
                raise
            await session.rollback()
            # the refused line's form keeps what was chosen and typed
            extra = {
                "error": e,
                "errors": forms.errors_by_field(e.errors),
                "failed": line_id,
                "posted": form,
            }
            return await _queue(request, session, principal, extra, e.status)
        query = request.url.query
        return redirect(QUEUE + (f"?{query}" if query else ""))


def _settlements_ctx(principal: Principal, month: str) -> dict[str, Any]:
    return {
        "money": money,
        "month": month,
        "items": [],
        "error": None,
        "errors": {},
        "statuses": SETTLEMENT_STATUS_LABELS,
        # the fund computes months and opens the queue; a provider reads its own
        "can_review": allowed(principal.role, "insurance:review"),
    }


@pages.get(SETTLEMENTS, response_class=HTMLResponse)
async def settlements_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """The settlements of a month (every month by default): the fund's analyst every
    provider's, a provider its own facility's (the service scopes them)."""
    with forms.page_language(request):
        raw = (request.query_params.get("month") or "").strip()[:10]
        ctx = _settlements_ctx(principal, raw)
        status = 200
        try:
            month = claims_service.parse_month(raw) if raw else None
            ctx["items"] = await service.list_settlements(session, principal, month=month)
        except Invalid as e:
            ctx["error"], ctx["errors"], status = e, forms.errors_by_field(e.errors), 422
        return render(request, "insurance/review_settlements.html", ctx, status=status)


@pages.post(SETTLEMENTS, response_class=HTMLResponse)
async def compute_page(request: Request, session: DbSession, principal: Reviewer) -> Response:
    """Compute (again) every provider's draft settlement of a month."""
    with forms.page_language(request):
        posted = await forms.read_form(request)
        raw = forms.text(posted, "month")[:10]
        try:
            month = claims_service.parse_month(raw)
            await service.compute_settlements(session, principal, month)
        except Invalid as e:
            await session.rollback()
            ctx = {**_settlements_ctx(principal, raw), "error": e}
            ctx["errors"] = forms.errors_by_field(e.errors)
            return render(request, "insurance/review_settlements.html", ctx, status=422)
        return redirect(f"{SETTLEMENTS}?month={month:%Y-%m}")


@pages.get(SETTLEMENTS + "/{settlement_id}.csv")
async def settlement_csv_page(
    request: Request, session: DbSession, settlement_id: RowId, principal: Reader
) -> Response:
    """One settlement as CSV in the page's language."""
    with speaking(request):
        return csv_download(await service.settlement_csv(session, principal, settlement_id))
