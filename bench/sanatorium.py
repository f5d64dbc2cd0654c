"""The electronic sanatorium under load (issue 15, "Measured"): a citizen's place in a queue
of about a million entries, and booking a place, each beside a same-run baseline.

``run(ctx)`` measures, with ``bench/loadgen.py`` (16 connections on loopback, a warm-up
then a fixed window, as ``bench/api.py``), on a throwaway copy of the population's
database (``api.scratch_copy``):

* the queue position lookup: ``GET /api/v1/me/sanatorium-referrals`` by citizens whose
  referrals stand at positions spread evenly through one queue grown to ``QUEUE`` entries
  (every person of the population without a referral in progress joins it, so a
  population of 1M people gives a queue of about 1M; the answer counts the entries ahead
  and reads the last three months' releases for the waiting range, audited), p95
  against the p95 of the bare primary-key read (``bench/bare_app.py GET /read/{id}``: no
  authentication, no audit) in the same run; and the same for the last in line alone
  (the longest count). Two ways of writing "the entries ahead" are timed in SQL beside
  it: an ``OR`` of the order's columns (the whole queue is read, the ``OR`` a filter) and
  a row-value comparison (an index range that stops at the entry);
* booking a place: ``POST /api/v1/sanatorium-referrals/{id}/book`` by the family doctors
  of the four largest polyclinics, for after-care referrals of their patients, into 60
  arrival periods of 200 beds (holds the period, counts its places, picks a bed no stay
  overlaps, the database's exclusion constraint, the care relationship, the queue's
  log, the audit), each referral once, against the bare one-insert endpoint
  (``POST /insert``) in the same run (throughput ratio). Accepting an offer books through
  the same code after reading the offer; it needs one citizen account per booking, so
  the doctors' bookings are what is driven at this rate.

The server runs with ``SALOMAT_SWEEP_SECONDS=0`` so that no sweep offers the bench's
places while it is measured.
"""

from __future__ import annotations

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
    _token,
    add_user,
    app_server,
    bare_baselines,
    p95_figure,
    registrations,
    scratch_copy,
)
from bench.common import BenchContext, Figure

SUITE = "sanatorium"
#: the queue grown for the lookup (fewer when the population has fewer people free)
QUEUE = 1_000_000
#: citizens whose positions are looked up, spread evenly through the queue
CITIZENS = 100
DOCTOR_FACILITIES = 4
BEDS = 200
PERIODS = 60
#: the bench's periods start this many days ahead (after the synthetic ones)
PERIODS_FROM = 200
REPEATS = 5


def run(
    ctx: BenchContext, *, warmup: float | None = None, duration: float | None = None
) -> list[Figure]:
    """The figures; ``warmup`` and ``duration`` (seconds per scenario) are for the tests."""
    if warmup is None:
        warmup = 2.0 if ctx.quick else 5.0
    if duration is None:
        duration = 5.0 if ctx.quick else 20.0
    with scratch_copy(ctx) as copy:
        return _run(copy, ctx.people, warmup, duration)


def _categories(country: str) -> list[tuple[str, int]]:
    from salomat.domains.sanatorium import service

    rules = service.sanatorium_rules(country)
    return sorted((c.code, c.tier) for c in rules.categories.values() if not c.direct)


def _prepare(conn: Any, ctx: BenchContext, writes: int, rng: random.Random) -> dict[str, Any]:
    """In the copy: after-care referrals for the doctors' patients, the bench's beds and
    periods, then every other person free in one queue. Set-wise SQL."""
    if not conn.execute("SELECT count(*) FROM sanatorium_referral").fetchone()[0]:
        raise RuntimeError(
            "the population has no sanatorium referrals (loaded before salomat synth wrote "
            "them): run the bench with --fresh"
        )
    facilities = conn.execute(
        "SELECT f.id, f.code FROM person p JOIN facility f ON f.id = p.attached_facility_id "
        "WHERE p.deceased_on IS NULL AND p.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 "
        "FROM sanatorium_referral r WHERE r.person_id = p.id AND r.status IN "
        "('pending_indication', 'referred', 'queued', 'offered', 'booked', 'arrived')) "
        "GROUP BY f.id, f.code ORDER BY count(*) DESC LIMIT %s",
        (DOCTOR_FACILITIES,),
    ).fetchall()
    sanatorium = conn.execute(
        "SELECT id FROM facility WHERE kind = 'sanatorium' ORDER BY id LIMIT 1"
    ).fetchone()
    if not facilities or sanatorium is None:
        raise RuntimeError("the population has no polyclinic with patients or no sanatorium")
    # after-care referrals, waiting for their doctor to book (direct: no queue)
    per = writes // len(facilities) + 1
    for fid, _ in facilities:
        conn.execute(
            "INSERT INTO sanatorium_referral (number, person_id, profile, region, category, "
            "tier, direct, indication, conditions, warnings, status, applied_at, facility_id, "
            "referred_by, source, created_at, updated_at, version) "
            "SELECT 'D' || lpad(p.id::text, 12, '0'), p.id, 'cardiology', '', 'aftercare', 1, "
            "true, 'I21.9', '[]', '[]', 'referred', now(), p.attached_facility_id, 'bench', "
            "'local', now(), now(), 1 FROM person p WHERE p.attached_facility_id = %s "
            "AND p.deceased_on IS NULL AND p.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 "
            "FROM sanatorium_referral r WHERE r.person_id = p.id AND r.status IN "
            "('pending_indication', 'referred', 'queued', 'offered', 'booked', 'arrived')) "
            "ORDER BY p.id LIMIT %s",
            (fid, per),
        )
    bookable = conn.execute(
        "SELECT r.id, r.facility_id FROM sanatorium_referral r WHERE r.number LIKE 'D%%' "
        "AND r.status = 'referred' ORDER BY r.id"
    ).fetchall()
    # the bench's beds and periods (region '': no queue is offered them)
    (sid,) = sanatorium
    conn.execute(
        "INSERT INTO sanatorium_bed (facility_id, profile, label, active) "
        "SELECT %s, 'cardiology', 'BENCH-' || lpad(n::text, 4, '0'), true "
        "FROM generate_series(1, %s) n",
        (sid, BEDS),
    )
    from salomat.domains.sanatorium import service

    course = service.sanatorium_rules(ctx.country).course_days
    first = date.today() + timedelta(days=PERIODS_FROM)
    periods = [
        row[0]
        for row in conn.execute(
            "INSERT INTO sanatorium_period (facility_id, profile, region, starts_on, ends_on, "
            "capacity, status, created_by, created_at, version) "
            "SELECT %s, 'cardiology', '', %s::date + n * %s::int, "
            "%s::date + n * %s::int + %s::int, %s, 'open', 'bench', now(), 1 "
            "FROM generate_series(0, %s) n RETURNING id",
            (sid, first, course, first, course, course, BEDS, PERIODS - 1),
        ).fetchall()
    ]
    # one queue grown with everyone else who is free
    profile, region = conn.execute(
        "SELECT profile, region FROM sanatorium_referral WHERE status IN ('queued', 'offered') "
        "GROUP BY profile, region ORDER BY count(*) DESC, profile, region LIMIT 1"
    ).fetchone()
    cats = _categories(ctx.country)
    started = time.perf_counter()
    conn.execute(
        "INSERT INTO sanatorium_referral (number, person_id, profile, region, category, tier, "
        "direct, indication, conditions, warnings, status, applied_at, facility_id, "
        "referred_by, source, created_at, updated_at, version) "
        "SELECT 'Q' || lpad(id::text, 12, '0'), id, %(profile)s, %(region)s, "
        "(%(names)s::text[])[k], (%(tiers)s::int[])[k], false, 'I25.1', '[]', '[]', 'queued', "
        "at, facility, 'bench', 'local', at, at, 1 FROM (SELECT p.id, "
        "p.attached_facility_id AS facility, 1 + p.id %% %(n)s AS k, now() - make_interval("
        "secs => (hashtext(p.id::text) & 2147483647) %% (7 * 365 * 86400)) AS at FROM person p "
        "WHERE p.deceased_on IS NULL AND p.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 "
        "FROM sanatorium_referral r WHERE r.person_id = p.id AND r.status IN "
        "('pending_indication', 'referred', 'queued', 'offered', 'booked', 'arrived')) "
        "ORDER BY p.id LIMIT %(limit)s) x",
        {
            "profile": profile,
            "region": region,
            "names": [c for c, _ in cats],
            "tiers": [tier for _, tier in cats],
            "n": len(cats),
            "limit": QUEUE,
        },
    )
    conn.execute("VACUUM ANALYZE sanatorium_referral")
    filled = time.perf_counter() - started
    length = conn.execute(
        "SELECT count(*) FROM sanatorium_referral WHERE profile = %s AND region = %s "
        "AND status IN ('queued', 'offered')",
        (profile, region),
    ).fetchone()[0]
    step = max(1, length // CITIZENS)
    spread = conn.execute(
        "SELECT id, person_id, rn FROM (SELECT id, person_id, row_number() OVER (ORDER BY "
        "tier, applied_at, id) AS rn FROM sanatorium_referral WHERE profile = %s AND region = %s "
        "AND status IN ('queued', 'offered')) x WHERE rn %% %s = 0 OR rn = %s ORDER BY rn",
        (profile, region, step, length),
    ).fetchall()
    rng.shuffle(bookable)
    return {
        "facilities": facilities,
        "bookable": bookable,
        "periods": periods,
        "queue": (profile, region, length),
        "spread": spread,
        "fill_seconds": round(filled, 1),
    }


def _ahead_sql(conn: Any, profile: str, region: str, referral_id: int) -> dict[str, Any]:
    """The count of the entries ahead of one referral written two ways, medians of
    ``REPEATS`` runs (ms): an ``OR`` of the order's columns, and a row value."""
    tier, applied, rid = conn.execute(
        "SELECT tier, applied_at, id FROM sanatorium_referral WHERE id = %s", (referral_id,)
    ).fetchone()
    base = (
        "SELECT count(*) FROM sanatorium_referral WHERE profile = %(p)s AND region = %(r)s "
        "AND status IN ('queued', 'offered') AND "
    )
    forms = {
        "or_columns": base + "(tier < %(t)s OR (tier = %(t)s AND applied_at < %(a)s) OR "
        "(tier = %(t)s AND applied_at = %(a)s AND id < %(i)s))",
        "row_value": base + "(tier, applied_at, id) < (%(t)s, %(a)s, %(i)s)",
    }
    params = {"p": profile, "r": region, "t": tier, "a": applied, "i": rid}
    out: dict[str, Any] = {}
    for name, sql in forms.items():
        runs = []
        n = None
        for _ in range(REPEATS + 1):
            t0 = time.perf_counter()
            n = conn.execute(sql, params).fetchone()[0]
            runs.append((time.perf_counter() - t0) * 1000)
        out[name] = {"ms": round(statistics.median(runs[1:]), 2), "ahead": n}
    return out


def _run(ctx: BenchContext, people: int, warmup: float, duration: float) -> list[Figure]:
    import psycopg

    rng = random.Random(ctx.seed)
    timing = {"warmup": warmup, "duration": duration}
    writes = int(MAX_WRITE_RATE * (warmup + duration))
    ctx.work.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(ctx.dsn, autocommit=True)
    setup = _prepare(conn, ctx, writes, rng)
    profile, region, _ = setup["queue"]
    spread = setup["spread"]
    sql_forms = {
        "middle": _ahead_sql(conn, profile, region, spread[len(spread) // 2][0]),
        "last": _ahead_sql(conn, profile, region, spread[-1][0]),
    }
    reads = conn.execute(
        "SELECT id FROM person WHERE merged_into_id IS NULL ORDER BY md5(id::text) LIMIT 10000"
    ).fetchall()
    regs = registrations(conn, ctx.country, setup["facilities"][0][1], writes + 200, rng)

    tag = str(rng.randrange(10**6))
    results: dict[str, dict[str, Any]] = {}
    env = ctx.env(SALOMAT_SWEEP_SECONDS="0")
    with app_server(ctx, f"bench-sana-admin-{tag}", env) as app:
        base, port = app.base, app.port
        doctors = {}
        for i, (fid, code) in enumerate(setup["facilities"]):
            username = f"bench-sana-doctor{i}-{tag}"
            add_user(app, username, "family_doctor", facility_code=code)
            doctors[fid] = username
        citizens = []
        for k, (_, person_id, rn) in enumerate(spread):
            username = f"bench-sana-citizen{k}-{tag}"
            add_user(app, username, "citizen", person_id=person_id)
            citizens.append((username, rn))
        names = list(doctors.values()) + [u for u, _ in citizens]
        tokens = [_token(base, u) for u in names]
        index = {u: i for i, u in enumerate(names)}

        def plan(items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
            return {
                "kind": "requests",
                "base_url": base,
                "tokens": tokens,
                "connections": CONNECTIONS,
                "items": items,
                **timing,
                **kw,
            }

        mine = "/api/v1/me/sanatorium-referrals"
        results["position"] = _loadgen(
            plan([{"path": mine, "token": index[u]} for u, _ in citizens]), ctx.work
        )
        results["position_last"] = _loadgen(
            plan([{"path": mine, "token": index[citizens[-1][0]]}]), ctx.work
        )
        periods = setup["periods"]
        books = [
            {
                "method": "POST",
                "path": f"/api/v1/sanatorium-referrals/{rid}/book",
                "body": {"period_id": periods[k % len(periods)]},
                "token": index[doctors[fid]],
            }
            for k, (rid, fid) in enumerate(setup["bookable"][:writes])
        ]
        results["book"] = _loadgen(plan(books, once=True), ctx.work)
    overlaps = conn.execute(
        "SELECT count(*) FROM sanatorium_stay a JOIN sanatorium_stay b ON a.bed_id = b.bed_id "
        "AND a.id < b.id AND a.starts_on < b.ends_on AND b.starts_on < a.ends_on "
        "WHERE a.status IN ('booked', 'arrived', 'fulfilled') "
        "AND b.status IN ('booked', 'arrived', 'fulfilled')"
    ).fetchone()[0]

    results |= bare_baselines(port, env, timing, ctx.work, regs[:writes], [pid for (pid,) in reads])
    conn.close()
    return _figures(replace(ctx, people=people), results, setup, sql_forms, overlaps)


def _figures(
    ctx: BenchContext,
    results: dict[str, dict[str, Any]],
    setup: dict[str, Any],
    sql_forms: dict[str, Any],
    overlaps: int,
) -> list[Figure]:
    profile, region, length = setup["queue"]
    queue = {"queue": f"{profile}/{region or 'national'}", "queue_entries": length}
    note = (
        "the machine has 2 cores shared by the load generator, the app and PostgreSQL (and "
        "other work running at the time)"
    )
    booked, bare = results["book"], results["bare_insert"]
    ratio = booked["throughput"] / bare["throughput"] if bare["throughput"] else None
    return [
        p95_figure(
            SUITE,
            ctx,
            f"queue position lookup, {CITIZENS} citizens spread through a queue of {length:,}",
            results["position"],
            results["bare_read"],
            **queue,
            positions=[rn for _, _, rn in setup["spread"]][:: max(1, CITIZENS // 10)],
            fill_seconds=setup["fill_seconds"],
            note=note,
        ),
        p95_figure(
            SUITE,
            ctx,
            f"queue position lookup, the last of {length:,} in line",
            results["position_last"],
            results["bare_read"],
            **queue,
            ahead_sql_ms=sql_forms,
            note="ahead_sql_ms: the count of the entries ahead of the one in the middle of the "
            "queue and of the last, in SQL alone, as an OR of the order's columns (every entry "
            "of the queue is read) and as a row value (an index range up "
            "to the entry)",
        ),
        Figure(
            suite=SUITE,
            name="book a place (doctor, after-care referral)",
            people=ctx.people,
            value=booked["throughput"],
            unit="req/s",
            baseline="bare one-insert endpoint (bench/bare_app.py POST /insert)",
            baseline_value=bare["throughput"],
            ratio=float(f"{ratio:.4g}") if ratio is not None else None,
            detail=_detail(booked)
            | {
                "baseline": _detail(bare),
                "periods": len(setup["periods"]),
                "beds": BEDS,
                "overlapping_stays_after": overlaps,
                "note": note,
            },
        ),
    ]
