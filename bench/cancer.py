"""The cancer registry under load (issue 16): the rates table beside a hand-written SQL of
the same counts, and a day's notifications consolidated in one job beside bare inserts.

    .venv/bin/python -m bench --suites cancer            # on the 1M synthetic database

``run(ctx)`` measures, in this process, on the population's database (``salomat synth``
wrote its tumours: ``cancer_tumour`` is in ``bench/__main__.py``'s REQUIRED_ROWS, so a
population loaded before the cancer generator existed is loaded again), every session
rolled back so the database is left as it was:

* the rates table: ``statistics.incidence_table(session, principal, year=...,
  region_code=None, standard="segi")`` as the cancer registry, the table of a year
  (cases, crude rate and ASR by the pack's site groups and sex, all regions), median of
  ``REPEATS`` runs after a warm-up, against one hand-written SQL statement giving the
  same cases by site group, sex and age band and one for the person-years by sex and
  band (the ASR is then a few multiplications), in the same run. The year is the last
  complete one before the synthetic run's day. The two answers are compared: cases and
  ASR per group and sex (``detail.agree``);
* a day's notifications: the country's day, N reports with N = the pack's crude rate ×
  its ``national_population`` / 100,000 / 365 (Uzbekistan 80 × 37.5M: about 82 a day;
  Kazakhstan 190 × 20.3M: about 106; the synthetic population itself, 1M people, has
  about 2 a day) through ``notifications.notify`` as the cancer registry in one unit of
  work (every check, the multiple-primary rules, the tumour rebuilt, the audit), a third
  of them second reports of a tumour already registered (same site and histology: they
  join it), the rest first cancers of people over 40 without one; against inserting the
  same N notifications as bare rows in one transaction (one executemany), in the same
  run. A job of five reports warms up first; all rolled back.
"""

# The SQL here is assembled from this module's constants and the pack's site groups (bound
# as parameters); nothing typed by a user reaches it.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from bench.common import BenchContext, Figure, load_average, synthetic_as_of, timed_in_sessions

SUITE = "cancer"
REPEATS = 5
#: the share of a day's reports that are a second report of a registered tumour
SECOND_SHARE = 1 / 3
#: reports of the warm-up job before the measured one
WARM_UP = 5
SEGI = (12000, 10000, 9000, 9000, 8000, 8000, 6000, 6000, 6000, 6000, 5000, 4000, 4000,
        3000, 2000, 1000, 500, 500)  # fmt: skip  # Segi 1960 / Doll et al. 1966


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        figures = [await _rates(ctx), await _day_of_notifications(ctx)]
    finally:
        await dispose_engines()
    return figures


# ---- (a) the rates table -----------------------------------------------------------------


def _groups_values(country: str) -> tuple[str, dict[str, Any]]:
    """``VALUES`` rows (group, first category, last category) of the pack's site groups."""
    from salomat.domains.cancer.service.common import cancer_rules

    rows, params = [], {}
    k = 0
    for g in cancer_rules(country).site_groups:
        for lo, hi in g.ranges:
            rows.append(f"(:g{k}, {int(lo)}, {int(hi)})")
            params[f"g{k}"] = g.code
            k += 1
    return ", ".join(rows), params


def rates_sql(country: str) -> Any:
    """Cases by site group, sex and age band of a year, and person-years by sex and band,
    in two statements written by hand; the ASR (Segi) from them."""
    from sqlalchemy import text

    values, params = _groups_values(country)
    cases = text(
        f"WITH g(code, lo, hi) AS (VALUES {values}), "
        "t AS (SELECT sex, LEAST(age / 5, 17) AS band, "
        "CAST(substr(icd10, 2, 2) AS integer) AS n FROM cancer_tumour "
        "WHERE status = 'registered' AND incidence_date >= :y0 AND incidence_date < :y1 "
        "AND icd10 LIKE 'C%%') "
        "SELECT g.code, t.sex, t.band, count(*) FROM t JOIN g ON t.n BETWEEN g.lo AND g.hi "
        "GROUP BY 1, 2, 3".replace("%%", "%")
    )
    people = text(
        "SELECT sex, age_from / 5, sum(count) FROM territory_population WHERE year = "
        "(SELECT year FROM territory_population ORDER BY abs(year - :year), year LIMIT 1) "
        "GROUP BY 1, 2"
    )

    async def go(s: Any, year: int) -> dict[tuple[str, str], dict[str, float]]:
        y = {"y0": date(year, 1, 1), "y1": date(year + 1, 1, 1)}
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 18)
        for code, sex, band, n in await s.execute(cases, {**params, **y}):
            counts[(code, sex)][int(band)] += int(n)
        py = {
            (sex, int(band)): float(n) for sex, band, n in await s.execute(people, {"year": year})
        }
        out = {}
        for (code, sex), bands in counts.items():
            rates = [
                bands[b] / py[(sex, b)] * 100_000 if py.get((sex, b)) else 0.0 for b in range(18)
            ]
            out[(code, sex)] = {
                "cases": float(sum(bands)),
                "asr": sum(r * w for r, w in zip(rates, SEGI, strict=True)) / sum(SEGI),
            }
        return out

    return go


def _lines_of(answer: Any) -> dict[tuple[str, str], dict[str, float | None]]:
    """Cases and ASR per (site group, sex) from the service's table (both sexes left out:
    the SQL gives each sex). A count the table shows as "<5" compares by its ASR only."""
    out: dict[tuple[str, str], dict[str, float | None]] = {}
    for line in answer.lines:
        if line.sex not in ("male", "female") or line.cases == 0:
            continue
        out[(line.site, line.sex)] = {
            "cases": float(line.cases) if isinstance(line.cases, int) else None,
            "asr": line.asr.value if line.asr is not None else None,
        }
    return out


async def _rates(ctx: BenchContext) -> Figure:
    from salomat.core.db import session_factory
    from salomat.core.security import Principal

    url = ctx.async_url
    repeats = 3 if ctx.quick else REPEATS
    async with session_factory(url)() as s:
        as_of = await synthetic_as_of(s)
    year = as_of.year - 1
    raw = rates_sql(ctx.country)
    r_ms, r_samples, r_result = await timed_in_sessions(url, lambda s: raw(s, year), repeats)
    detail: dict[str, Any] = {
        "year": year,
        "raw_ms": [round(x, 1) for x in r_samples],
        "groups": len({g for g, _ in r_result}),
        "cases_all_sites": sum(v["cases"] for (g, _), v in r_result.items() if g == "all"),
        "load_average": load_average(),
    }
    try:
        from salomat.domains.cancer.service import statistics as cancer_statistics
    except ImportError as e:
        return Figure(
            suite=SUITE,
            name=f"rates table of {year} (cases, crude and ASR by site group and sex)",
            people=ctx.people,
            value=float("nan"),
            unit="ms",
            baseline="hand-written SQL of the same counts and person-years",
            baseline_value=round(r_ms, 2),
            detail=detail | {"note": f"statistics.incidence_table not available: {e}"},
        )

    registrar = Principal(user_id=0, username="bench", role="cancer_registrar", session_id="bench")

    async def product(s: Any) -> Any:
        return await cancer_statistics.incidence_table(
            s, registrar, year=year, region_code=None, standard="segi"
        )

    p_ms, p_samples, p_result = await timed_in_sessions(url, product, repeats)
    mine = _lines_of(p_result)
    diff = {}
    for key in set(mine) | set(r_result):
        a, b = mine.get(key), r_result.get(key)
        if (
            a is None
            or b is None
            or (a["cases"] is not None and a["cases"] != b["cases"])
            or a["asr"] is None
            or abs(a["asr"] - b["asr"]) > 0.01
        ):
            diff[f"{key[0]}/{key[1]}"] = (a, b)
    detail["agree"] = not diff
    if diff:
        detail["differences"] = dict(sorted(diff.items())[:20])
    detail["note"] = (
        "the service as the cancer registry (no small-cell suppression), audited; "
        "agree: the same cases and ASR (to 0.01) per site group and sex as the SQL (a count "
        "the service shows as '<5' by its ASR only)"
    )
    return Figure(
        suite=SUITE,
        name=f"rates table of {year} (cases, crude and ASR by site group and sex, all regions)",
        people=ctx.people,
        value=round(p_ms, 2),
        unit="ms",
        baseline="hand-written SQL of the same counts and person-years (2 statements)",
        baseline_value=round(r_ms, 2),
        ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
        detail=detail | {"product_ms": [round(x, 1) for x in p_samples]},
    )


# ---- (b) a day's notifications ---------------------------------------------------------------


async def _day_plan(s: Any, ctx: BenchContext, n: int, rng: random.Random) -> list[tuple[int, Any]]:
    """N reports: a third repeat a registered tumour's site and histology, the rest are
    first cancers of living people without one, drawn from the pack's sites for their sex."""
    from sqlalchemy import text

    from salomat.domains.cancer.schemas import NotificationIn
    from salomat.domains.cancer.service.common import cancer_rules

    today = date.today()
    seconds = int(n * SECOND_SHARE)
    again = (
        await s.execute(
            text(
                "SELECT t.person_id, t.topography, t.histology, t.behaviour FROM cancer_tumour t "
                "JOIN person p ON p.id = t.person_id WHERE t.vital_status = 'alive' "
                "AND t.status = 'registered' AND p.merged_into_id IS NULL "
                "AND t.topography <> 'C80.9' ORDER BY md5(t.id::text) LIMIT :n"
            ),
            {"n": seconds},
        )
    ).all()
    fresh = (
        await s.execute(
            text(
                "SELECT p.id, p.sex FROM person p WHERE p.deceased_on IS NULL "
                "AND p.merged_into_id IS NULL AND p.birth_date < :adult AND NOT EXISTS "
                "(SELECT 1 FROM cancer_tumour t WHERE t.person_id = p.id) "
                "ORDER BY md5(p.id::text) LIMIT :n"
            ),
            {"n": n - len(again), "adult": today - timedelta(days=365 * 40)},
        )
    ).all()
    sites = cancer_rules(ctx.country).synth["sites"]
    plan: list[tuple[int, Any]] = []
    for pid, topo, hist, beh in again:
        plan.append(
            (pid, NotificationIn(source="pathology", topography=topo, morphology=f"{hist}/{beh}",
                                 basis=7, diagnosed_on=today - timedelta(days=3),
                                 date_kind="microscopic"))
        )  # fmt: skip
    for pid, sex in fresh:
        options = [x for x in sites if x.get("sex") in (None, sex)]
        site = rng.choices(options, weights=[float(x["share"]) for x in options])[0]
        plan.append(
            (pid, NotificationIn(source="clinician", topography=site["topography"],
                                 morphology=site["morphology"], basis=2,
                                 diagnosed_on=today - timedelta(days=rng.randint(1, 10)),
                                 date_kind="outpatient"))
        )  # fmt: skip
    rng.shuffle(plan)
    return plan


async def _day_of_notifications(ctx: BenchContext) -> Figure:
    from sqlalchemy import insert

    from salomat.core.db import session_factory, utcnow
    from salomat.core.security import Principal
    from salomat.country import pack
    from salomat.domains.cancer.models import CancerNotification
    from salomat.domains.cancer.service import notify
    from salomat.domains.cancer.service.common import cancer_rules

    url = ctx.async_url
    rng = random.Random(ctx.seed)
    rate = float(cancer_rules(ctx.country).synth["crude_rate"])
    country = float(pack.load(ctx.country, "population")["national_population"])
    n = max(10, round(rate * country / 100_000 / 365))
    registrar = Principal(user_id=0, username="bench", role="cancer_registrar", session_id="bench")
    async with session_factory(url)() as s:
        plan = await _day_plan(s, ctx, n + WARM_UP, rng)
    warm, plan = plan[:WARM_UP], plan[WARM_UP:]

    outcomes: dict[str, int] = defaultdict(int)
    job_ms = 0.0
    for batch in (warm, plan):
        async with session_factory(url)() as s:
            started = time.perf_counter()
            try:
                for pid, data in batch:
                    result = await notify(s, registrar, pid, data)
                    if batch is plan:
                        outcomes[result.reason] += 1
                await s.flush()
                job_ms = (time.perf_counter() - started) * 1000
            finally:
                await s.rollback()

    now = utcnow()
    rows = [
        {
            "person_id": pid, "source": d.source, "reported_on": date.today(),
            "received_at": now, "reported_by": "bench", "topography": d.topography,
            "histology": int(d.morphology[:4]), "behaviour": int(d.morphology[-1]),
            "basis": d.basis, "diagnosed_on": d.diagnosed_on, "date_level": 3,
            "status": "to_review", "rare_checks": [],
        }
        for pid, d in plan
    ]  # fmt: skip
    async with session_factory(url)() as s:
        started = time.perf_counter()
        try:
            await s.execute(insert(CancerNotification), rows)
            await s.flush()
            bare_ms = (time.perf_counter() - started) * 1000
        finally:
            await s.rollback()
    return Figure(
        suite=SUITE,
        name=f"a day's notifications ({len(plan)}) consolidated through notify in one job",
        people=ctx.people,
        value=round(job_ms, 1),
        unit="ms",
        baseline=f"bare insert of the same {len(plan)} notification rows (one executemany)",
        baseline_value=round(bare_ms, 1),
        ratio=float(f"{job_ms / bare_ms:.4g}") if bare_ms else None,
        detail={
            "notifications": len(plan),
            "per_notification_ms": round(job_ms / len(plan), 2),
            "decisions": dict(outcomes),
            "day_size": f"crude rate {rate:g} per 100,000 × {country:,.0f} people / 365",
            "at": datetime.now().isoformat(timespec="seconds"),
            "load_average": load_average(),
        },
    )
