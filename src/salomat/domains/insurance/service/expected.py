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
what was paid for each person, kind of contribution and month, never below zero: a
month paid over does not pay another month, and an employee paid for twice does not pay
for another. The person of a payer paying for itself is the payer's person, or, for an
entrepreneur registered without a national id, the person its contributions name; the
state's expected amount is one sum a month, netted against all it paid for the month.
The payer's page and the list of payers sum the same cells.

Set-wise: the expected amounts are computed in SQL, the pack's numbers of each month
bound as parameters (the rate as a fraction, the cap in minor units), rounded half up
per person-month exactly as ``InsuranceRules.expected``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import UTCDateTime
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.models import Contribution, Employment, Payer
from salomat.domains.insurance.schemas.contributions import (
    ArrearsMonth,
    ArrearsPerson,
    ArrearsRow,
    PayerArrears,
    PayerOut,
)
from salomat.domains.insurance.service import labels
from salomat.domains.insurance.service.categories import listed_query
from salomat.domains.insurance.service.payers import major
from salomat.domains.insurance.service.rules import (
    MINOR,
    add_months,
    insurance_rules,
    month_of,
    months_between,
    parse_month,
)
from salomat.domains.registry import service as registry

__all__ = [
    "MAX_MONTHS",
    "arrears_by_payer",
    "due_by_kind",
    "due_by_payer",
    "expected_state_month",
    "month_range",
    "payer_arrears",
]

MAX_MONTHS = 60
#: contribution kinds computed from an employee's wage, and those a payer pays for itself
WAGE_KINDS = ("employer", "employee")
FIXED_KINDS = ("entrepreneur", "independent", "self_employed")

#: (payer id, person id or None, kind, month) -> minor units
Key = tuple[int, int | None, str, date]


def _month(text: str | None, field: str, default: date) -> date:
    if not text:
        return default
    return parse_month(text, field)


def month_range(month_from: str | None, month_to: str | None) -> list[date]:
    """The months from ``month_from`` to ``month_to`` (YYYY-MM); by default the last 12
    months to the current one; at most five years."""
    to = _month(month_to, "to", month_of(pack.today(get_settings().country)))
    first = _month(month_from, "from", add_months(to, -11))
    if first > to:
        raise Invalid.fields([FieldError("from", N_("is after the last month"))])
    if months_between(first, to) >= MAX_MONTHS:
        raise Invalid.fields(
            [FieldError("from", N_("at most %(n)s months at once"), {"n": MAX_MONTHS})]
        )
    return [add_months(first, i) for i in range(months_between(first, to) + 1)]


def _next_at(month: date) -> datetime:
    """The first instant of the month after ``month`` (UTC)."""
    nxt = add_months(month, 1)
    return datetime(nxt.year, nxt.month, 1, tzinfo=UTC)


def _wage_periods(months: list[date]) -> Any:
    """One row a month and wage-based kind (employer, employee): the rate as a fraction
    num/den, the cap in minor units rounded up and the amount at the cap, so that SQL
    computes ROUND_HALF_UP(LEAST(wage, cap) x rate) exactly, as ``InsuranceRules.expected``
    does in Decimal: below the cap (2 x wage x num + den) div (2 x den)."""
    rules = insurance_rules()
    rows = []
    for m in months:
        mw = rules.minimum_wage.get(m.year)
        for kind in WAGE_KINDS:
            r = rules.rates_for(m.year).get(kind)
            if r is None or r.base != "wage":
                continue
            cap = capped = None
            if r.cap_mw is not None:
                if mw is None:
                    continue
                cap = math.ceil(r.cap_mw * mw * MINOR)
                capped = rules.expected(kind, m, cap)
            num, den = r.rate.as_integer_ratio()
            rows.append(
                select(
                    literal(kind, String(16)).label("kind"),
                    literal(m, Date).label("month"),
                    literal(add_months(m, 1), Date).label("next_on"),
                    literal(num, BigInteger).label("num"),
                    literal(den, BigInteger).label("den"),
                    literal(cap, BigInteger).label("cap"),
                    literal(capped, BigInteger).label("capped"),
                )
            )
    return _table(rows, "ins_wage_periods")


def _fixed_periods(months: list[date]) -> Any:
    """One row a month and kind of payer paying a fixed amount for themself."""
    rules = insurance_rules()
    rows = []
    for m in months:
        for kind in FIXED_KINDS:
            amount = rules.expected(kind, m)
            if not amount:
                continue
            rows.append(
                select(
                    literal(kind, String(16)).label("kind"),
                    literal(m, Date).label("month"),
                    literal(_next_at(m), UTCDateTime).label("next_at"),
                    literal(amount, BigInteger).label("amount"),
                )
            )
    return _table(rows, "ins_fixed_periods")


def _table(rows: list[Any], name: str) -> Any:
    if not rows:
        return None
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery(name)


def _cols(payer: Any, person: Any, kind: Any, month: Any, due: Any, paid: Any) -> list[Any]:
    return [
        payer.label("payer_id"),
        person.label("person_id"),
        kind.label("kind"),
        month.label("month"),
        due.label("expected"),
        paid.label("paid"),
    ]


async def _due_parts(session: AsyncSession, months: list[date], where: list[Any]) -> list[Any]:
    """The SELECTs of what is expected, a row per payer, person, kind and month
    (``where`` filters on Payer): employees' wages, people paying for themselves, the
    state's (one row a month, no person)."""
    rules = insurance_rules()
    if rules.universal or not months:
        return []
    zero = literal(0, BigInteger)
    parts: list[Any] = []
    w = _wage_periods(months)
    if w is not None:
        wage = Employment.monthly_wage
        amount = case(
            (wage >= w.c.cap, w.c.capped), else_=(wage * w.c.num * 2 + w.c.den) // (w.c.den * 2)
        )
        parts.append(
            select(*_cols(Employment.payer_id, Employment.person_id, w.c.kind, w.c.month,
                          amount, zero))
            .select_from(Employment)
            .join(Payer, Payer.id == Employment.payer_id)
            .join(
                w,
                and_(
                    Employment.start_on < w.c.next_on,
                    or_(Employment.end_on.is_(None), Employment.end_on >= w.c.month),
                ),
            )
            .where(*where)
        )  # fmt: skip
    f = _fixed_periods(months)
    if f is not None:
        # a payer registered without a person is the person its contributions name
        named = (
            select(Contribution.person_id)
            .where(Contribution.payer_id == Payer.id)
            .order_by(Contribution.month, Contribution.id)
            .limit(1)
            .correlate(Payer)
            .scalar_subquery()
        )
        # owed from registration, or from an earlier first paid month
        began = or_(
            Payer.created_at < f.c.next_at,
            exists().where(Contribution.payer_id == Payer.id, Contribution.month <= f.c.month),
        )
        parts.append(
            select(*_cols(Payer.id, func.coalesce(Payer.person_id, named), f.c.kind, f.c.month,
                          f.c.amount, zero))
            .select_from(Payer)
            .join(f, f.c.kind == Payer.kind)
            .where(began, *where)
        )  # fmt: skip
    states = list(await session.scalars(select(Payer.id).where(Payer.kind == "state", *where)))
    if states:
        for m in months:
            _, amount = await expected_state_month(session, m)
            if amount:
                parts.extend(
                    select(*_cols(literal(pid, BigInteger), null(), literal("state", String(16)),
                                  literal(m, Date), literal(amount, BigInteger), zero))
                    for pid in states
                )  # fmt: skip
    return parts


def _paid_part(months: list[date], where: list[Any]) -> Any:
    """What was paid, a row per contribution, keyed like the expected rows: by the person
    it names (the state's by month only, as its expected amount is one sum a month)."""
    person = case((Payer.kind == "state", null()), else_=Contribution.person_id)
    return (
        select(*_cols(Contribution.payer_id, person, Contribution.kind, Contribution.month,
                      literal(0, BigInteger), Contribution.amount))
        .join(Payer, Payer.id == Contribution.payer_id)
        .where(Contribution.month >= months[0], Contribution.month <= months[-1], *where)
    )  # fmt: skip


async def _cells(session: AsyncSession, months: list[date], where: list[Any]) -> Any:
    """Expected and paid per payer, person, kind and month, as a subquery."""
    parts = [*await _due_parts(session, months, where), _paid_part(months, where)]
    u = union_all(*parts).subquery("ins_due_paid")
    return (
        select(
            u.c.payer_id,
            u.c.person_id,
            u.c.kind,
            u.c.month,
            func.sum(u.c.expected).label("expected"),
            func.sum(u.c.paid).label("paid"),
        )
        .group_by(u.c.payer_id, u.c.person_id, u.c.kind, u.c.month)
        .subquery("ins_cells")
    )


async def expected_state_month(session: AsyncSession, month: date) -> tuple[int, int]:
    """The protected people of ``month`` and what the state owes for them (minor units)."""
    rules = insurance_rules()
    each = rules.expected("state", month)
    derived = [c for c in rules.categories.values() if c.derived]
    age_below = next((c.age_below for c in derived if c.age_below is not None), None)
    age_from = next((c.age_from for c in derived if c.age_from is not None), None)
    listed = listed_query(month)
    count = await registry.count_by_age_rule(
        session, month, age_below=age_below, age_from=age_from, exclude=listed
    )
    n_listed = int(
        await session.scalar(select(func.count()).select_from(listed.distinct().subquery())) or 0
    )
    people = count + n_listed
    return people, people * (each or 0)


async def due_by_payer(
    session: AsyncSession, months: list[date], payer_ids: list[int] | None = None
) -> dict[Key, int]:
    """What each payer owes per person, kind and month in ``months`` (the state's as one
    sum a month, person None), computed in SQL."""
    where = [] if payer_ids is None else [Payer.id.in_(payer_ids)]
    parts = await _due_parts(session, months, where)
    if not parts:
        return {}
    u = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = await session.execute(
        select(u.c.payer_id, u.c.person_id, u.c.kind, u.c.month, func.sum(u.c.expected)).group_by(
            u.c.payer_id, u.c.person_id, u.c.kind, u.c.month
        )
    )
    return {(int(a), b, c, d): int(v) for a, b, c, d, v in rows if v}


async def due_by_kind(session: AsyncSession, months: list[date]) -> dict[tuple[date, str], int]:
    """What all payers of each kind owe a month, summed in SQL (the dashboards)."""
    parts = await _due_parts(session, months, [])
    if not parts:
        return {}
    u = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = await session.execute(
        select(u.c.month, Payer.kind, func.sum(u.c.expected))
        .join(Payer, Payer.id == u.c.payer_id)
        .group_by(u.c.month, Payer.kind)
    )
    return {(m, k): int(v) for m, k, v in rows if v}


async def payer_arrears(
    session: AsyncSession,
    principal: Principal,
    payer_id: int,
    month_from: str | None = None,
    month_to: str | None = None,
) -> PayerArrears:
    """A payer's expected and paid contributions and arrears by month and by person (for
    each person and kind a month: what was expected less what was paid for that person,
    never below zero), each person shown audited."""
    payer = await session.get(Payer, payer_id)
    if payer is None:
        raise NotFound(N_("Payer %(id)s not found."), params={"id": payer_id})
    months = month_range(month_from, month_to)
    cells = await _cells(session, months, [Payer.id == payer_id])
    rows = (
        await session.execute(
            select(cells.c.person_id, cells.c.kind, cells.c.month, cells.c.expected, cells.c.paid)
        )
    ).all()
    by_month: dict[date, dict[str, list[int]]] = {m: defaultdict(lambda: [0, 0, 0]) for m in months}
    people_rows: list[tuple[int, str, date, int, int]] = []
    for person, kind, m, e, p in rows:
        e, p = int(e or 0), int(p or 0)
        if not (e or p):
            continue
        cell = by_month[m][kind]
        cell[0] += e
        cell[1] += p
        cell[2] += max(0, e - p)
        if person is not None:
            people_rows.append((int(person), kind, m, e, p))
    shown = {r[0] for r in people_rows}
    if payer.person_id is not None:  # the page names the payer's person
        shown.add(payer.person_id)
    briefs = await registry.person_briefs(session, sorted({r[0] for r in people_rows}))
    if shown:
        await audit.record_listing(
            session,
            principal,
            [audit.Access(pid) for pid in sorted(shown)],
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
    """Every payer's expected, paid and arrears over the months, most owed first; the
    arrears summed per person, kind and month as on the payer's page (one employee paid
    twice does not pay for another), all in SQL."""
    months = month_range(month_from, month_to)
    if kind and kind not in labels.PAYER_KIND_LABELS:
        raise Invalid.fields([FieldError("kind", N_("not a kind of payer"))])
    where = [Payer.kind == kind] if kind else []
    cells = await _cells(session, months, where)
    owed = case((cells.c.expected > cells.c.paid, cells.c.expected - cells.c.paid), else_=0)
    arrears = func.sum(owed).label("arrears")
    q = (
        select(
            Payer.id,
            Payer.code,
            Payer.kind,
            Payer.name,
            Payer.person_id,
            func.sum(cells.c.expected),
            func.sum(cells.c.paid),
            arrears,
        )
        .join(cells, cells.c.payer_id == Payer.id)
        .group_by(Payer.id, Payer.code, Payer.kind, Payer.name, Payer.person_id)
        .having(or_(func.sum(cells.c.expected) > 0, func.sum(cells.c.paid) > 0))
        .order_by(arrears.desc(), Payer.code)
        .limit(limit)
    )
    found = (await session.execute(q)).all()
    rows = [
        ArrearsRow(
            payer_id=pid,
            code=code,
            kind=k,
            name=name,
            expected=major(int(e or 0)),
            paid=major(int(p or 0)),
            arrears=major(int(a or 0)),
        )
        for pid, code, k, name, _, e, p, a in found
    ]
    people = sorted({r[4] for r in found if r[4] is not None})
    if people:  # an independent payer's row names a person
        await audit.record_listing(
            session, principal, [audit.Access(p) for p in people], resource_type="InsurancePayer"
        )
    return months, rows
