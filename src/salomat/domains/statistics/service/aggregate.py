"""Computing every stored indicator for a period, per area and stratum.

The measures are read set-wise through the registry's and the maternal domain's services
(one grouped statement each: population at the period's midpoint, live births, deaths by
age, neonatal band and cause class, stillbirths), folded in memory into cells (area x
stratum) and turned into indicators with calc.py. ``aggregate_period`` replaces the
period's rows in ``indicator_value``: recomputing a past period over the same records
gives the same figures. Linked indicators are not stored (their domains compute them).
"""

from __future__ import annotations

import calendar
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack
from salomat.domains.maternal import service as maternal_service
from salomat.domains.registry import service as registry_service
from salomat.domains.statistics.models import IndicatorValue as Row
from salomat.domains.statistics.schemas import Indicator
from salomat.domains.statistics.service import calc
from salomat.domains.statistics.service.catalogue import (
    catalogue,
    cause_classes,
    live_birth_criterion,
)

__all__ = [
    "AGE_LABELS",
    "Cell",
    "Period",
    "aggregate_period",
    "compute_period",
    "parse_period",
]

AGES = calc.LIFE_TABLE_AGES
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def _age_label(lower: int) -> str:
    i = AGES.index(lower)
    if i == len(AGES) - 1:
        return f"{lower}+"
    upper = AGES[i + 1] - 1
    return str(lower) if upper == lower else f"{lower}-{upper}"


AGE_LABELS = {a: _age_label(a) for a in AGES}


@dataclass(frozen=True)
class Period:
    code: str
    start: date
    end: date

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def is_year(self) -> bool:
        return len(self.code) == 4

    @property
    def midpoint(self) -> date:
        """The day the population is counted: 1 July of a year, the 15th of a month."""
        if self.is_year:
            return date(self.start.year, 7, 1)
        return self.start + timedelta(days=14)

    @property
    def years(self) -> float:
        """The period's length in years (person-years per head of the population)."""
        days_in_year = 366 if calendar.isleap(self.start.year) else 365
        return ((self.end - self.start).days + 1) / days_in_year


def parse_period(text: str, today: date | None = None, *, field_name: str = "period") -> Period:
    """YYYY or YYYY-MM, ended before ``today`` (the pack's civil date); else 422 naming
    the field: a period not yet over has no final figures."""
    m = _PERIOD.match(text or "")
    month = int(m.group(2)) if m and m.group(2) else None
    if (
        m is None
        or not 1900 <= int(m.group(1)) <= 9999
        or (month is not None and not 1 <= month <= 12)
    ):
        raise Invalid.fields(
            [FieldError(field_name, N_("is not a year (YYYY) or a month (YYYY-MM)"))]
        )
    year = int(m.group(1))
    if month is None:
        start, end = date(year, 1, 1), date(year, 12, 31)
    else:
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    today = today or pack.today(get_settings().country)
    if end >= today:
        raise Invalid.fields(
            [FieldError(field_name, N_("has not ended yet: figures are final once it is over"))]
        )
    return Period(text, start, end)


N = len(AGES)
_NCD_GROUPS = [AGES.index(a) for a in calc.SDG341_AGES]


@dataclass
class Cell:
    """The measures of one area and stratum."""

    population: float = 0.0
    live_births: int = 0
    deaths: int = 0
    d0_6: int = 0
    d0_27: int = 0
    under1: int = 0
    under5: int = 0
    maternal: int = 0
    stillbirths: int = 0
    pop_by_age: list[float] = field(default_factory=lambda: [0.0] * N)
    deaths_by_age: list[int] = field(default_factory=lambda: [0] * N)
    ncd_by_age: list[int] = field(default_factory=lambda: [0] * N)


Key = tuple[str, str, str]  # area, by, stratum


def _areas(country: str, place: registry_service.SettlementPlace | None) -> list[str]:
    out = [country]
    if place is not None:
        if place.region:
            out.append(place.region)
        if place.district:
            out.append(place.district)
    return out


def _ur(place: registry_service.SettlementPlace | None) -> str | None:
    if place is None or place.rural is None:
        return None
    return "rural" if place.rural else "urban"


def _keys(
    country: str,
    place: registry_service.SettlementPlace | None,
    sex: str | None,
    age: int | None = None,
) -> Iterable[Key]:
    strata = [("", "")]
    if sex:
        strata.append(("sex", sex))
    ur = _ur(place)
    if ur:
        strata.append(("urban_rural", ur))
    if age is not None:
        strata.append(("age_group", AGE_LABELS[age]))
    for area in _areas(country, place):
        for by, stratum in strata:
            yield area, by, stratum


async def compute_cells(session: AsyncSession, period: Period) -> dict[Key, Cell]:
    """Every cell's measures for the period (four grouped reads and one of the territory)."""
    country = get_settings().country
    places = await registry_service.settlement_places(session)
    cells: dict[Key, Cell] = defaultdict(Cell)
    py = period.years

    pop = await registry_service.register_population(session, period.midpoint, AGES)
    for (sid, sex, age), n in pop.items():
        place = places.get(sid) if sid is not None else None
        i = AGES.index(age)
        for key in _keys(country, place, sex, age):
            c = cells[key]
            c.population += n * py
            c.pop_by_age[i] += n * py

    births = await registry_service.register_live_births(session, period.start, period.end)
    for (sid, sex), n in births.items():
        place = places.get(sid) if sid is not None else None
        for key in _keys(country, place, sex):
            cells[key].live_births += n

    deaths = await registry_service.register_deaths(
        session, period.start, period.end, AGES, cause_classes()
    )
    for (sid, sex, age, band, cause), n in deaths.items():
        place = places.get(sid) if sid is not None else None
        i = AGES.index(age)
        for key in _keys(country, place, sex, age):
            c = cells[key]
            c.deaths += n
            c.deaths_by_age[i] += n
            if band == "d0_6":
                c.d0_6 += n
            if band in ("d0_6", "d7_27"):
                c.d0_27 += n
            if age == 0:
                c.under1 += n
            if age < 5:
                c.under5 += n
            if cause == "maternal":
                c.maternal += n
            if cause == "ncd4":
                c.ncd_by_age[i] += n

    ga = live_birth_criterion(country).stillbirth_min_ga_days
    outcomes = await maternal_service.birth_outcomes(session, period.start, period.end, ga)
    for (sid, sex, outcome), n in outcomes.items():
        if outcome != "stillbirth":
            continue
        place = places.get(sid) if sid is not None else None
        for key in _keys(country, place, sex):
            cells[key].stillbirths += n
    return cells


@dataclass(frozen=True)
class Computed:
    indicator: str
    area: str
    by: str
    stratum: str
    numerator: float | None
    denominator: float | None
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


_MEASURE = {
    "population": lambda c: c.population,
    "live_births": lambda c: c.live_births,
    "deaths": lambda c: c.deaths,
    "deaths_0_6d": lambda c: c.d0_6,
    "deaths_0_27d": lambda c: c.d0_27,
    "deaths_under_1": lambda c: c.under1,
    "deaths_under_5": lambda c: c.under5,
    "maternal_deaths": lambda c: c.maternal,
    "stillbirths_22w": lambda c: c.stillbirths,
    "total_births_22w": lambda c: c.live_births + c.stillbirths,
}


def _measure(name: str | list[str] | None, c: Cell) -> float:
    if name is None:
        return 0.0
    if isinstance(name, list):
        return float(sum(_MEASURE[n](c) for n in name))
    return float(_MEASURE[name](c))


def compute_indicator(ind: Indicator, key: Key, c: Cell) -> Computed | None:
    """One indicator for one cell; None where the indicator has no such stratum."""
    area, by, stratum = key
    if by and by not in ind.by:
        return None
    if ind.method == "count":
        n = _measure(ind.numerator, c)
        return Computed(ind.code, area, by, stratum, n, None, n)
    if ind.method == "rate":
        num, den = _measure(ind.numerator, c), _measure(ind.denominator, c)
        r = calc.rate(num, den, ind.multiplier or 1.0)
        return Computed(ind.code, area, by, stratum, num, den, r.value, r.low, r.high)
    if ind.method == "sdg_3_4_1":
        d = [c.ncd_by_age[i] for i in _NCD_GROUPS]
        p = [c.pop_by_age[i] for i in _NCD_GROUPS]
        v = calc.sdg_341(d, p)
        return Computed(
            ind.code, area, by, stratum, float(sum(d)), sum(p),
            None if v is None else v * (ind.multiplier or 100),
        )  # fmt: skip
    if ind.method == "life_expectancy":
        t = calc.life_table(c.deaths_by_age, c.pop_by_age)
        if t is None:
            return Computed(ind.code, area, by, stratum, float(c.deaths), c.population, None)
        return Computed(
            ind.code, area, by, stratum, float(c.deaths), c.population,
            t.e0.value, t.e0.low, t.e0.high,
        )  # fmt: skip
    return None  # linked: read from its domain


def compute_from_cells(cells: dict[Key, Cell]) -> list[Computed]:
    out = []
    stored = [i for i in catalogue() if i.method != "linked"]
    for key in sorted(cells):
        for ind in stored:
            v = compute_indicator(ind, key, cells[key])
            if v is not None:
                out.append(v)
    return out


async def compute_period(session: AsyncSession, period: Period) -> list[Computed]:
    """Every stored indicator of the period, per area and stratum (nothing written)."""
    return compute_from_cells(await compute_cells(session, period))


async def take_turn(session: AsyncSession, period: Period) -> None:
    """Wait for any other run of the period to commit (PostgreSQL transaction lock)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": zlib.crc32(f"indicator_value:{period.code}".encode())},
        )


async def aggregate_period(
    session: AsyncSession, period: Period, now: datetime | None = None
) -> int:
    """Replace the period's rows of ``indicator_value`` with a fresh computation; the
    number of rows written. The caller commits.

    Two runs of one period (the nightly job and an analyst's recompute) take turns on
    PostgreSQL: a transaction lock on the period, taken before the records are read,
    holds the second until the first commits; it then reads the records as they are
    after the first, and replaces the first one's rows (the unique index per cell
    backs it). SQLite has one writer at a time."""
    await take_turn(session, period)
    values = await compute_period(session, period)
    now = now or utcnow()
    await session.execute(delete(Row).where(Row.period == period.code))
    rows = [
        {
            "indicator": v.indicator, "period": period.code, "area": v.area, "by": v.by,
            "stratum": v.stratum, "numerator": v.numerator, "denominator": v.denominator,
            "value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "computed_at": now,
        }
        for v in values
    ]  # fmt: skip
    if rows:
        await session.execute(insert(Row), rows)
    await session.flush()
    return len(rows)
