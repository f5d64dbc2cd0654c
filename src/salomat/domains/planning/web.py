"""Planning the primary-care network in the browser (issue 22, items 6 and 8).

- ``/planning``: without an area, the ministry's view: the country's totals by region
  (settlements, gaps under the chosen norm edition and the cost of closing them, staff
  posts required, filled and the deficit); with a region or district code, the regional
  planner's: the settlements (census beside attached population, the unit the edition
  requires, what exists, the gap and its cost), the map (SVG drawn from the data), access
  (the population beyond the pack's threshold), staffing deficits by district, rural and
  urban, and position, with bar charts and CSV downloads.
- ``/planning/scenario``: "open a unit in settlement X": who gains access and how the
  population beyond the threshold changes.
- ``/planning/mobile``: a district's mobile team: the route over the settlements that lack
  their unit and the visit calendar.

Only aggregates and the registries of places, facilities and staff: no person's record,
so nothing here is audited as a person read. Every rule value comes from the pack through
the services; every text is the reader's language.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import CsvFile, csv_download, csv_text
from salomat.core.errors import N_, FieldError, Invalid, SalomatError, field_errors_from_pydantic
from salomat.core.i18n import current_language, gettext, pgettext
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import pack
from salomat.domains.planning.service.map_svg import (
    MapFacility,
    MapLabels,
    MapSettlement,
    draw_map,
)
from salomat.ui.forms import labelled_errors, query_text
from salomat.ui.templating import NavItem, register_nav, render, speaking

web = router(include_in_schema=False)

PAGE = "/planning"
SCENARIO = "/planning/scenario"
MOBILE = "/planning/mobile"

register_nav(NavItem(N_("Network planning"), PAGE, "planning:read", 25))

Reader = Annotated[Principal, Depends(Require("planning:read"))]

FIELD_LABELS = {
    "area": N_("Area"),
    "edition": N_("Norm edition"),
    "settlement": N_("Settlement"),
    "unit": N_("Unit"),
    "colour": N_("Colour by"),
    "team": N_("Mobile team"),
    "start": N_("First day"),
    "territory": N_("Area"),
}


def _rules() -> Any:
    from salomat.domains.planning.service import norms

    return norms.current()


def unit_name(code: str | None) -> str:
    """The unit's name in the reader's language (the pack's names)."""
    if not code:
        return "—"
    units = _rules().units
    return units[code].name(current_language()) if code in units else code


@functools.lru_cache(maxsize=8)
def _position_names(country: str) -> dict[str, dict[str, str]]:
    """code -> names of the country pack's positions, read once per country (not a deep
    copy of the pack on every staffing row)."""
    return {str(p["code"]): dict(p.get("name") or {}) for p in pack.load(country)["positions"]}


def position_name(code: str) -> str:
    if code == "*":
        return gettext("all positions")
    names = _position_names(_country()).get(code)
    if names is None:
        return code
    return str(names.get(current_language()) or names.get("en") or code)


def local_name(t: Any) -> str:
    """A place's name in the reader's language (its ``names``), else its own name."""
    return str((getattr(t, "names", None) or {}).get(current_language()) or t.name)


def _levels() -> list[str]:
    rules = _rules()
    return sorted(rules.units, key=rules.level)


def _errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return labelled_errors(errors, FIELD_LABELS)


def _num(v: Any) -> float:
    if v is None:
        return 0.0
    return float(v)


def _fmt(v: Any) -> str:
    """A figure for a title or CSV: integers grouped with a thin space, money to 2 places."""
    if v is None:
        return "—"
    if isinstance(v, Decimal | float):
        if not math.isfinite(float(v)):
            return "—"
        return f"{float(v):,.1f}".replace(",", "\u202f")
    return f"{int(v):,}".replace(",", "\u202f")


# ---- the map --------------------------------------------------------------------------


def map_of(
    rows: list[Any],
    access_by_code: dict[str, Any],
    colour: str,
    level: str | None = None,
    outside: frozenset[str] = frozenset(),
) -> str:
    """The SVG map of the area's settlements: by gap (default) or by access. Settlements
    without coordinates or ``outside`` the country are not drawn (the page lists them)."""
    rows = [r for r in rows if r.code not in outside]
    settlements = []
    for r in rows:
        if r.latitude is None or r.longitude is None:
            continue
        pop = r.census_population if r.census_population is not None else r.attached
        figures = [
            # the figure's own source: a census's words or the registry's population table
            f"{r.source_text() or gettext('population unknown')} {_fmt(r.census_population)}",
            gettext("attached %(n)s") % {"n": _fmt(r.attached)},
            gettext("requires: %(unit)s") % {"unit": unit_name(r.required_unit)},
        ]
        if colour == "access":
            a = access_by_code.get(r.code)
            beyond = getattr(a, "beyond", None) if a is not None else None
            klass = "unknown" if beyond is None else ("beyond" if beyond else "within")
            near = a.nearest.get(level) if a is not None and level else None
            if near is not None:
                figures.append(
                    gettext("%(km)s km, %(m)s min to the nearest %(unit)s")
                    # the km the threshold is judged on (the shortest road, or the
                    # estimate), the minutes of the fastest journey
                    % {
                        "km": _fmt(near.distance_km),
                        "m": _fmt(near.minutes),
                        "unit": unit_name(near.unit),
                    }
                )
        else:
            klass = "gap" if r.gap else "no_gap"
            if r.gap:
                figures.append(gettext("gap"))
        settlements.append(
            MapSettlement(r.code, r.name, r.latitude, r.longitude, pop, klass, "; ".join(figures))
        )
    facilities = []
    for r in rows:
        for unit in sorted(r.existing_units or (), key=_level):
            if r.latitude is None or r.longitude is None:
                continue
            facilities.append(
                MapFacility(unit_name(unit), r.latitude, r.longitude, _level(unit), r.name)
            )
    if colour == "access":
        classes = {
            "within": gettext("within the access threshold"),
            "beyond": gettext("beyond the access threshold"),
            "unknown": gettext("no unit to measure from"),
        }
    else:
        classes = {
            "gap": gettext("the norm's unit is missing"),
            "no_gap": gettext("no gap"),
        }
    labels = MapLabels(
        title=gettext("Map of the settlements"),
        desc=gettext(
            "Each circle is a settlement, its area by population; symbols are the units "
            "that exist there."
        ),
        classes=classes,
        levels={_level(u): unit_name(u) for u in _levels() if u != "health_worker"},
        outline=gettext("the area's outline (around its settlements)"),
    )
    return draw_map(settlements, facilities, labels)


def _level(unit: str) -> int:
    """The unit's rank among the pack's units, lowest first (the map's symbol)."""
    levels = _levels()
    return levels.index(unit) if unit in levels else len(levels)


# ---- the pages ------------------------------------------------------------------------


def _country() -> str:
    from salomat.core.config import get_settings

    return get_settings().country


def _by_region(rows: list[Any], staff: Any, breakdown: Any) -> dict[str, Any]:
    """The ministry's view: gaps and staff posts per region (the districts' figures
    summed by the region each settlement lies in)."""
    from salomat.domains.planning.service import gaps

    region_of = breakdown.unit_of  # settlement id -> region code
    names = {u.code: local_name(u) for u in breakdown.units}
    relabelled = [
        replace(r, district_code=region_of.get(r.id), district_name=names.get(region_of.get(r.id)))
        for r in rows
    ]
    regions, total = gaps.summarise(relabelled)
    district_region = {r.district_code: region_of.get(r.id) for r in rows}
    posts: dict[str | None, Any] = {}
    for line in staff.by_district:
        code = district_region.get(line.district_code)
        merged = posts.get(code)
        if merged is None:
            merged = posts[code] = type(line)(
                position="*", district_code=code, district_name=names.get(code)
            )
        merged.merge(line)
    return {
        "national": True,
        "region_gaps": regions,
        "total": total,
        "region_posts": [posts[k] for k in sorted(posts, key=lambda c: c or "")],
    }


async def _overview(
    session: Any, principal: Principal, area: str, edition: str, colour: str, breakdown: Any
) -> dict[str, Any]:
    """The page's figures; ``breakdown`` is the country's regions, read once for the page
    (its region list and its national table)."""
    from salomat.domains.planning.service import access, gaps, norms, settlements
    from salomat.domains.planning.service.staffing import staffing as staffing_report

    # the unit costs are illustrative where no costing was sourced: said beside them
    ctx: dict[str, Any] = {"costs_illustrative": _rules().costs_illustrative}
    code = edition or None
    if not area:
        rows = await settlements.settlement_rows(session, principal, None, edition_code=code)
        staff = await staffing_report(session, principal, None, rows=rows)
        ctx.update(_by_region(rows, staff, breakdown))
        ctx["staffing"] = staff
        ctx["edition_used"] = _rules().edition(code)
        return ctx
    # the settlements are read once for the page: the gaps, staffing and access share them
    day = norms.today()
    read = await settlements.area_rows(session, principal, area, edition_code=code, on=day)
    rows = read.own
    report = await gaps.gap_report(session, principal, area, edition_code=code, on=day, rows=rows)
    ctx["report"] = report
    ctx["edition_used"] = report.edition
    ctx["rows"] = sorted(rows, key=lambda r: (not r.gap, r.district_code or "", r.code))
    ctx["staffing"] = await staffing_report(session, principal, area, on=day, rows=rows)
    acc = await access.access(session, principal, area, edition_code=code, rows=read)
    ctx["access"] = acc
    # the settlements left off the map are named in the reader's language, not by code
    ctx["place_names"] = {r.code: local_name(r) for r in rows}
    ctx["map"] = map_of(
        rows,
        {a.code: a for a in acc.settlements},
        colour,
        acc.threshold_level,
        frozenset(acc.outside_country),
    )
    ctx["area_name"] = next((local_name(u) for u in breakdown.units if u.code == area), None) or (
        report.districts[0].district_name if len(report.districts) == 1 else area
    )
    return ctx


def _base(request: Request) -> tuple[dict[str, Any], list[FieldError]]:
    area, errors = query_text(request, "area", 32)
    edition, more = query_text(request, "edition", 32)
    errors += more
    ctx: dict[str, Any] = {
        "page": PAGE,
        "scenario_page": SCENARIO,
        "mobile_page": MOBILE,
        "area": area,
        "edition": edition,
        "errors": [],
        "editions": [],
        "unit_name": unit_name,
        "position_name": position_name,
        "local_name": local_name,
        "fmt": _fmt,
    }
    return ctx, errors


async def _regions(session: Any) -> list[Any]:
    from salomat.domains.registry import service as registry

    return list((await registry.area_breakdown(session, None)).units)


@web.get(PAGE, response_class=HTMLResponse)
async def overview_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """The country by region (no area) or a region's / district's settlements."""
    from salomat.domains.registry import service as registry

    with speaking(request):
        ctx, errors = _base(request)
        colour, more = query_text(request, "colour", 16)
        errors += more
        if colour not in ("", "gap", "access"):
            errors.append(FieldError("colour", N_("is not one of the choices")))
        ctx["colour"] = colour if colour in ("gap", "access") else "gap"
        status = 200
        try:
            ctx["editions"] = list(_rules().editions)
            breakdown = await registry.area_breakdown(session, None)
            ctx["regions"] = list(breakdown.units)
            if errors:
                raise Invalid.fields(errors)
            ctx.update(
                await _overview(
                    session, principal, ctx["area"], ctx["edition"], ctx["colour"], breakdown
                )
            )
        except SalomatError as e:
            ctx["errors"] = _errors(e.errors or [FieldError("", e.detail)])
            status = e.status
        return render(request, "planning/overview.html", ctx, status=status)


@web.get(PAGE + "/settlements.csv")
async def settlements_csv(request: Request, session: DbSession, principal: Reader) -> Response:
    """The area's settlements (the whole country without one), headers in the reader's
    language, every cell neutralised."""
    from salomat.domains.planning.service import settlements

    with speaking(request):
        area, errors = query_text(request, "area", 32)
        edition, more = query_text(request, "edition", 32)
        errors += more
        if errors:
            raise Invalid.fields(errors)
        rows = await settlements.settlement_rows(
            session, principal, area or None, edition_code=edition or None
        )
        header = [
            gettext("Code"), gettext("Settlement"), gettext("District"), gettext("Rural"),
            gettext("Latitude"), gettext("Longitude"), gettext("Census population"),
            gettext("Census source"), gettext("Census date"), gettext("Attached"),
            gettext("Required unit"), gettext("Existing units"), gettext("Gap"),
            gettext("Cost of closing the gap"),
        ]  # fmt: skip
        body = [
            [
                r.code, r.name, r.district_name or "",
                gettext("yes") if r.is_rural else gettext("no"),
                r.latitude, r.longitude, r.census_population, r.source_text() or "",
                r.census_as_of.isoformat() if isinstance(r.census_as_of, date) else "",
                r.attached, unit_name(r.required_unit) if r.required_unit else "",
                ", ".join(unit_name(u) for u in sorted(r.existing_units or (), key=_level)),
                gettext("yes") if r.gap else gettext("no"),
                r.cost if r.cost is not None else "",
            ]
            for r in rows
        ]  # fmt: skip
        name = f"planning-settlements-{area or 'country'}.csv"
        return csv_download(CsvFile(name, csv_text(header, body)))


def _posts_by_unit(lines: list[Any]) -> dict[str | None, Any]:
    """Staffing lines (one per area and position) summed per area code."""
    out: dict[str | None, Any] = {}
    for line in lines:
        merged = out.get(line.district_code)
        if merged is None:
            merged = out[line.district_code] = type(line)(
                position="*", district_code=line.district_code, district_name=line.district_name
            )
        merged.merge(line)
    return out


@web.get(PAGE + "/gaps.csv")
async def gaps_csv(request: Request, session: DbSession, principal: Reader) -> Response:
    """Gaps, their cost and staff posts by district of an area (by region for the whole
    country), as on the page; headers in the reader's language, cells neutralised."""
    from salomat.domains.planning.service import gaps, norms, settlements
    from salomat.domains.planning.service.staffing import staffing as staffing_report
    from salomat.domains.registry import service as registry

    with speaking(request):
        area, errors = query_text(request, "area", 32)
        edition, more = query_text(request, "edition", 32)
        errors += more
        if errors:
            raise Invalid.fields(errors)
        code = edition or None
        if area:
            day = norms.today()
            rows = await settlements.settlement_rows(
                session, principal, area, edition_code=code, on=day
            )
            report = await gaps.gap_report(
                session, principal, area, edition_code=code, on=day, rows=rows
            )
            staff = await staffing_report(session, principal, area, on=day, rows=rows)
            units, total = report.districts, report.total
            posts = _posts_by_unit(staff.by_district)
        else:
            rows = await settlements.settlement_rows(session, principal, None, edition_code=code)
            staff = await staffing_report(session, principal, None, rows=rows)
            national = _by_region(rows, staff, await registry.area_breakdown(session, None))
            units, total = national["region_gaps"], national["total"]
            posts = {p.district_code: p for p in national["region_posts"]}
        header = [
            gettext("Code"), gettext("District") if area else gettext("Region"),
            pgettext("places", "Settlements"), gettext("Without the unit the norm requires"),
            gettext("Their population"), gettext("Cost of closing the gaps"),
            gettext("Posts required"), gettext("Filled (FTE)"), gettext("Deficit (FTE)"),
            gettext("Above the edition's range: the norm sets no unit"),
            gettext("Population above the edition's range"),
            gettext("Needs a visiting medical worker (no premises)"),
            gettext("Population needing a visiting medical worker"),
        ]  # fmt: skip
        body = []
        for g in [*units, total]:
            p = posts.get(g.district_code) if g is not total else staff.total
            body.append(
                [
                    g.district_code or "", g.district_name or gettext("Total"),
                    g.settlements, g.with_gap, g.population_in_gap, g.cost,
                    p.required if p else "", p.filled if p else "", p.deficit if p else "",
                    g.above_range, g.population_above_range,
                    g.visiting_worker, g.population_visiting_worker,
                ]
            )  # fmt: skip
        name = f"planning-gaps-{area or 'country'}.csv"
        return csv_download(CsvFile(name, csv_text(header, body)))


@web.get(SCENARIO, response_class=HTMLResponse)
async def scenario_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """ "Open a unit in settlement X": access before and after, who gains it."""
    from salomat.domains.planning.service import access, settlements

    with speaking(request):
        ctx, errors = _base(request)
        settlement, e1 = query_text(request, "settlement", 32)
        unit, e2 = query_text(request, "unit", 40)
        errors += e1 + e2
        ctx.update(settlement=settlement, unit=unit or "", result=None, choices=[])
        status = 200
        try:
            rules = _rules()
            ctx["editions"] = list(rules.editions)
            ctx["regions"] = await _regions(session)
            ctx["units"] = [(u, unit_name(u)) for u in _levels() if u != "health_worker"]
            if unit and unit not in rules.units:
                errors.append(FieldError("unit", N_("is not one of the choices")))
            if settlement and not ctx["area"]:
                errors.append(FieldError("area", N_("is required")))
            if errors:
                raise Invalid.fields(errors)
            if ctx["area"]:
                rows = await settlements.settlement_rows(
                    session, principal, ctx["area"], edition_code=ctx["edition"] or None
                )
                ctx["choices"] = sorted(rows, key=lambda r: r.name)
                if not ctx["unit"]:
                    by_code = {r.code: r for r in rows}
                    wanted = by_code.get(settlement)
                    ctx["unit"] = (
                        wanted.required_unit
                        if wanted is not None and wanted.required_unit in dict(ctx["units"])
                        else rules.access.threshold_level
                    )
            if ctx["area"] and settlement:
                ctx["result"] = await access.scenario(
                    session,
                    principal,
                    ctx["area"],
                    [access.ProposedUnit(settlement_code=settlement, unit=ctx["unit"])],
                    edition_code=ctx["edition"] or None,
                )
        except SalomatError as e:
            # the service names the API's field (``proposed.0.settlement``): the page's is
            # the settlement dropdown
            found = e.errors or [FieldError("", e.detail)]
            for f in found:
                if f.field.endswith(".settlement"):
                    f.field = "settlement"
            ctx["errors"] = _errors(found)
            status = e.status
        return render(request, "planning/scenario.html", ctx, status=status)


@web.get(MOBILE, response_class=HTMLResponse)
async def mobile_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """A mobile team's route over a district's settlements without a unit, split into
    working days on the calendar (shown, not saved: saving is the API's, planning:edit)."""
    from pydantic import ValidationError

    from salomat.domains.planning.schemas_mobile import RouteIn
    from salomat.domains.planning.service import mobile, routing

    with speaking(request):
        ctx, errors = _base(request)
        team, e1 = query_text(request, "team", 12)
        start, e2 = query_text(request, "start", 10)
        errors += e1 + e2
        ctx.update(team=team, start=start or mobile.today().isoformat(), teams=[], route=None)
        status = 200
        try:
            ctx["editions"] = list(_rules().editions)
            ctx["teams"] = await mobile.list_teams(session, principal)
            team_id: int | None = None
            if team:
                if not (team.isascii() and team.isdigit()) or int(team) not in {
                    t.id for t in ctx["teams"]
                }:
                    errors.append(FieldError("team", N_("is not one of the choices")))
                else:
                    team_id = int(team)
            if team_id is not None and not ctx["area"]:
                errors.append(FieldError("area", N_("is required")))
            data = None
            if team_id is not None and ctx["area"]:
                try:
                    data = RouteIn(territory=ctx["area"], start=ctx["start"], save=False)
                except ValidationError as e:
                    errors += field_errors_from_pydantic(e.errors())  # type: ignore[arg-type]
            if errors:
                raise Invalid.fields(errors)
            if data is not None and team_id is not None:
                ctx["route"] = await mobile.plan_team_route(
                    session, principal, team_id, data, time_limit_s=routing.PAGE_TIME_LIMIT_S
                )
        except SalomatError as e:
            ctx["errors"] = _errors(e.errors or [FieldError("", e.detail)])
            status = e.status
        return render(request, "planning/mobile.html", ctx, status=status)
