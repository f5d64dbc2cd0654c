"""The per-capita payment of a facility equals a hand computation (issue 17's done-when).

Kazakhstan's pack (KZ/insurance.yaml ``capitation``): base rate 1 400.00 KZT per attached
person a month = 140 000 tiyn; coefficients by sex and age in whole years on the month's
first day D:

    person                          age on D  group   coefficient
    boy born 100 days before D          0     0-0     male   4.10
    girl born D - 5 years + 1 day       4     1-4     female 1.90
    boy born exactly D - 5 years        5     5-14    male   1.10   (his birthday is D)
    woman born D - 35 years            35     30-39   female 1.15
    man born D - 65 years              65     60-69   male   1.45
    woman born D - 65 years, died before D: not counted
                                                              -----
                                                               9.70
    9.70 x 140 000 tiyn = 1 358 000 tiyn = 13 580.00 KZT

People are attached from the day they are registered (today), so D is the first day of
next month.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.security import Principal
from salomat.domains.insurance.service import settlement
from salomat.domains.insurance.service.rules import add_months, month_of
from tests.domains.insurance.claim_fixtures import register_death

pytestmark = pytest.mark.anyio


def _years_before(d: date, years: int) -> date:
    return d.replace(year=d.year - years)


async def test_capitation_equals_the_hand_computation(kz, db, make_facility, make_insuree):
    fac = await make_facility()
    d = add_months(month_of(date.today()), 1)
    people = [
        (d - timedelta(days=100), "male"),
        (_years_before(d, 5) + timedelta(days=1), "female"),
        (_years_before(d, 5), "male"),
        (_years_before(d, 35), "female"),
        (_years_before(d, 65), "male"),
    ]
    for born, sex in people:
        await make_insuree(born, sex, facility_code=fac.code)
    dead = await make_insuree(_years_before(d, 65), "female", facility_code=fac.code)
    await register_death(db, dead, date.today())

    cap = await settlement.capitation(db, fac.id, d)
    assert cap.amount == 1_358_000
    assert cap.detail == {
        "0-0/male": 1,
        "1-4/female": 1,
        "30-39/female": 1,
        "5-14/male": 1,
        "60-69/male": 1,
    }

    analyst = Principal(user_id=0, username="fund", role="insurance_analyst", session_id="t")
    s = await settlement.compute_settlement(db, analyst, fac.id, d)
    await db.commit()
    assert (s.capitation, s.services, s.pharmacy, s.total) == (1_358_000, 0, 0, 1_358_000)


async def test_no_one_attached_on_the_first_day_pays_nothing(kz, db, make_facility, make_insuree):
    """This month's first day is before today's registrations (unless today is the
    first): nobody was attached yet."""
    if date.today().day == 1:
        pytest.skip("registered today = attached on this month's first day")
    fac = await make_facility()
    await make_insuree(date(1980, 1, 1), "male", facility_code=fac.code)
    cap = await settlement.capitation(db, fac.id, month_of(date.today()))
    assert (cap.amount, cap.detail) == (0, {})
