"""Which months a person's contributions cover, and whether the person is insured on a
day (pure: no database; the rules are the pack's, ../shared/domain/insurance.md).

Law No. 405-V of 16.11.2015 (KZ), art. 5 p. 2 as the Fund explains it: care in the
insurance package continues for ``grace_months`` after the last month paid for; a
resumed payment goes first to the arrears, at most ``arrears_months`` back, then to
its own month. Since 05.09.2022 an independent payer may pay the next 12 months instead
(each month a payment of its own, the current month excluded); those months are
covered as named and the arrears need not be paid.

Arrears-first applies to what a person pays for themself (the pack's
``arrears_first_kinds``): an employer's or the state's payment covers the month it
names. A month already covered keeps its first payer: a second line for it (the
employee's 2 % beside the employer's 3 %) adds money, not a month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    add_months,
    month_end,
    month_of,
)

__all__ = [
    "Covered",
    "Membership",
    "Paid",
    "Status",
    "allocate",
    "is_advance",
    "status_on",
]


@dataclass(frozen=True)
class Paid:
    """A contribution as the allocation reads it."""

    id: int
    payer_id: int
    kind: str
    month: date
    paid_on: date


@dataclass(frozen=True)
class Covered:
    """A month covered, and the payment that covers it."""

    month: date
    contribution_id: int
    payer_id: int
    kind: str
    #: the month the payment named (earlier or equal: a resumed payment covers arrears)
    named_month: date
    paid_on: date


@dataclass(frozen=True)
class Membership:
    """A protected category held from ``start_on`` to ``end_on`` (None: open)."""

    category: str
    start_on: date
    end_on: date | None


@dataclass(frozen=True)
class Status:
    insured: bool
    day: date
    #: none | contribution | category | universal | deceased
    basis: str
    #: the last day of the insured run that holds ``day`` (None: no end known)
    until: date | None = None
    #: the payment the status rests on (the latest covered month whose grace holds day)
    covered: Covered | None = None
    category: str | None = None
    #: when not insured: the last covered month before the day, if any
    last_covered: Covered | None = None


def is_advance(p: Paid) -> bool:
    return p.month > month_of(p.paid_on)


def allocate(rules: InsuranceRules, paid: Iterable[Paid]) -> dict[date, Covered]:
    """The months covered, each with the payment covering it, in order of payment."""
    covered: dict[date, Covered] = {}
    for p in sorted(paid, key=lambda x: (x.paid_on, x.id)):
        target = p.month
        if p.kind in rules.arrears_first_kinds and not is_advance(p):
            target = _first_arrear(rules, covered, p.month) or p.month
        if target not in covered:
            covered[target] = Covered(target, p.id, p.payer_id, p.kind, p.month, p.paid_on)
    return covered


def _first_arrear(rules: InsuranceRules, covered: dict[date, Covered], month: date) -> date | None:
    """The oldest unpaid month after the last covered month before ``month``, no further
    back than ``arrears_months``; None when nothing is owed (or nothing was ever paid)."""
    earlier = [m for m in covered if m < month]
    if not earlier or rules.arrears_months <= 0:
        return None
    m = max(add_months(max(earlier), 1), add_months(month, -rules.arrears_months))
    while m < month:
        if m not in covered:
            return m
        m = add_months(m, 1)
    return None


def _contribution_run(
    rules: InsuranceRules, covered: dict[date, Covered], month: date
) -> tuple[Covered | None, date | None]:
    """The payment whose month or grace holds ``month`` (the latest such), and the last
    month of the unbroken insured run from there."""
    g = rules.grace_months
    holding = [c for m, c in covered.items() if m <= month <= add_months(m, g)]
    if not holding:
        return None, None
    basis = max(holding, key=lambda c: c.month)
    end = add_months(basis.month, g)
    for m in sorted(x for x in covered if x > basis.month):
        if m <= add_months(end, 1):
            end = max(end, add_months(m, g))
        else:
            break
    return basis, end


def _category_on(
    rules: InsuranceRules,
    memberships: Iterable[Membership],
    birth: date,
    sex: str,
    day: date,
) -> tuple[str, date | None] | None:
    """The protected category holding the person on ``day`` and its last day, if any."""
    for c in rules.categories.values():
        if c.derived and c.holds(birth, sex, day):
            if c.age_below is not None:
                try:
                    turns = birth.replace(year=birth.year + c.age_below)
                except ValueError:  # born on 29 February
                    turns = date(birth.year + c.age_below, 3, 1)
                return c.code, turns - timedelta(days=1)
            return c.code, None
    for m in memberships:
        if m.start_on <= day and (m.end_on is None or day <= m.end_on):
            return m.category, m.end_on
    return None


def status_on(
    rules: InsuranceRules,
    day: date,
    covered: dict[date, Covered],
    *,
    birth: date,
    sex: str,
    deceased_on: date | None = None,
    memberships: Iterable[Membership] = (),
) -> Status:
    """Whether the person is insured on ``day``, on what basis and until when."""
    if deceased_on is not None and day > deceased_on:
        return Status(False, day, "deceased")
    if rules.universal:
        return Status(True, day, "universal")
    month = month_of(day)
    basis, end = _contribution_run(rules, covered, month)
    until = month_end(end) if end is not None else None
    held = _category_on(rules, memberships, birth, sex, day)
    if held is not None:
        code, category_end = held
        if category_end is None or (until is not None and until > category_end):
            last = None if category_end is None else until
        else:
            last = category_end
        if deceased_on is not None and (last is None or last > deceased_on):
            last = deceased_on
        return Status(True, day, "category", until=last, covered=basis, category=code)
    if basis is not None:
        if deceased_on is not None and until is not None and until > deceased_on:
            until = deceased_on
        return Status(True, day, "contribution", until=until, covered=basis)
    before = [c for m, c in covered.items() if m < month]
    last_covered = max(before, key=lambda c: c.month) if before else None
    return Status(False, day, "none", last_covered=last_covered)
