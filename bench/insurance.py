"""The insurance fund under load (issue 17): a person's insured status beside a primary-key
read (p95), and the nightly control rules over all claim lines of a month beside
hand-written SQL counting the same flags.

    .venv/bin/python -m bench --country KZ --suites insurance             # 1M people
    .venv/bin/python -m bench --country KZ --people 20000 --suites insurance --quick

Kazakhstan's pack is the one to measure: its scheme is contributory, so a status is
computed from the person's contributions (twelve months of them from ``salomat synth``,
two lines a month for an employee) and categories; under Uzbekistan's universal scheme
the status reads no contribution and the figure says so. ``ins_claim_line`` is in
``bench/__main__.py``'s REQUIRED_ROWS: a population loaded before the insurance
generator existed is loaded again.

``run(ctx)`` measures, in this process, every session rolled back so the database is left
as it was:

* status lookup: ``status.insurance_status(session, principal, national_id)`` as a
  registrar of a polyclinic (the provider's check: the person found by national id, her
  contributions and categories read, the arrears-first allocation, the status, the
  explanation, the audit row), ``SAMPLES`` people drawn at random, each in a session of
  its own, after ``WARM_UP`` lookups; beside reading the same people's ``person`` rows by
  primary key in sessions of their own. p50/p95/p99 of each;
* the nightly control: ``control.run_controls(session, month)`` over the last whole month
  of the synthetic window (every line of every provider), median of ``REPEATS`` runs
  after a warm-up, against one hand-written SQL statement per rule counting the lines it
  flags (after death; the same person, service and day again; sex or age impossible;
  more providers than the pack allows on one day; an insurance-package line of a person
  with no payment naming a month whose grace holds the month (as named: no
  arrears-first allocation), no category and no age category;
  a provider's lines per person against the median of its peers'), in the same run. The
  counts are compared per rule (``detail.agree``; the SQL's uninsured count leaves out
  the arrears-first allocation the service applies, so it may count a few lines more).
"""

# The SQL here is assembled from this module's constants and the pack's services (bound as
# parameters); nothing typed by a user reaches it.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import random
import time
from datetime import date
from typing import Any

from bench.common import (
    BenchContext,
    Figure,
    load_average,
    percentiles,
    synthetic_as_of,
    timed_in_sessions,
)

SUITE = "insurance"
SAMPLES = 1000
QUICK_SAMPLES = 200
WARM_UP = 20
REPEATS = 3


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        figures = [await _status(ctx), await _control(ctx)]
    finally:
        await dispose_engines()
    return figures


# ---- (a) status lookup ------------------------------------------------------------------


async def _status(ctx: BenchContext) -> Figure:
    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.insurance.service import status as ins_status
    from salomat.domains.insurance.service.rules import insurance_rules

    url = ctx.async_url
    n = QUICK_SAMPLES if ctx.quick else SAMPLES
    factory = session_factory(url)
    async with factory() as s:
        as_of = await synthetic_as_of(s)
        people = (
            await s.execute(
                text(
                    "SELECT id, national_id FROM person WHERE national_id IS NOT NULL "
                    "AND merged_into_id IS NULL ORDER BY md5(id::text) LIMIT :n"
                ),
                {"n": n + WARM_UP},
            )
        ).all()
        facility = (
            await s.execute(
                text("SELECT id, code FROM facility WHERE kind <> 'pharmacy' ORDER BY id LIMIT 1")
            )
        ).first()
        contributions = (
            await s.scalar(text("SELECT count(*) FROM ins_contribution"))
            if ctx.country != "UZ"
            else 0
        )
    registrar = Principal(
        user_id=0,
        username="bench",
        role="registrar",
        session_id="bench",
        facility_id=facility[0] if facility else None,
        facility_code=facility[1] if facility else None,
    )
    rng = random.Random(ctx.seed)
    rng.shuffle(people)
    warm, sample = people[:WARM_UP], people[WARM_UP:]
    insured = 0

    async def lookup(nid: str) -> Any:
        async with factory() as s:
            try:
                return await ins_status.insurance_status(s, registrar, nid, as_of)
            finally:
                await s.rollback()

    async def by_key(pid: int) -> Any:
        async with factory() as s:
            try:
                return (
                    await s.execute(text("SELECT * FROM person WHERE id = :id"), {"id": pid})
                ).first()
            finally:
                await s.rollback()

    for pid, nid in warm:
        await lookup(nid)
        await by_key(pid)
    product, baseline = [], []
    for pid, nid in sample:
        t0 = time.perf_counter()
        out = await lookup(nid)
        product.append((time.perf_counter() - t0) * 1000)
        insured += bool(getattr(out, "insured", False))
        t0 = time.perf_counter()
        await by_key(pid)
        baseline.append((time.perf_counter() - t0) * 1000)
    p, b = percentiles(product), percentiles(baseline)
    return Figure(
        suite=SUITE,
        name="insured status of a person by national id (p95)",
        people=ctx.people,
        value=p["p95"],
        unit="ms",
        baseline="primary-key read of the same person's row (p95)",
        baseline_value=b["p95"],
        ratio=float(f"{p['p95'] / b['p95']:.4g}") if b["p95"] else None,
        detail={
            "latency_ms": p,
            "baseline_ms": b,
            "lookups": len(sample),
            "insured_share": round(insured / len(sample), 3) if sample else None,
            "contributions": int(contributions or 0),
            "scheme": insurance_rules(ctx.country).scheme,
            "as_of": as_of.isoformat(),
            "load_average": load_average(),
            "note": "each lookup a session of its own: person by national id, contributions, "
            "categories, allocation, explanation, audit row; rolled back",
        },
    )


# ---- (b) the nightly control rules ------------------------------------------------------


def control_sql(country: str) -> Any:
    """One hand-written statement per rule counting the lines it flags in a month."""
    from sqlalchemy import text

    from salomat.domains.insurance.service.rules import add_months, insurance_rules

    rules = insurance_rules(country)
    impossible, params = [], {}
    for k, s in enumerate(sorted(rules.services.values(), key=lambda x: x.code)):
        parts = []
        if s.sex:
            parts.append(f"p.sex <> :sx{k}")
            params[f"sx{k}"] = s.sex
        if s.age_min is not None:
            parts.append(f"a.age < {int(s.age_min)}")
        if s.age_max is not None:
            parts.append(f"a.age > {int(s.age_max)}")
        if parts:
            params[f"sc{k}"] = s.code
            impossible.append(f"(l.service_code = :sc{k} AND ({' OR '.join(parts)}))")
    month_lines = "l.service_on >= :m0 AND l.service_on < :m1"
    age = "(EXTRACT(YEAR FROM age(l.service_on, p.birth_date)))::int"  # whole years that day
    most = int(rules.control.get("many_providers", {}).get("max_providers", 3))
    vo = rules.control.get("volume_outlier", {})
    derived = []
    for c in rules.categories.values():
        if c.age_below is not None:
            derived.append(f"a.age < {int(c.age_below)}")
        for sex, years in (c.age_from or {}).items():
            derived.append(f"(p.sex = '{sex}' AND a.age >= {int(years)})")
    insured_only = [code for code, p in rules.packages.items() if p.get("insured_only")]
    statements = {
        "after_death": (
            f"SELECT count(*) FROM ins_claim_line l JOIN person p ON p.id = l.person_id "
            f"WHERE {month_lines} AND p.deceased_on IS NOT NULL AND l.service_on > p.deceased_on"
        ),
        "duplicate": (
            f"SELECT count(*) FROM (SELECT row_number() OVER (PARTITION BY person_id, "
            f"service_code, service_on ORDER BY id) AS rn FROM ins_claim_line l "
            f"WHERE {month_lines} AND status <> 'rejected') d WHERE rn > 1"
        ),
        "sex_age": (
            f"SELECT count(*) FROM ins_claim_line l JOIN person p ON p.id = l.person_id "
            f"CROSS JOIN LATERAL (SELECT {age} AS age) a "
            f"WHERE {month_lines} AND ({' OR '.join(impossible) or 'false'})"
        ),
        "many_providers": (
            f"SELECT count(*) FROM ins_claim_line l JOIN (SELECT person_id, service_on "
            f"FROM ins_claim_line l WHERE {month_lines} AND status <> 'rejected' "
            f"GROUP BY 1, 2 HAVING count(DISTINCT facility_id) > {most}) d "
            f"ON d.person_id = l.person_id AND d.service_on = l.service_on "
            f"WHERE l.status <> 'rejected'"
        ),
        "volume_outlier": (
            f"WITH r AS (SELECT l.facility_id AS fid, f.kind, l.service_code AS code, "
            f"count(*) AS n, count(*)::float / count(DISTINCT l.person_id) AS ratio "
            f"FROM ins_claim_line l JOIN facility f ON f.id = l.facility_id "
            f"WHERE {month_lines} AND l.status <> 'rejected' GROUP BY 1, 2, 3), "
            f"g AS (SELECT kind, code, array_agg(fid) AS fids, array_agg(ratio) AS ratios "
            f"FROM r GROUP BY 1, 2), "
            f"o AS (SELECT r.fid, r.code FROM r JOIN g ON g.kind = r.kind AND g.code = r.code "
            f"CROSS JOIN LATERAL (SELECT count(*) AS peers, percentile_cont(0.5) WITHIN GROUP "
            f"(ORDER BY u.ratio) AS median FROM unnest(g.fids, g.ratios) AS u(fid, ratio) "
            f"WHERE u.fid <> r.fid) m "
            f"WHERE r.n >= {int(vo.get('min_lines', 10))} "
            f"AND m.peers >= {int(vo.get('min_peers', 3))} "
            f"AND r.ratio > {float(vo.get('factor', 3))} * m.median) "
            f"SELECT count(*) FROM ins_claim_line l JOIN o ON o.fid = l.facility_id "
            f"AND o.code = l.service_code WHERE {month_lines} AND l.status <> 'rejected'"
        ),
    }
    if not rules.universal and insured_only:
        packages = ", ".join(f"'{p}'" for p in insured_only)
        statements["uninsured"] = (
            f"SELECT count(*) FROM ins_claim_line l JOIN person p ON p.id = l.person_id "
            f"CROSS JOIN LATERAL (SELECT {age} AS age) a "
            f"WHERE {month_lines} AND l.package IN ({packages}) "
            f"AND (p.deceased_on IS NULL OR l.service_on <= p.deceased_on) "
            f"AND NOT ({' OR '.join(derived) or 'false'}) "
            f"AND NOT EXISTS (SELECT 1 FROM ins_contribution c WHERE c.person_id = l.person_id "
            f"AND c.month >= :g0 AND c.month <= :m0) "
            f"AND NOT EXISTS (SELECT 1 FROM ins_category_member m "
            f"WHERE m.person_id = l.person_id AND m.start_on <= l.service_on "
            f"AND (m.end_on IS NULL OR m.end_on >= l.service_on))"
        )
    compiled = {rule: text(sql) for rule, sql in statements.items()}

    async def go(s: Any, month: date, times: dict[str, float] | None = None) -> dict[str, int]:
        bounds = {
            "m0": month,
            "m1": add_months(month, 1),
            "g0": add_months(month, -rules.grace_months),
        }
        out = {}
        for rule, statement in compiled.items():
            needed = {k: v for k, v in {**params, **bounds}.items() if f":{k}" in str(statement)}
            started = time.perf_counter()
            out[rule] = int(await s.scalar(statement, needed) or 0)
            if times is not None:
                times[rule] = round((time.perf_counter() - started) * 1000, 1)
        return out

    return go


async def _control(ctx: BenchContext) -> Figure:
    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.domains.insurance.service import control
    from salomat.domains.insurance.service.rules import add_months, month_of

    url = ctx.async_url
    repeats = 1 if ctx.quick else REPEATS
    async with session_factory(url)() as s:
        as_of = await synthetic_as_of(s)
        month = add_months(month_of(as_of), -1)
        lines = int(
            await s.scalar(
                text(
                    "SELECT count(*) FROM ins_claim_line WHERE service_on >= :a AND service_on < :b"
                ),
                {"a": month, "b": add_months(month, 1)},
            )
            or 0
        )
    raw = control_sql(ctx.country)
    by_rule: dict[str, float] = {}
    r_ms, r_samples, r_counts = await timed_in_sessions(
        url, lambda s: raw(s, month, by_rule), repeats
    )
    p_ms, p_samples, p_run = await timed_in_sessions(
        url, lambda s: control.run_controls(s, month), repeats
    )
    mine = dict(p_run.fired)
    diff = {
        rule: {"service": mine.get(rule, 0), "sql": n}
        for rule, n in r_counts.items()
        if mine.get(rule, 0) != n
    }
    return Figure(
        suite=SUITE,
        name=f"nightly control rules over a month's claim lines ({lines:,} lines, {month:%Y-%m})",
        people=ctx.people,
        value=round(p_ms, 1),
        unit="ms",
        baseline=f"hand-written SQL counting the same flags ({len(r_counts)} statements)",
        baseline_value=round(r_ms, 1),
        ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
        detail={
            "lines": lines,
            "fired": mine,
            "sql_counts": r_counts,
            "newly_flagged": p_run.newly_flagged,
            "agree": not diff,
            "differences": diff,
            "product_ms": [round(x, 1) for x in p_samples],
            "raw_ms": [round(x, 1) for x in r_samples],
            "raw_ms_by_rule": by_rule,
            "load_average": load_average(),
            "note": "run_controls flags the lines (rolled back); the SQL only counts them. "
            "The SQL's uninsured count leaves out the arrears-first allocation",
        },
    )
