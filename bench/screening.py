"""Screening and disease-management programmes under load (issue 21): the target groups of a
whole region and the quarterly HEARTS indicator set, each beside hand-written SQL of the same
counts in the same run, and one facility's worklists (p95 over repeated calls).

    .venv/bin/python -m bench --suites screening              # on the 1M synthetic database
    make bench BENCH_ARGS="--suites screening"                # the same (1M is the default)
    .venv/bin/python -m bench --suites screening --people 100000 --quick

The database must hold the screening domain's synthetic rows (``salomat synth`` with
``screening.service.synth.synthesize_screening``). ``run(ctx)`` measures, in this process,
every session rolled back so the database is left as it was:

* target groups: ``target_groups.target_group_counts`` of every inviting programme for the
  region with the most facilities, on the synthetic run's day, median of ``REPEATS`` runs
  after a warm-up, beside one hand-written statement a programme (attached living people of
  the ages and sex, not under observation for an excluding condition, joined with their
  last screening and last counted screening); eligible, due and screened of both compared
  (``detail.agree``);
* the same for the whole population (every region, the product's path per region summed,
  beside one statement a programme without the region): at ``--people 1000000`` this is
  issue 21's "whole region at 1M people" (the synthetic people spread over the regions);
* HEARTS indicators: ``indicators.programme_indicators`` of the last closed quarter before
  the run's day for the country by region, hypertension and type 2 diabetes (BP control,
  the quarterly cohort, and sugar control by both definitions), beside hand-written SQL of
  the same national counts (one statement per figure); the national totals compared;
* worklists: a family doctor of the facility with the most open enrolments asks for the
  facility's overdue DMP patients (``worklists.dmp_worklist``) and her section's
  invitations (``worklists.invitation_worklist``), ``CALLS`` times each; p95 beside the p95
  of a hand-written statement of the same overdue list.
"""

# The SQL here is assembled from this module's constants and the pack's programme codes;
# nothing typed by a user reaches it.
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
    percentiles,
    synthetic_as_of,
    timed_in_sessions,
)

SUITE = "screening"
REPEATS = 5
CALLS = 50

# ---- hand-written SQL ---------------------------------------------------------------------

_REGION_FACILITIES = (
    "SELECT f.id FROM facility f JOIN territory s ON s.id = f.settlement_id "
    "AND s.level = 'settlement' JOIN territory d ON d.id = s.parent_id "
    "JOIN territory r ON r.id = d.parent_id WHERE r.code = :region"
)


def target_group_sql(programme: Any, day: date, *, whole: bool = False) -> Any:
    """One statement: (eligible, due, screened) of ``programme`` in a region on ``day``
    (``whole``: of everyone attached anywhere, every region)."""
    from sqlalchemy import text

    from salomat.domains.screening.service.target_groups import birth_bounds, interval_cutoff

    born_from, born_to = birth_bounds(programme, day)
    where = ["p.deceased_on IS NULL", "p.merged_into_id IS NULL"]
    params: dict[str, Any] = {
        "day": day,
        "cutoff": interval_cutoff(day, programme.interval_years),
        "code": programme.code,
    }
    if born_from is not None:
        where.append("p.birth_date >= :born_from")
        params["born_from"] = born_from
    if born_to is not None:
        where.append("p.birth_date <= :born_to")
        params["born_to"] = born_to
    if programme.sex != "any":
        where.append("p.sex = :sex")
        params["sex"] = programme.sex
    if programme.excluded_by_dmp:
        codes = ", ".join(f"'{c}'" for c in programme.excluded_by_dmp)
        where.append(
            "NOT EXISTS (SELECT 1 FROM dmp_enrolment e WHERE e.person_id = p.id AND "
            f"e.programme IN ({codes}) AND e.enrolled_on <= :day AND "
            "(e.ended_on IS NULL OR e.ended_on > :day))"
        )
    sql = text(
        "WITH last AS (SELECT person_id, max(performed_on) AS last_on, "
        "max(performed_on) FILTER (WHERE NOT opportunistic) AS counted_on "
        "FROM screening_visit WHERE programme = :code AND performed_on <= :day "
        "GROUP BY person_id) "
        "SELECT count(*), count(*) FILTER (WHERE l.last_on IS NULL OR l.last_on <= :cutoff), "
        "count(*) FILTER (WHERE l.counted_on > :cutoff) FROM person p "
        "LEFT JOIN last l ON l.person_id = p.id "
        "WHERE "
        + ("p.attached_facility_id IS NOT NULL" if whole else
           f"p.attached_facility_id IN ({_REGION_FACILITIES})")
        + " AND "
        + " AND ".join(where)
    )  # fmt: skip
    return sql, params


def _patients(programme: str) -> str:
    """Per person: first registration, and dead by :e (the enrolment open at :e, or ended
    for death, the latest)."""
    return (
        "first AS (SELECT person_id, min(enrolled_on) AS reg FROM dmp_enrolment "
        f"WHERE programme = '{programme}' AND enrolled_on <= :e GROUP BY person_id), "
        "asg AS (SELECT DISTINCT ON (person_id) person_id, facility_id, "
        "CASE WHEN end_reason = 'died' THEN ended_on END AS died_on FROM dmp_enrolment "
        f"WHERE programme = '{programme}' AND enrolled_on <= :e AND (ended_on IS NULL OR "
        "ended_on > :e OR end_reason = 'died') ORDER BY person_id, enrolled_on DESC, id DESC), "
        "pat AS (SELECT a.person_id, f.reg, (coalesce(a.died_on <= :e, false) OR "
        "coalesce(p.deceased_on <= :e, false)) AS dead FROM asg a JOIN first f "
        "ON f.person_id = a.person_id JOIN person p ON p.id = a.person_id)"
    )


def control_sql(programme: str, sugar: bool) -> Any:
    """Patients by class (dead, new, ltfu, controlled, uncontrolled, visited_no_bp,
    missed) at :e; blood pressure, or ``sugar`` (HbA1c below :h per cent or fasting
    glucose below :f mg/dL)."""
    from sqlalchemy import text

    measured = "('hba1c', 'glucose_fasting')" if sugar else "('bp')"
    other = "('bp')" if sugar else "('hba1c', 'glucose_fasting')"
    care = "('bp', 'hba1c', 'glucose_fasting')" if sugar else "('bp')"
    ok = (
        "(r.kind = 'hba1c' AND r.value < :h) OR (r.kind = 'glucose_fasting' AND "
        "r.value * 18.016 < :f)"
        if sugar
        else "r.systolic < :s AND r.diastolic < :d"
    )
    return text(
        "WITH "
        + _patients(programme)
        + ", r AS (SELECT DISTINCT ON (person_id) person_id, kind, systolic, diastolic, value "
        f"FROM screening_observation WHERE kind IN {measured} AND observed_on BETWEEN :r "
        "AND :e ORDER BY person_id, observed_on DESC, id DESC), "
        "yr AS (SELECT DISTINCT person_id FROM screening_observation WHERE kind IN "
        f"{care} AND observed_on BETWEEN :y AND :e), "
        "vis AS (SELECT person_id FROM screening_observation WHERE kind IN "
        f"{other} AND observed_on BETWEEN :r AND :e UNION SELECT person_id FROM dmp_visit "
        "WHERE visited_on BETWEEN :r AND :e) "
        "SELECT CASE WHEN pat.dead THEN 'dead' WHEN pat.reg >= :r THEN 'new' "
        "WHEN pat.reg < :y AND yr.person_id IS NULL THEN 'ltfu' "
        f"WHEN r.person_id IS NOT NULL AND ({ok}) THEN 'controlled' "
        "WHEN r.person_id IS NOT NULL THEN 'uncontrolled' "
        "WHEN vis.person_id IS NOT NULL THEN 'visited_no_bp' ELSE 'missed' END, count(*) "
        "FROM pat LEFT JOIN r ON r.person_id = pat.person_id "
        "LEFT JOIN yr ON yr.person_id = pat.person_id "
        "LEFT JOIN vis ON vis.person_id = pat.person_id GROUP BY 1"
    )


def cohort_sql(programme: str) -> Any:
    """The cohort registered in [:c0, :c1], alive at :e, by the latest BP in [:r, :e]."""
    from sqlalchemy import text

    return text(
        "WITH "
        + _patients(programme)
        + ", r AS (SELECT DISTINCT ON (person_id) person_id, systolic, diastolic "
        "FROM screening_observation WHERE kind = 'bp' AND observed_on BETWEEN :r AND :e "
        "ORDER BY person_id, observed_on DESC, id DESC) "
        "SELECT CASE WHEN r.person_id IS NULL THEN 'no_visit' WHEN r.systolic < :s AND "
        "r.diastolic < :d THEN 'controlled' ELSE 'uncontrolled' END, count(*) "
        "FROM pat LEFT JOIN r ON r.person_id = pat.person_id "
        "WHERE pat.reg BETWEEN :c0 AND :c1 AND NOT pat.dead GROUP BY 1"
    )


def overdue_sql() -> Any:
    """The facility's open enrolments overdue on :day with each patient's latest BP."""
    from sqlalchemy import text

    return text(
        "SELECT e.id, e.person_id, e.next_visit_due, b.systolic, b.diastolic "
        "FROM dmp_enrolment e LEFT JOIN LATERAL (SELECT systolic, diastolic "
        "FROM screening_observation o WHERE o.person_id = e.person_id AND o.kind = 'bp' "
        "AND o.observed_on <= :day ORDER BY o.observed_on DESC, o.id DESC LIMIT 1) b ON true "
        "WHERE e.facility_id = :fid AND e.enrolled_on <= :day AND (e.ended_on IS NULL OR "
        "e.ended_on > :day) AND e.next_visit_due < :day ORDER BY e.next_visit_due, e.id"
    )


async def national_sql(s: Any, quarter: Any, targets: Any, programmes: list[str]) -> dict:
    """The national HEARTS counts of ``quarter`` by hand: per programme the BP classes, the
    cohort's outcomes and (diabetes) both sugar definitions' controlled and denominator."""
    from salomat.domains.screening.service.hearts import cohort_followup
    from salomat.domains.screening.service.indicators import cohort_of

    window = {"e": quarter.end, "r": quarter.recent_start, "y": quarter.year_start}
    bp = {"s": targets.bp.systolic, "d": targets.bp.diastolic}
    cohort = cohort_of(quarter)
    first, last = cohort_followup(cohort)
    out: dict[str, dict[str, int]] = {}
    for prog in programmes:
        counts: dict[str, int] = {}
        for cls, n in await s.execute(control_sql(prog, False), {**window, **bp}):
            counts[cls] = int(n)
        for cls, n in await s.execute(
            cohort_sql(prog), {"e": last, "r": first, "c0": cohort.start, "c1": cohort.end, **bp}
        ):
            counts[f"cohort_{cls}"] = int(n)
        if prog == "t2dm":
            for label, t in (("dhis2", targets.sugar), ("simple", targets.lenient)):
                classes = dict(
                    (c, int(n))
                    for c, n in await s.execute(
                        control_sql(prog, True),
                        {**window, "h": t.hba1c_percent, "f": t.fasting_mg_dl},
                    )
                )
                counts[f"sugar_{label}"] = classes.get("controlled", 0)
                counts[f"sugar_{label}_denominator"] = sum(
                    classes.get(k, 0)
                    for k in ("controlled", "uncontrolled", "visited_no_bp", "missed")
                )
        out[prog] = counts
    return out


def product_counts(result: Any) -> dict[str, int | None]:
    """The same counts from ``programme_indicators``' national total (None: withheld, a
    count below five, which a small population has)."""
    t = result.total
    out = {
        "dead": t.dead,
        "new": t.new,
        "ltfu": t.ltfu,
        "controlled": t.controlled,
        "uncontrolled": t.uncontrolled,
        "visited_no_bp": t.visited_no_bp,
        "missed": t.missed,
        "cohort_controlled": t.cohort_controlled,
        "cohort_uncontrolled": t.cohort_uncontrolled,
        "cohort_no_visit": t.cohort_no_visit,
    }
    if result.sugar:
        out["sugar_dhis2"] = t.sugar_controlled_dhis2
        out["sugar_simple"] = t.sugar_controlled_simple
        out["sugar_dhis2_denominator"] = t.sugar_denominator
        out["sugar_simple_denominator"] = t.sugar_denominator
    return out


def same(
    product: dict[str, dict[str, int | None]], raw: dict[str, dict[str, int]]
) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """(differences, withheld): the counts the product shows that differ from the SQL's (a
    class the SQL did not meet counts as 0), and those it withheld: below five, or a
    complement withheld beside one (``core.suppression``: "x", any size), so a withheld
    count is not compared."""
    diff: dict[str, tuple[Any, int]] = {}
    withheld = []
    for prog, counts in product.items():
        for k, n in counts.items():
            mine = raw.get(prog, {}).get(k, 0)
            if n is None:
                withheld.append(f"{prog}.{k}")
            elif mine != n:
                diff[f"{prog}.{k}"] = (n, mine)
    return diff, withheld


# ---- the suite ------------------------------------------------------------------------------


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines

    try:
        return await _figures(ctx)
    finally:
        await dispose_engines()


def last_quarter(day: date) -> str:
    q = (day.month - 1) // 3
    return f"{day.year - 1}-Q4" if q == 0 else f"{day.year}-Q{q}"


async def busiest(s: Any) -> tuple[str, int, str | None, str | None]:
    """(the region with the most facilities, the facility with the most open enrolments,
    its code, its largest section's code)."""
    from sqlalchemy import text

    region = (
        await s.execute(
            text(
                "SELECT r.code FROM facility f JOIN territory st ON st.id = f.settlement_id "
                "JOIN territory d ON d.id = st.parent_id JOIN territory r ON r.id = d.parent_id "
                "WHERE r.level = 'region' GROUP BY r.code ORDER BY count(*) DESC, r.code LIMIT 1"
            )
        )
    ).scalar_one()
    row = (
        await s.execute(
            text(
                "SELECT e.facility_id, f.code FROM dmp_enrolment e JOIN facility f "
                "ON f.id = e.facility_id WHERE e.ended_on IS NULL GROUP BY 1, 2 "
                "ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        )
    ).one()
    section = (
        await s.execute(
            text(
                "SELECT c.code FROM person p JOIN care_section c ON c.id = p.section_id "
                "WHERE p.attached_facility_id = :f GROUP BY c.code ORDER BY count(*) DESC, "
                "c.code LIMIT 1"
            ),
            {"f": row[0]},
        )
    ).scalar()
    return region, int(row[0]), row[1], section


async def _figures(ctx: BenchContext) -> list[Figure]:
    from sqlalchemy import text

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.screening.service import indicators, target_groups, worklists
    from salomat.domains.screening.service.rules import screening_rules

    url = ctx.async_url
    repeats = 2 if ctx.quick else REPEATS
    calls = 10 if ctx.quick else CALLS
    async with session_factory(url)() as s:
        as_of = await synthetic_as_of(s)
        if (await s.execute(text("SELECT 1 FROM dmp_enrolment LIMIT 1"))).first() is None:
            raise RuntimeError(
                "the database has no screening records: load it with a salomat synth that "
                "calls screening.service.synth.synthesize_screening (--fresh)"
            )
        region, fid, fcode, section = await busiest(s)
    rules = screening_rules(ctx.country)
    edition = rules.edition(as_of)
    programmes = [p for p in edition.programmes.values() if p.invites]
    analyst = Principal(user_id=0, username="bench", role="analyst", session_id="bench")
    doctor = Principal(
        user_id=0, username="bench", role="family_doctor", session_id="bench",
        facility_id=fid, facility_code=fcode,
    )  # fmt: skip
    figures: list[Figure] = []

    # (a) target groups of a region
    statements = [target_group_sql(p, as_of) for p in programmes]

    async def raw_groups(s: Any) -> dict[str, tuple[int, int, int]]:
        out = {}
        for p, (sql, params) in zip(programmes, statements, strict=True):
            row = (await s.execute(sql, {**params, "region": region})).one()
            out[p.code] = (int(row[0]), int(row[1]), int(row[2]))
        return out

    async def product_groups(s: Any) -> dict[str, tuple[int, int, int]]:
        got = await target_groups.target_group_counts(s, analyst, as_of, area=region)
        return {c.programme: (c.eligible, c.due, c.screened) for c in got}

    r_ms, r_samples, r_result = await timed_in_sessions(url, raw_groups, repeats)
    p_ms, p_samples, p_result = await timed_in_sessions(url, product_groups, repeats)
    diff = {k: (p_result.get(k), v) for k, v in r_result.items() if p_result.get(k) != v}
    figures.append(
        Figure(
            suite=SUITE,
            name=f"target groups of a region ({len(programmes)} programmes, eligible/due/screened)",
            people=ctx.people,
            value=round(p_ms, 2),
            unit="ms",
            baseline=f"hand-written SQL of the same counts ({len(programmes)} statements)",
            baseline_value=round(r_ms, 2),
            ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
            detail={
                "region": region,
                "on": str(as_of),
                "counts": {k: list(v) for k, v in r_result.items()},
                "agree": not diff,
                **({"differences": diff} if diff else {}),
                "product_ms": [round(x, 1) for x in p_samples],
                "raw_ms": [round(x, 1) for x in r_samples],
                "load_average": load_average(),
            },
        )
    )

    # (a') target groups of the whole population: issue 21 asks for "a whole region at 1M
    # people"; the synthetic population spreads over the pack's regions, so at
    # ``--people 1000000`` the region-sized computation of 1M people is every region's
    # (the national coverage table's path: ``raw_target_group_counts`` per region, summed)
    whole_statements = [target_group_sql(p, as_of, whole=True) for p in programmes]
    async with session_factory(url)() as s:
        regions = list(
            (await s.execute(text("SELECT code FROM territory WHERE level = 'region'"))).scalars()
        )

    async def raw_whole(s: Any) -> dict[str, tuple[int, int, int]]:
        out = {}
        for p, (sql, params) in zip(programmes, whole_statements, strict=True):
            row = (await s.execute(sql, params)).one()
            out[p.code] = (int(row[0]), int(row[1]), int(row[2]))
        return out

    async def product_whole(s: Any) -> dict[str, tuple[int, int, int]]:
        out: dict[str, tuple[int, int, int]] = {}
        for region_code in regions:
            for c in await target_groups.raw_target_group_counts(
                s, analyst, as_of, area=region_code
            ):
                e, d, n = out.get(c.programme, (0, 0, 0))
                out[c.programme] = (e + (c.eligible or 0), d + (c.due or 0), n + (c.screened or 0))
        return out

    w_raw_ms, w_raw_samples, w_raw = await timed_in_sessions(url, raw_whole, repeats)
    w_ms, w_samples, w_result = await timed_in_sessions(url, product_whole, repeats)
    w_diff = {k: (w_result.get(k), v) for k, v in w_raw.items() if w_result.get(k) != v}
    figures.append(
        Figure(
            suite=SUITE,
            name=f"target groups of the whole population, {len(regions)} regions "
            f"({len(programmes)} programmes)",
            people=ctx.people,
            value=round(w_ms, 2),
            unit="ms",
            baseline=f"hand-written SQL of the same counts ({len(programmes)} statements)",
            baseline_value=round(w_raw_ms, 2),
            ratio=float(f"{w_ms / w_raw_ms:.4g}") if w_raw_ms else None,
            detail={
                "regions": len(regions),
                "on": str(as_of),
                "counts": {k: list(v) for k, v in w_raw.items()},
                "agree": not w_diff,
                **({"differences": w_diff} if w_diff else {}),
                "product_ms": [round(x, 1) for x in w_samples],
                "raw_ms": [round(x, 1) for x in w_raw_samples],
                "load_average": load_average(),
            },
        )
    )

    # (b) the quarterly HEARTS indicator set
    quarter_code = last_quarter(as_of)
    quarter = indicators.parse_period(quarter_code, as_of)
    targets = indicators.targets_on(quarter.end, ctx.country)
    dmps = [k for k in ("hypertension", "t2dm") if k in edition.dmps]

    async def product_hearts(s: Any) -> dict[str, dict[str, int]]:
        out = {}
        for prog in dmps:
            result = await indicators.programme_indicators(
                s, analyst, period=quarter_code, programme=prog, today=as_of
            )
            out[prog] = product_counts(result)
        return out

    r_ms, r_samples, r_hearts = await timed_in_sessions(
        url, lambda s: national_sql(s, quarter, targets, dmps), repeats
    )
    p_ms, p_samples, p_hearts = await timed_in_sessions(url, product_hearts, repeats)
    diff, withheld = same(p_hearts, r_hearts)
    figures.append(
        Figure(
            suite=SUITE,
            name=f"HEARTS indicators of {quarter_code} by region ({', '.join(dmps)})",
            people=ctx.people,
            value=round(p_ms, 2),
            unit="ms",
            baseline="hand-written SQL of the same national counts",
            baseline_value=round(r_ms, 2),
            ratio=float(f"{p_ms / r_ms:.4g}") if r_ms else None,
            detail={
                "counts": r_hearts,
                "agree": not diff,
                **({"withheld": withheld} if withheld else {}),
                **({"differences": diff} if diff else {}),
                "product_ms": [round(x, 1) for x in p_samples],
                "raw_ms": [round(x, 1) for x in r_samples],
                "note": "the product groups by facility and folds into regions, masks "
                "counts below five and labels each definition; the SQL counts the nation",
                "load_average": load_average(),
            },
        )
    )

    # (c) one facility's worklists, p95
    async def timed_calls(fn: Any) -> tuple[list[float], Any]:
        samples, result = [], None
        for k in range(calls + 1):
            async with session_factory(url)() as s:
                started = time.perf_counter()
                try:
                    result = await fn(s)
                finally:
                    elapsed = (time.perf_counter() - started) * 1000
                    await s.rollback()
            if k:
                samples.append(elapsed)
        return samples, result

    raw_samples, raw_rows = await timed_calls(
        lambda s: _all(s, overdue_sql(), {"day": as_of, "fid": fid})
    )
    overdue_samples, overdue = await timed_calls(
        lambda s: worklists.dmp_worklist(s, doctor, "overdue", as_of)
    )
    raw_p = percentiles(raw_samples)
    over_p = percentiles(overdue_samples)
    agree = [r[0] for r in raw_rows] == [p.enrolment_id for p in overdue.patients]
    figures.append(
        Figure(
            suite=SUITE,
            name="overdue DMP worklist of one facility (p95)",
            people=ctx.people,
            value=over_p["p95"],
            unit="ms",
            baseline="hand-written SQL of the same list (p95)",
            baseline_value=raw_p["p95"],
            ratio=float(f"{over_p['p95'] / raw_p['p95']:.4g}") if raw_p["p95"] else None,
            detail={
                "facility": fcode,
                "patients": len(overdue.patients),
                "agree": agree,
                "calls": calls,
                "latency_ms": over_p,
                "baseline": {"latency_ms": raw_p},
                "load_average": load_average(),
            },
        )
    )
    inv_samples, invitations = await timed_calls(
        lambda s: worklists.invitation_worklist(s, doctor, as_of, section=section)
    )
    inv_p = percentiles(inv_samples)
    figures.append(
        Figure(
            suite=SUITE,
            name="invitation worklist of one family-doctor section (p95)",
            people=ctx.people,
            value=inv_p["p95"],
            unit="ms",
            detail={
                "facility": fcode,
                "section": section,
                "invitations": len(invitations.invitations),
                "calls": calls,
                "latency_ms": inv_p,
                "load_average": load_average(),
            },
        )
    )
    return figures


async def _all(s: Any, sql: Any, params: dict[str, Any]) -> list[Any]:
    return list(await s.execute(sql, params))
