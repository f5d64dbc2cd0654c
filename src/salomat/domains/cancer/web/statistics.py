"""The cancer registry's statistics page: incidence rates per site and sex with their 95 %
intervals, a bar chart of the age-standardised rates, the quality indicators and the CSV
of the table (aggregates only).

What ``service.incidence_table`` and ``service.quality_indicators`` answer is shown as
is: a small count arrives as "<5" or "x", never as a number, so neither the page nor its
CSV can show it. Labels, sexes and headers are in the reader's language; the site groups'
names are the pack's in that language.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.pagination import PageParams
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service
from salomat.domains.cancer.service import rates
from salomat.domains.cancer.web.common import page_language
from salomat.domains.registry import service as registry
from salomat.ui.templating import NavItem, register_nav, render

pages = router(include_in_schema=False)

Analyst = Annotated[Principal, Depends(Require("cancer:statistics"))]
PAGE = "/cancer/statistics"

register_nav(NavItem(N_("Cancer statistics"), PAGE, "cancer:statistics", order=22))

#: the page's words for the quality table's columns
QUALITY_LABELS = {
    "cases": N_("Cases"),
    "mv": N_("Microscopically verified (%)"),
    "dco": N_("Death certificate only (%)"),
    "mi": N_("Mortality:incidence ratio"),
    "unknown": N_("Primary site unknown (%)"),
    "deaths": N_("Deaths"),
}
#: a form field -> its label, for the messages beside the filters
FIELD_LABELS = {
    "year": N_("Year"),
    "region": N_("Region"),
    "standard": N_("Standard population"),
    "sex": N_("Sex"),
}


def _translated(labels: dict[str, str]) -> dict[str, str]:
    return {k: i18n.gettext(v) for k, v in labels.items()}


def _query(request: Request) -> tuple[dict[str, str], list[FieldError]]:
    """The filters as typed ('' when absent) and what is wrong with them."""
    q = request.query_params
    typed = {k: (q.get(k) or "").strip() for k in ("year", "region", "standard", "sex")}
    typed["standard"] = typed["standard"] or "segi"
    typed["year"] = typed["year"] or str(date.today().year - 1)
    errors = []
    if (
        not (typed["year"].isascii() and typed["year"].isdigit())
        or not 1900 <= int(typed["year"]) <= 2100
    ):
        errors.append(
            FieldError("year", N_("must be from %(low)s to %(high)s"), {"low": 1900, "high": 2100})
        )
    for key, most in (("region", 32), ("standard", 16), ("sex", 8)):
        if len(typed[key]) > most:
            errors.append(FieldError(key, N_("is longer than %(n)s characters"), {"n": most}))
    return typed, errors


async def _regions(session: DbSession, lang: str) -> list[tuple[str, str]]:
    page = await registry.list_territory(session, PageParams(500, 0), level="region")
    return [(r.code, r.names.get(lang) or r.name) for r in page.items]


def _chart(table: Any) -> list[tuple[str, str, float]]:
    """(site, sex, ASR) of the bars: every site but the all-sites groups, the sexes asked
    for (men and women when all three are), highest first."""
    sexes = {line.sex for line in table.lines}
    shown = ("male", "female") if len(sexes) == 3 else tuple(sexes)
    bars = [
        (line.site_name, line.sex, line.asr.value)
        for line in table.lines
        if line.sex in shown
        and line.asr is not None
        and line.asr.value > 0
        and not line.site.startswith("all")
    ]
    return sorted(bars, key=lambda b: -b[2])[:20]


async def _answer(session: DbSession, principal: Principal, typed: dict[str, str]) -> Any:
    return await service.incidence_table(
        session,
        principal,
        year=int(typed["year"]),
        region_code=typed["region"] or None,
        standard=typed["standard"],
        sex=typed["sex"] or None,
    )


@pages.get(PAGE, response_class=HTMLResponse)
async def statistics_page(request: Request, session: DbSession, principal: Analyst) -> Response:
    """Incidence per site and sex, its chart and the quality indicators of a year and the
    country or a region; every wrong filter named beside it."""
    with page_language(request) as lang:
        typed, errors = _query(request)
        ctx: dict[str, Any] = {
            "f": typed,
            "regions": await _regions(session, lang),
            "standards": {code: s.name for code, s in rates.STANDARDS.items()},
            "sex_labels": service.SEX_LABELS,
            # translated here: msgids holding "%" are not format strings in a template
            "labels": _translated(service.INCIDENCE_LABELS),
            "quality_labels": _translated(QUALITY_LABELS),
            "field_labels": _translated(FIELD_LABELS),
            "errors": errors,
            "t": None,
            "q": None,
            "bars": [],
            "query": request.url.query,
            "page": PAGE,
        }
        status = 200
        if not errors:
            try:
                t = await _answer(session, principal, typed)
                q = await service.quality_indicators(
                    session, principal, year=int(typed["year"]), region_code=typed["region"] or None
                )
                ctx.update(t=t, q=q, bars=_chart(t))
            except SalomatError as e:
                ctx["errors"], status = e.errors or [FieldError("", e.detail)], e.status
        else:
            status = 422
        return render(request, "cancer/statistics.html", ctx, status=status)


@pages.get(PAGE + ".csv")
async def statistics_csv(request: Request, session: DbSession, principal: Analyst) -> Response:
    """The incidence table of the page as CSV, headers and words in the reader's language."""
    with page_language(request):
        typed, errors = _query(request)
        if errors:
            raise Invalid.fields(errors)
        t = await _answer(session, principal, typed)
        _ = i18n.gettext
        return csv_download(
            service.incidence_csv(
                t,
                labels={k: _(v) for k, v in service.INCIDENCE_LABELS.items()},
                names={k: _(v) for k, v in service.SEX_LABELS.items()},
                area=t.region_name or _("whole country"),
            )
        )
