"""The worklist's bulk path against the per-child schedule (issue 24, item 5).

The worklist reads every child's doses in one statement and counts them with
``tally_rows`` / ``DueOn.next_due_rows``; the child card asks ``schedule_for``
for one child (``get_schedule``). Both must name the same due and overdue doses,
child by child: on generated dose histories (hypothesis, pure) and on a
generated population in the database (both backends).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from salomat.core.db import utcnow
from salomat.core.security import Principal
from salomat.domains.immunization import service as immunization
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.service import counting
from salomat.domains.immunization.service import schedule as s
from tests.domains.immunization.test_worklist_batch import people
from tests.domains.immunization.test_worklists import clinic  # noqa: F401 - a fixture
from tests.factories import national_id_for

TODAY = date.today()


def _rows(doses: list[Any], antigens: list[str]) -> list[tuple[str, date]]:
    """The doses as the worklist reads them: counted antigens, entered in error left out."""
    return [
        (d.antigen, d.given_on)
        for d in doses
        if d.status != "entered_in_error" and d.antigen in antigens
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=people())
def test_the_bulk_count_equals_the_per_child_schedule(
    person: tuple[date, str, list[Any], list[Any], date, str],
) -> None:
    born, sex, doses, exemptions, today, cc = person
    batch = s.DueOn(cc, today)
    cal = s.calendar(cc)
    rows = _rows(doses, batch.antigens)
    # the tally is the count of ``tally`` (given places, repeat floors, first doses, plans)
    assert counting.tally_rows(born, rows, cal, counting.counting_index(cal)) == s.tally(
        born, doses, cal
    )
    # and the due doses are the child card's
    expected = s.next_due(s.schedule_for(born, sex, doses, exemptions, today, cc))
    assert batch.next_due_rows(born, sex, rows, exemptions) == expected
    # in whatever order the rows come (the aggregated read has none)
    assert batch.next_due_rows(born, sex, rows[::-1], exemptions) == expected


def test_same_day_doses_of_a_chain_count_in_the_chain_order() -> None:
    """Penta and DTP on one day fill the DTP-containing places Penta first, whatever the
    order read (the id order ``_count`` uses to break ties is not read by the bulk path)."""
    cal = s.calendar("UZ")
    chain = cal.chain("penta")
    assert chain is not None
    assert len(chain.series) > 1  # the test needs a chain of two
    born = date(2020, 1, 15)
    index = counting.counting_index(cal)
    doses = [s.GivenDose(a, 1, born + timedelta(days=70)) for a in reversed(chain.antigens)]
    rows = _rows(doses, sorted(index))
    assert counting.tally_rows(born, rows, cal, index) == s.tally(born, doses, cal)
    assert counting.tally_rows(born, rows[::-1], cal, index) == s.tally(born, doses, cal)


# ---- a generated population in the database ----------------------------------------------


@pytest.mark.anyio
async def test_the_worklist_names_what_each_childs_schedule_says(
    db,
    make_person,
    clinic,  # noqa: F811
):
    """Forty children with random histories (doses early, late, repeated, entered in error,
    of antigens outside the calendar; refusals): listed exactly when their own schedule has
    a dose due or overdue, with those doses, for this week and a week a year on."""
    _, poly, _, _, _, _ = clinic
    rng = random.Random(24)
    cal = s.calendar("UZ")
    keys = [(r.antigen, r.dose_number) for x in cal.series for r in x.doses]
    kids = []
    for _ in range(40):
        born = TODAY - timedelta(days=rng.randint(0, 17 * 365))
        sex = rng.choice(["female", "male"])
        kid = await make_person(
            facility_code=poly.code,
            birth_date=born,
            sex=sex,
            national_id=national_id_for(born, sex),
        )
        kids.append(kid)
        for _ in range(rng.randint(0, 14)):
            antigen, n = rng.choice([*keys, ("cholera", 1)])
            db.add(
                Dose(
                    person_id=kid.id,
                    antigen=antigen,
                    dose_number=n,
                    given_on=min(TODAY, born + timedelta(days=rng.randint(0, 6 * 365))),
                    status=rng.choice(["completed"] * 5 + ["entered_in_error"]),
                    valid=True,
                    source="entered",
                    recorded_by="t",
                    recorded_at=utcnow(),
                )
            )
        if rng.random() < 0.15:
            db.add(
                Exemption(
                    person_id=kid.id,
                    kind=rng.choice(["refusal", "contraindication"]),
                    antigen=rng.choice([None, "mmr", "penta"]),
                    reason="test",
                    starts_on=TODAY - timedelta(days=rng.randint(0, 400)),
                    ends_on=rng.choice([None, TODAY + timedelta(days=30)]),
                    recorded_by="t",
                    recorded_at=utcnow(),
                )
            )
    await db.flush()
    nurse = Principal(
        user_id=0,
        username="t-nurse",
        role="nurse",
        session_id="t",
        facility_id=poly.id,
        facility_code=poly.code,
    )
    for week in (TODAY, TODAY + timedelta(days=365)):
        w = await immunization.immunization_worklist(db, nurse, week=week.isoformat())
        listed = {r.person_id: r for r in w.rows}
        on_list = 0
        for kid in kids:
            card = await immunization.get_schedule(db, nurse, kid.id, on=w.week_end)
            due = [
                (d.antigen, d.dose_number, d.due_on, d.overdue_on, d.status)
                for d in card.doses
                if d.status in ("due", "overdue")
            ]
            due.sort(key=lambda x: (x[2], x[0], x[1]))  # ``next_due``'s order
            row = listed.get(kid.id)
            got = (
                [(d.antigen, d.dose_number, d.due_on, d.overdue_on, d.status) for d in row.doses]
                if row
                else []
            )
            assert got == due, kid.id
            on_list += bool(due)
        assert on_list == len(listed)
        assert on_list >= 10  # the histories leave many doses due: the check is not empty
    await db.rollback()
