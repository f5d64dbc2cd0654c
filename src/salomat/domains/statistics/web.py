"""The ministry's pages of the national health indicators (issue 20, docs/statistics.md).

``/statistics``: every indicator of the catalogue for a closed year, nationally, with its
interval, numerator and denominator, target and on-track status, reference, and a table
by region; ``/statistics/region/{region}``: the same for a region and its districts;
``/statistics/trend/{indicator}``: the yearly values of the country and each region
against the target's line (inline SVG, no script) with the same numbers as a table;
``/statistics/csv/{indicator}``: the service's masked CSV in the reader's language.

Everything shown comes masked from the service: a cell with fewer than five events
arrives without value, numerator or interval, so the page has no number to show for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.i18n import gettext
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.statistics import service
from salomat.domains.statistics.schemas import Indicator, Target, Trend
from salomat.ui.forms import labelled_errors, query_text
from salomat.ui.templating import NavItem, redirect, register_nav, render, speaking

web = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("statistics:read"))]
Computer = Annotated[Principal, Depends(Require("statistics:compute"))]
PAGE = "/statistics"

register_nav(NavItem(N_("Health indicators"), PAGE, "statistics:read", order=23))

#: the catalogue's units (English in indicators.yaml) as msgids
UNITS = {
    "births": N_("births"),
    "per 1000 population per year": N_("per 1000 population per year"),
    "per 1000 live births": N_("per 1000 live births"),
    "per 1000 total births": N_("per 1000 total births"),
    "per 100 000 live births": N_("per 100 000 live births"),
    "years": N_("years"),
}
STATUS = {
    "achieved": N_("target achieved"),
    "on_track": N_("on track"),
    "off_track": N_("off track"),
    "insufficient_data": N_("too few years with a value to tell"),
    "no_target": N_("no target"),
}
JOB_STATUS = {
    "queued": N_("queued"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
    "retrying": N_("waiting to retry"),
    "cancelled": N_("cancelled"),
}
FIELD_LABELS = {
    "period": N_("Year"),
    "area": N_("Area"),
    "indicator": N_("Indicator"),
    "years": N_("Years"),
    "by": N_("Breakdown"),
}
#: the interval's words, translated here; a msgid holds no bare per cent sign ("95 % i"
#: reads as a format placeholder to the catalogue's checks)
LABELS = {
    "ci": N_("Confidence interval, 95 per cent"),
    "legend": N_(
        'Confidence intervals (95 per cent) are exact Poisson intervals. "<5": fewer than '
        "5 events, not shown so that no one can be recognised; the denominator is shown."
    ),
}
BY_VALUES = ("region", "district", "sex", "urban_rural", "age_group")

#: the trend chart's box (SVG units) and plot margins
W, H = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36


def _unit(ind: Indicator) -> str:
    return gettext(UNITS[ind.unit]) if ind.unit in UNITS else ind.unit


def _digits(ind: Indicator) -> int:
    return 0 if ind.method == "count" else (2 if ind.unit == "%" else 1)


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}".replace(",", "\u202f")


def _count(x: float | None) -> str:
    if x is None:
        return "—"
    return fmt(x, 0 if float(x).is_integer() else 1)


def target_words(t: Target | None, ind: Indicator) -> str:
    """The target in the reader's words: a ceiling or a reduction from a baseline."""
    if t is None:
        return gettext("no target")
    d = _digits(ind)
    if t.kind == "ceiling":
        return gettext("at most %(value)s by %(year)s") % {"value": fmt(t.value, d), "year": t.year}
    words = gettext("%(reduction)s below %(baseline)s by %(year)s") % {
        "reduction": f"{fmt(t.reduction, 1)} %",
        "baseline": t.baseline_year,
        "year": t.year,
    }
    if t.value is not None:
        words += " (" + gettext("at most %(value)s") % {"value": fmt(t.value, d)} + ")"
    return words


def status_words(trend: Trend | None) -> str:
    if trend is None:
        return ""
    if trend.status == "no_target" and trend.target is not None:
        # a reduction whose baseline year has no public value: there is a target, but
        # nothing to measure it from
        return gettext("no value in the baseline year %(year)s to measure the target from") % {
            "year": trend.target.baseline_year
        }
    words = gettext(STATUS.get(trend.status, trend.status))
    if trend.projected is not None and trend.target is not None:
        d = _digits(trend.indicator)
        words += ": " + gettext("the trend of the last years reaches %(value)s in %(year)s") % {
            "value": fmt(trend.projected, d),
            "year": trend.target.year,
        }
    return words


def _cell(v: Any, ind: Indicator) -> dict[str, Any]:
    """A masked value as the page shows it."""
    if v is None:
        return {"shown": False, "suppressed": False, "value": "—"}
    d = _digits(ind)
    return {
        "shown": v.value is not None,
        "suppressed": v.suppressed,
        "value": fmt(v.value, d),
        "ci": (f"{fmt(v.ci_low, d)}–{fmt(v.ci_high, d)}" if v.ci_low is not None else ""),
        "numerator": _count(v.numerator),
        "denominator": _count(v.denominator),
        "area": v.area,
        "area_name": v.area_name or v.area,
    }


def chart(trend: Trend) -> dict[str, Any]:
    """Everything the SVG needs: the values' segments (a year without a value breaks the
    line), the interval whiskers, the target's path to its year and the axes."""
    pts = trend.points
    first, last = pts[0].year, pts[-1].year
    t = trend.target
    end = t.year if t is not None and last < t.year <= last + 15 else last
    years = list(range(first, end + 1))
    path = [
        (y, service.target_path(t, y) if t is not None else None) for y in years
    ]  # fmt: skip
    if t is not None and t.baseline_year is not None and t.kind == "reduction":
        path = [(y, v) for y, v in path if y >= t.baseline_year]
    highs = [p.ci_high or p.value for p in pts if p.value is not None]
    highs += [v for _, v in path if v is not None]
    top = max(highs) * 1.1 if highs and max(highs) > 0 else 1.0
    span = max(end - first, 1)

    def x(year: int) -> float:
        return round(LEFT + (year - first) / span * (W - LEFT - RIGHT), 1)

    def y(v: float) -> float:
        return round(TOP + (top - v) / top * (H - TOP - BOTTOM), 1)

    segments: list[list[tuple[float, float]]] = [[]]
    for p in pts:
        if p.value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x(p.year), y(p.value)))
    d = _digits(trend.indicator)
    step = _nice_step(top)
    ticks, v = [], 0.0
    while v <= top:
        ticks.append({"y": y(v), "label": fmt(v, 0 if step >= 1 else 1)})
        v += step
    return {
        "width": W,
        "height": H,
        "left": LEFT,
        "right": W - RIGHT,
        "top": TOP,
        "bottom": H - BOTTOM,
        "segments": [" ".join(f"{a},{b}" for a, b in s) for s in segments if s],
        "points": [
            {
                "x": x(p.year),
                "y": y(p.value),
                "year": p.year,
                "value": fmt(p.value, d),
                "low": y(p.ci_low) if p.ci_low is not None else None,
                "high": y(p.ci_high) if p.ci_high is not None else None,
            }
            for p in pts
            if p.value is not None
        ],
        "gaps": [
            {"x": x(p.year), "year": p.year, "suppressed": p.suppressed}
            for p in pts
            if p.value is None
        ],
        "target": " ".join(f"{x(yr)},{y(v)}" for yr, v in path if v is not None),
        "target_end": (
            {"x": x(t.year), "y": y(t.value), "value": fmt(t.value, d)}
            if t is not None and t.value is not None and t.year <= end
            else None
        ),
        "x_ticks": [{"x": x(yr), "label": str(yr)} for yr in years if (yr - first) % 2 == 0],
        "y_ticks": ticks,
    }


def _nice_step(top: float) -> float:
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000):
        if top / s <= 8:
            return s
    return 10000


def _years(request: Request) -> tuple[int, list[FieldError]]:
    raw, errors = query_text(request, "years", 4)
    if errors or not raw:
        return 10, errors
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 50:
        return 10, [FieldError("years", N_("must be between 1 and 50"))]
    return int(raw), []


def _errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return labelled_errors(errors, FIELD_LABELS)


def _line(line: Any) -> dict[str, Any]:
    ind = line.indicator
    target = line.trend.target if line.trend else (ind.targets[0] if ind.targets else None)
    return {
        "ind": ind,
        "unit": _unit(ind),
        "cell": _cell(line.value, ind),
        "units": {v.area: _cell(v, ind) for v in line.units},
        "target": target_words(target, ind) if (target or ind.method != "linked") else "",
        "target_source": target.source if target else "",
        "target_unverified": bool(target and target.unverified),
        "status": line.trend.status if line.trend else "",
        "status_words": status_words(line.trend),
        "problem": line.problem,
        "trend": ind.method != "linked",
    }


async def _area_page(
    request: Request, session: DbSession, principal: Principal, region: str | None
) -> Response:
    period, errors = query_text(request, "period", 16)
    years, more = _years(request)
    errors += more
    ctx: dict[str, Any] = {
        "page": PAGE,
        "region": region,
        "period": period,
        "errors": [],
        "report": None,
        "computed": [],
        "jobs": [],
        "job_status": JOB_STATUS,
        "status_labels": STATUS,
        "labels": {k: gettext(v) for k, v in LABELS.items()},
    }
    status = 200
    try:
        _code, level, name = await service.statistics_area(session, region)
        if region is not None and level != "region":
            raise Invalid.fields(
                [FieldError("area", N_("no region has code %(code)s"), {"code": region})]
            )
        ctx["area_name"] = name
        ctx["jobs"] = await service.aggregate_jobs(session)
        if errors:
            raise Invalid.fields(errors)
        chosen = period or await service.last_computed_year(session)
        ctx["period"] = chosen or ""
        ctx["computed"] = [
            p for p in await service.computed_periods(session) if len(p) == 4
        ]  # fmt: skip
        if chosen:
            report = await service.area_page(session, principal, chosen, area=region, years=years)
            ctx["report"] = report
            ctx["lines"] = [_line(x) for x in report.lines]
            ctx["units"] = sorted(
                {v.area: v.area_name or v.area for x in report.lines for v in x.units}.items(),
                key=lambda kv: kv[1],
            )
    except SalomatError as e:
        ctx["errors"] = _errors(e.errors or [FieldError("", e.detail)])
        status = e.status
    return render(request, "statistics/dashboard.html", ctx, status=status)


@web.get(PAGE, response_class=HTMLResponse)
async def dashboard(request: Request, session: DbSession, principal: Reader) -> Response:
    """Every indicator nationally for a closed year, and by region."""
    with speaking(request):
        return await _area_page(request, session, principal, None)


@web.get(PAGE + "/region/{region}", response_class=HTMLResponse)
async def region_page(
    request: Request, session: DbSession, principal: Reader, region: str
) -> Response:
    """Every indicator of a region for a closed year, and by district."""
    with speaking(request):
        return await _area_page(request, session, principal, region[:32])


@web.post(PAGE + "/compute", response_class=HTMLResponse)
async def compute(request: Request, session: DbSession, principal: Computer) -> Response:
    """Queue the aggregate job for a closed year (the job page shows its progress)."""
    form = await request.form()
    period = str(form.get("period") or "").strip()[:16]
    try:
        job_id = await service.request_aggregate(session, [period], requested_by=principal.username)
    except SalomatError as e:
        ctx = {
            "page": PAGE, "region": None, "period": period, "report": None, "computed": [],
            "jobs": await service.aggregate_jobs(session), "job_status": JOB_STATUS,
            "status_labels": STATUS, "labels": {k: gettext(v) for k, v in LABELS.items()},
            "errors": _errors(e.errors or [FieldError("", e.detail)]),
        }  # fmt: skip
        return render(request, "statistics/dashboard.html", ctx, status=e.status)
    return redirect(f"{PAGE}?queued={job_id}")


@web.get(PAGE + "/trend/{indicator}", response_class=HTMLResponse)
async def trend_page(
    request: Request, session: DbSession, principal: Reader, indicator: str
) -> Response:
    """The indicator's yearly values against the target's line, nationally and for each
    region, each chart with its table."""
    with speaking(request):
        return await _trend_page(request, session, principal, indicator)


async def _trend_page(
    request: Request, session: DbSession, principal: Principal, indicator: str
) -> Response:
    years, errors = _years(request)
    ctx: dict[str, Any] = {
        "page": PAGE, "errors": [], "trends": [], "indicator": None,
        "labels": {k: gettext(v) for k, v in LABELS.items()},
    }  # fmt: skip
    status = 200
    try:
        if errors:
            raise Invalid.fields(errors)
        trends = await service.area_trends(session, principal, indicator[:64], years=years)
        areas = await service.area_names(session)
        ind = trends[0].indicator
        ctx["indicator"] = ind
        ctx["unit"] = _unit(ind)
        ctx["trends"] = [
            {
                "t": t,
                "name": areas.get(t.area),
                "chart": chart(t),
                "target": target_words(t.target, ind),
                "target_source": t.target.source if t.target else "",
                "status_words": status_words(t),
                "national_target": bool(
                    t.target and t.target.area is None and t.area != trends[0].area
                ),
                "rows": [
                    {
                        "year": p.year,
                        "value": fmt(p.value, _digits(ind)),
                        "ci": (
                            f"{fmt(p.ci_low, _digits(ind))}–{fmt(p.ci_high, _digits(ind))}"
                            if p.ci_low is not None
                            else ""
                        ),
                        "suppressed": p.suppressed,
                        "shown": p.value is not None,
                        "target": fmt(p.target_path, _digits(ind))
                        if p.target_path is not None
                        else "",
                    }
                    for p in t.points
                ],
            }
            for t in trends
        ]
    except SalomatError as e:
        ctx["errors"] = _errors(e.errors or [FieldError("", e.detail)])
        status = e.status
    return render(request, "statistics/trend.html", ctx, status=status)


@web.get(PAGE + "/csv/{indicator}")
async def values_csv(
    request: Request, session: DbSession, principal: Reader, indicator: str
) -> Response:
    """The service's masked CSV (headers in the reader's language): ``period`` (default:
    the last computed year, else the last closed one), ``area``, ``by``."""
    with speaking(request):
        period, errors = query_text(request, "period", 16)
        area, more = query_text(request, "area", 32)
        by, most = query_text(request, "by", 16)
        errors += more + most
        if by and by not in BY_VALUES:
            errors.append(FieldError("by", N_("is not one of the breakdowns")))
        if errors:
            raise Invalid.fields(errors)
        if not period:
            period = await service.default_year(session)
        vs = await service.indicator_values(
            session, principal, indicator[:64], period, area=area or None, by=by or None
        )
        return csv_download(service.values_csv(vs))
