"""National health indicators under load (issue 20): the full indicator set of a year
beside hand-written SQL of the same counts, and the nightly aggregate job's duration.

    .venv/bin/python -m bench --suites statistics              # on the 1M synthetic database
    .venv/bin/python -m bench --suites statistics --people 10000 --quick

``run(ctx)`` measures, in this process, on the population's database, every session
rolled back so the database is left as it was:

* the indicator set: ``statistics.compute_period(session, <year>)``, every stored
  indicator for the country, each region and district, whole and by sex, urban/rural
  and age group (the measures read through the registry's and maternal's
  ``vital_reads``, folded into cells, rates, intervals, SDG 3.4.1, life tables),
  median of ``REPEATS`` runs after a warm-up, against four hand-written SQL statements
  giving the same national counts (population at 1 July by sex and life-table age
  group; live births by sex; deaths by sex, age group, neonatal band and cause class;
  stillbirths at 22 weeks or more), in the same run. The year is the last complete one
  before the synthetic run's day. The national counts of both are compared
  (``detail.agree``);
* the aggregate job: ``aggregate_period`` of that year and of its last month (what
  the nightly job does: compute and replace the rows), one timed run each after the
  indicator set has warmed the caches; no baseline (its own duration is the figure).
"""

# The SQL here is assembled from this module's constants; nothing typed by a user
# reaches it.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from bench.common import BenchContext, Figure, load_average, synthetic_as_of, timed_in_sessions

SUITE = "statistics"
REPEATS = 5

_AGE = "CASE WHEN {a} < 1 THEN 0 WHEN {a} < 5 THEN 1 WHEN {a} >= 85 THEN 85 ELSE {a} / 5 * 5 END"
_CAUSE = (
    "CASE WHEN substr(c, 1, 3) BETWEEN 'O00' AND 'O95' OR substr(c, 1, 3) BETWEEN 'O98' "
    "AND 'O99' OR substr(c, 1, 3) IN ('A34', 'F53') OR substr(c, 1, 4) = 'M830' "
    "THEN 'maternal' WHEN substr(c, 1, 3) BETWEEN 'I00' AND 'I99' OR substr(c, 1, 3) "
    "BETWEEN 'C00' AND 'C97' OR substr(c, 1, 3) BETWEEN 'E10' AND 'E14' OR "
    "substr(c, 1, 3) BETWEEN 'J30' AND 'J98' THEN 'ncd4' ELSE '' END"
)


def counts_sql() -> Any:
    """The national counts of a year, by hand, in four statements (PostgreSQL)."""
    from sqlalchemy import text

    population = text(
        "SELECT sex, "
        + _AGE.format(a="a")
        + ", count(*) FROM (SELECT sex, CAST(date_part('year', age(:mid, birth_date)) AS int) "
        "AS a FROM person WHERE merged_into_id IS NULL AND birth_date <= :mid AND "
        "(deceased_on IS NULL OR deceased_on >= :mid)) p GROUP BY 1, 2"
    )
    births = text(
        "SELECT sex, count(*) FROM person WHERE merged_into_id IS NULL "
        "AND birth_date BETWEEN :y0 AND :y1 GROUP BY 1"
    )
    deaths = text(
        "SELECT sex, "
        + _AGE.format(a="a")
        + ", CASE WHEN a >= 1 THEN '' WHEN days < 7 THEN 'd0_6' WHEN days < 28 THEN 'd7_27' "
        "ELSE 'd28' END, "
        + _CAUSE
        + ", count(*) FROM (SELECT sex, deceased_on - birth_date AS days, "
        "CAST(date_part('year', age(deceased_on, birth_date)) AS int) AS a, "
        "upper(replace(coalesce(death_cause, ''), '.', '')) AS c FROM person "
        "WHERE merged_into_id IS NULL AND deceased_on BETWEEN :y0 AND :y1) d "
        "GROUP BY 1, 2, 3, 4"
    )
    stillbirths = text(
        "SELECT count(*) FROM birth_baby b JOIN birth_record r ON r.id = b.birth_id "
        "WHERE b.outcome = 'stillbirth' AND r.ga_days >= 154 "
        "AND r.born_on BETWEEN :y0 AND :y1"
    )

    async def go(s: Any, year: int) -> dict[str, float]:
        y = {"y0": date(year, 1, 1), "y1": date(year, 12, 31)}
        out = dict.fromkeys(
            ("population", "live_births", "deaths", "under1", "d0_27", "d0_6", "under5",
             "maternal", "ncd_30_69", "stillbirths"), 0.0,
        )  # fmt: skip
        for _sex, _g, n in await s.execute(population, {"mid": date(year, 7, 1)}):
            out["population"] += n
        for _sex, n in await s.execute(births, y):
            out["live_births"] += n
        for _sex, g, band, cause, n in await s.execute(deaths, y):
            out["deaths"] += n
            out["under1"] += n if g == 0 else 0
            out["under5"] += n if g < 5 else 0
            out["d0_27"] += n if band in ("d0_6", "d7_27") else 0
            out["d0_6"] += n if band == "d0_6" else 0
            out["maternal"] += n if cause == "maternal" else 0
            out["ncd_30_69"] += n if cause == "ncd4" and 30 <= g < 70 else 0
        out["stillbirths"] = float(await s.scalar(stillbirths, y) or 0)
        return out

    return go


def _national(values: list[Any], country: str) -> dict[str, float]:
    """The same counts from the engine's national cells."""
    cell = {v.indicator: v for v in values if v.area == country and v.by == ""}

    def num(code: str) -> float:
        return float(cell[code].numerator or 0) if code in cell else float("nan")

    def den(code: str) -> float:
        return float(cell[code].denominator or 0) if code in cell else float("nan")

    return {
        # person-years of a whole year: the 1 July count x 365/365 (366/366)
        "population": round(den("crude_death_rate")),
        "live_births": num("live_births"),
        "deaths": num("crude_death_rate"),
        "under1": num("infant_mortality"),
        "d0_27": num("neonatal_mortality"),
        "d0_6": num("early_neonatal_mortality"),
        "under5": num("under5_mortality"),
        "maternal": num("maternal_mortality_ratio"),
        "ncd_30_69": num("ncd_premature_mortality"),
        "stillbirths": num("perinatal_mortality") - num("early_neonatal_mortality"),
    }


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        return await _figures(ctx)
    finally:
        await dispose_engines()


async def _figures(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import session_factory
    from salomat.domains.statistics import service

    url = ctx.async_url
    repeats = 2 if ctx.quick else REPEATS
    async with session_factory(url)() as s:
        as_of = await synthetic_as_of(s)
    year = min(as_of.year, date.today().year) - 1
    period = service.parse_period(str(year))
    raw = counts_sql()
    r_ms, r_samples, r_result = await timed_in_sessions(url, lambda s: raw(s, year), repeats)
    p_ms, p_samples, p_result = await timed_in_sessions(
        url, lambda s: service.compute_period(s, period), repeats
    )
    mine = _national(p_result, ctx.country)
    diff = {k: (mine[k], r_result[k]) for k in r_result if mine.get(k) != r_result[k]}
    cells = len({(v.area, v.by, v.stratum) for v in p_result})
    first = Figure(
        suite=SUITE,
        name=f"full indicator set of {year} (country, regions, districts x strata)",
        people=ctx.people,
        value=round(p_ms, 2),
        unit="ms",
        baseline="hand-written SQL of the same national counts (4 statements)",
        baseline_value=round(r_ms, 2),
        ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
        detail={
            "year": year,
            "values": len(p_result),
            "cells": cells,
            "counts": r_result,
            "agree": not diff,
            **({"differences": diff} if diff else {}),
            "product_ms": [round(x, 1) for x in p_samples],
            "raw_ms": [round(x, 1) for x in r_samples],
            "note": "the engine computes every area and stratum; the SQL only the "
            "national counts (the engine's extra work is in the ratio)",
            "load_average": load_average(),
        },
    )
    month = service.parse_period(f"{year}-12")
    timings = {}
    rows = {}
    for p in (period, month):
        async with session_factory(url)() as s:
            started = time.perf_counter()
            try:
                rows[p.code] = await service.aggregate_period(s, p)
            finally:
                timings[p.code] = (time.perf_counter() - started) * 1000
                await s.rollback()
    job = Figure(
        suite=SUITE,
        name=f"aggregate job: the year {year} and the month {month.code} (computed and stored)",
        people=ctx.people,
        value=round(sum(timings.values()) / 1000, 3),
        unit="s",
        detail={"ms": {k: round(v, 1) for k, v in timings.items()}, "rows": rows,
                "load_average": load_average()},
    )  # fmt: skip
    return [first, job]
