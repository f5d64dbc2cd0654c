"""Revaccination coverage at scale (issue 23: "revaccination coverage at 1M beside
hand-written SQL").

    .venv/bin/python -m bench --suites revaccination             # on the 1M synthetic database
    .venv/bin/python -m bench --suites revaccination --people 100000 --quick

The synthetic population has no COVID-19 doses, so ``run(ctx)`` writes them set-wise
inside one transaction that is rolled back at the end (the database is left as it was):
every living adult whose id ends in 0-6 gets a primary series of two doses, 30 days apart,
the second ``id % 730`` days before the synthetic run's day; those ending in 0-3 a third
dose 180 + ``id % 60`` days after the second (counted only when on or before the day).
Then, in that transaction, the median of ``REPEATS`` runs after a warm-up:

* the product's path, ``revaccination_sql.revaccination_coverage`` for the whole country
  (by region and age group, both denominators, through the pure formula, audited);
* beside one hand-written statement of the national counts (completed, eligible,
  revaccinated), the same definitions; the two national totals compared (``agree``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.common import BenchContext, Figure, load_average, synthetic_as_of

SUITE = "revaccination"
REPEATS = 5

SEED_DOSES = """
INSERT INTO immunization_dose (person_id, antigen, dose_number, given_on, valid, status,
    source, recorded_by, recorded_at, version)
SELECT p.id, :antigen, k,
    CASE k WHEN 1 THEN :day - (p.id % 730)::int - 30
           WHEN 2 THEN :day - (p.id % 730)::int
           ELSE :day - (p.id % 730)::int + 180 + (p.id % 60)::int END,
    true, 'completed', 'demo', 'bench', now(), 1
FROM person p CROSS JOIN generate_series(1, 3) AS k
WHERE p.merged_into_id IS NULL AND p.deceased_on IS NULL AND p.birth_date <= :adult
  AND ((k <= 2 AND p.id % 10 < 7) OR (k = 3 AND p.id % 10 < 4))
"""

HAND_SQL = """
WITH days AS (
  SELECT DISTINCT coalesce(p.merged_into_id, p.id) AS pid, d.given_on
  FROM immunization_dose d JOIN person p ON p.id = d.person_id
  WHERE d.antigen = :antigen AND d.status = 'completed' AND d.valid AND d.given_on <= :day),
ranked AS (
  SELECT pid, given_on, row_number() OVER (PARTITION BY pid ORDER BY given_on) AS n
  FROM days),
per AS (
  SELECT pid, max(given_on) FILTER (WHERE n = :n) AS done,
         max(given_on) FILTER (WHERE n = :n + 1) AS rev
  FROM ranked GROUP BY pid HAVING max(n) >= :n)
SELECT count(*), count(*) FILTER (WHERE done <= :cutoff OR rev IS NOT NULL), count(rev)
FROM per JOIN person p ON p.id = per.pid
WHERE p.merged_into_id IS NULL AND (p.deceased_on IS NULL OR p.deceased_on > :day)
"""


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        return await _figures(ctx)
    finally:
        await dispose_engines()


async def _median(fn: Any, repeats: int) -> tuple[float, Any]:
    result = await fn()  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


async def _figures(ctx: BenchContext) -> list[Figure]:
    from datetime import timedelta

    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.epidemic.service.revaccination import months_before
    from salomat.domains.epidemic.service.revaccination_sql import (
        definition,
        revaccination_coverage,
    )

    d = definition(ctx.country)
    who = Principal(user_id=0, username="bench", role="epidemiologist", session_id="bench")
    repeats = 2 if ctx.quick else REPEATS
    async with session_factory(ctx.async_url)() as s:
        try:
            day = await synthetic_as_of(s)
            started = time.perf_counter()
            await s.execute(
                text(SEED_DOSES),
                {"antigen": d.antigen, "day": day, "adult": day - timedelta(days=18 * 366)},
            )
            await s.execute(text("ANALYZE immunization_dose"))
            seeded_s = time.perf_counter() - started
            doses = await s.scalar(
                text("SELECT count(*) FROM immunization_dose WHERE antigen = :a"),
                {"a": d.antigen},
            )
            product_ms, c = await _median(
                lambda: revaccination_coverage(s, who, on=day, today=day), repeats
            )
            params = {
                "antigen": d.antigen,
                "day": day,
                "n": d.primary_doses,
                "cutoff": months_before(day, d.interval_months),
            }
            hand_ms, row = await _median(lambda: _hand(s, text(HAND_SQL), params), repeats)
        finally:
            await s.rollback()
    whole = c.total[-1]
    mine = (whole.completed_primary, whole.eligible, whole.revaccinated)
    hand = tuple(int(x) for x in row)
    return [
        Figure(
            suite=SUITE,
            name="revaccination coverage, whole country by region and age group",
            people=ctx.people,
            value=round(product_ms, 1),
            unit="ms",
            baseline="hand-written SQL of the national counts",
            baseline_value=round(hand_ms, 1),
            ratio=round(product_ms / hand_ms, 2) if hand_ms else None,
            detail={
                "agree": mine == hand,
                "product": mine,
                "hand": hand,
                "of_eligible_pct": str(whole.of_eligible.percent),
                "of_all_pct": str(whole.of_all.percent),
                "doses_seeded": int(doses or 0),
                "seed_s": round(seeded_s, 1),
                "regions": len({r.code for r in c.rows}),
                "load": load_average(),
            },
        )
    ]


async def _hand(s: Any, sql: Any, params: dict[str, Any]) -> Any:
    return (await s.execute(sql, params)).one()
