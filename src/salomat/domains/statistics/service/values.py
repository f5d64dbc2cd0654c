"""Reading the indicators: values for an indicator, period, area and breakdown; trends
against the pack's targets; the CSV. Every answer is masked (cells below five withheld).

Values come from ``indicator_value`` (the aggregate job's); a closed period the job has
not computed yet is computed on the fly (same code, nothing stored). Linked indicators
are read from their domains' services (immunization coverage, the maternal dashboard),
never recomputed. Reads are aggregate: each is audited once, as an aggregate read,
without any person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.i18n import gettext
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.immunization import service as immunization_service
from salomat.domains.maternal import service as maternal_service
from salomat.domains.registry import service as registry_service
from salomat.domains.statistics.models import IndicatorValue as Row
from salomat.domains.statistics.schemas import (
    BY,
    Indicator,
    IndicatorValue,
    MortalityDataQuality,
    Target,
    Trend,
    TrendPoint,
    ValueSet,
)
from salomat.domains.statistics.service import calc
from salomat.domains.statistics.service.aggregate import (
    Computed,
    Period,
    compute_period,
    parse_period,
)
from salomat.domains.statistics.service.catalogue import get_indicator, indicator_or_422

__all__ = [
    "TREND_FIT_YEARS",
    "indicator_report",
    "indicator_trend",
    "indicator_values",
    "mask",
    "mortality_data_quality",
    "trend_points",
    "trend_status",
    "values_csv",
]

#: the last this-many years of values the on-track status fits its line to
TREND_FIT_YEARS = 5
#: fewer points than this: insufficient data for a trend
TREND_MIN_POINTS = 3
LINKED_CODE = {"immunization": "mcv1"}


def mask(v: IndicatorValue) -> IndicatorValue:
    """The public form of a cell: below five, value, numerator and interval withheld."""
    n = v.numerator if v.numerator is not None else v.value
    if calc.suppressed(n):
        return v.model_copy(
            update={"value": None, "ci_low": None, "ci_high": None, "numerator": None,
                    "suppressed": True}
        )  # fmt: skip
    return v


async def _area(session: AsyncSession, area: str | None) -> tuple[str, str, str | None]:
    """(code, level, name) of the country, a region or a district; 422 naming ``area``."""
    country = get_settings().country
    if area is None or area == "" or area.upper() == country:
        return country, "country", None
    areas = await registry_service.statistics_areas(session)
    found = areas.get(area)
    if found is None:
        raise Invalid.fields(
            [FieldError("area", N_("no region or district has code %(code)s"), {"code": area})]
        )
    return area, found[0], found[1]


def _check_by(ind: Indicator, by: str | None, level: str) -> None:
    if by is None:
        return
    if by not in BY or by not in ind.by:
        raise Invalid.fields(
            [FieldError("by", N_("this indicator is not broken down by %(by)s"), {"by": by})]
        )
    if (by == "region" and level != "country") or (by == "district" and level == "district"):
        raise Invalid.fields(
            [FieldError("by", N_("%(area)s has no units of that level"), {"area": level})]
        )


async def _stored(session: AsyncSession, period: str) -> tuple[list[Computed], datetime | None]:
    rows = list(await session.scalars(select(Row).where(Row.period == period)))
    if not rows:
        return [], None
    return [
        Computed(r.indicator, r.area, r.by, r.stratum, r.numerator, r.denominator, r.value,
                 r.ci_low, r.ci_high)
        for r in rows
    ], max(r.computed_at for r in rows)  # fmt: skip


async def _period_values(
    session: AsyncSession, period: Period
) -> tuple[list[Computed], datetime | None]:
    stored, at = await _stored(session, period.code)
    if at is not None:
        return stored, at
    return await compute_period(session, period), None


def _select(
    values: Sequence[Computed],
    code: str,
    area: str,
    by: str | None,
    areas: dict[str, tuple[str, str, str | None]],
) -> list[Computed]:
    mine = [v for v in values if v.indicator == code]
    if by in ("region", "district"):
        country = get_settings().country
        units = {
            c for c, (level, _n, parent) in areas.items()
            if level == by and (area == country or parent == area)
        }  # fmt: skip
        return sorted((v for v in mine if v.area in units and v.by == ""), key=lambda v: v.area)
    return [v for v in mine if v.area == area and v.by == (by or "")]


def _out(v: Computed, period: str, names: dict[str, str]) -> IndicatorValue:
    return IndicatorValue(
        indicator=v.indicator, period=period, area=v.area, area_name=names.get(v.area),
        by=v.by, stratum=v.stratum, value=v.value, ci_low=v.ci_low, ci_high=v.ci_high,
        numerator=v.numerator, denominator=v.denominator,
    )  # fmt: skip


async def _linked(
    session: AsyncSession,
    principal: Principal,
    ind: Indicator,
    period: Period,
    area: str,
    level: str,
    by: str | None,
) -> list[IndicatorValue]:
    """A linked indicator, read from its domain (yearly; by region or district)."""
    if not period.is_year:
        raise Invalid.fields(
            [FieldError("period", N_("this indicator is yearly: give a year (YYYY)"))]
        )
    code = None if level == "country" else area
    out: list[IndicatorValue] = []
    if ind.linked == "immunization":
        cov = await immunization_service.immunization_coverage(
            session, principal, area=code, cohort=period.year
        )
        key = LINKED_CODE["immunization"]
        rows = [(area, cov.area_name, cov.total)] if by is None else [
            (r.code, r.name, r) for r in cov.rows if r.code is not None
        ]  # fmt: skip
        for unit, name, row in rows:
            f = row.figures.get(key)
            if f is None:
                continue
            out.append(
                IndicatorValue(
                    indicator=ind.code, period=period.code, area=unit or area, area_name=name,
                    value=f.pct, numerator=f.covered, denominator=f.eligible,
                )
            )  # fmt: skip
    elif ind.linked == "maternal":
        dash = await maternal_service.maternal_dashboard(
            session, principal, area=code, period_from=period.start, period_to=period.end
        )
        rows = [(area, dash.area_name, dash.total)] if by is None else [
            (r.code, r.name, r.figures) for r in dash.rows if r.code is not None
        ]  # fmt: skip
        for unit, name, f in rows:
            out.append(
                IndicatorValue(
                    indicator=ind.code, period=period.code, area=unit or area, area_name=name,
                    value=f.anc4_pct, numerator=f.anc4, denominator=f.closed,
                )
            )  # fmt: skip
    return out


async def indicator_values(
    session: AsyncSession,
    principal: Principal,
    indicator: str,
    period: str,
    *,
    area: str | None = None,
    by: str | None = None,
    today: date | None = None,
) -> ValueSet:
    """The masked values of an indicator for a closed period (YYYY or YYYY-MM), in the
    country or a region or district (its territory code), whole or broken down ``by``
    sex, urban_rural, age_group, region or district. Bad input: 422 naming the field."""
    ind = indicator_or_422(indicator)
    p = parse_period(period, today)
    code, level, _name = await _area(session, area)
    _check_by(ind, by, level)
    areas = await registry_service.statistics_areas(session)
    names = {c: n for c, (_l, n, _p) in areas.items()}
    if ind.method == "linked":
        values = await _linked(session, principal, ind, p, code, level, by)
        at = None
    else:
        computed, at = await _period_values(session, p)
        values = [_out(v, p.code, names) for v in _select(computed, ind.code, code, by, areas)]
    await audit.record(
        session, principal, action="read", resource_type="IndicatorValue",
        resource_id=ind.code, purpose="aggregate statistics",
        detail=f"period {p.code} area {code} by {by or '-'}",
    )  # fmt: skip
    return ValueSet(
        indicator=ind, period=p.code, area=code, by=by, computed_at=at,
        values=[mask(v) for v in values],
    )  # fmt: skip


async def indicator_report(
    session: AsyncSession,
    principal: Principal,
    indicator: str,
    period: str,
    *,
    area: str | None = None,
    today: date | None = None,
) -> tuple[ValueSet, dict[str, list[IndicatorValue]]]:
    """The area's value and its strata (sex, urban_rural, age_group where the indicator
    has them), masked: what a FHIR MeasureReport carries. A linked indicator has no
    strata here. Bad input: 422 naming the field."""
    ind = indicator_or_422(indicator)
    whole = await indicator_values(session, principal, indicator, period, area=area, today=today)
    strata: dict[str, list[IndicatorValue]] = {}
    if ind.method != "linked":
        p = parse_period(period, today)
        computed, _ = await _period_values(session, p)
        areas = await registry_service.statistics_areas(session)
        names = {c: n for c, (_l, n, _p) in areas.items()}
        for by in ("sex", "urban_rural", "age_group"):
            if by in ind.by:
                strata[by] = [
                    mask(_out(v, p.code, names))
                    for v in _select(computed, ind.code, whole.area, by, areas)
                ]
    return whole, strata


async def mortality_data_quality(
    session: AsyncSession, principal: Principal, period: str, *, today: date | None = None
) -> MortalityDataQuality:
    """How complete and well coded the causes of death of a closed period are (the
    registry's death certificates), nationally; small counts withheld."""
    p = parse_period(period, today)
    c = await registry_service.certificate_coverage(session, p.start, p.end)
    counts = {"deaths": c.deaths, "certified": c.certified, "needs_review": c.needs_review,
              "ill_defined": c.ill_defined}  # fmt: skip
    small = [k for k, n in counts.items() if calc.suppressed(n)]
    shown = {k: (None if k in small else n) for k, n in counts.items()}

    def pct(part: str) -> float | None:
        if part in small or not c.deaths:
            return None
        return round(100 * counts[part] / c.deaths, 1)

    await audit.record(
        session, principal, action="read", resource_type="MortalityDataQuality",
        resource_id=p.code, purpose="aggregate statistics",
    )  # fmt: skip
    return MortalityDataQuality(
        period=p.code, **shown, certified_pct=pct("certified"),
        ill_defined_pct=pct("ill_defined"), suppressed=small,
    )  # fmt: skip


def _target_for(ind: Indicator, area: str, country: str) -> Target | None:
    """The area's own target, else the country's (a region is held to the national one)."""
    own = [t for t in ind.targets if t.area == area]
    if area == country:
        own = [t for t in ind.targets if t.area is None]
    national = [t for t in ind.targets if t.area is None]
    chosen = own or national
    return max(chosen, key=lambda t: t.year) if chosen else None


def _resolve(target: Target, values: dict[int, float | None]) -> Target:
    """A reduction target's value from its baseline (given in the pack, else the value
    of the baseline year in ``values``; none: the target has no value). Callers pass
    public (unsuppressed) values only: the target would show a withheld count."""
    if target.kind == "ceiling":
        return target
    base = target.baseline_value
    if base is None and target.baseline_year is not None:
        base = values.get(target.baseline_year)
    if base is None:
        return target
    value = base * (1 - (target.reduction or 0) / 100)
    return target.model_copy(update={"baseline_value": base, "value": value})


def target_path(target: Target, year: int) -> float | None:
    """The target's line: a ceiling is flat; a reduction runs straight from the baseline
    value in the baseline year to the target value in the target year, and has no value
    before the baseline year."""
    if target.value is None:
        return None
    if target.kind == "ceiling" or target.baseline_year is None or target.baseline_value is None:
        return target.value
    if year < target.baseline_year:
        return None
    if year == target.baseline_year:
        return target.baseline_value
    if year >= target.year:
        return target.value
    span = target.year - target.baseline_year
    step = (target.value - target.baseline_value) / span
    return target.baseline_value + step * (year - target.baseline_year)


def trend_status(
    points: Sequence[tuple[int, float]], target: Target | None
) -> tuple[str, float | None]:
    """(status, projected value in the target's year).

    The line is the least-squares fit through the last ``TREND_FIT_YEARS`` years with a
    value (at least ``TREND_MIN_POINTS``). Targets are ceilings (lower is better):
    ``achieved`` when the latest value is at or below the target value; ``on_track``
    when the line projects the target year's value at or below it; else ``off_track``.
    """
    if target is None or target.value is None:
        return "no_target", None
    pts = sorted(points)[-TREND_FIT_YEARS:]
    if pts and pts[-1][1] <= target.value:
        return "achieved", None
    if len(pts) < TREND_MIN_POINTS:
        return "insufficient_data", None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    projected = my + slope * (target.year - mx)
    return ("on_track" if projected <= target.value else "off_track"), projected


def trend_points(
    ind: Indicator, code: str, raw: dict[int, Computed | None], target: Target | None
) -> tuple[list[TrendPoint], str, float | None]:
    """The years' public points (small cells masked) with the target's path, and the
    on-track status and projection fitted to the shown values (REST trend and pages)."""
    points = []
    fit: list[tuple[int, float]] = []
    for y, v in raw.items():
        cell = mask(
            IndicatorValue(indicator=ind.code, period=str(y), area=code,
                           value=v.value if v else None, ci_low=v.ci_low if v else None,
                           ci_high=v.ci_high if v else None,
                           numerator=v.numerator if v else None)
        )  # fmt: skip
        points.append(
            TrendPoint(
                year=y, value=cell.value, ci_low=cell.ci_low, ci_high=cell.ci_high,
                suppressed=cell.suppressed,
                target_path=target_path(target, y) if target else None,
            )
        )  # fmt: skip
        if cell.value is not None:
            fit.append((y, cell.value))
    status, projected = trend_status(fit, target)
    return points, status, projected


async def indicator_trend(
    session: AsyncSession,
    principal: Principal,
    indicator: str,
    *,
    area: str | None = None,
    years: int = 10,
    today: date | None = None,
) -> Trend:
    """The yearly values of the last ``years`` closed years with the target's line and
    whether the area is on track (``trend_status``). A linked indicator has no trend here
    (its domain keeps its own history)."""
    ind = get_indicator(indicator)
    if ind.method == "linked":
        raise Invalid.fields([FieldError("indicator", N_("a linked indicator has no trend here"))])
    if not 1 <= years <= 50:
        raise Invalid.fields([FieldError("years", N_("must be between 1 and 50"))])
    code, _level, _name = await _area(session, area)
    today = today or pack.today(get_settings().country)
    last = today.year - 1
    raw: dict[int, Computed | None] = {}
    for y in range(last - years + 1, last + 1):
        computed, _ = await _period_values(session, parse_period(str(y), today))
        raw[y] = next(
            (v for v in computed if v.indicator == ind.code and v.area == code and v.by == ""),
            None,
        )
    country = get_settings().country

    async def public_value(area_code: str, year: int | None) -> float | None:
        """The area's value of a year as the public sees it: a suppressed cell gives none
        (a target computed from it would let its count show through)."""
        if year is None:
            return None
        if area_code == code and year in raw:
            hit = raw[year]
        else:
            try:
                p = parse_period(str(year), today)
            except Invalid:
                return None
            computed, _ = await _period_values(session, p)
            hit = next(
                (v for v in computed
                 if v.indicator == ind.code and v.area == area_code and v.by == ""),
                None,
            )  # fmt: skip
        if hit is None or calc.suppressed(
            hit.numerator if hit.numerator is not None else hit.value
        ):
            return None
        return hit.value

    target = _target_for(ind, code, country)
    if target is not None and target.kind == "reduction" and target.baseline_value is None:
        year = target.baseline_year
        resolved = _resolve(target, {year: await public_value(code, year)} if year else {})
        if resolved.value is None and code != country:
            # no public baseline here: the area is held to the national target
            national = _target_for(ind, country, country)
            if national is not None and national.kind == "reduction":
                if national.baseline_value is None:
                    year = national.baseline_year
                    found = {year: await public_value(country, year)} if year else {}
                    national = _resolve(national, found)
                resolved = national
            elif national is not None:
                resolved = national
        target = resolved
    points, status, projected = trend_points(ind, code, raw, target)
    await audit.record(
        session, principal, action="read", resource_type="IndicatorTrend",
        resource_id=ind.code, purpose="aggregate statistics", detail=f"area {code}",
    )  # fmt: skip
    return Trend(
        indicator=ind, area=code, points=points, target=target, status=status,
        projected=projected,
    )  # fmt: skip


_CSV_COLUMNS = (
    N_("indicator"),
    N_("period"),
    N_("area"),
    N_("area name"),
    N_("breakdown"),
    N_("stratum"),
    N_("value"),
    N_("95% CI low"),
    N_("95% CI high"),
    N_("numerator"),
    N_("denominator"),
    N_("suppressed"),
    N_("unit"),
)


def values_csv(vs: ValueSet) -> CsvFile:
    """The masked values as CSV (cells neutralised by ``csv_text``)."""

    def num(x: float | None) -> str | int | float:
        if x is None:
            return ""
        return int(x) if float(x).is_integer() else round(x, 3)

    rows = [
        [v.indicator, v.period, v.area, v.area_name or "", v.by, v.stratum, num(v.value),
         num(v.ci_low), num(v.ci_high), num(v.numerator), num(v.denominator),
         1 if v.suppressed else 0, vs.indicator.unit]
        for v in vs.values
    ]  # fmt: skip
    name = f"{vs.indicator.code}-{vs.period}-{vs.area}{'-' + vs.by if vs.by else ''}.csv"
    return CsvFile(name, csv_text([gettext(c) for c in _CSV_COLUMNS], rows))


async def computed_periods(session: AsyncSession) -> list[str]:
    """The periods the aggregate job has computed, newest first."""
    rows = await session.scalars(
        select(Row.period).group_by(Row.period).order_by(func.max(Row.period).desc())
    )
    return list(rows)
