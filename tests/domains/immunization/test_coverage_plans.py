"""Coverage counts what WHO counts: DTP-containing doses of any product, no dose past its
upper age, and PCV complete under the child's own plan (catch-up included).

Each case enters doses through the REST API (from paper cards), then compares the
dashboard with the hand count and with ``test_coverage.recount``, which judges every
dose from the dates and the WHO rules (``who_reference``), never from the register's
stored verdicts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import literal, select

from salomat.domains.immunization.service import coverage as coverage_service
from tests.domains.immunization.test_coverage import coverage, give, recount
from tests.domains.immunization.who_reference import months_after
from tests.domains.maternal.test_referrals import facility

pytestmark = pytest.mark.anyio

TODAY = date.today()
COHORT = TODAY.year - 2
#: a leap year's cohort, for a birthday on 29 February (its 12 months end on 28 February)
LEAP = 2024


@pytest.fixture
async def region(db, make_place, make_person, make_user, login):
    """A fresh region with a polyclinic, its nurse and an analyst; ``child(born)`` adds one."""
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    analyst = await login(await make_user("analyst"))

    async def child(born: date) -> Any:
        # no national id: the birth date is corrected freely in the correction tests
        return await make_person(
            facility_code=poly.code, birth_date=born, sex="male", settlement_code=place.settlement
        )

    return place, nurse, analyst, child


def figures(d: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {k: (f["eligible"], f["covered"]) for k, f in d["total"]["figures"].items()}


async def test_a_lone_dtp_dose_is_dtp1_and_never_the_booster(client, db, region):
    """The review's case: a child whose only DTP-containing dose is the DTP (booster) product."""
    place, nurse, analyst, child = region
    born = date(COHORT, 3, 10)
    lone = await child(born)
    await give(client, nurse, lone.id, "dtp", 4, born + timedelta(days=100))
    # and a child given Penta, DTP, Penta: DTP3 by 12 months, whatever the products
    mixed = await child(born)
    for antigen, n, days in (("penta", 1, 62), ("dtp", 4, 93), ("penta", 2, 124)):
        await give(client, nurse, mixed.id, antigen, n, born + timedelta(days=days))
    f = figures(await coverage(client, analyst, area=place.region, cohort=COHORT))
    assert f["dtp1"] == (2, 2)
    assert f["dtp3"] == (2, 1)
    # the lone dose is no booster: only the mixed child (DTP3 by 24 months) is in the
    # revaccination's denominator, and has no booster yet
    assert f["dtp4_revaccination"] == (1, 0)
    assert f == await recount(db, place.region, COHORT)
    card = await client.get(f"/api/v1/persons/{lone.id}/immunizations", headers=nurse)
    (d,) = card.json()
    assert (d["counted_as"], d["needs_review"], d["counted_in"]) == (1, True, "penta")


@pytest.mark.parametrize(
    ("first", "complete"),
    [
        (date(2025, 2, 27), False),  # one day before 12 months: the calendar's 3 doses
        (date(2025, 2, 28), True),  # 12 months (29 February's 12 months end on the 28th)
        (date(2025, 3, 1), True),  # one day after
    ],
)
async def test_pcv_complete_counts_a_catch_up_child_and_pcv3_does_not(
    client, db, region, first, complete
):
    place, nurse, analyst, child = region
    born = date(LEAP, 2, 29)
    kid = await child(born)
    await give(client, nurse, kid.id, "pcv", 1, first)
    await give(client, nurse, kid.id, "pcv", 2, first + timedelta(days=56))  # 8 weeks
    d = await coverage(client, analyst, area=place.region, cohort=LEAP)
    f = figures(d)
    assert f["pcv_complete"] == (1, int(complete))
    assert f["pcv3"] == (1, 0)  # WHO's PCV3 counts the third dose: a 2-dose plan has none
    assert f == await recount(db, place.region, LEAP)
    ind = next(i for i in d["indicators"] if i["code"] == "pcv_complete")
    assert (ind["dose"], ind["series_complete"]) == (None, True)


async def test_pcv_complete_needs_the_last_dose_by_24_months(client, db, region):
    place, nurse, analyst, child = region
    born = date(COHORT, 6, 15)
    kids = [await child(born) for _ in range(3)]
    # begun at 13 months (2 doses, 8 weeks apart); the second one day before, at and one
    # day after the 730th day of life, the last day "by 24 months" counts
    for kid, days in zip(kids, (729, 730, 731), strict=True):
        await give(client, nurse, kid.id, "pcv", 1, months_after(born, 13))
        await give(client, nurse, kid.id, "pcv", 2, born + timedelta(days=days))
    f = figures(await coverage(client, analyst, area=place.region, cohort=COHORT))
    assert f["pcv_complete"] == (3, 2)
    assert f["pcv3"] == (3, 0)
    assert f == await recount(db, place.region, COHORT)


# ---- the age in months that picks the catch-up plan, in SQL -----------------------------------


def _reference_months(born: date, later: date) -> int:
    n = 0
    while months_after(born, n + 1) <= later:
        n += 1
    return n


async def test_the_sql_age_in_months_is_the_calendars(db):
    """``coverage._months`` on this database against the calendar (``months_after``)."""
    births = [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2023, 2, 28),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2023, 12, 31),
        date(2024, 6, 15),
        date(2024, 1, 1),
    ]
    cases = []
    for born in births:
        for n in (1, 2, 11, 12, 13, 23, 24, 59, 60):
            at = months_after(born, n)
            cases += [(born, at - timedelta(days=1)), (born, at), (born, at + timedelta(days=1))]
    for born, later in cases:
        got = await db.scalar(select(coverage_service._months(db, literal(later), literal(born))))
        assert int(got) == _reference_months(born, later), (born, later)
