"""Sick leave under load (issue 14, "Measured"): opening a certificate, and the employer's
check by number at the population's size, each beside a same-run baseline.

``run(ctx)`` measures, with ``bench/loadgen.py`` (16 connections on loopback, a
warm-up then a fixed window, as ``bench/api.py``):

* open a certificate (``POST /api/v1/persons/{id}/sick-leave``: scope check, the
  pack's limits, overlap check, number, first period, version, audit) by family
  doctors of the four facilities with the most working-age people free of
  certificates, each person once, against the bare one-insert endpoint of
  ``bench/bare_app.py`` served the same way in the same run (throughput ratio);
* the employer's check by certificate number and the employee's national id
  (``POST /api/v1/employer/sick-leave/lookup``: audited on the holder's record)
  and the public verification of a number and check code
  (``GET /api/v1/public/sick-leave/verify``), over certificates the population
  holds: p95 latency against the p95 of the bare one-select endpoint
  (``GET /read/{id}``, no authentication, no audit) in the same run;
* the ministry's analytics of the whole country for 12 months (the service, in
  process, its audit row rolled back) against the same six statements written by
  hand (four ``GROUP BY``, the doctors, the long list; medians of 5 runs).

The certificates are those ``salomat synth`` wrote at the packs' rates; a population
loaded before sick leave was synthesised has none and is reloaded by ``prepare``.
Writes go to a throwaway copy of the population's database (``api.scratch_copy``),
dropped at the end.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from bench.api import (
    CONNECTIONS,
    MAX_WRITE_RATE,
    _detail,
    _loadgen,
    _post,
    _token,
    add_user,
    app_server,
    bare_baselines,
    p95_figure,
    registrations,
    scratch_copy,
)
from bench.common import BenchContext, Figure

SUITE = "sick_leave"
#: the body of every certificate opened (3 days from today: within any pack's single-doctor
#: limit, so no commission decision is needed)
OPEN_BODY = {"reason": "own_illness", "diagnosis": "J06.9", "days": 3}
DOCTOR_FACILITIES = 4
LOOKUPS = 10_000
REPEATS = 5


def run(
    ctx: BenchContext, *, warmup: float | None = None, duration: float | None = None
) -> list[Figure]:
    """The figures; ``warmup`` and ``duration`` (seconds per scenario) are for the tests."""
    if warmup is None:
        warmup = 2.0 if ctx.quick else 5.0
    if duration is None:
        duration = 5.0 if ctx.quick else 20.0
    figures = [asyncio.run(_analytics(ctx))]
    with scratch_copy(ctx) as copy:
        return _run(copy, ctx.people, warmup, duration) + figures


def _business_id(country: str, rng: random.Random) -> str:
    """A valid business id of the pack (UZ STIR: format only; KZ BIN: with its check digit)."""
    from salomat.country.business_id import check_digit

    while True:
        n = rng.randrange(10**8)
        if country == "UZ":
            return f"2{n:08d}"
        body = f"{n // 10**5 % 100:02d}{n // 10**7 % 12 + 1:02d}40{n % 10**5:05d}"
        check = check_digit(country, body)
        if check is not None:
            return body + str(check)


def _run(ctx: BenchContext, people: int, warmup: float, duration: float) -> list[Figure]:
    import psycopg

    rng = random.Random(ctx.seed)
    timing = {"warmup": warmup, "duration": duration}
    writes = int(MAX_WRITE_RATE * (warmup + duration))
    ctx.work.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(ctx.dsn, autocommit=True)
    today = date.today()
    held = conn.execute("SELECT count(*) FROM sick_leave_certificate").fetchone()[0]
    if not held:
        raise RuntimeError(
            "the population has no sick-leave certificates (loaded before salomat synth wrote "
            "them): run the bench with --fresh"
        )

    # ---- who acts, on what -------------------------------------------------------------
    # working-age people with no certificate running today (an overlap is refused: 409)
    free = conn.execute(
        "SELECT p.id, f.code FROM person p JOIN facility f ON f.id = p.attached_facility_id "
        "WHERE p.deceased_on IS NULL AND p.merged_into_id IS NULL "
        "AND p.birth_date BETWEEN %s AND %s AND NOT EXISTS (SELECT 1 FROM "
        "sick_leave_certificate c WHERE c.person_id = p.id AND c.status <> 'cancelled' "
        "AND coalesce(c.closed_on, c.ends_on) >= %s)",
        (today - timedelta(days=62 * 365), today - timedelta(days=18 * 366), today),
    ).fetchall()
    per_facility: dict[str, list[int]] = {}
    for pid, code in free:
        per_facility.setdefault(code, []).append(pid)
    facilities = sorted(per_facility, key=lambda c: -len(per_facility[c]))[:DOCTOR_FACILITIES]
    if not facilities:
        raise RuntimeError("no working-age person attached to a facility is free to open for")
    checks = conn.execute(
        "SELECT c.number, p.national_id, c.check_code FROM sick_leave_certificate c "
        "JOIN person p ON p.id = c.person_id WHERE p.national_id IS NOT NULL "
        "ORDER BY md5(c.number) LIMIT %s",
        (LOOKUPS,),
    ).fetchall()
    reads = conn.execute(
        "SELECT id FROM person WHERE merged_into_id IS NULL ORDER BY md5(id::text) LIMIT %s",
        (LOOKUPS,),
    ).fetchall()
    regs = registrations(conn, ctx.country, facilities[0], writes + 200, rng)

    tag = str(rng.randrange(10**6))
    results: dict[str, dict[str, Any]] = {}
    with app_server(ctx, f"bench-sl-admin-{tag}") as app:
        base, port = app.base, app.port
        business_id = _business_id(ctx.country, rng)
        _post(
            base,
            "/api/v1/employers",
            app.admin_token,
            {"business_id": business_id, "name": "Bench"},
        )
        users = {
            f"doctor{i}": (f"bench-sl-doctor{i}-{tag}", code) for i, code in enumerate(facilities)
        }
        for username, code in users.values():
            add_user(app, username, "family_doctor", facility_code=code)
        employer = f"bench-sl-employer-{tag}"
        add_user(app, employer, "employer", employer_business_id=business_id)
        names = [*users, "employer"]
        tokens = [_token(base, users[n][0]) for n in users] + [_token(base, employer)]

        def plan(kind: str, items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
            return {
                "kind": kind,
                "base_url": base,
                "tokens": tokens,
                "connections": CONNECTIONS,
                "items": items,
                **timing,
                **kw,
            }

        opens = [
            {
                "method": "POST",
                "path": f"/api/v1/persons/{pid}/sick-leave",
                "body": OPEN_BODY,
                "token": names.index(f"doctor{i}"),
            }
            for i, code in enumerate(facilities)
            for pid in per_facility[code]
        ]
        rng.shuffle(opens)
        results["open"] = _loadgen(plan("requests", opens[:writes], once=True), ctx.work)
        who = names.index("employer")
        results["lookup"] = _loadgen(
            plan(
                "requests",
                [
                    {
                        "method": "POST",
                        "path": "/api/v1/employer/sick-leave/lookup",
                        "body": {"number": number, "national_id": nid},
                        "token": who,
                    }
                    for number, nid, _ in checks
                ],
            ),
            ctx.work,
        )
        results["verify"] = _loadgen(
            plan(
                "requests",
                [
                    {"path": f"/api/v1/public/sick-leave/verify?number={number}&code={code}"}
                    for number, _, code in checks
                ],
            ),
            ctx.work,
        )

    results |= bare_baselines(
        port, ctx.env(), timing, ctx.work, regs[:writes], [pid for (pid,) in reads]
    )
    conn.close()
    return _figures(replace(ctx, people=people), results, held, len(checks))


def _figures(
    ctx: BenchContext, results: dict[str, dict[str, Any]], held: int, checked: int
) -> list[Figure]:
    opened, bare = results["open"], results["bare_insert"]
    ratio = opened["throughput"] / bare["throughput"] if bare["throughput"] else None
    detail = _detail(opened) | {"baseline": _detail(bare), "certificates_in_db": held}
    figures = [
        Figure(
            suite=SUITE,
            name="open a sick-leave certificate",
            people=ctx.people,
            value=opened["throughput"],
            unit="req/s",
            baseline="bare one-insert endpoint (bench/bare_app.py POST /insert)",
            baseline_value=bare["throughput"],
            ratio=float(f"{ratio:.4g}") if ratio is not None else None,
            detail=detail,
        )
    ]
    for key, name in (
        ("lookup", "employer check by certificate number and national id"),
        ("verify", "public verification of a number and check code"),
    ):
        f = p95_figure(SUITE, ctx, name, results[key], results["bare_read"])
        f.detail |= {"certificates_in_db": held, "distinct_certificates_asked": checked}
        figures.append(f)
    return figures


# ---- the analytics, in process -------------------------------------------------------------

_DAYS = "coalesce(closed_on, ends_on) - starts_on + 1"
_IN = "FROM sick_leave_certificate WHERE status <> 'cancelled' AND starts_on BETWEEN :a AND :b"
#: the statements the analytics need, written by hand: four dimensions, the doctors, the long
#: list (the first is the reasons': its total is compared with the service's)
RAW_ANALYTICS = [
    f"SELECT reason, count(*), sum({_DAYS}) {_IN} GROUP BY reason",
    f"SELECT facility_id, count(*), sum({_DAYS}) {_IN} GROUP BY facility_id",
    f"SELECT substr(diagnosis, 1, 3), count(*), sum({_DAYS}) {_IN} GROUP BY 1",
    f"SELECT date_trunc('month', starts_on), count(*), sum({_DAYS}) {_IN} GROUP BY 1",
    f"SELECT issued_by, facility_id, count(*), sum({_DAYS}) {_IN} GROUP BY 1, 2",
    f"SELECT number, facility_id, reason, starts_on, {_DAYS}, status, count(*) OVER () {_IN} "
    f"AND {_DAYS} > :long ORDER BY 5 DESC, number LIMIT 500",
]


async def _analytics(ctx: BenchContext) -> Figure:
    from sqlalchemy import text

    from salomat.core.db import dispose_engines, session_factory
    from salomat.core.security import Principal
    from salomat.domains.sickleave import service

    analyst = Principal(user_id=0, username="bench", role="analyst", session_id="bench")
    repeats = 3 if ctx.quick else REPEATS
    today = date.today()
    product_ms: list[float] = []
    raw_ms: list[float] = []
    answer: Any = None
    raw: list[Any] = []
    try:
        for _ in range(repeats + 1):  # the first run warms the caches
            async with session_factory(ctx.async_url)() as s:
                t0 = time.perf_counter()
                answer = await service.sick_leave_analytics(s, analyst, today=today)
                product_ms.append((time.perf_counter() - t0) * 1000)
                await s.rollback()
            start = date(*(int(x) for x in answer.month_from.split("-")), 1)
            async with session_factory(ctx.async_url)() as s:
                params = {"a": start, "b": today, "long": answer.long_certificate_days}
                t0 = time.perf_counter()
                for i, sql in enumerate(RAW_ANALYTICS):
                    found = list(await s.execute(text(sql), params))
                    if i == 0:
                        raw = found
                raw_ms.append((time.perf_counter() - t0) * 1000)
                await s.rollback()
    finally:
        await dispose_engines()
    product, baseline = statistics.median(product_ms[1:]), statistics.median(raw_ms[1:])
    total = answer.by_reason.total.certificates
    return Figure(
        suite=SUITE,
        name="ministry analytics, whole country, 12 months (4 tables, doctors, long list)",
        people=ctx.people,
        value=round(product, 2),
        unit="ms",
        baseline="the same six statements hand-written (4 GROUP BY, doctors, long list)",
        baseline_value=round(baseline, 2),
        ratio=float(f"{product / baseline:.4g}") if baseline else None,
        detail={
            "runs_ms": [round(x, 2) for x in product_ms],
            "baseline_runs_ms": [round(x, 2) for x in raw_ms],
            "certificates_counted": total,
            "agree": total == sum(int(n) for _, n, _ in raw),
            "doctors": len(answer.doctors),
            "note": "the product adds the territory and facility reads, the suppression, the "
            "outlier rule and the audit row",
        },
    )
