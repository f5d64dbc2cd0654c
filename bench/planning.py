"""Planning the primary-care network for a whole country (issue 22, "Measured").

    .venv/bin/python -m bench --suites planning              # on the 1M synthetic database
    .venv/bin/python -m bench --suites planning --people 100000 --quick

The database must hold the planning domain's synthetic rows (``salomat synth`` with
``planning.service.synth.synthesize_planning``: the country's thousands of villages with
census figures and primary-care units, some missing). ``run(ctx)`` measures, in this
process, every session rolled back so the database is left as it was:

* the norm: ``gaps.gap_report`` of the whole country under the edition in force on the
  synthetic run's day (every settlement's latest census figure, the unit the edition
  requires, the units open there, the gaps by district with their cost), median of
  ``REPEATS`` runs after a warm-up, beside one hand-written statement of the same counts
  (the edition's bands as a CASE, the open units' best level per settlement, gaps per
  required unit); the counts compared (``detail.agree``);
* access: ``access.access`` of every region (nearest unit of each level for each
  settlement, the population beyond the pack's threshold), summed over the country;
* staffing: ``staffing.staffing`` of the country (posts by district, rural/urban and
  position against filled FTE);
* routing: a region's mobile team: ``routing.plan_route`` (OR-Tools, local search) over
  the settlements of the region's district with the most settlements lacking a unit, from
  the district's town, beside a nearest-neighbour tour of the same stops in the same run
  (its kilometres: ``ratio`` is OR-Tools' km over the greedy km, and the seconds).
"""

# The SQL here is assembled from this module's constants and the pack's unit levels and
# bands (numbers); nothing typed by a user reaches it.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from bench.common import (
    BenchContext,
    Figure,
    load_average,
    synthetic_as_of,
    timed_in_sessions,
)

SUITE = "planning"
REPEATS = 5
#: at most this many stops in the routing figure (a district's worth)
MAX_ROUTE_STOPS = 60


# ---- hand-written SQL ---------------------------------------------------------------------


def norm_sql(rules: Any, edition: Any) -> Any:
    """One statement: (required unit, settlements, gaps) of the country under ``edition``:
    each settlement's latest census figure on :day, its band's unit, the highest level of
    the units open there; a gap where that level is below the required one, except a
    visiting medical worker's (no premises: no facility closes it, so the product lists
    those villages apart from the gaps)."""
    from sqlalchemy import text

    from salomat.domains.planning.service.settlements import VISITING_UNIT

    level_of_kind = " ".join(
        f"WHEN '{kind}' THEN {rules.level(unit)}" for kind, unit in rules.facility_units.items()
    )
    kinds = ", ".join(f"'{k}'" for k in rules.facility_units)
    bands = " ".join(
        f"WHEN c.population >= {b.min_population}"
        + (f" AND c.population <= {b.max_population}" if b.max_population is not None else "")
        + (f" THEN '{b.unit}'" if b.unit else " THEN NULL")
        for b in edition.bands
    )
    level_of_unit = " ".join(f"WHEN '{u}' THEN {rules.level(u)}" for u in rules.units)
    return text(
        f"""
        WITH latest AS (
            SELECT DISTINCT ON (territory_id) territory_id, population
            FROM settlement_census WHERE as_of <= :day
            ORDER BY territory_id, as_of DESC
        ), units AS (
            SELECT f.settlement_id, max(CASE f.kind {level_of_kind} END) AS level
            FROM facility f
            WHERE f.is_open AND f.kind IN ({kinds})
              AND (f.opened_on IS NULL OR f.opened_on <= :day)
              AND (f.closed_on IS NULL OR f.closed_on > :day)
            GROUP BY f.settlement_id
        ), needs AS (
            SELECT s.id, CASE {bands} END AS unit, coalesce(u.level, 0) AS have
            FROM territory s
            JOIN latest c ON c.territory_id = s.id
            LEFT JOIN units u ON u.settlement_id = s.id
            WHERE s.level = 'settlement'
        )
        SELECT unit, count(*) AS settlements,
               count(*) FILTER (WHERE unit IS NOT NULL AND unit <> '{VISITING_UNIT}'
                                AND have < CASE unit {level_of_unit} END) AS gaps
        FROM needs GROUP BY unit
        """
    )


async def raw_norm_counts(s: Any, sql: Any, day: date) -> dict[str, Any]:
    rows = (await s.execute(sql, {"day": day})).all()
    gaps = {r[0]: int(r[2]) for r in rows if r[0] is not None and r[2]}
    return {"settlements": sum(int(r[1]) for r in rows), "gaps": dict(sorted(gaps.items()))}


def product_norm_counts(report: Any) -> dict[str, Any]:
    t = report.total
    return {"settlements": t.settlements, "gaps": dict(sorted(t.by_unit.items()))}


def greedy_km(matrix: list[list[float]]) -> float:
    """A nearest-neighbour tour from node 0 over every node and back: its kilometres."""
    n = len(matrix)
    left, here, km = set(range(1, n)), 0, 0.0
    while left:
        nxt = min(left, key=lambda j: (matrix[here][j], j))
        km += matrix[here][nxt]
        left.discard(nxt)
        here = nxt
    return km + matrix[here][0]


# ---- the run ------------------------------------------------------------------------------


def run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    async def go() -> list[Figure]:
        try:
            return await _figures(ctx)
        finally:
            await dispose_engines()

    return asyncio.run(go())


async def _route_case(s: Any, rules: Any) -> tuple[str, Any, list[Any]]:
    """(district code, base settlement, stops): the district with the most settlements
    without a unit with premises, its town (or largest settlement) as the team's base."""
    from sqlalchemy import text

    kinds = ", ".join(f"'{k}'" for k in rules.facility_units)
    row = (
        await s.execute(
            text(
                "SELECT d.code FROM territory st JOIN territory d ON d.id = st.parent_id "
                "WHERE st.level = 'settlement' AND st.latitude IS NOT NULL AND NOT EXISTS ("
                f"SELECT 1 FROM facility f WHERE f.settlement_id = st.id AND f.kind IN ({kinds}) "
                "AND f.is_open) GROUP BY d.code ORDER BY count(*) DESC, d.code LIMIT 1"
            )
        )
    ).first()
    if row is None:
        raise RuntimeError("no settlement lacks a unit: nothing for a mobile team to visit")
    return row[0], None, []


async def _figures(ctx: BenchContext) -> list[Figure]:
    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.planning.service import access, geo, norms, routing
    from salomat.domains.planning.service.gaps import gap_report
    from salomat.domains.planning.service.settlements import settlement_rows
    from salomat.domains.planning.service.staffing import staffing

    url = ctx.async_url
    repeats = 2 if ctx.quick else REPEATS
    rules = norms.planning_pack(ctx.country)
    norms_current = norms.current
    norms.current = lambda: rules  # the services read the bench database's country
    try:
        async with session_factory(url)() as s:
            as_of = await synthetic_as_of(s)
            if (await s.execute(text("SELECT 1 FROM settlement_census LIMIT 1"))).first() is None:
                raise RuntimeError(
                    "the database has no census figures: load it with a salomat synth that "
                    "calls planning.service.synth.synthesize_planning (--fresh)"
                )
            n_settlements = (
                await s.execute(text("SELECT count(*) FROM territory WHERE level = 'settlement'"))
            ).scalar_one()
            regions = [
                r[0]
                for r in await s.execute(
                    text("SELECT code FROM territory WHERE level = 'region' ORDER BY code")
                )
            ]
        edition = rules.edition(on=as_of)
        analyst = Principal(user_id=0, username="bench", role="analyst", session_id="bench")
        figures: list[Figure] = []

        # (a) the norm over the whole country
        sql = norm_sql(rules, edition)
        r_ms, r_samples, r_counts = await timed_in_sessions(
            url, lambda s: raw_norm_counts(s, sql, as_of), repeats
        )

        async def product_norm(s: Any) -> dict[str, Any]:
            report = await gap_report(s, analyst, None, edition_code=edition.code, on=as_of)
            return {**product_norm_counts(report), "cost": str(report.total.cost)}

        p_ms, p_samples, p_counts = await timed_in_sessions(url, product_norm, repeats)
        cost = p_counts.pop("cost")
        agree = p_counts == r_counts
        figures.append(
            Figure(
                suite=SUITE,
                name=f"norm gaps of the whole country ({n_settlements:,} settlements, "
                f"{edition.code})",
                people=ctx.people,
                value=round(p_ms, 2),
                unit="ms",
                baseline="hand-written SQL of the same counts (one statement)",
                baseline_value=round(r_ms, 2),
                ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
                detail={
                    "on": str(as_of),
                    "settlements": n_settlements,
                    "counts": r_counts,
                    "cost": cost,
                    "agree": agree,
                    **({"product_counts": p_counts} if not agree else {}),
                    "product_ms": [round(x, 1) for x in p_samples],
                    "raw_ms": [round(x, 1) for x in r_samples],
                    "note": "the product also reads the attached counts, the registry's "
                    "age structure and names, and sums gaps and cost by district",
                    "load_average": load_average(),
                },
            )
        )

        # (b) access, region by region over the whole country
        async def country_access(s: Any) -> dict[str, Any]:
            population = beyond = measured = 0
            for code in regions:
                rep = await access.access(s, analyst, code, edition_code=edition.code)
                population += rep.population
                beyond += rep.population_beyond
                measured += len(rep.settlements)
            return {"population": population, "beyond": beyond, "settlements": measured}

        a_ms, a_samples, a_result = await timed_in_sessions(url, country_access, repeats)
        figures.append(
            Figure(
                suite=SUITE,
                name=f"access of the whole country ({len(regions)} regions, nearest unit of "
                "each level)",
                people=ctx.people,
                value=round(a_ms, 2),
                unit="ms",
                detail={
                    **a_result,
                    "share_beyond": round(a_result["beyond"] / a_result["population"], 4)
                    if a_result["population"]
                    else None,
                    "samples_ms": [round(x, 1) for x in a_samples],
                    "load_average": load_average(),
                },
            )
        )

        # (c) staffing of the whole country
        st_ms, st_samples, st_result = await timed_in_sessions(
            url, lambda s: staffing(s, analyst, None, on=as_of), repeats
        )
        figures.append(
            Figure(
                suite=SUITE,
                name="staffing of the whole country (posts by district, rural/urban, position)",
                people=ctx.people,
                value=round(st_ms, 2),
                unit="ms",
                detail={
                    "required": st_result.total.required,
                    "filled": str(st_result.total.filled),
                    "deficit": str(st_result.total.deficit),
                    "samples_ms": [round(x, 1) for x in st_samples],
                    "load_average": load_average(),
                },
            )
        )

        # (d) routing a region's mobile team
        async with session_factory(url)() as s:
            district, _, _ = await _route_case(s, rules)
            rows = await settlement_rows(s, analyst, district, edition_code=edition.code)
            await s.rollback()
        placed = [r for r in rows if r.latitude is not None and r.longitude is not None]
        towns = [r for r in placed if r.is_rural is False] or sorted(
            placed, key=lambda r: -(r.census_population or 0)
        )
        base = towns[0]
        premises = {u for u in rules.units if rules.level(u) > rules.level("health_worker")}
        stops = [
            r for r in placed if r.code != base.code and not (set(r.existing_units) & premises)
        ][:MAX_ROUTE_STOPS]
        lat = [base.latitude, *(r.latitude for r in stops)]
        lon = [base.longitude, *(r.longitude for r in stops)]
        matrix = (geo.haversine_matrix_km(lat, lon, lat, lon) * rules.access.detour_factor).tolist()
        started = time.perf_counter()
        plan = routing.plan_route(
            matrix,
            service_minutes=rules.mobile.service_minutes,
            speed_kmh=rules.mobile.speed_kmh,
            day_minutes=rules.mobile.day_minutes,
            time_limit_s=2 if ctx.quick else 10,
        )
        route_s = time.perf_counter() - started
        started = time.perf_counter()
        greedy = greedy_km(matrix)
        greedy_s = time.perf_counter() - started
        figures.append(
            Figure(
                suite=SUITE,
                name=f"a mobile team's route over {len(stops)} settlements of a district "
                "(OR-Tools, team-days)",
                people=ctx.people,
                value=round(plan.km, 1),
                unit="km",
                baseline="one nearest-neighbour tour of the same stops (no working day)",
                baseline_value=round(greedy, 1),
                ratio=float(f"{plan.km / greedy:.4g}") if greedy else None,
                detail={
                    "district": district,
                    "base": base.code,
                    "stops": len(stops),
                    "team_days": len(plan.days),
                    "unreachable": len(plan.unreachable),
                    "seconds": round(route_s, 3),
                    "greedy_seconds": round(greedy_s, 4),
                    "note": "the plan splits the tour into working days (each returns to the "
                    "base), the greedy tour does not: a ratio above 1 is the price of the "
                    "working day",
                    "load_average": load_average(),
                },
            )
        )
        return figures
    finally:
        norms.current = norms_current
