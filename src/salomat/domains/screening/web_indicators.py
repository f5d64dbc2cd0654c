"""The programme indicator page (/screening/indicators): the HEARTS / Simple control
figures of a closed month or quarter for the country, a region or a district, by region,
district or facility, with a bar chart of the controlled share under both denominators
(inline SVG, no script), each definition's denominator stated, and the CSV download in
the reader's language. Everything arrives masked from the service (counts below five
withheld)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.i18n import gettext
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.screening.service import indicators
from salomat.domains.screening.service.common import today as _today
from salomat.ui.forms import labelled_errors, query_text
from salomat.ui.templating import render, speaking

web = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("screening:coverage"))]
PAGE = "/screening/indicators"

FIELD_LABELS = {
    "period": N_("Period"),
    "area": N_("Area"),
    "by": N_("Breakdown"),
    "programme": N_("Programme"),
}
LEVELS = {
    "country": N_("whole country"),
    "region": N_("Region"),
    "district": N_("District"),
    "facility": N_("Facility"),
}
#: the two bars of each unit: Simple's denominator since 2021, and with LTFU kept
VARIANTS = (
    ("controlled_pct", N_("BP controlled, lost to follow-up excluded (Simple since 2021)")),
    ("controlled_pct_with_ltfu", N_("BP controlled, lost to follow-up kept in the denominator")),
)
COLOURS = {"controlled_pct": "#0b57d0", "controlled_pct_with_ltfu": "#7a9cc6"}


def last_closed_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return labelled_errors(errors, FIELD_LABELS)


def chart(result: indicators.AreaIndicators) -> dict[str, Any]:
    """Horizontal bars, 0-100 per cent: two per unit (one per denominator); a withheld
    share draws no bar and says "<5" (a small count) or "x" (withheld so that a small
    count cannot be worked out from the total)."""
    rows = [*result.rows, result.total]
    left, right, top, bar, gap = 220, 700, 30, 12, 14
    height = top + len(rows) * (2 * bar + gap) + 30
    scale = (right - left) / 100

    out_rows = []
    for i, r in enumerate(rows):
        y0 = top + i * (2 * bar + gap)
        bars = []
        for j, (key, label) in enumerate(VARIANTS):
            value = getattr(r, key)
            bars.append(
                {
                    "key": key,
                    "label": gettext(label),
                    "value": value,
                    # a withheld share: "<5" when a count of it is small, else "x"
                    "sign": "<5" if key in r.small else "x",
                    "y": y0 + j * bar,
                    "width": round((value or 0) * scale, 1),
                    "colour": COLOURS[key],
                    "end": round(left + (value or 0) * scale + 4, 1),
                }
            )
        out_rows.append({"name": r.name, "code": r.code, "y": y0 + bar + 4, "bars": bars,
                         "total": r is result.total})  # fmt: skip
    ticks = [{"x": round(left + p * scale, 1), "label": str(p)} for p in range(0, 101, 20)]
    return {
        "width": right + 60, "height": height, "left": left, "right": right, "top": top,
        "bottom": height - 24, "bar": bar, "rows": out_rows, "ticks": ticks,
        "legend": [{"label": gettext(label), "colour": COLOURS[k]} for k, label in VARIANTS],
    }  # fmt: skip


@web.get(PAGE, response_class=HTMLResponse)
async def indicators_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """The control indicators of an area for a closed month or quarter, by unit."""
    with speaking(request):
        period, errors = query_text(request, "period", 16)
        area, more = query_text(request, "area", 32)
        by, most = query_text(request, "by", 16)
        programme, rest = query_text(request, "programme", 32)
        errors += more + most + rest
        today = _today()
        ctx: dict[str, Any] = {
            "page": PAGE,
            "period": period or last_closed_month(today),
            "area": area,
            "by": by,
            "programme": programme or "hypertension",
            "errors": [],
            "result": None,
            "coverage": None,
            "levels": {k: gettext(v) for k, v in LEVELS.items()},
        }
        status = 200
        try:
            if errors:
                raise Invalid.fields(errors)
            result = await indicators.programme_indicators(
                session,
                principal,
                period=ctx["period"],
                area=area or None,
                by=by or None,
                programme=ctx["programme"],
                today=today,
            )
            ctx["result"] = result
            ctx["chart"] = chart(result)
            ctx["by"] = result.by
            ctx["coverage"] = await indicators.screening_coverage(
                session, principal, period=ctx["period"], area=area or None, today=today
            )
        except SalomatError as e:
            ctx["errors"] = _errors(e.errors or [FieldError("", e.detail)])
            status = e.status
        return render(request, "screening/indicators.html", ctx, status=status)


@web.get(PAGE + ".csv")
async def indicators_csv(request: Request, session: DbSession, principal: Reader) -> Response:
    """The page's figures as CSV, headers in the reader's language."""
    with speaking(request):
        period, errors = query_text(request, "period", 16)
        area, more = query_text(request, "area", 32)
        by, most = query_text(request, "by", 16)
        programme, rest = query_text(request, "programme", 32)
        errors += more + most + rest
        if errors:
            raise Invalid.fields(errors)
        result = await indicators.programme_indicators(
            session,
            principal,
            period=period or last_closed_month(_today()),
            area=area or None,
            by=by or None,
            programme=programme or "hypertension",
        )
        return csv_download(indicators.indicators_csv(result, localized=True))
