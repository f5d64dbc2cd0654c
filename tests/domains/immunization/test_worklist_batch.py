"""The worklist as a batch: the same answer as the engine per child, in few statements."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from salomat.core.db import get_engine
from salomat.core.security import Principal
from salomat.domains.immunization import service as immunization
from salomat.domains.immunization.service import schedule as s
from salomat.domains.immunization.service.schedule import GivenDose
from tests.domains.immunization.test_coverage import give
from tests.domains.immunization.test_worklists import clinic  # noqa: F401 - a fixture

TODAY = date.today()


# ---- DueOn equals next_due(schedule_for(...)) ------------------------------------------


@st.composite
def people(draw: st.DrawFn) -> tuple[date, str, list[Any], list[Any], date, str]:
    cc = draw(st.sampled_from(["UZ", "KZ"]))
    cal = s.calendar(cc)
    born = draw(st.dates(min_value=date(1960, 1, 1), max_value=date(2026, 11, 1)))
    today = born + timedelta(days=draw(st.integers(min_value=0, max_value=30 * 365)))
    keys = [(r.antigen, r.dose_number) for x in cal.series for r in x.doses]
    # a few boosters past the series' end (Td revaccinations)
    keys += [(x.antigen, x.doses[-1].dose_number + k) for x in cal.series for k in (1, 2)]
    doses = []
    for antigen, n in draw(st.lists(st.sampled_from(keys), max_size=25)):
        on = born + timedelta(days=draw(st.integers(min_value=0, max_value=25 * 365)))
        doses.append(
            GivenDose(
                antigen,
                n,
                on,
                valid=draw(st.sampled_from([True, True, True, False])),
                status=draw(st.sampled_from(["completed", "completed", "entered_in_error"])),
            )
        )
    exemptions = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        starts = born + timedelta(days=draw(st.integers(min_value=0, max_value=20 * 365)))
        exemptions.append(
            _Exemption(
                antigen=draw(st.sampled_from([None, *[k[0] for k in keys]])),
                kind=draw(st.sampled_from(["refusal", "contraindication"])),
                starts_on=starts,
                ends_on=draw(st.one_of(st.none(), st.just(starts + timedelta(days=400)))),
                withdrawn_on=draw(st.one_of(st.none(), st.just(starts + timedelta(days=100)))),
            )
        )
    sex = draw(st.sampled_from(["male", "female"]))
    return born, sex, doses, exemptions, today, cc


class _Exemption:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person=people())
def test_due_on_a_day_equals_the_schedule_of_each_child(
    person: tuple[date, str, list[Any], list[Any], date, str],
) -> None:
    born, sex, doses, exemptions, today, cc = person
    expected = s.next_due(s.schedule_for(born, sex, doses, exemptions, today, cc))
    assert s.DueOn(cc, today).next_due(born, sex, doses, exemptions) == expected


@settings(max_examples=60, deadline=None)
@given(
    cc=st.sampled_from(["UZ", "KZ"]),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    first=st.dates(min_value=date(1995, 1, 1), max_value=date(2040, 12, 31)),
)
def test_one_batch_serves_many_birth_dates(cc: str, today: date, first: date) -> None:
    """The prepared day is shared: children one after another get their own answers."""
    batch = s.DueOn(cc, today)
    for k in range(0, 400, 37):
        born = first + timedelta(days=k)
        if born > today:
            break
        for sex in ("female", "male"):
            assert batch.next_due(born, sex, [], []) == s.next_due(
                s.schedule_for(born, sex, [], [], today, cc)
            )


# ---- statements: no query per child ----------------------------------------------------


@pytest.mark.anyio
async def test_a_worklist_of_30_children_takes_a_bounded_number_of_statements(
    client,
    db,
    clinic,  # noqa: F811
):
    _, poly, _, nurse, _, child = clinic
    kids = [await child(TODAY - timedelta(days=40 + 97 * i)) for i in range(30)]
    for kid in kids[:10]:
        await give(client, nurse, kid.id, "bcg", 1, kid.birth_date)
        await give(client, nurse, kid.id, "hepb", 1, kid.birth_date)
    principal = Principal(
        user_id=0,
        username="t-nurse",
        role="nurse",
        session_id="t",
        facility_id=poly.id,
        facility_code=poly.code,
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        w = await immunization.immunization_worklist(db, principal)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    await db.rollback()
    listed = {r.person_id for r in w.rows}
    assert len(listed) >= 25  # most children miss doses: the list is not empty
    # people, doses, exemptions, the audit rows: not one statement per child
    assert len(statements) <= 12, statements
