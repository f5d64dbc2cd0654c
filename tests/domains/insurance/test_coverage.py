"""Insured status from monthly contributions (KZ pack), against the rules as the Fund
states them (Law No. 405-V art. 5 p. 2; the 05.09.2022 advance amendment): the three
"done when" vectors of issue 17 and the boundaries around them. Pure: no database."""

from __future__ import annotations

from datetime import date
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.insurance.service.coverage import Paid, allocate, status_on
from salomat.domains.insurance.service.rules import add_months, insurance_rules

pytestmark = pytest.mark.no_db

KZ = insurance_rules("KZ")
UZ = insurance_rules("UZ")
ids = count(1)
BIRTH = date(1985, 6, 15)  # an adult of working age all through these tests


def pay(kind: str, month: date, paid_on: date, payer: int = 1) -> Paid:
    return Paid(next(ids), payer, kind, month, paid_on)


def insured(paid: list[Paid], day: date, sex: str = "male") -> bool:
    return status_on(KZ, day, allocate(KZ, paid), birth=BIRTH, sex=sex).insured


def test_an_independent_payers_advance_in_march_covers_april_to_march():
    # 12 payments made on 10 March 2026, one for each of April 2026 .. March 2027
    paid = [
        pay("independent", add_months(date(2026, 4, 1), i), date(2026, 3, 10)) for i in range(12)
    ]
    assert not insured(paid, date(2026, 3, 31))  # the current month is not part of it
    assert insured(paid, date(2026, 4, 1))
    assert insured(paid, date(2027, 3, 31))
    s = status_on(KZ, date(2026, 4, 1), allocate(KZ, paid), birth=BIRTH, sex="male")
    assert s.basis == "contribution"
    # after the last paid month (March 2027), the law's 3 months of care: to 30 June
    assert s.until == date(2027, 6, 30)
    assert insured(paid, date(2027, 6, 30))
    assert not insured(paid, date(2027, 7, 1))


def test_an_employee_whose_employer_stops_after_june_stays_insured_through_september():
    paid = [pay("employer", date(2026, m, 1), date(2026, m, 25), payer=7) for m in range(1, 7)]
    assert insured(paid, date(2026, 9, 30))
    assert not insured(paid, date(2026, 10, 1))
    s = status_on(KZ, date(2026, 7, 15), allocate(KZ, paid), birth=BIRTH, sex="female")
    assert s.until == date(2026, 9, 30)
    assert s.covered is not None
    assert (s.covered.month, s.covered.payer_id) == (date(2026, 6, 1), 7)


def test_a_payment_after_a_fifteen_month_gap_covers_the_oldest_of_the_last_twelve_first():
    # paid through January 2025; nothing from February 2025 to April 2026 (15 months)
    paid = [pay("independent", date(2025, 1, 1), date(2025, 1, 20))]
    paid.append(pay("independent", date(2026, 5, 1), date(2026, 5, 5)))
    covered = allocate(KZ, paid)
    # the arrears go back 12 months from May 2026: May 2025 is the oldest one covered;
    # February to April 2025 (13 to 15 months back) are never reached
    assert sorted(covered) == [date(2025, 1, 1), date(2025, 5, 1)]
    assert covered[date(2025, 5, 1)].named_month == date(2026, 5, 1)
    assert not insured(paid, date(2026, 5, 20))  # May 2025 + 3 months is long past
    # twelve more payments in May 2026: the other 11 arrears, then May itself
    more = [pay("independent", date(2026, 5, 1), date(2026, 5, 6)) for _ in range(12)]
    covered = allocate(KZ, paid + more)
    assert date(2025, 4, 1) not in covered
    assert all(add_months(date(2025, 5, 1), i) in covered for i in range(13))
    assert insured(paid + more, date(2026, 5, 20))


@pytest.mark.parametrize(
    ("gap_months", "first_covered"),
    [(11, date(2025, 2, 1)), (12, date(2025, 2, 1)), (13, date(2025, 3, 1))],
)
def test_arrears_reach_back_twelve_months_and_no_further(gap_months, first_covered):
    # last paid January 2025; the payment names the month after the gap
    named = add_months(date(2025, 1, 1), gap_months + 1)
    paid = [
        pay("independent", date(2025, 1, 1), date(2025, 1, 20)),
        pay("independent", named, named),
    ]
    assert min(m for m in allocate(KZ, paid) if m > date(2025, 1, 1)) == first_covered


def test_an_employers_payment_is_for_its_own_month_not_the_employees_arrears():
    paid = [
        pay("employer", date(2026, 1, 1), date(2026, 1, 25)),
        pay("employer", date(2026, 8, 1), date(2026, 8, 25)),
    ]
    assert sorted(allocate(KZ, paid)) == [date(2026, 1, 1), date(2026, 8, 1)]


def test_the_employees_two_percent_beside_the_employers_three_adds_no_month():
    paid = [
        pay("employer", date(2026, 3, 1), date(2026, 3, 25)),
        pay("employee", date(2026, 3, 1), date(2026, 3, 25)),
    ]
    assert list(allocate(KZ, paid)) == [date(2026, 3, 1)]


def test_a_child_and_a_pensioner_are_insured_by_the_state_without_a_payment():
    child = status_on(KZ, date(2026, 5, 1), {}, birth=date(2010, 5, 2), sex="male")
    assert (child.insured, child.basis, child.category) == (True, "category", "child")
    assert child.until == date(2028, 5, 1)  # the day before the 18th birthday
    adult = status_on(KZ, date(2028, 5, 2), {}, birth=date(2010, 5, 2), sex="male")
    assert not adult.insured
    # pensioners: women from 61, men from 63 (the pack)
    assert status_on(KZ, date(2026, 1, 1), {}, birth=date(1965, 1, 1), sex="female").insured
    assert not status_on(KZ, date(2026, 1, 1), {}, birth=date(1965, 1, 2), sex="female").insured
    assert not status_on(KZ, date(2026, 1, 1), {}, birth=date(1965, 1, 1), sex="male").insured
    assert status_on(KZ, date(2028, 1, 1), {}, birth=date(1965, 1, 1), sex="male").insured


def test_nobody_is_insured_after_death():
    paid = [pay("employer", date(2026, 6, 1), date(2026, 6, 25))]
    kw = {"birth": BIRTH, "sex": "male", "deceased_on": date(2026, 7, 10)}
    assert status_on(KZ, date(2026, 7, 10), allocate(KZ, paid), **kw).insured
    gone = status_on(KZ, date(2026, 7, 11), allocate(KZ, paid), **kw)
    assert (gone.insured, gone.basis) == (False, "deceased")


def test_in_uzbekistan_every_resident_is_covered():
    s = status_on(UZ, date(2026, 5, 1), {}, birth=BIRTH, sex="male")
    assert (s.insured, s.basis) == (True, "universal")


months = st.integers(min_value=0, max_value=47).map(lambda i: add_months(date(2023, 1, 1), i))


@given(st.lists(st.tuples(st.sampled_from(["independent", "employer"]), months), max_size=30))
def test_each_payment_covers_at_most_one_month_and_never_a_later_one(lines):
    paid = [pay(kind, m, m.replace(day=15)) for kind, m in lines]
    covered = allocate(KZ, paid)
    assert len(covered) <= len(paid)
    for c in covered.values():
        assert c.month <= c.named_month  # arrears are earlier months, never later ones
        assert c.month >= add_months(c.named_month, -KZ.arrears_months)
