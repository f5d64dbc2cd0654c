"""The analysts' page of sick-leave figures and its CSV exports (aggregates only).

The page shows what ``service.sick_leave_analytics`` answers: its small cells
arrive as "<5" and "x", never as numbers, so neither the page nor its CSV can
show them. Names (units, ICD-10 chapters, reasons, statuses, column headers) are
put in the reader's language here.
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
from salomat.domains.sickleave import service
from salomat.ui.templating import NavItem, language_of, register_nav, render

pages = router(include_in_schema=False)

Analyst = Annotated[Principal, Depends(Require("sick_leave:analytics"))]
PAGE = "/dashboard/sick-leave"

register_nav(NavItem(N_("Sick-leave statistics"), PAGE, "sick_leave:analytics", order=43))

#: CSV headers and the page's column names
COLUMNS = {
    "month_from": N_("First month"),
    "month_to": N_("Last month"),
    "area": N_("Area"),
    "key": N_("Code"),
    "name": N_("Name"),
    "certificates": N_("Certificates"),
    "days": N_("Days of incapacity"),
    "mean_days": N_("Days per certificate"),
    "doctor": N_("Doctor"),
    "doctor_name": N_("Doctor's name"),
    "facility_code": N_("Facility code"),
    "facility_name": N_("Facility"),
    "unit": N_("Unit"),
    "region": N_("Region"),
    "region_median": N_("Median of the region's doctors"),
    "flagged": N_("For review"),
    "number": N_("Certificate number"),
    "reason": N_("Reason"),
    "start_month": N_("First month"),
    "status": N_("Status"),
    "yes": N_("yes"),
}
TABLE_TITLES = {
    "units": N_("By territorial unit"),
    "chapters": N_("By ICD-10 chapter"),
    "reasons": N_("By reason"),
    "months": N_("By month of the first day"),
}
#: rows whose key is None
NOT_RECORDED = {
    "units": N_("place not recorded"),
    "chapters": N_("no diagnosis (maternity leave)"),
}


def _query(request: Request) -> tuple[str | None, str | None, str | None, list[FieldError]]:
    q = request.query_params
    values = [(q.get(k) or "").strip() or None for k in ("region", "from", "to")]
    errors = [
        FieldError(k, N_("is longer than %(n)s characters"), {"n": n})
        for k, v, n in zip(("region", "from", "to"), values, (32, 7, 7), strict=True)
        if v is not None and len(v) > n
    ]
    return values[0], values[1], values[2], errors


async def _areas(
    session: DbSession, lang: str
) -> tuple[list[Any], dict[str, list[Any]], dict[str, str]]:
    """Regions, their districts, and every unit's name in ``lang`` by code."""
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    names = {r.code: r.names.get(lang) or r.name for r in regions}
    districts: dict[str, list[Any]] = {}
    for d in (await registry.list_territory(session, PageParams(500, 0), level="district")).items:
        districts.setdefault(d.parent_code or "", []).append(d)
        names[d.code] = d.names.get(lang) or d.name
    return regions, districts, names


def _names(_: Any, units: dict[str, str]) -> dict[str, str]:
    """Key -> name in the reader's language, for every table's keys."""
    out = dict(units)
    out.update({k: _(v) for k, v in service.CHAPTERS.items()})
    out.update({k: _(v) for k, v in service.REASON_LABELS.items()})
    out.update({k: _(v) for k, v in service.STATUS_LABELS.items()})
    return out


@pages.get(PAGE, response_class=HTMLResponse)
async def sick_leave_statistics(
    request: Request, session: DbSession, principal: Analyst
) -> Response:
    """The figures of the country, a region or a district for whole months."""
    region, month_from, month_to, errors = _query(request)
    lang = language_of(request)
    regions, districts, unit_names = await _areas(session, lang)
    _ = i18n.translations(lang).gettext
    ctx: dict[str, Any] = {
        "region": region,
        "month_from": month_from,
        "month_to": month_to,
        "regions": regions,
        "districts": districts,
        "names": _names(_, unit_names),
        "columns": COLUMNS,
        "titles": TABLE_TITLES,
        "not_recorded": NOT_RECORDED,
        "a": None,
        "errors": errors,
        "query": request.url.query,
        "page": PAGE,
    }
    if errors:
        return render(request, "sickleave/analytics.html", ctx, status=422)
    try:
        a = await service.sick_leave_analytics(
            session, principal, region=region, month_from=month_from, month_to=month_to
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "sickleave/analytics.html", ctx, status=e.status)
    ctx["a"] = a
    ctx["month_from"], ctx["month_to"] = a.month_from, a.month_to
    ctx["tables"] = [(key, a.table(key)) for key in ("units", "chapters", "reasons", "months")]
    return render(request, "sickleave/analytics.html", ctx)


@pages.get(PAGE + ".csv")
async def sick_leave_statistics_csv(
    request: Request,
    session: DbSession,
    principal: Analyst,
    table: Annotated[str, Query(max_length=16)] = "units",
) -> Response:
    """One table of the page as CSV (``table``: units, chapters, reasons, months, doctors or
    long), with headers and names in the reader's language."""
    region, month_from, month_to, errors = _query(request)
    if errors:
        raise Invalid.fields(errors)
    if table not in service.ANALYTICS_TABLES:
        raise Invalid.fields(
            [
                FieldError(
                    "table",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(service.ANALYTICS_TABLES)},
                )
            ]
        )
    a = await service.sick_leave_analytics(
        session, principal, region=region, month_from=month_from, month_to=month_to
    )
    lang = language_of(request)
    _ = i18n.translations(lang).gettext
    names = _names(_, (await _areas(session, lang))[2])
    if table in NOT_RECORDED:
        names[""] = _(NOT_RECORDED[table])
    area = names.get(a.area_code or "", a.area_name or "") if a.area_code else _("whole country")
    return csv_download(
        service.analytics_csv(
            a,
            table,
            labels={k: _(v) for k, v in COLUMNS.items()},
            names=names,
            total=_("Total: %(area)s") % {"area": area},
        )
    )
