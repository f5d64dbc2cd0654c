"""The family doctor's antenatal worklist and the regional monitoring dashboard."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.domains.maternal import service
from salomat.domains.maternal.web.common import web
from salomat.domains.maternal.web.dashboard_labels import (
    DEFINITION_TEXTS,
    LEVELS,
    csv_labels,
)
from salomat.domains.maternal.web.dashboard_labels import RISKS as DASHBOARD_RISKS
from salomat.domains.maternal.web.labels import (
    N_,
    OUTCOMES,
    RISK_LABELS,
    WORKLIST_REASONS,
)
from salomat.domains.registry import service as registry
from salomat.ui.templating import NavItem, language_of, register_nav, render

register_nav(NavItem(N_("Antenatal worklist"), "/worklist", "worklist:read", order=20))


# ---- the worklist ----------------------------------------------------------------------


@web.get("/worklist", response_class=HTMLResponse)
async def worklist(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("worklist:read"))],
) -> Response:
    """The facility's antenatal worklist: who needs something done, and why."""
    rows = await service.antenatal_worklist(session, principal)
    people = {
        r.person_id: await registry.get_person(
            session, principal, r.person_id, purpose="antenatal worklist"
        )
        for r in rows
    }
    ctx = {"rows": rows, "people": people, "reasons": WORKLIST_REASONS, "risks": RISK_LABELS}
    return render(request, "maternal/worklist.html", ctx)


# ---- the monitoring dashboard ------------------------------------------------------------

register_nav(
    NavItem(N_("Maternal monitoring"), "/dashboard/maternal", "maternal_dashboard:read", order=40)
)


def _dashboard_query(request: Request) -> tuple[str | None, date | None, date | None, list]:
    """The area and the period from the query string; a malformed date is named."""
    q = request.query_params
    area = (q.get("area") or "").strip() or None
    errors: list[FieldError] = []
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        raw = (q.get(key) or "").strip()
        try:
            days[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors.append(
                FieldError(key, N_("%(value)s is not a date (YYYY-MM-DD)"), {"value": repr(raw)})
            )
            days[key] = None
    if area is not None and len(area) > 32:
        errors.append(FieldError("area", N_("is longer than 32 characters")))
    return area, days["from"], days["to"], errors


async def _areas(
    session: DbSession, lang: str
) -> tuple[list[Any], dict[str, list[Any]], dict[str, str]]:
    """Regions, their districts, and every one's name in ``lang`` by code."""
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    districts: dict[str, list[Any]] = {}
    names = {r.code: r.names.get(lang) or r.name for r in regions}
    for d in (await registry.list_territory(session, PageParams(500, 0), level="district")).items:
        districts.setdefault(d.parent_code or "", []).append(d)
        names[d.code] = d.names.get(lang) or d.name
    return regions, districts, names


@web.get("/dashboard/maternal", response_class=HTMLResponse)
async def maternal_dashboard(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("maternal_dashboard:read"))],
) -> Response:
    """Region and district figures with charts; each unit links to its own breakdown."""
    area, start, end, errors = _dashboard_query(request)
    regions, districts, names = await _areas(session, language_of(request))
    ctx: dict[str, Any] = {
        "area": area,
        "area_names": names,
        "outcomes": OUTCOMES,
        "risks": DASHBOARD_RISKS,
        "definitions": DEFINITION_TEXTS,
        "period_from": start,
        "period_to": end,
        "regions": regions,
        "districts": districts,
        "d": None,
        "errors": errors,
        "query": request.url.query,
    }
    if errors:
        return render(request, "maternal/dashboard.html", ctx, status=422)
    try:
        ctx["d"] = await service.maternal_dashboard(
            session, principal, area=area, period_from=start, period_to=end
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "maternal/dashboard.html", ctx, status=e.status)
    ctx["period_from"], ctx["period_to"] = ctx["d"].period_from, ctx["d"].period_to
    return render(request, "maternal/dashboard.html", ctx)


@web.get("/dashboard/maternal.csv")
async def maternal_dashboard_csv(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("maternal_dashboard:read"))],
) -> Response:
    """The dashboard's figures as CSV (the same as the REST API's)."""
    area, start, end, errors = _dashboard_query(request)
    if errors:
        raise Invalid.fields(errors)
    d = await service.maternal_dashboard(
        session, principal, area=area, period_from=start, period_to=end
    )
    lang = language_of(request)
    names = (await _areas(session, lang))[2]
    _ = i18n.translations(lang).gettext
    area_name = names.get(d.area_code or "", d.area_name) if d.area_code else _("whole country")
    return csv_download(
        service.dashboard_csv(
            d,
            labels=csv_labels(_),
            levels={k: _(v) for k, v in LEVELS.items()},
            names=names,
            total=_("Total: %(area)s") % {"area": area_name},
        )
    )
