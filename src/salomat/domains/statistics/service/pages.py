"""What the ministry's pages need in one go: every indicator of an area for a period with
its units (the regions of the country, the districts of a region) and its trend, and the
trends of one indicator for the country and each region.

The same values, masking, targets and on-track rule as ``values`` (``indicator_values``,
``indicator_trend``), but each period is read once for the whole page instead of once per
indicator and area: a dashboard of eleven stored indicators with their ten-year trends
would otherwise read each year's rows eleven times. Each page is audited once, as an
aggregate read without any person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, jobs
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry_service
from salomat.domains.statistics.schemas import (
    Indicator,
    IndicatorValue,
    Target,
    Trend,
)
from salomat.domains.statistics.service import calc
from salomat.domains.statistics.service.aggregate import Computed, Period, parse_period
from salomat.domains.statistics.service.catalogue import catalogue, indicator_or_422
from salomat.domains.statistics.service.job import AGGREGATE_KIND
from salomat.domains.statistics.service.values import (
    _area,
    _out,
    _period_values,
    _resolve,
    _select,
    _target_for,
    computed_periods,
    indicator_values,
    mask,
    target_path,
    trend_points,
)

__all__ = [
    "AreaPage",
    "DashboardLine",
    "aggregate_jobs",
    "area_names",
    "area_page",
    "area_trends",
    "computed_periods",
    "default_year",
    "last_computed_year",
    "statistics_area",
    "target_path",
]


@dataclass
class DashboardLine:
    indicator: Indicator
    #: the area's whole value (masked); None: not available (``problem`` says why)
    value: IndicatorValue | None
    #: the regions of the country or the districts of a region (masked)
    units: list[IndicatorValue] = field(default_factory=list)
    #: the area's yearly trend with target and status (None: a linked indicator)
    trend: Trend | None = None
    #: why a linked indicator has no value (its domain's message, translated)
    problem: str | None = None


@dataclass
class AreaPage:
    period: str
    area: str
    level: str
    area_name: str | None
    #: the last time the aggregate job computed the period (None: computed on the fly)
    computed_at: object
    lines: list[DashboardLine]


class _Years:
    """Each period's computed values, read (or computed on the fly) once per page."""

    def __init__(self, session: AsyncSession, today: date) -> None:
        self.session, self.today = session, today
        self._seen: dict[str, tuple[list[Computed], object]] = {}

    async def get(self, period: Period) -> tuple[list[Computed], object]:
        if period.code not in self._seen:
            self._seen[period.code] = await _period_values(self.session, period)
        return self._seen[period.code]

    async def cell(self, ind: str, area: str, year: int) -> Computed | None:
        try:
            p = parse_period(str(year), self.today)
        except Invalid:
            return None
        computed, _ = await self.get(p)
        return next(
            (v for v in computed if v.indicator == ind and v.area == area and v.by == ""), None
        )


def _public(v: Computed | None) -> float | None:
    """A cell's value unless it is suppressed (below five) or missing."""
    if v is None:
        return None
    return None if calc.suppressed(v.numerator if v.numerator is not None else v.value) else v.value


async def _target(years: _Years, ind: Indicator, code: str) -> Target | None:
    """The area's target (its own, else the national one) with a reduction's baseline
    resolved from the area's figure for the baseline year.

    Unlike ``indicator_trend``, the baseline is the *public* figure: a suppressed baseline
    (fewer than five events) would give its value away through the target's line
    (baseline x (1 - reduction)). An area whose baseline is suppressed or missing is then
    held to the national target as resolved for the country (``target.area`` None)."""
    country = get_settings().country
    target = _target_for(ind, code, country)
    if target is None or target.kind != "reduction" or target.baseline_value is not None:
        return target
    base = None
    if target.baseline_year is not None:
        base = _public(await years.cell(ind.code, code, target.baseline_year))
    resolved = _resolve(target, {target.baseline_year: base} if base is not None else {})
    if resolved.value is None and code != country:
        return await _target(years, ind, country)
    return resolved


async def _trend(years: _Years, ind: Indicator, code: str, count: int) -> Trend:
    """``indicator_trend`` of one area over the shared years (same rule; the target as
    ``_target`` resolves it)."""
    last = years.today.year - 1
    raw = {y: await years.cell(ind.code, code, y) for y in range(last - count + 1, last + 1)}
    target = await _target(years, ind, code)
    points, status, projected = trend_points(ind, code, raw, target)
    return Trend(
        indicator=ind, area=code, points=points, target=target, status=status,
        projected=projected,
    )  # fmt: skip


def _today(today: date | None) -> date:
    return today or pack.today(get_settings().country)


async def statistics_area(session: AsyncSession, area: str | None) -> tuple[str, str, str | None]:
    """(code, level, name) of the country, a region or a district; 422 naming ``area``."""
    return await _area(session, area)


async def area_page(
    session: AsyncSession,
    principal: Principal,
    period: str,
    *,
    area: str | None = None,
    years: int = 10,
    today: date | None = None,
) -> AreaPage:
    """Every indicator of the catalogue for a closed year or month in the country or a
    region: the area's masked value, its units' (regions, or a region's districts) and
    its trend of the last ``years`` closed years with target and status. A linked
    indicator its domain cannot answer (a cohort not yet complete, a month, a role
    without access to it) has no value and says why. Bad input: 422 naming the field."""
    today = _today(today)
    p = parse_period(period, today)
    code, level, name = await _area(session, area)
    if level == "district":
        raise Invalid.fields(
            [FieldError("area", N_("give the country or a region, not a district"))]
        )
    sub = "region" if level == "country" else "district"
    cache = _Years(session, today)
    computed, at = await cache.get(p)
    areas = await registry_service.statistics_areas(session)
    names = {c: n for c, (_l, n, _p) in areas.items()}
    lines = []
    for ind in catalogue():
        if ind.method == "linked":
            try:
                whole = await indicator_values(session, principal, ind.code, p.code, area=area,
                                               today=today)  # fmt: skip
                units = await indicator_values(session, principal, ind.code, p.code, area=area,
                                               by=sub, today=today)  # fmt: skip
            except SalomatError as e:
                problem = "; ".join(f.message for f in e.errors) or e.detail
                lines.append(DashboardLine(ind, None, problem=problem))
                continue
            lines.append(DashboardLine(ind, whole.values[0] if whole.values else None,
                                       units.values))  # fmt: skip
            continue
        mine = _select(computed, ind.code, code, None, areas)
        value = mask(_out(mine[0], p.code, names)) if mine else None
        units = [
            mask(_out(v, p.code, names)) for v in _select(computed, ind.code, code, sub, areas)
        ]
        trend = await _trend(cache, ind, code, years)
        lines.append(DashboardLine(ind, value, units, trend))
    await audit.record(
        session, principal, action="read", resource_type="IndicatorValue",
        resource_id="dashboard", purpose="aggregate statistics",
        detail=f"period {p.code} area {code} (every indicator)",
    )  # fmt: skip
    return AreaPage(p.code, code, level, name, at, lines)


async def area_trends(
    session: AsyncSession,
    principal: Principal,
    indicator: str,
    *,
    years: int = 10,
    today: date | None = None,
) -> list[Trend]:
    """The indicator's trend for the country, then each region (by code): the yearly
    masked values of the last ``years`` closed years, the target's line and the status.
    Unknown or linked indicator: 422 naming ``indicator``."""
    ind = indicator_or_422(indicator)
    if ind.method == "linked":
        raise Invalid.fields([FieldError("indicator", N_("a linked indicator has no trend here"))])
    if not 1 <= years <= 50:
        raise Invalid.fields([FieldError("years", N_("must be between 1 and 50"))])
    today = _today(today)
    cache = _Years(session, today)
    areas = await registry_service.statistics_areas(session)
    regions = sorted(c for c, (level, _n, _p) in areas.items() if level == "region")
    out = [await _trend(cache, ind, get_settings().country, years)]
    for code in regions:
        out.append(await _trend(cache, ind, code, years))
    await audit.record(
        session, principal, action="read", resource_type="IndicatorTrend",
        resource_id=ind.code, purpose="aggregate statistics",
        detail=f"country and {len(regions)} regions, {years} years",
    )  # fmt: skip
    return out


async def last_computed_year(session: AsyncSession, today: date | None = None) -> str | None:
    """The newest closed year the aggregate job has computed (None: none yet)."""
    today = _today(today)
    for code in await computed_periods(session):
        if len(code) == 4 and (code.isascii() and code.isdigit()) and int(code) < today.year:
            return code
    return None


async def aggregate_jobs(session: AsyncSession, limit: int = 5) -> list[jobs.JobView]:
    """The newest aggregate jobs (queued, running, done or failed) with their progress."""
    page, _ = await jobs.recent(session, kind=AGGREGATE_KIND, limit=limit)
    return page


async def area_names(session: AsyncSession) -> dict[str, str]:
    """Region and district codes -> their names."""
    return {c: n for c, (_l, n, _p) in (await registry_service.statistics_areas(session)).items()}


async def default_year(session: AsyncSession, today: date | None = None) -> str:
    """The newest computed closed year, else the last closed year (computed on the fly)."""
    return await last_computed_year(session, today) or str(_today(today).year - 1)
