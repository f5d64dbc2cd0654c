"""Dashboard and indicator computation time against hand-written SQL (requirement c).

    .venv/bin/python -m bench.indicators --url postgresql+psycopg://postgres@127.0.0.1/db --people N

Each product figure is computed the way a user triggers it: the service
function the API route calls, with a principal of the role that may ask,
in a session of its own that is rolled back (the audit row it writes does
not stay). Its baseline is a raw SQL ``GROUP BY`` written by hand for the
same numbers, run through the same kind of session (SQLAlchemy async on
psycopg) in the same run, and the two answers are compared: a difference
means one of them is wrong, and the figure says so in ``detail['agree']``.

The ratio is product time / raw SQL time (medians of ``REPEATS`` runs after a
warm-up). The issue's target, "indicators over 10M events within 1.5x the
raw SQL GROUP BY", applies to the aggregates over the event tables (the
maternal dashboard, immunization coverage); each figure names the event
count of the database it ran on, so a smaller population says so instead of
pretending. Worklists are timed too, against one statement reading the
rows they need; they are per facility, not over the event tables, so they
carry no target, but their statement count shows per-row queries.
"""

# The baselines are SQL text assembled from this module's constants and the country pack's
# antigen codes (bound as parameters); nothing typed by a user reaches them.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from bench.common import BenchContext, Figure, load_average

SUITE = "indicators"
TARGET = "ratio <= 1.5"
TARGET_RATIO = 1.5
REPEATS = 5
#: the tables of person-level events the indicators read or could read
EVENT_TABLES = (
    "immunization_dose",
    "antenatal_contact",
    "postnatal_contact",
    "birth_record",
    "birth_baby",
    "growth_measurement",
    "prescription",
    "dispensing",
    "reimbursement_claim_line",
    "well_child_visit",
    "newborn_record",
)

Run = Callable[[Any], Awaitable[Any]]


# ---- timing ----------------------------------------------------------------------------


class _Statements:
    """Times each statement a call sends: per-row queries and slow statements show up here."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []
        self._started = 0.0

    def before(self, *args: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, *args: Any, **kwargs: Any) -> None:
        self.log.append(((time.perf_counter() - self._started) * 1000, statement))

    def listen(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def forget(self, engine: Any) -> None:
        from sqlalchemy import event

        event.remove(engine, "before_cursor_execute", self.before)
        event.remove(engine, "after_cursor_execute", self.after)


def _summary(log: list[tuple[float, str]]) -> dict[str, Any]:
    """How many statements, the time spent in them, and the three slowest (for a report)."""
    slowest = sorted(log, key=lambda x: -x[0])[:3]
    return {
        "statements": len(log),
        "sql_ms": round(sum(ms for ms, _ in log), 1),
        "slowest": [{"ms": round(ms, 1), "sql": " ".join(st.split())[:400]} for ms, st in slowest],
    }


async def _once(url: str, fn: Run, counter: _Statements) -> tuple[float, Any, dict[str, Any]]:
    from salomat.core.db import session_factory

    counter.log = []
    started = time.perf_counter()
    async with session_factory(url)() as s:
        try:
            result = await fn(s)
        finally:
            await s.rollback()
    return (time.perf_counter() - started) * 1000, result, _summary(counter.log)


async def _measure(
    url: str, fn: Run, repeats: int, counter: _Statements
) -> tuple[float, list[float], Any, dict[str, Any]]:
    """Median ms of ``repeats`` runs after one warm-up; the last answer; statements per run."""
    _, result, statements = await _once(url, fn, counter)
    samples = []
    for _ in range(repeats):
        ms, result, statements = await _once(url, fn, counter)
        samples.append(ms)
    return statistics.median(samples), samples, result, statements


# ---- places: settlement -> unit of the area (region, district or settlement code) ------


def _place(area_level: str | None) -> str:
    """The ``place(sid, unit)`` CTE body for the country (None), a region or a district."""
    if area_level is None:
        return (
            "SELECT s.id AS sid, r.code AS unit FROM territory s "
            "JOIN territory d ON d.id = s.parent_id JOIN territory r ON r.id = d.parent_id "
            "WHERE s.level = 'settlement'"
        )
    if area_level == "region":
        return (
            "SELECT s.id AS sid, d.code AS unit FROM territory s "
            "JOIN territory d ON d.id = s.parent_id JOIN territory r ON r.id = d.parent_id "
            "WHERE s.level = 'settlement' AND r.code = :area"
        )
    return (
        "SELECT s.id AS sid, s.code AS unit FROM territory s "
        "JOIN territory d ON d.id = s.parent_id "
        "WHERE s.level = 'settlement' AND d.code = :area"
    )


def _join(area: str | None) -> str:
    # the country keeps what has no place (the "place not recorded" row); an area does not
    return "LEFT JOIN" if area is None else "JOIN"


# ---- the maternal dashboard ------------------------------------------------------------

_DASH_FIELDS = (
    "current",
    "registered",
    "registered_early",
    "closed",
    "anc4",
    "anc8",
    "births",
    "caesarean",
    "preterm",
    "babies_live",
    "babies_stillborn",
    "low_birth_weight",
    "high_risk_pending_24h",
)


def _dash_product(d: Any) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = {}
    for r in d.rows:
        f = r.figures
        figs: dict[str, Any] = {k: getattr(f, k) for k in _DASH_FIELDS}
        for risk, counts in f.by_risk.items():
            for t, n in enumerate(counts):
                if n:
                    figs[f"{risk}_t{t + 1}"] = n
        for outcome, n in f.outcomes.items():
            if n:
                figs[f"outcome_{outcome}"] = n
        figs = {k: v for k, v in figs.items() if v}
        if figs:
            out[r.code] = figs
    return out


def _dash_sql(area: str | None, area_level: str | None) -> list[str]:
    place = f"WITH place AS ({_place(area_level)}) "
    join = f"{_join(area)} place ON place.sid = p.settlement_id"
    return [
        # current pregnancies by risk and trimester of gestational age today
        place + "SELECT place.unit, coalesce(p.risk_level, 'unassessed'), "
        "CASE WHEN p.edd > :edge2 THEN 1 WHEN p.edd > :edge3 THEN 2 ELSE 3 END, count(*) "
        f"FROM pregnancy p {join} WHERE p.status = 'current' GROUP BY 1, 2, 3",
        # registered in the period, and early (GA at registration <= 12+6)
        place + "SELECT place.unit, count(*), count(*) FILTER (WHERE p.edd - p.registered_on "
        f">= :early_edd) FROM pregnancy p {join} "
        "WHERE p.registered_on BETWEEN :start AND :end GROUP BY 1",
        # closed in the period by outcome, with 4+ and 8+ contacts on distinct days
        place + "SELECT place.unit, p.outcome, count(*), count(*) FILTER (WHERE v.n >= 4), "
        "count(*) FILTER (WHERE v.n >= 8) FROM pregnancy p "
        'LEFT JOIN LATERAL (SELECT count(DISTINCT c."on") AS n FROM antenatal_contact c '
        f"WHERE c.pregnancy_id = p.id) v ON true {join} WHERE p.status = 'closed' "
        "AND p.closed_on BETWEEN :start AND :end GROUP BY 1, 2",
        # births in the period
        place + "SELECT place.unit, count(*), count(*) FILTER (WHERE b.mode LIKE 'caesarean%%'), "
        "count(*) FILTER (WHERE b.ga_days < :preterm) FROM birth_record b "
        f"JOIN pregnancy p ON p.id = b.pregnancy_id {join} "
        "WHERE b.born_on BETWEEN :start AND :end GROUP BY 1",
        # their babies
        place + "SELECT place.unit, count(*) FILTER (WHERE bb.outcome = 'live'), "
        "count(*) FILTER (WHERE bb.outcome = 'stillbirth'), "
        "count(*) FILTER (WHERE bb.birth_weight_g < :lbw) FROM birth_baby bb "
        "JOIN birth_record b ON b.id = bb.birth_id JOIN pregnancy p ON p.id = b.pregnancy_id "
        f"{join} WHERE b.born_on BETWEEN :start AND :end GROUP BY 1",
        # high-risk referrals pending over 24 h
        place + "SELECT place.unit, count(*) FROM antenatal_referral r "
        f"JOIN pregnancy p ON p.id = r.pregnancy_id {join} WHERE r.status = 'sent' "
        "AND r.sent_at < :cutoff AND p.status = 'current' AND p.risk_level = 'high' GROUP BY 1",
    ]


def dashboard_raw(area: str | None, area_level: str | None) -> Run:
    """The dashboard's figures per unit, in six hand-written GROUP BY statements."""
    from sqlalchemy import text

    from salomat.core.db import utcnow
    from salomat.domains.maternal.service import dashboard as d
    from salomat.domains.maternal.service.dating import PREGNANCY_DAYS

    statements = [text(s.replace("%%", "%")) for s in _dash_sql(area, area_level)]

    async def run(s: Any) -> dict[str | None, dict[str, Any]]:
        today = date.today()
        params = {
            "area": area,
            "start": today - timedelta(days=d.DEFAULT_DAYS - 1),
            "end": today,
            "edge2": today + timedelta(days=PREGNANCY_DAYS - d.TRIMESTER_STARTS[0]),
            "edge3": today + timedelta(days=PREGNANCY_DAYS - d.TRIMESTER_STARTS[1]),
            "early_edd": PREGNANCY_DAYS - d.EARLY_MAX_DAYS,
            "preterm": d.PRETERM_DAYS,
            "lbw": d.LOW_BIRTH_WEIGHT_G,
            "cutoff": utcnow() - timedelta(hours=d.PENDING_HOURS),
        }
        out: dict[str | None, Counter[str]] = defaultdict(Counter)

        async def rows(i: int) -> Any:
            st = statements[i]
            return await s.execute(st, {k: v for k, v in params.items() if f":{k}" in st.text})

        for unit, risk, tri, n in await rows(0):
            out[unit]["current"] += n
            out[unit][f"{risk}_t{tri}"] += n
        for unit, n, early in await rows(1):
            out[unit]["registered"] += n
            out[unit]["registered_early"] += early
        for unit, outcome, n, anc4, anc8 in await rows(2):
            c = out[unit]
            c["closed"] += n
            c[f"outcome_{outcome}"] += n
            c["anc4"] += anc4
            c["anc8"] += anc8
        for unit, n, caesarean, preterm in await rows(3):
            out[unit].update(births=n, caesarean=caesarean, preterm=preterm)
        for unit, live, still, low in await rows(4):
            out[unit].update(babies_live=live, babies_stillborn=still, low_birth_weight=low)
        for unit, n in await rows(5):
            out[unit]["high_risk_pending_24h"] += n
        return {u: {k: v for k, v in c.items() if v} for u, c in out.items() if any(c.values())}

    return run


# ---- immunization coverage -------------------------------------------------------------


def coverage_raw(area: str | None, area_level: str | None, year: int, country: str) -> Run:
    """Coverage of a cohort per unit in one statement: each child's age at each dose, then counts.

    Written from the pack's indicators the way an analyst would: one pass
    over the cohort's doses (the smallest age at each antigen group and dose
    number), then a FILTERed count per indicator.
    """
    from sqlalchemy import text

    from salomat.domains.immunization.service.coverage import coverage_indicators

    indicators, _ = coverage_indicators(country)
    doses: dict[tuple[tuple[str, ...], int], str] = {}
    for ind in indicators:
        for key in ind.places:
            doses.setdefault(key, f"a{len(doses)}")
    params: dict[str, Any] = {"area": area, "y0": date(year, 1, 1), "y1": date(year, 12, 31)}
    ages = []
    names_of: dict[tuple[str, ...], str] = {}
    for (antigens, dose), col in doses.items():
        names = []
        for j, antigen in enumerate(antigens):
            params[f"{col}_{j}"] = antigen
            names.append(f":{col}_{j}")
        names_of[antigens] = ", ".join(names)
        ages.append(
            f"min(d.given_on - c.birth_date) FILTER (WHERE d.antigen IN ({', '.join(names)}) "
            f"AND d.counted_as = {dose}) AS {col}"
        )
    # whole calendar months at the first valid dose (a catch-up plan's band), PCV complete
    months = (
        "(extract(year FROM d.given_on) * 12 + extract(month FROM d.given_on) "
        "- extract(year FROM c.birth_date) * 12 - extract(month FROM c.birth_date) "
        "- CASE WHEN extract(day FROM d.given_on) < extract(day FROM c.birth_date) "
        "AND extract(day FROM d.given_on + 1) <> 1 THEN 1 ELSE 0 END)"
    )
    first: dict[tuple[str, ...], str] = {}
    for ind in indicators:
        if ind.plans and ind.antigens not in first:
            col = first[ind.antigens] = f"m{len(first)}"
            ages.append(
                f"min({months}) FILTER (WHERE d.antigen IN ({names_of[ind.antigens]}) "
                f"AND d.counted_as = 1) AS {col}"
            )
    counts = []
    for i, ind in enumerate(indicators):
        params[f"cut{i}"] = None  # set per call: today - by_days
        eligible = (
            f"birth_date <= :cut{i} AND (deceased_on IS NULL OR deceased_on - birth_date > "
            f"{ind.by_days})"
        )
        if ind.among:
            eligible += f" AND {doses[ind.among]} <= {ind.by_days}"
        covered = f"{doses[(ind.antigens, ind.dose)]} <= {ind.by_days}"
        for p in ind.plans:
            m1 = first[ind.antigens]
            covered += (
                f" OR ({m1} >= {p.from_months} AND {m1} < {p.until_months} "
                f"AND {doses[(ind.antigens, p.last)]} <= {ind.by_days})"
            )
        covered = f"({covered})"
        counts.append(f"count(*) FILTER (WHERE {eligible})")
        counts.append(f"count(*) FILTER (WHERE {eligible} AND {covered})")
    sql = text(
        f"WITH place AS ({_place(area_level)}), "
        "cohort AS (SELECT p.id, p.birth_date, p.deceased_on, place.unit FROM person p "
        "LEFT JOIN facility f ON f.id = p.attached_facility_id "
        f"{_join(area)} place ON place.sid = coalesce(p.settlement_id, f.settlement_id) "
        "WHERE p.birth_date BETWEEN :y0 AND :y1 AND p.merged_into_id IS NULL), "
        f"ages AS (SELECT c.id, c.unit, c.birth_date, c.deceased_on, {', '.join(ages)} "
        "FROM cohort c LEFT JOIN immunization_dose d ON d.person_id = c.id AND d.valid "
        "AND d.status = 'completed' AND d.given_on >= c.birth_date "
        "GROUP BY c.id, c.unit, c.birth_date, c.deceased_on) "
        f"SELECT unit, {', '.join(counts)} FROM ages GROUP BY unit"
    )
    if area is None:
        del params["area"]

    async def run(s: Any) -> dict[str | None, dict[str, tuple[int, int]]]:
        today = date.today()
        for i, ind in enumerate(indicators):
            params[f"cut{i}"] = today - timedelta(days=ind.by_days)
        out: dict[str | None, dict[str, tuple[int, int]]] = {}
        for row in await s.execute(sql, params):
            figs = {
                ind.code: (row[1 + 2 * i], row[2 + 2 * i])
                for i, ind in enumerate(indicators)
                if row[1 + 2 * i]
            }
            if figs:
                out[row[0]] = figs
        return out

    return run


def _coverage_product(c: Any) -> dict[str | None, dict[str, tuple[int, int]]]:
    out = {}
    for r in c.rows:
        figs = {k: (f.eligible, f.covered) for k, f in r.figures.items() if f.eligible}
        if figs:
            out[r.code] = figs
    return out


# ---- worklists -------------------------------------------------------------------------


def immunization_worklist_raw(facility_id: int) -> Run:
    """The children of the facility under 18 with their doses and exemptions: what the
    schedule engine reads, in one statement (the schedule itself is not computed)."""
    from sqlalchemy import text

    from salomat.domains.immunization.service import worklists as w

    sql = text(
        "SELECT p.id, p.birth_date, p.sex, d.antigen, d.dose_number, d.given_on, d.valid, "
        "d.status, e.antigen, e.reason FROM person p "
        "LEFT JOIN immunization_dose d ON d.person_id = p.id "
        "LEFT JOIN immunization_exemption e ON e.person_id = p.id AND d.id IS NULL "
        "WHERE p.attached_facility_id = :f AND p.deceased_on IS NULL "
        "AND p.merged_into_id IS NULL AND p.birth_date BETWEEN :born_from AND :born_to"
    )

    async def run(s: Any) -> set[int]:
        end = w.parse_week(None) + timedelta(days=6)
        born_from = w._years_before(end, w.CHILD_UNDER_YEARS) + timedelta(days=1)
        rows = await s.execute(sql, {"f": facility_id, "born_from": born_from, "born_to": end})
        return {r[0] for r in rows}

    return run


def antenatal_worklist_raw(facility_id: int) -> Run:
    """The facility's current pregnancies with what the reasons need, in one statement;
    returns the pregnancies flagged high-risk-without-referral and no-birth-place."""
    from sqlalchemy import bindparam, text

    from salomat.domains.maternal.service.dating import PREGNANCY_DAYS
    from salomat.domains.maternal.service.referrals import ACCEPTED
    from salomat.domains.maternal.service.worklists import BIRTH_PLAN_FROM_DAYS

    sql = text(
        "SELECT p.id, p.risk_level, coalesce(p.care_level, 1), p.edd, "
        "p.planned_birth_facility_id, (SELECT coalesce(max(r.required_level), 0) "
        "FROM antenatal_referral r WHERE r.pregnancy_id = p.id AND r.kind = 'perinatal' "
        "AND r.status IN :accepted) AS accepted, "
        "(SELECT count(*) FROM antenatal_contact c WHERE c.pregnancy_id = p.id), "
        '(SELECT max(c."on") FROM antenatal_contact c WHERE c.pregnancy_id = p.id) '
        "FROM pregnancy p WHERE p.status = 'current' AND (p.facility_id = :f "
        "OR p.id IN (SELECT pregnancy_id FROM antenatal_contact WHERE facility_id = :f) "
        "OR p.person_id IN (SELECT id FROM person WHERE attached_facility_id = :f "
        "AND sex = 'female' AND deceased_on IS NULL AND merged_into_id IS NULL))"
    ).bindparams(bindparam("accepted", expanding=True))

    async def run(s: Any) -> dict[int, set[str]]:
        today = date.today()
        out: dict[int, set[str]] = {}
        for pid, risk, care, edd, planned, accepted, _n, _last in await s.execute(
            sql, {"f": facility_id, "accepted": list(ACCEPTED)}
        ):
            reasons = set()
            if risk == "high" and accepted < care:
                reasons.add("high_risk_no_referral")
            ga = (today - (edd - timedelta(days=PREGNANCY_DAYS))).days
            if ga >= BIRTH_PLAN_FROM_DAYS and planned is None:
                reasons.add("no_birth_place")
            out[pid] = reasons
        return out

    return run


# ---- claims: the monthly prescriber-outlier flags ------------------------------------


#: pregnancies per batch of the nightly re-evaluation (its CLI default)
REEVALUATION_BATCH = 500


def reevaluation_raw() -> Run:
    """One statement reading the batch's current pregnancies with their contacts."""
    from sqlalchemy import text

    sql = text(
        "SELECT p.id, c.id FROM (SELECT id FROM pregnancy WHERE status = 'current' "
        "ORDER BY id LIMIT :n) p LEFT JOIN antenatal_contact c ON c.pregnancy_id = p.id"
    )

    async def run(s: Any) -> int:
        rows = (await s.execute(sql, {"n": REEVALUATION_BATCH})).all()
        return len({pid for pid, _ in rows})

    return run


def outliers_raw(month: date) -> Run:
    """The lines the monthly batch would flag, counted in two statements.

    The outlier rule itself (k x the median of the prescriber's peers) is the
    product's pure function ``prescriber_outliers``: the baseline replaces the
    reads, not the arithmetic.
    """
    from sqlalchemy import bindparam, text

    from salomat.domains.prescription.service import claims

    start = claims.claim_month(month)
    end = (start + timedelta(days=32)).replace(day=1)
    counts = text(
        "SELECT f.kind, p.prescriber_username, count(*) FROM prescription p "
        "JOIN facility f ON f.id = p.facility_id WHERE p.reimbursed "
        "AND p.issued_on >= :start AND p.issued_on < :end GROUP BY 1, 2"
    )
    lines = text(
        "SELECT count(*) FROM reimbursement_claim_line l "
        "JOIN dispensing d ON d.id = l.dispensing_id "
        "JOIN prescription p ON p.id = d.prescription_id WHERE p.reimbursed "
        "AND p.issued_on >= :start AND p.issued_on < :end AND p.prescriber_username IN :who "
        "AND l.status NOT IN ('approved', 'rejected') "
        'AND NOT l.flags::jsonb @> \'[{"rule": "prescriber_outlier"}]\'::jsonb'
    ).bindparams(bindparam("who", expanding=True))

    async def run(s: Any) -> int:
        rule = claims.rules_config()["prescriber_outlier"]
        groups: dict[str, dict[str, int]] = defaultdict(dict)
        for kind, who, n in await s.execute(counts, {"start": start, "end": end}):
            groups[kind][who] = groups[kind].get(who, 0) + int(n)
        outliers = claims.prescriber_outliers(
            groups,
            k=float(rule["k"]),
            min_prescriptions=int(rule["min_prescriptions"]),
            min_peers=int(rule["min_peers"]),
        )
        if not outliers:
            return 0
        params = {"start": start, "end": end, "who": list(outliers)}
        return int(await s.scalar(lines, params))

    return run


# ---- the suite -------------------------------------------------------------------------


async def _facts(s: Any) -> dict[str, Any]:
    """Event counts, the synthetic run's as-of day, and the places to ask about."""
    from sqlalchemy import text

    counts: dict[str, int] = {}
    for table in EVENT_TABLES:
        exists = await s.scalar(text("SELECT to_regclass(:t)"), {"t": table})
        if exists:
            counts[table] = int(await s.scalar(text(f"SELECT count(*) FROM {table}")))
    as_of = None
    if await s.scalar(text("SELECT to_regclass('synthetic_run')")):
        as_of = await s.scalar(text("SELECT max(as_of) FROM synthetic_run"))
    # the region and district with the most pregnancies; the facility with most children
    region, district = (
        await s.execute(
            text(
                "SELECT r.code, d.code FROM pregnancy p JOIN territory s ON s.id = p.settlement_id "
                "JOIN territory d ON d.id = s.parent_id JOIN territory r ON r.id = d.parent_id "
                "GROUP BY r.code, d.code ORDER BY count(*) DESC, d.code LIMIT 1"
            )
        )
    ).one()
    fid, fcode, children = (
        await s.execute(
            text(
                "SELECT f.id, f.code, count(*) FROM person p JOIN facility f "
                "ON f.id = p.attached_facility_id WHERE p.birth_date > :born "
                "AND p.deceased_on IS NULL GROUP BY f.id, f.code ORDER BY 3 DESC, f.id LIMIT 1"
            ),
            {"born": date.today() - timedelta(days=18 * 365)},
        )
    ).one()
    people = int(await s.scalar(text("SELECT count(*) FROM person")))
    return {
        "events": counts,
        "events_total": sum(counts.values()),
        "as_of": as_of,
        "region": region,
        "district": district,
        "facility_id": fid,
        "facility_code": fcode,
        "facility_children": int(children),
        "people_in_db": people,
    }


def _diff(product: dict[Any, Any], raw: dict[Any, Any]) -> list[str]:
    out = []
    for unit in sorted(set(product) | set(raw), key=str):
        a, b = product.get(unit, {}), raw.get(unit, {})
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                out.append(f"{unit}.{k}: product {a.get(k)} raw {b.get(k)}")
    return out


async def measure(ctx: BenchContext) -> list[Figure]:
    from salomat.core.db import dispose_engines, get_engine, session_factory
    from salomat.core.security import Principal
    from salomat.domains.immunization import service as immunization
    from salomat.domains.maternal import service as maternal
    from salomat.domains.prescription import service as prescription

    url = ctx.async_url
    repeats = 3 if ctx.quick else REPEATS
    counter = _Statements()
    counter.listen(get_engine(url).sync_engine)
    async with session_factory(url)() as s:
        facts = await _facts(s)
    if facts["as_of"] and facts["as_of"] != date.today():
        print(
            f"   note: the population was generated as of {facts['as_of']}; the services "
            f"compute as of today ({date.today()}): figures shift with the days between",
            file=sys.stderr,
        )
    events = facts["events_total"]
    scale = {
        "events": facts["events"],
        "events_total": events,
        "people_in_db": facts["people_in_db"],
    }
    if events < 10_000_000:
        scale["note"] = (
            f"{events:,} events in the database, fewer than the target's 10M: the ratio is "
            "measured at this size, not at 10M"
        )
    analyst = Principal(user_id=0, username="bench", role="analyst", session_id="bench")
    nurse = Principal(
        user_id=0,
        username="bench-nurse",
        role="nurse",
        session_id="bench",
        facility_id=facts["facility_id"],
        facility_code=facts["facility_code"],
    )
    year = date.today().year - 2  # the youngest cohort whose first-year indicators are complete
    figures: list[Figure] = []
    load = load_average()

    async def compare(
        name: str,
        product: Run,
        raw: Run,
        baseline: str,
        project: Callable[[Any], Any],
        check: Callable[[Any, Any], list[str]],
        target: bool,
        **detail: Any,
    ) -> None:
        p_ms, p_samples, p_result, p_statements = await _measure(url, product, repeats, counter)
        r_ms, r_samples, r_result, r_statements = await _measure(url, raw, repeats, counter)
        problems = check(project(p_result), r_result)
        ratio = round(p_ms / r_ms, 2) if r_ms else None
        if problems:
            print(f"!! {name}: product and raw SQL DISAGREE: {problems[:5]}", file=sys.stderr)
        print(
            f"   {name:<46} {p_ms:>9.1f} ms  raw {r_ms:>9.1f} ms  x{ratio}  "
            f"statements {p_statements['statements']}/{r_statements['statements']}"
            + ("  MISMATCH" if problems else "")
        )
        figures.append(
            Figure(
                suite=SUITE,
                name=name,
                people=ctx.people,
                value=round(p_ms, 2),
                unit="ms",
                baseline=baseline,
                baseline_value=round(r_ms, 2),
                ratio=ratio,
                target=TARGET if target else None,
                met=(ratio is not None and ratio <= TARGET_RATIO) if target else None,
                detail={
                    "p50": round(p_ms, 2),
                    "median_of": repeats,
                    "product_ms": [round(x, 1) for x in p_samples],
                    "raw_ms": [round(x, 1) for x in r_samples],
                    "product_sql": p_statements,
                    "raw_sql": r_statements,
                    "agree": not problems,
                    "mismatches": problems[:20],
                    "load_average": load,
                    **detail,
                    **(scale if target else {}),
                },
            )
        )

    for label, area, level in (
        ("national", None, None),
        (f"region {facts['region']}", facts["region"], "region"),
        (f"district {facts['district']}", facts["district"], "district"),
    ):
        await compare(
            f"maternal dashboard, {label}",
            lambda s, a=area: maternal.maternal_dashboard(s, analyst, area=a),
            dashboard_raw(area, level),
            "the same figures in six hand-written GROUP BY statements",
            _dash_product,
            _diff,
            True,
            area=area,
            period="the last 365 days",
        )
    for label, area, level in (
        ("national", None, None),
        (f"region {facts['region']}", facts["region"], "region"),
    ):
        await compare(
            f"immunization coverage, cohort {year}, {label}",
            lambda s, a=area: immunization.immunization_coverage(s, analyst, area=a, cohort=year),
            coverage_raw(area, level, year, ctx.country),
            "the same coverage in one hand-written GROUP BY statement",
            _coverage_product,
            _diff,
            True,
            area=area,
            cohort=year,
        )

    def subset(product: set[int], raw: set[int]) -> list[str]:
        extra = product - raw
        return [f"{len(extra)} listed children not among the facility's children"] if extra else []

    await compare(
        f"immunization worklist of facility {facts['facility_code']}",
        lambda s: immunization.immunization_worklist(s, nurse),
        immunization_worklist_raw(facts["facility_id"]),
        "one statement reading the facility's children with their doses (no schedule computed)",
        lambda w: {r.person_id for r in w.rows},
        subset,
        False,
        facility=facts["facility_code"],
        children_attached=facts["facility_children"],
    )

    def reasons(product: dict[int, set[str]], raw: dict[int, set[str]]) -> list[str]:
        out = []
        checked = {"high_risk_no_referral", "no_birth_place"}
        for pid, codes in product.items():
            if pid not in raw:
                out.append(f"pregnancy {pid} listed but not among the facility's")
            elif codes & checked != raw[pid]:
                out.append(f"pregnancy {pid}: product {sorted(codes & checked)} raw {raw[pid]}")
        missing = [pid for pid, codes in raw.items() if codes and pid not in product]
        if missing:
            out.append(f"{len(missing)} flagged pregnancies not listed (out of scope?)")
        return out

    await compare(
        f"antenatal worklist of facility {facts['facility_code']}",
        lambda s: maternal.antenatal_worklist(s, nurse),
        antenatal_worklist_raw(facts["facility_id"]),
        "one statement reading the facility's current pregnancies with contact counts and "
        "accepted referrals",
        lambda rows: {r.pregnancy_id: {x.code for x in r.reasons} for r in rows},
        reasons,
        False,
        facility=facts["facility_code"],
        rows_compared="high_risk_no_referral and no_birth_place reasons",
    )
    await compare(
        f"nightly re-evaluation of {REEVALUATION_BATCH} current pregnancies",
        lambda s: maternal.reevaluate_current(s, limit=REEVALUATION_BATCH),
        reevaluation_raw(),
        "one statement reading the batch's pregnancies with their contacts (no rule run)",
        lambda batch: batch.evaluated,
        lambda a, b: [] if a == b else [f"product evaluated {a}, raw read {b}"],
        False,
        note="the rules replayed over each history (standing diagnoses) and the advice "
        "compared with the stored; writes rolled back",
    )
    if facts["events"].get("reimbursement_claim_line"):
        month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
        await compare(
            f"claims: prescriber-outlier flags of {month:%Y-%m}",
            lambda s: prescription.flag_outliers(s, month),
            outliers_raw(month),
            "two statements counting the lines to flag (same outlier rule)",
            lambda n: n,
            lambda a, b: [] if a == b else [f"product flagged {a} lines, raw counts {b}"],
            False,
            month=month.isoformat(),
            note="a batch that writes (flags the lines, rolled back here); its baseline "
            "only counts them",
        )
    counter.forget(get_engine(url).sync_engine)
    await dispose_engines()
    return figures


def run(ctx: BenchContext) -> list[Figure]:
    import os

    os.environ.setdefault("SALOMAT_COUNTRY", ctx.country)
    for k, v in ctx.env().items():
        os.environ.setdefault(k, v)
    print(f"== indicators on {ctx.people:,} people ({ctx.country})")
    return asyncio.run(measure(ctx))


def main(argv: list[str] | None = None) -> int:
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="sync URL (postgresql+psycopg://...)")
    ap.add_argument("--people", type=int, default=0)
    ap.add_argument("--country", default="UZ")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    ctx = BenchContext(url=args.url, people=args.people, country=args.country, seed=0)
    ctx.quick = args.quick
    for f in run(ctx):
        print(json.dumps(f.as_dict(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
