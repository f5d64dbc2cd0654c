"""Expected contributions and arrears, from the pack's rates and caps by year.

What each payer owes for a month (``InsuranceRules.expected``):

- an employer, for each person it employs in the month: its own 3 % and the employee's
  2 % it withholds, each of the wage capped at 10 minimum wages;
- an individual entrepreneur: 5 % of 1.4 minimum wages; an independent payer: 5 % of one
  minimum wage, each month from its registration as a payer (or its first paid month,
  when that is earlier);
- the state: 1.8 % of the average wage two years earlier for each protected person (a
  child or a pensioner on the month's first day by the register, or listed);
- a platform self-employed person: a share of an income the fund is not told, so no
  expected amount.

Employment counts for a month it covers any day of. Arrears are what is expected less
what was paid, for each month and kind of contribution, never below zero (a month paid
over does not pay another month).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.insurance.models import Contribution, Employment, Payer
from salomat.domains.insurance.schemas.contributions import (
    ArrearsMonth,
    ArrearsPerson,
    ArrearsRow,
    PayerArrears,
    PayerOut,
)
from salomat.domains.insurance.service.categories import listed_in_month
from salomat.domains.insurance.service.payers import fund_today, major
from salomat.domains.insurance.service.rules import (
    add_months,
    insurance_rules,
    month_of,
    months_between,
)
from salomat.domains.registry import service as registry

__all__ = [
    "MAX_MONTHS",
    "arrears_by_payer",
    "due_by_payer",
    "expected_state_month",
    "month_range",
    "paid_by_payer",
    "payer_arrears",
]

MAX_MONTHS = 60
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")

#: (payer id, person id or None, kind, month) -> minor units
Key = tuple[int, int | None, str, date]


def _month(text: str | None, field: str, default: date) -> date:
    if not text:
        return default
    m = _MONTH.match(text.strip())
    if m is None or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1900:
        raise Invalid.fields([FieldError(field, N_("not a month: write it like 2024-05"))])
    return date(int(m[1]), int(m[2]), 1)


def month_range(month_from: str | None, month_to: str | None) -> list[date]:
    """The months from ``month_from`` to ``month_to`` (YYYY-MM); by default the last 12
    months to the current one; at most five years."""
    to = _month(month_to, "to", month_of(fund_today()))
    first = _month(month_from, "from", add_months(to, -11))
    if first > to:
        raise Invalid.fields([FieldError("from", N_("is after the last month"))])
    if months_between(first, to) >= MAX_MONTHS:
        raise Invalid.fields(
            [FieldError("from", N_("at most %(n)s months at once"), {"n": MAX_MONTHS})]
        )
    return [add_months(first, i) for i in range(months_between(first, to) + 1)]


@dataclass(frozen=True)
class _Work:
    payer_id: int
    person_id: int
    start_on: date
    end_on: date | None
    wage: int


def _covers(month: date, start: date, end: date | None) -> bool:
    return start < add_months(month, 1) and (end is None or end >= month)


async def _employment(
    session: AsyncSession, months: list[date], payer_ids: list[int] | None
) -> list[_Work]:
    q = select(
        Employment.payer_id,
        Employment.person_id,
        Employment.start_on,
        Employment.end_on,
        Employment.monthly_wage,
    ).where(
        Employment.start_on < add_months(months[-1], 1),
        or_(Employment.end_on.is_(None), Employment.end_on >= months[0]),
    )
    if payer_ids is not None:
        q = q.where(Employment.payer_id.in_(payer_ids))
    return [_Work(*r) for r in await session.execute(q)]


async def expected_state_month(session: AsyncSession, month: date) -> tuple[int, int]:
    """The protected people of ``month`` and what the state owes for them (minor units)."""
    rules = insurance_rules()
    each = rules.expected("state", month)
    derived = [c for c in rules.categories.values() if c.derived]
    age_below = next((c.age_below for c in derived if c.age_below is not None), None)
    age_from = next((c.age_from for c in derived if c.age_from is not None), None)
    listed = await listed_in_month(session, month)
    count = await registry.count_by_age_rule(
        session, month, age_below=age_below, age_from=age_from, exclude=listed
    )
    people = count + len(listed)
    return people, people * (each or 0)


async def due_by_payer(
    session: AsyncSession, months: list[date], payer_ids: list[int] | None = None
) -> dict[Key, int]:
    """What each payer owes per (person,) kind and month in ``months``; the state's as one
    sum per month (person None)."""
    rules = insurance_rules()
    due: dict[Key, int] = defaultdict(int)
    if rules.universal or not months:
        return due
    for w in await _employment(session, months, payer_ids):
        for m in months:
            if not _covers(m, w.start_on, w.end_on):
                continue
            for kind in ("employer", "employee"):
                amount = rules.expected(kind, m, w.wage)
                if amount:
                    due[(w.payer_id, w.person_id, kind, m)] += amount
    q = select(Payer.id, Payer.kind, Payer.person_id, Payer.created_at).where(
        Payer.kind.in_(("entrepreneur", "independent", "state"))
    )
    if payer_ids is not None:
        q = q.where(Payer.id.in_(payer_ids))
    found = (await session.execute(q)).all()
    # a person paying for themself owes from registration (or an earlier first payment)
    own = [pid for pid, kind, _, _ in found if kind != "state"]
    first: dict[int, date] = {}
    for i in range(0, len(own), 2000):
        rows = await session.execute(
            select(Contribution.payer_id, func.min(Contribution.month))
            .where(Contribution.payer_id.in_(own[i : i + 2000]))
            .group_by(Contribution.payer_id)
        )
        first.update({int(p): m for p, m in rows})
    for pid, kind, person, created in found:
        joined = month_of(created.date())
        start = min(joined, first.get(pid, joined))
        for m in months:
            if kind != "state" and m < start:
                continue
            if kind == "state":
                _, amount = await expected_state_month(session, m)
                if amount:
                    due[(pid, None, "state", m)] += amount
                continue
            amount = rules.expected(kind, m)
            if amount:
                due[(pid, person, kind, m)] += amount
    return due


async def paid_by_payer(
    session: AsyncSession,
    months: list[date],
    payer_ids: list[int] | None = None,
    *,
    by_person: bool = False,
) -> dict[Key, int]:
    """What was paid per payer, (person,) kind and month; the state's as one sum a month
    unless ``by_person``."""
    person = Contribution.person_id if by_person else None
    cols = [Contribution.payer_id, Contribution.kind, Contribution.month]
    if person is not None:
        cols.append(person)
    q = (
        select(*cols, func.sum(Contribution.amount))
        .where(Contribution.month >= months[0], Contribution.month <= months[-1])
        .group_by(*cols)
    )
    if payer_ids is not None:
        q = q.where(Contribution.payer_id.in_(payer_ids))
    out: dict[Key, int] = defaultdict(int)
    for row in await session.execute(q):
        who = row[3] if by_person else None
        out[(row[0], who, row[1], row[2])] += int(row[-1] or 0)
    return out


async def payer_arrears(
    session: AsyncSession,
    principal: Principal,
    payer_id: int,
    month_from: str | None = None,
    month_to: str | None = None,
) -> PayerArrears:
    """A payer's expected and paid contributions and arrears by month (and by person for
    an employer), each person shown audited."""
    payer = await session.get(Payer, payer_id)
    if payer is None:
        raise NotFound(N_("Payer %(id)s not found."), params={"id": payer_id})
    months = month_range(month_from, month_to)
    due = await due_by_payer(session, months, [payer_id])
    paid = await paid_by_payer(session, months, [payer_id], by_person=payer.kind != "state")
    # per (person, kind, month): the state's are one sum a month
    cells: dict[tuple[int | None, str, date], list[int]] = defaultdict(lambda: [0, 0])
    for (_, person, kind, m), v in due.items():
        cells[(person, kind, m)][0] += v
    for (_, person, kind, m), v in paid.items():
        cells[(person, kind, m)][1] += v
    by_month: dict[date, dict[str, list[int]]] = {m: defaultdict(lambda: [0, 0, 0]) for m in months}
    people_rows: list[tuple[int, str, date, int, int]] = []
    for (person, kind, m), (e, p) in cells.items():
        cell = by_month[m][kind]
        cell[0] += e
        cell[1] += p
        cell[2] += max(0, e - p)
        if person is not None and payer.kind == "employer":
            people_rows.append((person, kind, m, e, p))
    briefs = await registry.person_briefs(session, [r[0] for r in people_rows])
    if people_rows:
        await audit.record_listing(
            session,
            principal,
            [audit.Access(pid) for pid in sorted({r[0] for r in people_rows})],
            resource_type="InsuranceContribution",
        )
    month_rows = []
    for m in months:
        kinds = by_month[m]
        month_rows.append(
            ArrearsMonth(
                month=m.strftime("%Y-%m"),
                expected=major(sum(c[0] for c in kinds.values())),
                paid=major(sum(c[1] for c in kinds.values())),
                arrears=major(sum(c[2] for c in kinds.values())),
                by_kind={
                    k: {"expected": major(c[0]), "paid": major(c[1]), "arrears": major(c[2])}
                    for k, c in sorted(kinds.items())
                },
            )
        )
    people_rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return PayerArrears(
        payer=PayerOut.model_validate(payer),
        month_from=months[0].strftime("%Y-%m"),
        month_to=months[-1].strftime("%Y-%m"),
        expected=sum((r.expected for r in month_rows), major(0)),
        paid=sum((r.paid for r in month_rows), major(0)),
        arrears=sum((r.arrears for r in month_rows), major(0)),
        months=month_rows,
        people=[
            ArrearsPerson(
                person_id=pid,
                national_id=getattr(briefs.get(pid), "national_id", None),
                month=m.strftime("%Y-%m"),
                kind=kind,
                expected=major(e),
                paid=major(p),
                arrears=major(max(0, e - p)),
            )
            for pid, kind, m, e, p in people_rows
        ],
    )


async def arrears_by_payer(
    session: AsyncSession,
    principal: Principal,
    month_from: str | None = None,
    month_to: str | None = None,
    *,
    kind: str | None = None,
    limit: int = 200,
) -> tuple[list[date], list[ArrearsRow]]:
    """Every payer's expected, paid and arrears over the months, most owed first."""
    months = month_range(month_from, month_to)
    q = select(Payer)
    if kind:
        q = q.where(Payer.kind == kind)
    payers = {p.id: p for p in await session.scalars(q)}
    ids = list(payers) if kind else None
    due = await due_by_payer(session, months, ids)
    paid = await paid_by_payer(session, months, ids)
    cells: dict[tuple[int, str, date], list[int]] = defaultdict(lambda: [0, 0])
    for (pid, _, k, m), v in due.items():
        cells[(pid, k, m)][0] += v
    for (pid, _, k, m), v in paid.items():
        cells[(pid, k, m)][1] += v
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (pid, _, _), (e, p) in cells.items():
        t = totals[pid]
        t[0] += e
        t[1] += p
        t[2] += max(0, e - p)
    rows = [
        ArrearsRow(
            payer_id=pid,
            code=payers[pid].code,
            kind=payers[pid].kind,
            name=payers[pid].name,
            expected=major(t[0]),
            paid=major(t[1]),
            arrears=major(t[2]),
        )
        for pid, t in totals.items()
        if pid in payers
    ]
    rows.sort(key=lambda r: (-r.arrears, r.code))
    rows = rows[:limit]
    shown = [payers[r.payer_id].person_id for r in rows]
    people = sorted({p for p in shown if p is not None})
    if people:  # an independent payer's row names a person
        await audit.record_listing(
            session, principal, [audit.Access(p) for p in people], resource_type="InsurancePayer"
        )
    return months, rows
