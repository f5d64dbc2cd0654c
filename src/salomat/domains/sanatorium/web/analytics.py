"""The ministry's sanatorium dashboard and its CSV exports (aggregates only).

The page shows what ``service.sanatorium_dashboard`` answers: its small cells arrive as
"<5" and "x", never as numbers, so neither the page nor its CSV can show them. Names
(profiles, regions, column headers) are put in the reader's language here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.ui.templating import NavItem, language_of, register_nav, render

pages = router(include_in_schema=False)

Analyst = Annotated[Principal, Depends(Require("sanatorium:dashboard"))]
PAGE = "/dashboard/sanatorium"

register_nav(NavItem(N_("Sanatorium statistics"), PAGE, "sanatorium:dashboard", order=44))

#: CSV headers and the page's column names
COLUMNS = {
    "month_from": N_("First month"),
    "month_to": N_("Last month"),
    "area": N_("Area"),
    "profile": N_("Treatment profile"),
    "region": N_("Region"),
    "in_line": N_("In line now"),
    "released_3m": N_("Places released in the last 3 months"),
    "wait_days_new": N_("Expected wait of a newcomer (days)"),
    "booked": N_("Booked in the period"),
    "wait_days_median": N_("Median wait (days)"),
    "wait_days_p90": N_("90th percentile of the wait (days)"),
    "offers_made": N_("Offers made"),
    "offers_accepted": N_("Accepted"),
    "offers_declined": N_("Declined"),
    "offers_lapsed": N_("Lapsed"),
    "offers_other": N_("Open or withdrawn"),
    "stays_settled": N_("Stays due (arrived or not)"),
    "arrived": N_("Arrived"),
    "noshow": N_("Did not arrive"),
    "noshow_share": N_("No-show share"),
    "facility_code": N_("Facility code"),
    "facility_name": N_("Sanatorium"),
    "beds": N_("Beds"),
    "bed_days_available": N_("Bed-days available"),
    "bed_days_booked": N_("Bed-days booked"),
    "occupancy": N_("Occupancy"),
}
#: a queue's region '' (a national queue, or a facility without a region)
NATIONAL = N_("whole country")


def _query(request: Request) -> tuple[str | None, str | None, str | None, list[FieldError]]:
    q = request.query_params
    values = [(q.get(k) or "").strip() or None for k in ("region", "from", "to")]
    errors = [
        FieldError(k, N_("is longer than %(n)s characters"), {"n": n})
        for k, v, n in zip(("region", "from", "to"), values, (32, 7, 7), strict=True)
        if v is not None and len(v) > n
    ]
    return values[0], values[1], values[2], errors


async def _regions(session: DbSession, lang: str) -> tuple[list[Any], dict[str, str]]:
    """The regions, and every region's name in ``lang`` by code."""
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    return regions, {r.code: r.names.get(lang) or r.name for r in regions}


def _names(lang: str, _: Any, regions: dict[str, str]) -> dict[str, str]:
    """Code -> name in the reader's language: regions, profiles, the national queue."""
    out = dict(regions)
    out.update(service.profiles(lang))
    out[""] = _(NATIONAL)
    return out


def _by_profile(a: Any) -> list[tuple[str, int]]:
    """People in line per profile (the chart): the queues' rows summed over regions."""
    totals: dict[str, int] = {}
    for q in a.queues:
        totals[q.profile] = totals.get(q.profile, 0) + q.in_line
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


@pages.get(PAGE, response_class=HTMLResponse)
async def sanatorium_statistics(
    request: Request, session: DbSession, principal: Analyst
) -> Response:
    """Queues, waits, offers, no-shows and occupancy of the country or a region."""
    region, month_from, month_to, errors = _query(request)
    lang = language_of(request)
    regions, region_names = await _regions(session, lang)
    _ = i18n.translations(lang).gettext
    ctx: dict[str, Any] = {
        "region": region,
        "month_from": month_from,
        "month_to": month_to,
        "regions": regions,
        "names": _names(lang, _, region_names),
        "columns": COLUMNS,
        "a": None,
        "errors": errors,
        "query": request.url.query,
        "page": PAGE,
    }
    if errors:
        return render(request, "sanatorium/analytics.html", ctx, status=422)
    try:
        a = await service.sanatorium_dashboard(
            session, principal, region=region, month_from=month_from, month_to=month_to
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "sanatorium/analytics.html", ctx, status=e.status)
    ctx["a"] = a
    ctx["month_from"], ctx["month_to"] = a.month_from, a.month_to
    ctx["by_profile"] = _by_profile(a)
    return render(request, "sanatorium/analytics.html", ctx)


@pages.get(PAGE + ".csv")
async def sanatorium_statistics_csv(
    request: Request,
    session: DbSession,
    principal: Analyst,
    table: Annotated[str, Query(max_length=16)] = "queues",
) -> Response:
    """One table of the page as CSV (``table``: queues or occupancy), with headers and
    names in the reader's language."""
    region, month_from, month_to, errors = _query(request)
    if errors:
        raise Invalid.fields(errors)
    if table not in service.DASHBOARD_TABLES:
        raise Invalid.fields(
            [
                FieldError(
                    "table",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(service.DASHBOARD_TABLES)},
                )
            ]
        )
    a = await service.sanatorium_dashboard(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )
    lang = language_of(request)
    _ = i18n.translations(lang).gettext
    names = _names(lang, _, (await _regions(session, lang))[1])
    area = names.get(a.area_code, a.area_name or "") if a.area_code else _(NATIONAL)
    return csv_download(
        service.dashboard_csv(
            a,
            table,
            labels={k: _(v) for k, v in COLUMNS.items()},
            names=names,
            total=_("Total: %(area)s") % {"area": area},
        )
    )
