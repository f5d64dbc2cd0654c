"""The fund analyst's pages (issue 17, slice A): take in a payment file (every wrong line
named with its field, or what was stored), the payers with their employees and the
protected-category lists, the arrears, and the dashboards with charts and CSV.

Codes are shown with their labels (payer and contribution kinds, rules, packages,
categories) in the page's language; a refused form comes back with what was typed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, NotFound, SalomatError
from salomat.core.money import money_format
from salomat.core.pagination import PageParams
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance.schemas.contributions import (
    CategoryMemberIn,
    EmploymentIn,
    PayerIn,
    PlanIn,
)
from salomat.domains.insurance.service import (
    categories,
    contributions,
    dashboards,
    expected,
    labels,
    payers,
)
from salomat.domains.insurance.service.rules import insurance_rules
from salomat.ui import forms
from salomat.ui.templating import NavItem, language_of, redirect, register_nav, render

pages = router(include_in_schema=False)

Manager = Annotated[Principal, Depends(Require("insurance:manage"))]
Viewer = Annotated[Principal, Depends(Require("insurance:dashboard"))]

IMPORT = "/insurance/fund/import"
PAYERS = "/insurance/fund/payers"
ARREARS = "/insurance/fund/arrears"
DASHBOARD = "/insurance/fund/dashboard"

register_nav(NavItem(N_("Payment files"), IMPORT, "insurance:manage", order=60))
register_nav(NavItem(N_("Payers"), PAYERS, "insurance:manage", order=61))
register_nav(NavItem(N_("Arrears"), ARREARS, "insurance:manage", order=62))
register_nav(NavItem(N_("Fund dashboard"), DASHBOARD, "insurance:dashboard", order=63))

#: column and field names as a reader sees them
FIELDS = {
    "payer": N_("Payer"),
    "national_id": N_("National id"),
    "month": N_("Month"),
    "amount": N_("Amount"),
    "paid_on": N_("Paid on"),
    "kind": N_("Kind"),
    "line": N_("Line no."),
    "file": N_("File"),
    "business_id": N_("Business id"),
    "name": N_("Payer name"),
    "start_on": N_("Start date"),
    "end_on": N_("End date"),
    "monthly_wage": N_("Monthly wage"),
    "category": N_("Category"),
    "from": N_("First month"),
    "to": N_("Last month"),
    "year": N_("Year"),
    "region": N_("Region"),
    "package": N_("Benefit package"),
    "table": N_("Table"),
}
COLUMNS = dashboards.COLUMN_LABELS
PAYER_FIELDS = ("kind", "business_id", "national_id", "name")
EMPLOYMENT_FIELDS = ("payer", "national_id", "start_on", "end_on", "monthly_wage")
CATEGORY_FIELDS = ("national_id", "category", "start_on", "end_on")
PLAN_FIELDS = ("year", "region", "package", "amount")
DONE = {
    "payer": N_("The payer is registered."),
    "employment": N_("The employment is recorded."),
    "category": N_("The person is listed in the category."),
    "plan": N_("The plan is saved."),
}


#: payers whose stored name is the pack's English word: shown by their kind's label
KIND_NAMED = ("state", "aggregate")


def money(value: Decimal | float | None) -> str:
    """An amount (major units) as the page's language writes it: "30 000,00" in ru."""
    if value is None:
        return "—"
    fmt = money_format(i18n.babel_locale(i18n.current_language()), 2)
    return fmt.format(value if isinstance(value, Decimal) else Decimal(str(value)))


def payer_name(payer: Any) -> str:
    """A payer's name in the page's language: the state and the aggregate payment by
    their kind (their stored names are English), others as registered."""
    if payer.kind in KIND_NAMED:
        return labels.label(labels.PAYER_KIND_LABELS, payer.kind)
    return str(payer.name)


def _ctx() -> dict[str, Any]:
    rules = insurance_rules()
    return {
        "money": money,
        "payer_name": payer_name,
        "kind_name": lambda kind: labels.label(labels.PAYER_KIND_LABELS, kind),
        "payers_page": PAYERS,
        "fields": FIELDS,
        "columns": COLUMNS,
        "payer_kinds": labels.PAYER_KIND_LABELS,
        "contribution_kinds": labels.CONTRIBUTION_KIND_LABELS,
        "rules_labels": labels.CONTROL_RULE_LABELS,
        "label": labels.label,
        "package_name": labels.package_name,
        "category_name": labels.category_name,
        "listed_categories": [c for c, v in rules.categories.items() if not v.derived],
        "packages": list(rules.packages),
        "universal": rules.universal,
        "currency": rules.currency,
    }


def line_errors(errors: list[FieldError]) -> list[tuple[int | None, str, FieldError]]:
    """(line, field, error) of an import's refusal, by line."""
    out: list[tuple[int | None, str, FieldError]] = []
    for e in errors:
        parts = e.field.split(".")
        if len(parts) == 3 and parts[0] == "lines" and (parts[1].isascii() and parts[1].isdigit()):
            out.append((int(parts[1]), parts[2], e))
        else:
            out.append((None, e.field, e))
    out.sort(key=lambda t: (t[0] or 0, t[1]))
    return out


# ---- payment files ------------------------------------------------------------------


async def _import_page(
    request: Request, session: DbSession, extra: dict[str, Any], status: int = 200
) -> Response:
    ctx = {
        **_ctx(),
        "page": IMPORT,
        "arrears": ARREARS,
        "dashboard": DASHBOARD,
        "imports": await contributions.list_imports(session, limit=20),
        "result": None,
        "months": None,
        "error": None,
        "line_errors": [],
        **extra,
    }
    return render(request, "insurance/fund_import.html", ctx, status=status)


@pages.get(IMPORT, response_class=HTMLResponse)
async def import_page(request: Request, session: DbSession, principal: Manager) -> Response:
    """Upload a payment file; the recent files; with ``import`` (an id, where a taken
    file is sent) what that import stored, ``again=1`` when the file had been taken
    before."""
    raw = (request.query_params.get("import") or "").strip()
    if not raw:
        return await _import_page(request, session, {})
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**62:
        raise NotFound(N_("Payment file %(id)s not found."), params={"id": raw[:20]})
    again = request.query_params.get("again") == "1"
    result = await contributions.get_import(session, int(raw), again=again)
    months = await contributions.import_months(session, result.import_id)
    span = (months[0].strftime("%Y-%m"), months[1].strftime("%Y-%m")) if months else None
    return await _import_page(request, session, {"result": result, "months": span})


@pages.post(IMPORT, response_class=HTMLResponse)
async def import_post(request: Request, session: DbSession, principal: Manager) -> Response:
    """A payment file taken whole, or every wrong line named and nothing stored."""
    with forms.page_language(request):
        form = await forms.read_form(request)
        upload = form.get("file")
        try:
            if upload is None or isinstance(upload, str):
                raise Invalid.fields([FieldError("file", N_("choose a file"))])
            data = await upload.read()
            result = await contributions.import_payment_file(
                session, principal, data, upload.filename or None
            )
        except SalomatError as e:
            if e.status == 404:
                raise
            await session.rollback()
            extra = {"error": e, "line_errors": line_errors(e.errors)}
            return await _import_page(request, session, extra, e.status)
    # a reload of the result's page reads it again instead of sending the file again
    again = "&again=1" if result.already_imported else ""
    return redirect(f"{IMPORT}?import={result.import_id}{again}")


# ---- payers, employment, categories ---------------------------------------------------


async def _payers_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    q = request.query_params.get("q", "")[:100] or None
    kind = request.query_params.get("kind", "")[:16] or None
    listing = await payers.list_payers(session, principal, PageParams(100, 0), kind=kind, q=q)
    ctx = {
        **_ctx(),
        "page": PAYERS,
        "payers": listing,
        "q": q or "",
        "kind": kind or "",
        "done": DONE.get(request.query_params.get("done", "")),
        "failed": None,
        "form": {},
        "errors": {},
        "error": None,
        **(extra or {}),
    }
    return render(request, "insurance/fund_payers.html", ctx, status=status)


@pages.get(PAYERS, response_class=HTMLResponse)
async def payers_page(request: Request, session: DbSession, principal: Manager) -> Response:
    return await _payers_page(request, session, principal)


async def _refused(
    request: Request, session: DbSession, principal: Principal, which: str, form: dict, e: Any
) -> Response:
    if e.status == 404:
        raise e
    await session.rollback()
    extra = {
        "failed": which,
        "form": form,
        "errors": forms.errors_by_field(e.errors),
        "error": e,
    }
    return await _payers_page(request, session, principal, extra, e.status)


@pages.post(PAYERS, response_class=HTMLResponse)
async def payer_post(request: Request, session: DbSession, principal: Manager) -> Response:
    with forms.page_language(request):
        form = forms.values(await forms.read_form(request), PAYER_FIELDS)
        try:
            raw = {k: v or None for k, v in form.items()}
            await payers.create_payer(session, principal, forms.validate(PayerIn, raw))
        except SalomatError as e:
            return await _refused(request, session, principal, "payer", form, e)
    return redirect(f"{PAYERS}?done=payer")


@pages.post(PAYERS + "/employment", response_class=HTMLResponse)
async def employment_post(request: Request, session: DbSession, principal: Manager) -> Response:
    with forms.page_language(request):
        form = forms.values(await forms.read_form(request), EMPLOYMENT_FIELDS)
        try:
            raw = {k: v or None for k, v in form.items()}
            data = forms.validate(EmploymentIn, raw)
            await payers.create_employment(session, principal, data)
        except SalomatError as e:
            return await _refused(request, session, principal, "employment", form, e)
    return redirect(f"{PAYERS}?done=employment")


@pages.post(PAYERS + "/categories", response_class=HTMLResponse)
async def category_post(request: Request, session: DbSession, principal: Manager) -> Response:
    with forms.page_language(request):
        form = forms.values(await forms.read_form(request), CATEGORY_FIELDS)
        try:
            raw = {k: v or None for k, v in form.items()}
            data = forms.validate(CategoryMemberIn, raw)
            await categories.add_category_member(session, principal, data)
        except SalomatError as e:
            return await _refused(request, session, principal, "category", form, e)
    return redirect(f"{PAYERS}?done=category")


# ---- arrears -------------------------------------------------------------------------


def _period(request: Request) -> tuple[str | None, str | None]:
    q = request.query_params
    return (q.get("from") or "").strip()[:7] or None, (q.get("to") or "").strip()[:7] or None


@pages.get(ARREARS, response_class=HTMLResponse)
async def arrears_page(request: Request, session: DbSession, principal: Manager) -> Response:
    """Every payer's expected, paid and arrears over a period, the most owed first; with
    ``payer`` (its id) that payer's months and employees."""
    month_from, month_to = _period(request)
    payer = (request.query_params.get("payer") or "").strip()
    if payer:
        if not (payer.isascii() and payer.isdigit()) or not 0 < int(payer) < 2**62:
            raise NotFound(N_("Payer %(id)s not found."), params={"id": payer[:20]})
        return await _payer_page(request, session, principal, int(payer), month_from, month_to)
    kind = (request.query_params.get("kind") or "")[:16] or None
    ctx: dict[str, Any] = {
        **_ctx(),
        "page": ARREARS,
        "month_from": month_from,
        "month_to": month_to,
        "kind": kind or "",
        "rows": None,
        "errors": [],
    }
    try:
        months, rows = await expected.arrears_by_payer(
            session, principal, month_from, month_to, kind=kind
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "insurance/fund_arrears.html", ctx, status=e.status)
    ctx.update(
        rows=rows,
        month_from=months[0].strftime("%Y-%m"),
        month_to=months[-1].strftime("%Y-%m"),
    )
    return render(request, "insurance/fund_arrears.html", ctx)


async def _payer_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    payer_id: int,
    month_from: str | None,
    month_to: str | None,
) -> Response:
    """A payer's expected, paid and arrears by month; an employer's employees."""
    ctx: dict[str, Any] = {**_ctx(), "page": ARREARS, "a": None, "errors": [], "staff": []}
    try:
        ctx["a"] = await expected.payer_arrears(session, principal, payer_id, month_from, month_to)
    except Invalid as e:
        ctx["errors"] = e.errors
        ctx["payer"] = await payers.get_payer(session, payer_id)
        return render(request, "insurance/fund_payer.html", ctx, status=e.status)
    ctx["payer"] = ctx["a"].payer
    if ctx["payer"].kind == "employer":
        ctx["staff"] = await payers.list_employment(session, principal, payer_id)
    return render(request, "insurance/fund_payer.html", ctx)


# ---- dashboard -----------------------------------------------------------------------


def _bars(rows: list[Any], key: str) -> float:
    values = [float(getattr(r, key) or 0) for r in rows]
    return max(values, default=0.0)


async def _dashboard_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    month_from, month_to = _period(request)
    lang = language_of(request)
    ctx: dict[str, Any] = {
        **_ctx(),
        "page": DASHBOARD,
        "month_from": month_from,
        "month_to": month_to,
        "region_names": await dashboards.region_names(session, lang),
        "d": None,
        "errors": [],
        "form": {},
        "plan_errors": {},
        "plan_error": None,
        "done": DONE.get(request.query_params.get("done", "")),
        "query": request.url.query,
        **(extra or {}),
    }
    try:
        d = await dashboards.fund_dashboard(session, month_from, month_to, lang=lang)
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "insurance/fund_dashboard.html", ctx, status=e.status)
    by_month: dict[str, list[Any]] = {}
    for r in d.collected:
        cell = by_month.setdefault(r.month, [0, 0])
        cell[0] += float(r.expected)
        cell[1] += float(r.collected)
    ctx.update(
        d=d,
        month_from=d.month_from,
        month_to=d.month_to,
        by_month=sorted(by_month.items()),
        top_month=max([max(v) for v in by_month.values()] or [0]),
        top_region=max([float(max(r.spent, r.plan or 0)) for r in d.spending_by_region] or [0]),
        top_provider=_bars(d.spending_by_provider, "spent"),
        top_flags=_bars(d.flags, "lines"),
    )
    return render(request, "insurance/fund_dashboard.html", ctx, status=status)


@pages.get(DASHBOARD, response_class=HTMLResponse)
async def dashboard_page(request: Request, session: DbSession, principal: Viewer) -> Response:
    """Collected vs expected by month; spending vs plan by region, provider and package;
    the control flags by rule."""
    return await _dashboard_page(request, session, principal)


@pages.get(DASHBOARD + ".csv")
async def dashboard_csv(
    request: Request,
    session: DbSession,
    principal: Viewer,
    table: Annotated[str, Query(max_length=16)] = "collected",
) -> Response:
    """One table of the dashboard as CSV, headers and names in the page's language."""
    month_from, month_to = _period(request)
    lang = language_of(request)
    d = await dashboards.fund_dashboard(session, month_from, month_to, lang=lang)
    file = await dashboards.localised_csv(session, d, table, lang)
    return csv_download(file)


@pages.post(DASHBOARD + "/plan", response_class=HTMLResponse)
async def plan_post(request: Request, session: DbSession, principal: Manager) -> Response:
    """The year's plan of a region and package."""
    with forms.page_language(request):
        form = forms.values(await forms.read_form(request), PLAN_FIELDS)
        try:
            raw = {k: v or None for k, v in form.items()}
            await dashboards.set_plan(session, principal, forms.validate(PlanIn, raw))
        except SalomatError as e:
            if e.status == 404:
                raise
            await session.rollback()
            extra = {
                "form": form,
                "plan_errors": forms.errors_by_field(e.errors),
                "plan_error": e,
            }
            return await _dashboard_page(request, session, principal, extra, e.status)
    return redirect(f"{DASHBOARD}?done=plan")
