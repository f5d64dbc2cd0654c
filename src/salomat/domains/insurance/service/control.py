"""Automated spending control: the pack's rules (``control`` in ``<CC>/insurance.yaml``)
flag claim lines, each flag with its rule, its reason (a msgid) and the values that fill
it; a flagged line waits for the fund's reviewer (``review``). Rules never refuse a
claim: they ask a person to look.

- ``after_death``: a service after the registry's date of death (a service on the day of
  death itself is not flagged: a person can be treated on the day she dies).
- ``uninsured``: a service of a package for the insured only (``insured_only``) to a
  person not insured that day (never under a universal scheme; a dead person's lines are
  ``after_death``'s).
- ``duplicate``: the same person, service and day on another line of any claim, any
  provider: every line after the first (lower id) is flagged; rejected lines don't count.
- ``sex_age``: the service is impossible for the person's sex or age that day
  (``Service.impossible_for``).
- ``many_providers``: more than ``max_providers`` providers claim services for one
  person on one day: every such line is flagged.
- ``volume_outlier``: a provider's lines per distinct person for a service in a month,
  against the median of its peers (the other providers of the same facility kind
  claiming the service that month): flagged when the provider has at least
  ``min_lines`` lines, there are at least ``min_peers`` peers, and its ratio is more
  than ``factor`` × their median. A batch rule: it runs in ``run_controls`` only.

Each rule is one SQL statement over a month's lines (joins, window functions and
aggregates, the same on SQLite and PostgreSQL), run for the lines of one claim as it is
submitted (``check_claim``) and over the whole month at night (``run_controls``). The
insured status cannot be a join (arrears-first allocation is sequential): SQL leaves
only people with no payment naming a month whose grace holds the month and no protected
category that day, and their status is computed by ``coverage`` from their rows read at
once. A decided line keeps its decision: flags are added to entered and flagged lines
only, by a conditional update a review can't race.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, bindparam, distinct, exists, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_
from salomat.domains.insurance.models import CategoryMember, ClaimLine, Contribution
from salomat.domains.insurance.schemas.claims import ControlRun
from salomat.domains.insurance.service.closing import closed_facilities
from salomat.domains.insurance.service.coverage import (
    Membership,
    Paid,
    allocate,
    status_on,
)
from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    add_months,
    insurance_rules,
    month_of,
)
from salomat.domains.registry import service as registry

__all__ = [
    "BATCH_RULES",
    "IMMEDIATE_RULES",
    "RULES",
    "check_claim",
    "run_controls",
]

IMMEDIATE_RULES = ("after_death", "uninsured", "duplicate", "sex_age", "many_providers")
BATCH_RULES = ("volume_outlier",)
RULES = IMMEDIATE_RULES + BATCH_RULES
OPEN = ("entered", "flagged")
CHUNK = 2000

#: each rule's reasons (msgids); ``params`` fill them, dates as ISO strings
REASONS = {
    "after_death": N_("service on %(day)s, after the registered death on %(death)s"),
    "uninsured": N_(
        "%(service)s is in a package for the insured; the person was not insured on %(day)s"
    ),
    "duplicate": N_(
        "the same service to the same person on %(day)s is already claimed (line %(line)s)"
    ),
    "sex": N_("%(service)s is not given to a person of this sex"),
    "age": N_("%(service)s is not given at the age of %(age)s"),
    "many_providers": N_("claimed by %(providers)s providers on %(day)s (more than %(max)s)"),
    "volume_outlier": N_(
        "%(lines)s lines for %(people)s people (%(ratio)s a person), more than %(factor)s "
        "times the median of %(peers)s peers (%(median)s)"
    ),
}


def _flag(rule: str, reason: str, **params: Any) -> dict[str, Any]:
    return {"rule": rule, "reason": REASONS[reason], "params": params}


@dataclass(frozen=True)
class _Scope:
    """The lines a rule looks at: a month's, and (at submission) one claim's."""

    start: date
    end: date
    claim_id: int | None = None

    def lines(self, *extra: Any) -> list[Any]:
        return [ClaimLine.service_on >= self.start, ClaimLine.service_on < self.end, *extra]

    def persons(self) -> Any:
        """The people whose lines a windowed rule must see: the claim's, or everyone's."""
        return select(ClaimLine.person_id).where(ClaimLine.claim_id == self.claim_id)

    def restrict(self, q: Any, line_claim: Any = None) -> Any:
        if self.claim_id is None:
            return q
        return q.where(
            (line_claim if line_claim is not None else ClaimLine.claim_id) == self.claim_id
        )


def _scope(month: date, claim_id: int | None = None) -> _Scope:
    start = month_of(month)
    return _Scope(start, add_months(start, 1), claim_id)


Fired = dict[int, list[dict[str, Any]]]


def _add(fired: Fired, line_id: int, flag: dict[str, Any]) -> None:
    fired.setdefault(int(line_id), []).append(flag)


# ---- the rules, one statement each ------------------------------------------------------


async def _after_death(session: AsyncSession, s: _Scope, fired: Fired) -> None:
    v = registry.person_vitals_query()
    q = (
        select(ClaimLine.id, ClaimLine.service_on, v.c.deceased_on)
        .join(v, v.c.person_id == ClaimLine.person_id)
        .where(*s.lines(v.c.deceased_on.is_not(None), ClaimLine.service_on > v.c.deceased_on))
    )
    for line_id, day, died in (await session.execute(s.restrict(q))).all():
        _add(
            fired,
            line_id,
            _flag("after_death", "after_death", day=day.isoformat(), death=died.isoformat()),
        )


async def _sex_age(session: AsyncSession, s: _Scope, rules: InsuranceRules, fired: Fired) -> None:
    v = registry.person_vitals_query()
    age = registry.age_in_years(v.c.birth_date, ClaimLine.service_on)
    conditions = []
    for svc in rules.services.values():
        parts = []
        if svc.sex is not None:
            parts.append(v.c.sex != svc.sex)
        if svc.age_min is not None:
            parts.append(age < svc.age_min)
        if svc.age_max is not None:
            parts.append(age > svc.age_max)
        if parts:
            conditions.append(and_(ClaimLine.service_code == svc.code, or_(*parts)))
    if not conditions:
        return
    q = (
        select(ClaimLine.id, ClaimLine.service_code, v.c.sex, age.label("age"))
        .join(v, v.c.person_id == ClaimLine.person_id)
        .where(*s.lines(or_(*conditions)))
    )
    for line_id, code, sex, years in (await session.execute(s.restrict(q))).all():
        why = rules.services[code].impossible_for(sex, int(years))
        if why is not None:
            _add(fired, line_id, _flag("sex_age", why, service=code, age=int(years)))


async def _duplicate(session: AsyncSession, s: _Scope, fired: Fired) -> None:
    key = (ClaimLine.person_id, ClaimLine.service_code, ClaimLine.service_on)
    inner = select(
        ClaimLine.id,
        ClaimLine.claim_id,
        ClaimLine.service_on,
        func.row_number().over(partition_by=key, order_by=ClaimLine.id).label("rn"),
        func.min(ClaimLine.id).over(partition_by=key).label("first"),
    ).where(*s.lines(ClaimLine.status != "rejected"))
    if s.claim_id is not None:
        inner = inner.where(ClaimLine.person_id.in_(s.persons()))
    w = inner.subquery("w")
    q = select(w.c.id, w.c.service_on, w.c.first).where(w.c.rn > 1)
    for line_id, day, first in (await session.execute(s.restrict(q, w.c.claim_id))).all():
        _add(fired, line_id, _flag("duplicate", "duplicate", day=day.isoformat(), line=int(first)))


async def _many_providers(
    session: AsyncSession, s: _Scope, rules: InsuranceRules, fired: Fired
) -> None:
    most = int(rules.control["many_providers"].get("max_providers", 3))
    n = func.count(distinct(ClaimLine.facility_id))
    g = (
        select(ClaimLine.person_id, ClaimLine.service_on, n.label("n"))
        .where(*s.lines(ClaimLine.status != "rejected"))
        .group_by(ClaimLine.person_id, ClaimLine.service_on)
        .having(n > most)
    )
    if s.claim_id is not None:
        g = g.where(ClaimLine.person_id.in_(s.persons()))
    days = g.subquery("days")
    q = (
        select(ClaimLine.id, ClaimLine.service_on, days.c.n)
        .join(
            days,
            and_(
                days.c.person_id == ClaimLine.person_id,
                days.c.service_on == ClaimLine.service_on,
            ),
        )
        .where(ClaimLine.status != "rejected")
    )
    for line_id, day, count in (await session.execute(s.restrict(q))).all():
        _add(
            fired,
            line_id,
            _flag(
                "many_providers",
                "many_providers",
                day=day.isoformat(),
                providers=int(count),
                max=most,
            ),
        )


async def _uninsured(session: AsyncSession, s: _Scope, rules: InsuranceRules, fired: Fired) -> None:
    if rules.universal:
        return
    packages = [code for code, p in rules.packages.items() if p.get("insured_only")]
    if not packages:
        return
    c, m = Contribution, CategoryMember
    # a payment naming a month whose grace holds this month covers it as named: an
    # employer's or the state's, or a month paid in advance (named after it was paid)
    paid = exists().where(
        c.person_id == ClaimLine.person_id,
        c.month >= add_months(s.start, -rules.grace_months),
        c.month <= s.start,
        or_(c.kind.not_in(sorted(rules.arrears_first_kinds)), c.paid_on < c.month),
    )
    listed = exists().where(
        m.person_id == ClaimLine.person_id,
        m.start_on <= ClaimLine.service_on,
        or_(m.end_on.is_(None), m.end_on >= ClaimLine.service_on),
    )
    q = select(
        ClaimLine.id, ClaimLine.person_id, ClaimLine.service_on, ClaimLine.service_code
    ).where(*s.lines(ClaimLine.package.in_(packages), ~paid, ~listed))
    candidates = (await session.execute(s.restrict(q))).all()
    people = sorted({int(r.person_id) for r in candidates})
    for i in range(0, len(people), CHUNK):
        chunk = people[i : i + CHUNK]
        statuses = await _statuses(session, rules, chunk)
        for r in candidates:
            if r.person_id not in statuses:
                continue
            status = statuses[r.person_id](r.service_on)
            if not status.insured and status.basis != "deceased":
                _add(
                    fired,
                    r.id,
                    _flag(
                        "uninsured",
                        "uninsured",
                        service=r.service_code,
                        day=r.service_on.isoformat(),
                    ),
                )


async def _statuses(
    session: AsyncSession, rules: InsuranceRules, people: list[int]
) -> dict[int, Any]:
    """For each person, a function of a day to her status (three statements for all)."""
    paid: dict[int, list[Paid]] = defaultdict(list)
    for row in await session.execute(
        select(
            Contribution.id,
            Contribution.person_id,
            Contribution.payer_id,
            Contribution.kind,
            Contribution.month,
            Contribution.paid_on,
        ).where(Contribution.person_id.in_(people))
    ):
        paid[row.person_id].append(Paid(row.id, row.payer_id, row.kind, row.month, row.paid_on))
    held: dict[int, list[Membership]] = defaultdict(list)
    for row in await session.execute(
        select(
            CategoryMember.person_id,
            CategoryMember.category,
            CategoryMember.start_on,
            CategoryMember.end_on,
        ).where(CategoryMember.person_id.in_(people))
    ):
        held[row.person_id].append(Membership(row.category, row.start_on, row.end_on))
    v = registry.person_vitals_query(people)
    out: dict[int, Any] = {}
    for row in await session.execute(select(v)):
        covered = allocate(rules, paid.get(row.person_id, ()))

        def on(
            day: date,
            covered: Any = covered,
            row: Any = row,
            memberships: Iterable[Membership] = tuple(held.get(row.person_id, ())),
        ) -> Any:
            return status_on(
                rules,
                day,
                covered,
                birth=row.birth_date,
                sex=row.sex,
                deceased_on=row.deceased_on,
                memberships=memberships,
            )

        out[row.person_id] = on
    return out


async def _volume_outlier(
    session: AsyncSession, s: _Scope, rules: InsuranceRules, fired: Fired
) -> None:
    cfg = rules.control["volume_outlier"]
    factor = Fraction(str(cfg.get("factor", 3)))
    min_peers = int(cfg.get("min_peers", 3))
    min_lines = int(cfg.get("min_lines", 10))
    rows = (
        await session.execute(
            select(
                ClaimLine.facility_id,
                ClaimLine.service_code,
                func.count().label("lines"),
                func.count(distinct(ClaimLine.person_id)).label("people"),
            )
            .where(*s.lines(ClaimLine.status != "rejected"))
            .group_by(ClaimLine.facility_id, ClaimLine.service_code)
        )
    ).all()
    if not rows:
        return
    kinds = {
        fid: f.kind
        for fid, f in (await registry.facility_names(session, {r[0] for r in rows})).items()
    }
    groups: dict[tuple[str, str], dict[int, tuple[int, int]]] = defaultdict(dict)
    for fid, code, lines, people in rows:
        groups[(kinds.get(fid, ""), code)][int(fid)] = (int(lines), int(people))
    outliers: dict[tuple[int, str], dict[str, Any]] = {}
    for (_, code), by_facility in groups.items():
        for fid, (lines, people) in by_facility.items():
            peers = [Fraction(n, p) for f, (n, p) in by_facility.items() if f != fid]
            if len(peers) < min_peers or lines < min_lines:
                continue
            median = statistics.median(peers)
            ratio = Fraction(lines, people)
            if ratio > factor * median:
                outliers[(fid, code)] = {
                    "service": code,
                    "lines": lines,
                    "people": people,
                    "ratio": f"{float(ratio):.2f}",
                    "factor": f"{float(factor):g}",
                    "peers": len(peers),
                    "median": f"{float(median):.2f}",
                }
    if not outliers:
        return
    which = or_(
        *(and_(ClaimLine.facility_id == f, ClaimLine.service_code == c) for f, c in outliers)
    )
    q = select(ClaimLine.id, ClaimLine.facility_id, ClaimLine.service_code).where(
        *s.lines(ClaimLine.status != "rejected", which)
    )
    for line_id, fid, code in (await session.execute(s.restrict(q))).all():
        _add(fired, line_id, _flag("volume_outlier", "volume_outlier", **outliers[(fid, code)]))


# ---- writing the flags -------------------------------------------------------------------


async def _apply(session: AsyncSession, fired: Fired) -> int:
    """Adds each line's new flags (a rule once) to its undecided lines; returns how many
    lines changed."""
    ids = sorted(fired)
    changes = []
    for i in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(ClaimLine.id, ClaimLine.flags).where(
                ClaimLine.id.in_(ids[i : i + CHUNK]), ClaimLine.status.in_(OPEN)
            )
        )
        for line_id, flags in rows.all():
            have = {f.get("rule") for f in flags or []}
            new = []
            for f in fired[line_id]:
                if f["rule"] not in have:
                    have.add(f["rule"])
                    new.append(f)
            if new:
                changes.append({"b_id": line_id, "b_flags": [*(flags or []), *new]})
    if not changes:
        return 0
    t = ClaimLine.__table__
    await session.flush()
    await session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"), or_(*(t.c.status == s for s in OPEN)))
        .values(flags=bindparam("b_flags", type_=t.c.flags.type), status="flagged")
        .execution_options(synchronize_session=False),
        changes,
    )
    # the ORM's copies of these lines (a claim just submitted) read the new flags
    for obj in list(session.identity_map.values()):
        ident = inspect(obj).identity
        if isinstance(obj, ClaimLine) and ident is not None and ident[0] in fired:
            session.expire(obj)
    return len(changes)


async def _run(session: AsyncSession, s: _Scope, rules_wanted: tuple[str, ...]) -> Fired:
    rules = insurance_rules()
    fired: Fired = {}
    if rules.rule_on("after_death") and "after_death" in rules_wanted:
        await _after_death(session, s, fired)
    if rules.rule_on("uninsured") and "uninsured" in rules_wanted:
        await _uninsured(session, s, rules, fired)
    if rules.rule_on("duplicate") and "duplicate" in rules_wanted:
        await _duplicate(session, s, fired)
    if rules.rule_on("sex_age") and "sex_age" in rules_wanted:
        await _sex_age(session, s, rules, fired)
    if rules.rule_on("many_providers") and "many_providers" in rules_wanted:
        await _many_providers(session, s, rules, fired)
    if rules.rule_on("volume_outlier") and "volume_outlier" in rules_wanted:
        await _volume_outlier(session, s, rules, fired)
    return fired


def _counts(fired: Fired) -> dict[str, int]:
    """Lines each rule fired on."""
    counts = dict.fromkeys(RULES, 0)
    for flags in fired.values():
        for rule in {f["rule"] for f in flags}:
            counts[rule] += 1
    return counts


async def check_claim(session: AsyncSession, claim_id: int, month: date) -> int:
    """The immediate rules on the lines of one claim just stored (they see every other
    line of the month); returns how many of its lines were flagged."""
    await session.flush()
    fired = await _run(session, _scope(month, claim_id), IMMEDIATE_RULES)
    return await _apply(session, fired)


async def run_controls(session: AsyncSession, month: date) -> ControlRun:
    """Every rule over all lines of ``month`` (the nightly job; again safely: a line
    carries a rule once). The lines of a provider whose settlement of the month is closed
    are left as they were paid (the month's settlements share-locked meanwhile: a close
    waits for the run); other lines still see them (a duplicate of a paid line is
    flagged)."""
    await session.flush()
    s = _scope(month)
    closed = await closed_facilities(session, s.start)
    fired = await _run(session, s, RULES)
    if closed:
        paid = set(
            (
                await session.execute(
                    select(ClaimLine.id).where(*s.lines(ClaimLine.facility_id.in_(sorted(closed))))
                )
            ).scalars()
        )
        fired = {k: v for k, v in fired.items() if k not in paid}
    counts = _counts(fired)
    newly = await _apply(session, fired)
    total = await session.scalar(select(func.count()).select_from(ClaimLine).where(*s.lines()))
    return ControlRun(month=s.start, lines=int(total or 0), fired=counts, newly_flagged=newly)
