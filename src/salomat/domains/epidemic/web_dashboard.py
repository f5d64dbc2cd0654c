"""The epidemiologists' dashboard (issue 23, items 7 and 8; docs/epidemic.md "Dashboard"):
every region's zone on a map and in a table on a day, and one region's epidemic curve, Rt
with its interval, forecast fans against its beds, zone history and alerts.

Everything shown comes from ``service.situation_view``, the same shaping the REST routes
answer (what a reader without ``epidemic:cases`` may not see is withheld there, once).
Charts are inline SVG drawn from the numbers here (no script), each with a table of its
numbers; colour is never the only signal (zones carry their number and name in text).
Aggregates only (``epidemic:read``): no person's data, so the reads are not audited.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_, gettext
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.api_params import check_days
from salomat.domains.epidemic.schemas_situation import (
    AlertOut,
    Band,
    RegionSituation,
    RtOut,
    SituationOut,
    ZoneOut,
)
from salomat.domains.epidemic.service import notifications, rules, situation_view
from salomat.domains.epidemic.service.matrix import METRIC_LABELS
from salomat.ui.templating import NavItem, language_of, register_nav, render, speaking

web = router(include_in_schema=False)

register_nav(NavItem(N_("Epidemic situation"), "/epidemic", "epidemic:read", 42))

Reader = Annotated[Principal, Depends(Require("epidemic:read"))]

#: the query fields of these pages, named where an error lists them
QUERY_FIELDS = (N_("on"), N_("area"), N_("edition"), N_("by"), N_("horizon"))
#: the alerts shown beside a region: of the last 28 days up to the day
ALERT_DAYS = 28
_EDITION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# ---- the query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    on: date | None
    edition: str | None
    by: str
    horizon: int | None
    #: what was typed, to show it again in the form
    raw: dict[str, str]


def _q(request: Request, name: str) -> str | None:
    return (request.query_params.get(name) or "").strip() or None


def _query(request: Request) -> tuple[Query, list[FieldError]]:
    """The form's day, edition, counting date and horizon; each wrong one named."""
    errors: list[FieldError] = []
    raw = {k: _q(request, k) or "" for k in ("on", "edition", "by", "horizon")}
    on = None
    if raw["on"]:
        try:
            on = date.fromisoformat(raw["on"])
        except ValueError:
            errors.append(FieldError("on", N_("Enter a valid date (YYYY-MM-DD).")))
        else:
            try:
                check_days(on=on)
            except Invalid as e:
                errors.extend(e.errors)
    edition = raw["edition"] or None
    if edition is not None and not _EDITION.match(edition):
        errors.append(FieldError("edition", N_("Choose an edition from the list.")))
        edition = None
    by = raw["by"] or "onset"
    if by not in ("onset", "report"):
        errors.append(FieldError("by", N_("Choose the onset or the report date.")))
        by = "onset"
    horizon = None
    if raw["horizon"]:
        if re.fullmatch(r"[+-]?\d{1,6}", raw["horizon"]):
            horizon = int(raw["horizon"])
        else:
            errors.append(FieldError("horizon", N_("Enter a whole number.")))
    return Query(on, edition, by, horizon, raw), errors


def _link(q: Query, on: date) -> str:
    """The query string keeping the form's choices, on the day shown."""
    parts = [f"on={on.isoformat()}", f"by={q.by}"]
    if q.edition:
        parts.append(f"edition={q.edition}")
    if q.horizon is not None:
        parts.append(f"horizon={q.horizon}")
    return "&".join(parts)


# ---- numbers -----------------------------------------------------------------------------


def fmt(x: float | None, digits: int = 1) -> str:
    """A number as the other pages write it (thin space between thousands), "—" for none."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—"
    return f"{x:,.{digits}f}".replace(",", "\u202f")


def _day(d: date) -> str:
    return d.strftime("%d.%m.%Y")


# ---- charts (inline SVG) -----------------------------------------------------------------

W, H = 640, 240
#: the highest Rt the chart's axis shows
RT_TOP = 4.0
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 14, 34


def _nice(top: float) -> tuple[float, float]:
    """A round top of the y axis at or above ``top`` and its tick step."""
    top = max(top, 1e-9)
    for s in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500):
        if top / s <= 6:
            return math.ceil(top / s) * s, s
    p = 10 ** math.floor(math.log10(top / 6))
    for m in (1, 2, 5, 10):
        if top / (m * p) <= 6:
            return math.ceil(top / (m * p)) * m * p, m * p
    return top, top  # pragma: no cover - one of the steps above fits


class Frame:
    """The plot box of ``n`` days (one band of width ``step`` each) and a y axis 0..top."""

    def __init__(self, n: int, top: float, *, bars: bool) -> None:
        self.n = max(n, 1)
        self.top, self.step_y = _nice(top)
        self.bars = bars
        self.plot_w = W - LEFT - RIGHT
        self.step = self.plot_w / self.n if bars else self.plot_w / max(self.n - 1, 1)

    def x(self, i: float) -> float:
        """The day ``i``'s x: its band's left edge (bars) or its point (lines)."""
        return round(LEFT + i * self.step, 2)

    def xc(self, i: float) -> float:
        return round(self.x(i) + (self.step / 2 if self.bars else 0), 2)

    def y(self, v: float) -> float:
        v = min(max(v, 0.0), self.top)
        return round(TOP + (self.top - v) / self.top * (H - TOP - BOTTOM), 2)

    def box(self, days: list[date]) -> dict[str, Any]:
        ticks, v = [], 0.0
        digits = 0 if self.step_y >= 1 else 2
        while v <= self.top + 1e-9:
            ticks.append({"y": self.y(v), "label": fmt(v, digits)})
            v += self.step_y
        every = 7 if len(days) > 21 else (2 if len(days) > 10 else 1)
        last = len(days) - 1
        return {
            "width": W,
            "height": H,
            "left": LEFT,
            "right": W - RIGHT,
            "top": TOP,
            "bottom": H - BOTTOM,
            "vtop": self.top,
            "y_ticks": ticks,
            "x_ticks": [
                {"x": self.xc(i), "label": d.strftime("%d.%m")}
                for i, d in enumerate(days)
                if (last - i) % every == 0
            ],
        }


def _points(pts: list[tuple[float, float]]) -> str:
    return " ".join(f"{a},{b}" for a, b in pts)


def curve_chart(days: list[date], counts: list[int | str], truncated: int) -> dict[str, Any]:
    """Daily cases as bars; a day shown as a sign ("<5", "x") a hatched gap with no
    height; the last ``truncated`` days (incomplete reports) shaded."""
    numbers = [c for c in counts if isinstance(c, int)]
    f = Frame(len(days), max([*numbers, 1]) * 1.05, bars=True)
    bars, gaps = [], []
    for i, (d, c) in enumerate(zip(days, counts, strict=True)):
        if isinstance(c, int):
            bars.append({"x": f.x(i) + f.step * 0.1, "w": round(f.step * 0.8, 2),
                         "y": f.y(c), "h": round(f.y(0) - f.y(c), 2), "day": d.isoformat(),
                         "count": c, "label": _day(d)})  # fmt: skip
        else:
            gaps.append({"x": f.x(i) + f.step * 0.1, "w": round(f.step * 0.8, 2),
                         "day": d.isoformat(), "mark": c, "label": _day(d)})  # fmt: skip
    shade = None
    if truncated > 0:
        start = max(len(days) - truncated, 0)
        shade = {"x": f.x(start), "w": round(f.x(len(days)) - f.x(start), 2)}
    return {**f.box(days), "bars": bars, "gaps": gaps, "shade": shade}


def rt_chart(rt_days: list[RtOut]) -> dict[str, Any]:
    """Rt's mean as a line and its credible interval as a band where reported (a day
    without Rt breaks both), and the line Rt = 1."""
    reported = [r for r in rt_days if r.mean is not None]
    # the first windows' Rt can be far above the rest (few cases, a wide interval): the
    # axis stops at RT_TOP, a value above it drawn at the top (the table gives it)
    top = min(max([*(r.upper or r.mean or 0 for r in reported), 1.5]) * 1.05, RT_TOP)
    f = Frame(len(rt_days), top, bars=False)
    runs: list[list[tuple[int, RtOut]]] = [[]]
    for i, r in enumerate(rt_days):
        if r.mean is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((i, r))
    bands, lines = [], []
    for run in (r for r in runs if r):
        upper = [(f.xc(i), f.y(r.upper if r.upper is not None else r.mean)) for i, r in run]  # type: ignore[arg-type]
        lower = [(f.xc(i), f.y(r.lower if r.lower is not None else r.mean)) for i, r in run]  # type: ignore[arg-type]
        bands.append(_points(upper + lower[::-1]))
        lines.append(_points([(f.xc(i), f.y(r.mean)) for i, r in run]))  # type: ignore[arg-type]
    points = [
        {"x": f.xc(i), "y": f.y(r.mean), "day": r.day.isoformat(), "value": fmt(r.mean, 2)}  # type: ignore[arg-type]
        for i, r in enumerate(rt_days)
        if r.mean is not None
    ]
    return {**f.box([r.day for r in rt_days]), "bands": bands, "lines": lines,
            "points": points, "one": f.y(1.0)}  # fmt: skip


def fan_chart(
    days: list[date], band: Band, capacity: int | None = None, passed: date | None = None
) -> dict[str, Any]:
    """A projection's low–high band and median over the forecast's days, with the beds
    registered as a line and the first day the median passes them marked."""
    highs = [v for v in band.high if v is not None] + [v for v in band.median if v is not None]
    top = max([*highs, capacity or 0, 1]) * 1.05
    f = Frame(len(days), top, bars=False)
    idx = [i for i in range(len(days)) if band.low[i] is not None and band.high[i] is not None]
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    bands = [
        _points([(f.xc(i), f.y(band.high[i])) for i in run]  # type: ignore[arg-type]
                + [(f.xc(i), f.y(band.low[i])) for i in reversed(run)])  # type: ignore[arg-type]
        for run in runs
    ]  # fmt: skip
    med = [(f.xc(i), f.y(v)) for i, v in enumerate(band.median) if v is not None]
    mark = None
    if passed is not None and passed in days:
        i = days.index(passed)
        mark = {"x": f.xc(i), "day": passed.isoformat(), "label": _day(passed)}
    return {
        **f.box(days),
        "bands": bands,
        "median": _points(med),
        "capacity": None if capacity is None else {"y": f.y(capacity), "beds": capacity},
        "passed": mark,
        "empty": not med,
    }


# ---- the map -----------------------------------------------------------------------------

MAP_W, MAP_H, MAP_PAD, R = 640, 380, 34, 15


def _apart(xy: list[list[float]], rounds: int = 60) -> None:
    """Push shapes that overlap (regions whose coordinates lie closer than a shape)
    apart, in place, keeping them inside the map; a few hundred regions at most."""
    if len(xy) > 300:
        return
    gap = 2 * R + 2
    for _ in range(rounds):
        moved = False
        for i in range(len(xy)):
            for j in range(i + 1, len(xy)):
                dx, dy = xy[j][0] - xy[i][0], xy[j][1] - xy[i][1]
                dist = math.hypot(dx, dy)
                if dist >= gap:
                    continue
                if dist < 1e-6:  # the same point: apart along a fixed turn per pair
                    angle = (i * 7 + j * 13) % 360
                    dx, dy, dist = math.cos(math.radians(angle)), math.sin(math.radians(angle)), 1.0
                push = (gap - dist) / 2
                ux, uy = dx / dist * push, dy / dist * push
                xy[i][0] -= ux
                xy[i][1] -= uy
                xy[j][0] += ux
                xy[j][1] += uy
                moved = True
        for p in xy:
            p[0] = min(max(p[0], R + 2), MAP_W - R - 2)
            p[1] = min(max(p[1], R + 2), MAP_H - R - 14)
        if not moved:
            return


def matrix_map(
    regions: list[RegionSituation],
    places: dict[str, tuple[float, float]],
    zone_number: dict[str, int],
) -> dict[str, Any]:
    """One shape per region: a circle at its coordinates (longitude east, latitude north,
    the x scale shrunk by the cosine of the mean latitude), or a tile in a grid for the
    regions with no coordinates (all of them when none has any)."""
    placed = [r for r in regions if r.code in places]
    rest = [r for r in regions if r.code not in places]
    shapes = []

    def shape(r: RegionSituation, x: float, y: float, kind: str) -> dict[str, Any]:
        n = zone_number.get(r.zone.code or "")
        return {"code": r.code, "name": r.name, "x": round(x, 1), "y": round(y, 1),
                "kind": kind, "colour": r.zone.colour, "zone": r.zone.code or "",
                "zone_name": r.zone.name, "mark": str(n) if n else "?"}  # fmt: skip

    grid_rows = math.ceil(len(rest) / 8) if rest else 0
    tile = 2 * R + 10
    map_h = MAP_H if placed else 0
    if placed:
        lats = [places[r.code][0] for r in placed]
        lons = [places[r.code][1] for r in placed]
        k = math.cos(math.radians(sum(lats) / len(lats)))
        span_x = max((max(lons) - min(lons)) * k, 1e-6)
        span_y = max(max(lats) - min(lats), 1e-6)
        scale = min((MAP_W - 2 * MAP_PAD) / span_x, (MAP_H - 2 * MAP_PAD) / span_y)
        if len(placed) == 1:
            scale = 0.0
        cx = (MAP_W - span_x * scale) / 2 if len(placed) > 1 else MAP_W / 2
        cy = (MAP_H - span_y * scale) / 2 if len(placed) > 1 else MAP_H / 2
        xy = [
            [cx + (places[r.code][1] - min(lons)) * k * scale,
             cy + (max(lats) - places[r.code][0]) * scale]
            for r in placed
        ]  # fmt: skip
        _apart(xy)
        for r, (x, y) in zip(placed, xy, strict=True):
            shapes.append(shape(r, x, y, "place"))
    for j, r in enumerate(rest):
        col, row = j % 8, j // 8
        x = MAP_PAD + col * (MAP_W - 2 * MAP_PAD) / 8 + tile / 2
        y = map_h + MAP_PAD / 2 + row * tile + tile / 2
        shapes.append(shape(r, x, y, "tile"))
    height = map_h + (grid_rows * tile + MAP_PAD if rest else 0)
    return {"width": MAP_W, "height": max(height, 2 * MAP_PAD), "r": R, "shapes": shapes,
            "tiles_only": not placed, "some_tiles": bool(rest and placed)}  # fmt: skip


# ---- shaping for the pages ---------------------------------------------------------------


def _beds_words(r: RegionSituation, profile: str) -> str:
    beds = r.beds.get(profile)
    occ = r.occupied.get(profile, 0)
    if beds is None:
        return gettext("%(occupied)s occupied, no beds registered") % {"occupied": fmt(occ, 0)}
    return gettext("%(occupied)s of %(beds)s") % {"occupied": fmt(occ, 0), "beds": fmt(beds, 0)}


def _rt_words(rt: RtOut) -> str:
    if rt.mean is None:
        return rt.reason or "—"
    if rt.lower is not None and rt.upper is not None:
        return f"{fmt(rt.mean, 2)} ({fmt(rt.lower, 2)}–{fmt(rt.upper, 2)})"
    return fmt(rt.mean, 2)


def _passed_words(r: RegionSituation, scenario: str | None, profile: str, horizon: int) -> str:
    if not r.forecast:
        # no projection at all: withheld for this reader (see situation_view)
        return gettext("withheld")
    fc = next((p for p in r.forecast if p.scenario == scenario), r.forecast[0])
    first = fc.infectious_exceeded_on if profile == "infectious" else fc.icu_exceeded_on
    if r.beds.get(profile) is None:
        return gettext("no beds registered")
    if fc.rt_day is None:
        return gettext("no projection: no Rt to project from")
    if first is None:
        return gettext("not within %(days)s days") % {"days": horizon}
    return _day(first)


def _incidence_words(r: RegionSituation, suppressed: bool) -> str:
    if r.incidence_per_100k is not None:
        return fmt(r.incidence_per_100k, 1)
    if r.population is None:
        return gettext("no population registered")
    return gettext("withheld") if suppressed else "—"


def _alerts_by_region(rows: list[AlertOut]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in rows:
        words = a.message
        if a.kind == "zone_change" and a.zone_from_name and a.zone_to_name:
            words += " " + gettext("From %(from)s to %(to)s.") % {
                "from": a.zone_from_name,
                "to": a.zone_to_name,
            }
        elif a.exceeds_on is not None:
            words += " " + gettext("First day passed: %(day)s (%(beds)s beds).") % {
                "day": _day(a.exceeds_on),
                "beds": fmt(a.beds, 0) if a.beds is not None else "—",
            }
        out.setdefault(a.region, []).append({"day": a.day, "kind": a.kind, "words": words})
    return out


def _zones_legend(edition: str, lang: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    try:
        ed = rules.current().edition(edition)
    except Invalid:
        return [], {}
    legend = [
        {"number": n, "code": z.code, "name": z.name(lang), "colour": z.colour}
        for n, z in enumerate(ed.zones, start=1)
    ]
    return legend, {z["code"]: z["number"] for z in legend}


def _form(lang: str, q: Query) -> dict[str, Any]:
    c = situation_view.choices(lang)
    return {"choices": c, "q": q, "today": notifications.today()}


def _region_rows(
    s: SituationOut,
    lang: str,
    alerts_of: dict[str, list[dict[str, Any]]],
    horizon: int,
    numbers: dict[str, int],
) -> list[dict[str, Any]]:
    scenario = situation_view.central()
    return [
        {
            "r": r,
            "zone_words": situation_view.zone_words(r.zone, s.edition, lang),
            "zone_number": numbers.get(r.zone.code or ""),
            "rt": _rt_words(r.rt),
            "incidence": _incidence_words(r, s.suppressed),
            "hospitalised": fmt(r.hospitalised_per_100k, 1),
            "infectious": _beds_words(r, "infectious"),
            "icu": _beds_words(r, "icu"),
            "passed_infectious": _passed_words(r, scenario, "infectious", horizon),
            "passed_icu": _passed_words(r, scenario, "icu", horizon),
            "alerts": alerts_of.get(r.code, []),
        }
        for r in s.regions
    ]


# ---- routes ------------------------------------------------------------------------------


@web.get("/epidemic", response_class=HTMLResponse)
async def dashboard_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """Every region on a day: the matrix map, the table, the CSV and the alerts."""
    lang = language_of(request)
    q, errors = _query(request)
    ctx: dict[str, Any] = {"s": None, "errors": errors, **_form(lang, q)}
    if errors:
        return render(request, "epidemic/dashboard.html", ctx, status=422)
    try:
        s = await situation_view.situation_for(
            session, principal, language=lang, on=q.on, edition=q.edition, by=q.by,
            horizon=q.horizon,
        )  # fmt: skip
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "epidemic/dashboard.html", ctx, status=e.status)
    alerts = await situation_view.alerts_for(
        session, principal, language=lang, start=s.on - timedelta(days=ALERT_DAYS - 1), end=s.on
    )
    with speaking(request):
        legend, numbers = _zones_legend(s.edition, lang)
        rows = _region_rows(s, lang, _alerts_by_region(alerts), len(s.forecast_days), numbers)
    places = await situation_view.region_places(session)
    ctx.update(
        s=s,
        rows=rows,
        legend=legend,
        map=matrix_map(s.regions, places, numbers),
        link=_link(q, s.on),
        central=ctx["choices"].scenarios.get(situation_view.central() or "", ""),
        alert_days=ALERT_DAYS,
    )
    return render(request, "epidemic/dashboard.html", ctx)


@web.get("/epidemic/situation.csv")
async def dashboard_download(request: Request, session: DbSession, principal: Reader) -> Response:
    """The overview's table as CSV, header in the page's language, cells neutralised."""
    lang = language_of(request)
    q, errors = _query(request)
    if errors:
        raise Invalid.fields(errors)
    s = await situation_view.situation_for(
        session, principal, language=lang, on=q.on, edition=q.edition, by=q.by, horizon=q.horizon
    )
    return csv_download(situation_view.situation_csv(s, lang))


@web.get("/epidemic/region/{region}", response_class=HTMLResponse)
async def dashboard_region_page(
    request: Request, session: DbSession, principal: Reader, region: str
) -> Response:
    """One region: its curve, Rt, the forecast fans against its beds, zones and alerts."""
    code = region
    lang = language_of(request)
    q, errors = _query(request)
    ctx: dict[str, Any] = {"d": None, "code": code, "errors": errors, **_form(lang, q)}
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", code):
        errors.append(FieldError("area", N_("Unknown region: %(code)s"), {"code": code[:32]}))
    if errors:
        return render(request, "epidemic/dashboard_region.html", ctx, status=422)
    try:
        d = await situation_view.region_detail(
            session, principal, language=lang, region=code, on=q.on, edition=q.edition, by=q.by,
            horizon=q.horizon,
        )  # fmt: skip
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "epidemic/dashboard_region.html", ctx, status=e.status)
    s = d.situation
    [r] = s.regions
    start = s.on - timedelta(days=ALERT_DAYS - 1)
    zones = await situation_view.zones_for(
        session, principal, language=lang, area=code, start=start, end=s.on
    )
    alerts = await situation_view.alerts_for(
        session, principal, language=lang, start=start, end=s.on
    )
    with speaking(request):
        legend, numbers = _zones_legend(s.edition, lang)
        [row] = _region_rows(s, lang, _alerts_by_region(alerts), len(s.forecast_days), numbers)
        zone_rows = [
            {
                "day": z.day,
                "zone": z.zone,
                "name": z.zone_name,
                "colour": next((g["colour"] for g in legend if g["code"] == z.zone), None),
                "words": situation_view.zone_words(
                    ZoneOut(
                        code=z.zone,
                        name=z.zone_name,
                        colour=None,
                        rule=z.rule,
                        # the recorded codes, named in the page's language
                        missing=[gettext(METRIC_LABELS.get(m, m)) for m in z.missing],
                    ),
                    z.edition,
                    lang,
                ),
            }
            for z in zones
        ]
    choices = ctx["choices"]
    fans = [
        {
            "code": p.scenario,
            "name": choices.scenarios.get(p.scenario, p.scenario),
            "rt_day": p.rt_day,
            "cases": fan_chart(s.forecast_days, p.cases),
            "infectious": fan_chart(
                s.forecast_days,
                p.infectious_beds,
                r.beds.get("infectious"),
                p.infectious_exceeded_on,
            ),
            "icu": fan_chart(s.forecast_days, p.icu_beds, r.beds.get("icu"), p.icu_exceeded_on),
            "p": p,
        }
        for p in r.forecast
    ]
    ctx.update(
        d=d,
        s=s,
        r=r,
        row=row,
        legend=legend,
        zone_number=numbers.get(r.zone.code or ""),
        curve=curve_chart(s.days, r.counts, d.truncate_days),
        rt=rt_chart(d.rt_days),
        rt_rows=list(zip(d.rt_days, r.counts, strict=True)),
        fans=fans,
        zone_rows=zone_rows,
        link=_link(q, s.on),
        alert_days=ALERT_DAYS,
        fmt=fmt,
    )
    return render(request, "epidemic/dashboard_region.html", ctx)
