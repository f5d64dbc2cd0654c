"""The epidemic situation of every region on a day (docs/epidemic.md "Situation, zones
and alerts"): daily counts read once for all regions, Rt by region, incidence and
hospitalised per 100 000, bed occupancy, the zone by the pack's edition with the rule that
decided it, and the forecast of cases, admissions and occupied beds with the first day
each passes the region's beds.

Everything is computed for all regions at once on regions × days arrays by the pure core
(``rt``, ``forecast``, ``matrix``); the only loop per region is the zone rule evaluation
of the one day (``matrix.evaluate``). Population: the registry's settlement population
(``registry.population_by_region``, the census figures imported per settlement), the
latest year not after the day's. Beds: the capacity service's beds in force on the day
and the occupancy reported that day, summed by the facility's region.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.domains.epidemic.service import capacity, rules
from salomat.domains.epidemic.service.counts import DailyCounts, daily_counts
from salomat.domains.epidemic.service.forecast import (
    BedProjection,
    CaseProjection,
    project_beds,
    project_cases,
)
from salomat.domains.epidemic.service.matrix import Edition, ZoneResult, evaluate
from salomat.domains.epidemic.service.rt import REPORTED, RtSeries, estimate_rt
from salomat.domains.registry import service as registry

__all__ = ["ALERT_DAYS", "HISTORY_DAYS", "Situation", "central_scenario", "compute_situation"]

#: days of counts read before the day (Rt's windows and the serial interval's reach)
HISTORY_DAYS = 56
#: a region projected to pass its beds within this many days raises an alert
ALERT_DAYS = 14
_ALL = PageParams(limit=10_000, offset=0)
PROFILES = ("infectious", "icu")


@dataclass(frozen=True, eq=False)
class Situation:
    """All regions on ``on``; arrays are indexed like ``codes`` (NaN: not known)."""

    on: date
    by: str
    edition: Edition
    region_ids: tuple[int, ...]
    codes: tuple[str, ...]
    names: tuple[dict[str, str], ...]
    counts: DailyCounts
    rt: RtSeries
    #: the day (index into the counts) Rt is read on: the last one not left out as
    #: incomplete (right truncation)
    rt_day: int
    population: np.ndarray
    population_year: int | None
    incidence_per_100k: np.ndarray
    beds: dict[str, np.ndarray]  # profile -> beds in force (NaN: none registered)
    occupied: dict[str, np.ndarray]  # profile -> occupied that day
    hospitalised_per_100k: np.ndarray
    zones: tuple[ZoneResult, ...]
    cases: CaseProjection
    projection: BedProjection
    scenario: str  # the scenario the alerts read (multiplier 1, else the nearest)

    @property
    def forecast_days(self) -> tuple[date, ...]:
        return tuple(self.on + timedelta(days=i + 1) for i in range(self.cases.horizon))

    def rt_reported(self) -> np.ndarray:
        return self.rt.status[:, self.rt_day] == REPORTED

    def first_exceeded(self, profile: str, scenario: str | None = None) -> list[int | None]:
        """Per region, the forecast day (0: the day after ``on``) the median of
        ``scenario``'s occupancy of ``profile`` beds first passes them, or None."""
        cross = (
            self.projection.icu_crossing if profile == "icu" else self.projection.general_crossing
        )
        return cross[scenario or self.scenario]["median"]


def central_scenario(multipliers: dict[str, float]) -> str:
    return min(multipliers, key=lambda k: abs(multipliers[k] - 1.0))


def _refuse(field: str, message: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field, message, dict(params))])


async def _population(
    session: AsyncSession, on: date, ids: tuple[int, ...]
) -> tuple[np.ndarray, int | None]:
    years = await registry.population_years(session)
    before = [y for y in years if y <= on.year]
    year = before[-1] if before else (years[-1] if years else None)
    pop = np.full(len(ids), np.nan)
    if year is None:
        return pop, None
    by_region = await registry.population_by_region(session, year)
    index = {rid: i for i, rid in enumerate(ids)}
    for rid, p in by_region.items():
        if rid in index and p.total > 0:
            pop[index[rid]] = p.total
    return pop, year


async def _beds(
    session: AsyncSession, on: date, codes: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Beds in force and occupied on ``on`` by region and profile: two set-wise reads of
    the capacity service and one of the facilities' regions, summed with numpy."""
    by_fac, occ = await capacity._capacity(session, on, None)
    fac_ids = set(by_fac) | {f for f, _ in occ}
    region_of = await registry.facility_regions(session, fac_ids)
    index = {c: i for i, c in enumerate(codes)}
    beds = {p: np.zeros(len(codes)) for p in PROFILES}
    have = {p: np.zeros(len(codes), dtype=bool) for p in PROFILES}
    occupied = {p: np.zeros(len(codes)) for p in PROFILES}
    for f, profiles in by_fac.items():
        i = index.get(region_of.get(f) or "")
        if i is None:
            continue
        for p, n in profiles.items():
            if p in beds:
                beds[p][i] += n
                have[p][i] = True
    for (f, p), (o, _a, _d) in occ.items():
        i = index.get(region_of.get(f) or "")
        if i is not None and p in occupied:
            occupied[p][i] += o
    return {p: np.where(have[p], beds[p], np.nan) for p in PROFILES}, occupied


def _per_100k(x: np.ndarray, pop: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pop > 0, x / pop * 100_000, np.nan)


def _pct(x: np.ndarray, beds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(beds > 0, x / beds * 100, np.nan)


def _value(a: np.ndarray, i: int) -> float | None:
    v = float(a[i])
    return None if np.isnan(v) else v


async def compute_situation(
    session: AsyncSession,
    *,
    on: date,
    edition: str | None = None,
    by: str = "onset",
    horizon: int | None = None,
    ep: rules.EpidemicPack | None = None,
) -> Situation:
    """Every region's situation on ``on`` (see the module's words). ``edition``: a chosen
    edition (unknown: 422 naming ``edition``), else the one in force on ``on``."""
    ep = ep or rules.current()
    ed = ep.edition(edition, on=on) if edition is not None else ep.edition(on=on)
    horizon = ep.horizon_days if horizon is None else horizon
    lo, hi = ep.horizon_range
    if not lo <= horizon <= hi:
        raise _refuse("horizon", N_("Must be between %(min)s and %(max)s days."), min=lo, max=hi)
    regions = (await registry.list_territory(session, _ALL, level="region")).items
    if not regions:
        raise _refuse("area", N_("No region is registered."))
    ids = tuple(r.id for r in regions)
    codes = tuple(r.code for r in regions)
    counts = await daily_counts(
        session,
        level="region",
        start=on - timedelta(days=HISTORY_DAYS - 1),
        end=on,
        by=by,
        area_ids=ids,
    )
    c = counts.counts.astype(float)
    rt = estimate_rt(
        c,
        ep.serial_interval,
        window_days=ep.rt.window_days,
        prior=ep.rt.prior,
        cv_max=ep.rt.cv_max,
        truncate_days=min(ep.rt.truncate_days, HISTORY_DAYS - 1),
        interval=ep.rt.interval,
    )
    rt_day = HISTORY_DAYS - 1 - rt.truncate_days
    pop, year = await _population(session, on, ids)
    beds, occupied = await _beds(session, on, codes)

    window = c[:, HISTORY_DAYS - ed.window_days :].sum(axis=1)
    incidence = _per_100k(window, pop)
    if ed.reading == "daily_average":
        incidence = incidence / ed.window_days
    inpatients = occupied["infectious"] + occupied["icu"]
    any_beds = ~(np.isnan(beds["infectious"]) & np.isnan(beds["icu"]))
    beds_occupied = np.where(any_beds, inpatients, np.nan)
    hospitalised = _per_100k(beds_occupied, pop)
    metrics = {
        "rt": np.where(rt.status[:, rt_day] == REPORTED, rt.mean[:, rt_day], np.nan),
        "incidence_per_100k": incidence,
        "bed_occupancy_pct": _pct(occupied["infectious"], beds["infectious"]),
        "icu_occupancy_pct": _pct(occupied["icu"], beds["icu"]),
        "hospitalised_per_100k": hospitalised,
        "beds_occupied": beds_occupied,
        "beds_occupied_per_100k": hospitalised,
    }
    zones = tuple(
        evaluate(ed, {k: _value(v, i) for k, v in metrics.items()}) for i in range(len(ids))
    )
    cases = project_cases(
        c,
        ep.serial_interval,
        rt,
        horizon=horizon,
        scenarios=ep.scenario_multipliers(),
        quantiles=ep.quantiles,
        horizon_range=ep.horizon_range,
    )
    projection = project_beds(
        cases,
        ep.hospital,
        beds=np.where(np.isnan(beds["infectious"]), np.inf, beds["infectious"]),
        icu_beds=np.where(np.isnan(beds["icu"]), np.inf, beds["icu"]),
    )
    return Situation(
        on=on,
        by=by,
        edition=ed,
        region_ids=ids,
        codes=codes,
        names=tuple({**r.names, "": r.name} for r in regions),
        counts=counts,
        rt=rt,
        rt_day=rt_day,
        population=pop,
        population_year=year,
        incidence_per_100k=incidence,
        beds=beds,
        occupied=occupied,
        hospitalised_per_100k=hospitalised,
        zones=zones,
        cases=cases,
        projection=projection,
        scenario=central_scenario(ep.scenario_multipliers()),
    )
