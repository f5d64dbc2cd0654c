"""The fund reviewer's pages: the queue of flagged claim lines (by rule, facility and
month) with a form on each line to accept, reduce (the amount approved, with a reason)
or reject it (with a reason); and the monthly settlements of providers (compute a month,
read the list, download one as CSV). A line decided meanwhile by someone else comes
back with who decided it (409); a refused form names its field.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
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
register_nav(NavItem(N_("Settlements"), SETTLEMENTS, "insurance:review", order=33))
FILTERS = ("rule", "facility", "month")


def _amount(text: str) -> int | None:
    """A typed amount in major units ("12 500.50") as minor units."""
    if not text:
        return None
    try:
        value = Decimal(text.replace("\u202f", "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value > Decimal(10**13):
        raise Invalid.fields([FieldError("amount_approved", N_("is not an amount"))])
    return int((value * 100).to_integral_value())


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
            extra = {"error": e, "errors": forms.errors_by_field(e.errors), "failed": line_id}
            return await _queue(request, session, principal, extra, e.status)
        query = request.url.query
        return redirect(QUEUE + (f"?{query}" if query else ""))


@pages.get(SETTLEMENTS, response_class=HTMLResponse)
async def settlements_page(request: Request, session: DbSession, principal: Reviewer) -> Response:
    """The settlements of a month (the latest computed by default)."""
    with forms.page_language(request):
        raw = (request.query_params.get("month") or "").strip()[:10]
        ctx: dict[str, Any] = {
            "money": money,
            "month": raw,
            "items": [],
            "error": None,
            "errors": {},
        }
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
            ctx = {"money": money, "month": raw, "items": [], "error": e}
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
