"""Revaccination counted from doses recorded through the immunization API (issue 23,
item 6): COVID-19 is a series of the calendar given on indication, so a nurse records the
primary series and the revaccination, and the person moves from "due" to "revaccinated"
on the worklist and in the coverage."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from salomat.country import pack
from salomat.domains.epidemic.service import revaccination_sql
from salomat.domains.immunization.service import schedule
from tests.domains.maternal.test_referrals import facility

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.mark.parametrize("cc", ["UZ", "KZ"])
def test_the_epidemic_definition_and_the_calendars_series_agree(cc: str) -> None:
    """The revaccination figures read epidemic.yaml; the registry counts the doses by
    immunization.yaml: one vaccine, the same primary series and interval."""
    d = revaccination_sql.parse_definition(cc, pack.load(cc, "epidemic"))
    series = schedule.calendar(cc).get(d.antigen)
    assert series is not None
    assert series.on_indication
    assert series.atc == d.atc == "J07BX03"
    assert len(series.doses) == d.primary_doses
    assert series.booster_every == schedule.Age(months=d.interval_months)


def _add_months(day: date, months: int) -> date:
    """Calendar months, the month's last day when shorter (written here, not imported)."""
    import calendar

    m = day.month - 1 + months
    y, m = day.year + m // 12, m % 12 + 1
    return date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


async def test_doses_recorded_through_the_api_move_a_person_from_due_to_revaccinated(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    epidemiologist = await login(await make_user("epidemiologist"))
    person = await make_person(
        facility_code=poly.code,
        birth_date=date(1975, 6, 1),
        sex="male",
        settlement_code=place.settlement,
    )

    async def record(n: int, on: date) -> dict[str, Any]:
        r = await client.post(
            f"/api/v1/persons/{person.id}/immunizations",
            json={
                "antigen": "covid19",
                "dose_number": n,
                "given_on": on.isoformat(),
                "vaccine": "covid19",
                "site": "left_arm",
                "lot": "CV-7",
            },
            headers=nurse,
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def worklist() -> list[dict[str, Any]]:
        r = await client.get(
            "/api/v1/epidemic/revaccination/worklist",
            params={"on": TODAY.isoformat()},
            headers=nurse,
        )
        assert r.status_code == 200, r.text
        return [row for row in r.json()["rows"] if row["person_id"] == person.id]

    async def counts() -> tuple[int, int, int]:
        r = await client.get(
            "/api/v1/epidemic/revaccination/coverage",
            params={"area": place.region, "on": TODAY.isoformat()},
            headers=epidemiologist,
        )
        assert r.status_code == 200, r.text
        t = next(c for c in r.json()["total"] if c["age_group"] is None)
        return t["completed_primary"], t["eligible"], t["revaccinated"]

    first, second = TODAY - timedelta(days=300), TODAY - timedelta(days=270)
    await record(1, first)
    assert await worklist() == []  # one dose: no completed primary series
    assert await counts() == (0, 0, 0)
    await record(2, second)
    months = revaccination_sql.definition().interval_months
    (row,) = await worklist()
    due_since = date.fromisoformat(row["due_since"])
    assert due_since == _add_months(second, months) or (
        # the month's end: the first day on which the rule holds (docs/epidemic.md)
        _add_months(second, months) < due_since <= _add_months(second, months) + timedelta(days=3)
    )
    assert await counts() == (1, 1, 0)
    third = await record(3, TODAY)
    assert (third["counted_as"], third["valid"]) == (3, True)
    assert await worklist() == []
    assert await counts() == (1, 1, 1)
