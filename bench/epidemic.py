"""The epidemic situation at scale (issue 23: "daily Rt, forecast and matrix for all
regions of a 1M-person country with a synthetic epidemic, time beside reading the same
counts").

    .venv/bin/python -m bench --suites epidemic             # on the 1M synthetic database
    .venv/bin/python -m bench --suites epidemic --people 100000 --quick

The database is loaded by ``salomat synth --epidemic-r EPIDEMIC_R`` (``bench/__main__.py``
passes it): 8 weeks of case notifications from a renewal process at R = ``EPIDEMIC_R``
ending on the synthetic run's day, and the synthetic hospitals' beds and daily occupancy
(docs/epidemic.md "Synthetic epidemic"). On that day, the median of ``REPEATS`` runs after
a warm-up, each in a session of its own rolled back after (the database is left as it was):

* the product's daily computation for every region, ``situation.compute_situation``:
  the counts read once, Rt (Cori) by region, incidence, beds and occupancy, the zone by
  the pack's edition, the forecast of cases and beds under every scenario;
* the nightly job, ``alerts.record_day``: the same situation, the day's zones written with
  one upsert and the alerts raised with one insert;
* beside the baseline: a hand-written SQL of the same regions × days counts (the one
  ``GROUP BY`` the situation reads through ``counts.daily_counts``: its time with the
  regions' listing is in the detail, and so is a breakdown of the situation's reads and
  pure core, each timed alone). The two totals are compared (``agree``), and Rt of the
  regions that report one is compared with the synthetic R (``rt_median``, ``rt_near_r``:
  within ``RT_TOLERANCE``), and so is the country's Rt from the summed counts
  (``rt_national``).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.common import BenchContext, Figure, load_average, synthetic_as_of, timed_in_sessions

SUITE = "epidemic"
REPEATS = 7
#: the R ``salomat synth --epidemic-r`` is given for the benchmark database
EPIDEMIC_R = 1.3
#: the median regional Rt must lie this near the synthetic R
RT_TOLERANCE = 0.15

HAND_SQL = """
SELECT region_id, onset_date, count(*) FROM epidemic_notification
WHERE onset_date >= :start AND onset_date <= :end AND region_id IS NOT NULL
GROUP BY region_id, onset_date
"""


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        return await _figures(ctx)
    finally:
        await dispose_engines()


async def _figures(ctx: BenchContext) -> list[Figure]:
    import numpy as np
    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.domains.epidemic.service import alerts
    from salomat.domains.epidemic.service.counts import daily_counts
    from salomat.domains.epidemic.service.situation import HISTORY_DAYS, compute_situation
    from salomat.domains.registry import service as registry

    repeats = 2 if ctx.quick else REPEATS
    async with session_factory(ctx.async_url)() as s:
        day = await synthetic_as_of(s)
        notified = await s.scalar(text("SELECT count(*) FROM epidemic_notification"))
        occupancy = await s.scalar(text("SELECT count(*) FROM epidemic_occupancy"))
        beds = await s.scalar(text("SELECT count(*) FROM epidemic_bed_capacity"))
    if not notified:
        raise SystemExit(
            "no case notifications: load the database with salomat synth --epidemic-r "
            f"{EPIDEMIC_R} (bench/__main__.py does)"
        )
    start = day - timedelta(days=HISTORY_DAYS - 1)
    params = {"start": start, "end": day}

    async def hand(s: Any) -> Any:
        return (await s.execute(text(HAND_SQL), params)).all()

    async def product_counts(s: Any) -> Any:
        regions = await _region_ids(s, registry)
        return await daily_counts(
            s, level="region", start=start, end=day, by="onset", area_ids=regions
        )

    async def situation(s: Any) -> Any:
        return await compute_situation(s, on=day)

    async def record(s: Any) -> Any:
        return await alerts.record_day(s, day)

    hand_ms, hand_samples, rows = await timed_in_sessions(ctx.async_url, hand, repeats)
    counts_ms, _, counts = await timed_in_sessions(ctx.async_url, product_counts, repeats)
    sit_ms, sit_samples, sit = await timed_in_sessions(ctx.async_url, situation, repeats)
    rec_ms, rec_samples, recorded = await timed_in_sessions(ctx.async_url, record, repeats)

    reported = sit.rt_reported()
    national = _national_rt(sit)
    breakdown = await _breakdown(ctx, sit, day, repeats)
    rt_now = sit.rt.mean[:, sit.rt_day][reported]
    rt_median = float(np.median(rt_now)) if rt_now.size else float("nan")
    hand_total = sum(int(r[2]) for r in rows)
    common = {
        "regions": len(sit.region_ids),
        "days": HISTORY_DAYS,
        "on": str(day),
        "notifications": int(notified),
        "cases_in_window": int(sit.counts.counts.sum()),
        "hand_cases": hand_total,
        "agree": hand_total == int(sit.counts.counts.sum()) == int(counts.counts.sum()),
        "regions_and_daily_counts_ms": round(counts_ms, 1),
        "synthetic_r": EPIDEMIC_R,
        "rt_regions_reported": int(reported.sum()),
        "rt_median": round(rt_median, 3) if rt_now.size else None,
        "rt_min": round(float(rt_now.min()), 3) if rt_now.size else None,
        "rt_max": round(float(rt_now.max()), 3) if rt_now.size else None,
        "rt_near_r": bool(rt_now.size and abs(rt_median - EPIDEMIC_R) <= RT_TOLERANCE),
        "rt_national": None if national != national else round(national, 3),
        "rt_national_near_r": bool(abs(national - EPIDEMIC_R) <= RT_TOLERANCE),
        "edition": sit.edition.code,
        "zones": dict(Counter(z.zone or "none" for z in sit.zones)),
        "beds_rows": int(beds or 0),
        "occupancy_rows": int(occupancy or 0),
        "infectious_beds": _total(sit.beds["infectious"]),
        "icu_beds": _total(sit.beds["icu"]),
        "infectious_occupied": _total(sit.occupied["infectious"]),
        "icu_occupied": _total(sit.occupied["icu"]),
        "hospitalised_per_100k_median": _median(sit.hospitalised_per_100k),
        "breakdown_ms": breakdown,
        "baseline_samples_ms": [round(x, 1) for x in hand_samples],
        "load": load_average(),
    }
    return [
        Figure(
            suite=SUITE,
            name="situation of every region (Rt, forecast, matrix)",
            people=ctx.people,
            value=round(sit_ms, 1),
            unit="ms",
            baseline="hand-written SQL of the same regions × days counts",
            baseline_value=round(hand_ms, 1),
            ratio=round(sit_ms / hand_ms, 2) if hand_ms else None,
            detail={**common, "samples_ms": [round(x, 1) for x in sit_samples]},
        ),
        Figure(
            suite=SUITE,
            name="the day's zones and alerts recorded (alerts.record_day)",
            people=ctx.people,
            value=round(rec_ms, 1),
            unit="ms",
            baseline="hand-written SQL of the same regions × days counts",
            baseline_value=round(hand_ms, 1),
            ratio=round(rec_ms / hand_ms, 2) if hand_ms else None,
            detail={
                **common,
                "zones_written": recorded["zones"],
                "alerts_raised": recorded["alerts"],
                "samples_ms": [round(x, 1) for x in rec_samples],
            },
        ),
    ]


async def _region_ids(s: Any, registry: Any) -> tuple[int, ...]:
    from salomat.core.pagination import PageParams

    page = await registry.list_territory(s, PageParams(limit=10_000, offset=0), level="region")
    return tuple(r.id for r in page.items)


async def _breakdown(ctx: BenchContext, sit: Any, day: Any, repeats: int) -> dict[str, float]:
    """Where the situation's time goes, each part alone (median of ``repeats`` after a
    warm-up): its three reads (counts, population, beds) and its pure core on the counts
    read (Rt, the cases' and the beds' forecast)."""
    import time

    import numpy as np

    from salomat.domains.epidemic.service import rules
    from salomat.domains.epidemic.service import situation as situation_module
    from salomat.domains.epidemic.service.forecast import project_beds, project_cases
    from salomat.domains.epidemic.service.rt import estimate_rt
    from salomat.domains.epidemic.service.situation import HISTORY_DAYS

    ep = rules.current()
    ids, codes = sit.region_ids, sit.codes
    c = sit.counts.counts.astype(float)

    async def population(s: Any) -> Any:
        return await situation_module._population(s, day, ids)

    async def beds(s: Any) -> Any:
        return await situation_module._beds(s, day, codes)

    def pure() -> tuple[float, float]:
        t0 = time.perf_counter()
        rt = estimate_rt(
            c,
            ep.serial_interval,
            window_days=ep.rt.window_days,
            prior=ep.rt.prior,
            cv_max=ep.rt.cv_max,
            truncate_days=min(ep.rt.truncate_days, HISTORY_DAYS - 1),
            interval=ep.rt.interval,
        )
        t1 = time.perf_counter()
        cases = project_cases(
            c,
            ep.serial_interval,
            rt,
            horizon=ep.horizon_days,
            scenarios=ep.scenario_multipliers(),
            quantiles=ep.quantiles,
            horizon_range=ep.horizon_range,
        )
        inf = np.where(np.isnan(sit.beds["infectious"]), np.inf, sit.beds["infectious"])
        icu = np.where(np.isnan(sit.beds["icu"]), np.inf, sit.beds["icu"])
        project_beds(cases, ep.hospital, beds=inf, icu_beds=icu)
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000

    pop_ms, _, _ = await timed_in_sessions(ctx.async_url, population, repeats)
    beds_ms, _, _ = await timed_in_sessions(ctx.async_url, beds, repeats)
    pure()  # warm-up
    runs = [pure() for _ in range(repeats)]
    return {
        "population_read": round(pop_ms, 1),
        "beds_read": round(beds_ms, 1),
        "rt": round(statistics.median(r[0] for r in runs), 1),
        "forecast_cases_and_beds": round(statistics.median(r[1] for r in runs), 1),
    }


def _national_rt(sit: Any) -> float:
    """Rt of the country (the regions' counts summed) on the situation's day, by the same
    estimator and pack rules (NaN: not reported)."""
    from salomat.domains.epidemic.service import rules
    from salomat.domains.epidemic.service.rt import REPORTED, estimate_rt

    ep = rules.current()
    total = sit.counts.counts.sum(axis=0, keepdims=True).astype(float)
    rt = estimate_rt(
        total,
        ep.serial_interval,
        window_days=ep.rt.window_days,
        prior=ep.rt.prior,
        cv_max=ep.rt.cv_max,
        truncate_days=sit.rt.truncate_days,
        interval=ep.rt.interval,
    )
    ok = rt.status[0, sit.rt_day] == REPORTED
    return float(rt.mean[0, sit.rt_day]) if ok else float("nan")


def _total(a: Any) -> int | None:
    import numpy as np

    v = np.nansum(a)
    return None if np.isnan(a).all() else int(v)


def _median(a: Any) -> float | None:
    import numpy as np

    finite = a[np.isfinite(a)]
    return round(float(statistics.median(finite.tolist())), 1) if finite.size else None
