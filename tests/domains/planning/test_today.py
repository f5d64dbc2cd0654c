"""The planning domain's one "today": the country's civil day (the pack's time zone), not
the server's. Between 19:00 and 24:00 UTC Almaty's and Tashkent's day is already the next
one; a visit or a census dated that day is not "in the future". The country's day is
patched here to be one day ahead of the server's, as it is every evening."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.country import pack
from salomat.domains.planning.service import mobile, norms, settlements

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"


@pytest.fixture
def evening(monkeypatch):  # type: ignore[no-untyped-def]
    """The country's day is the server's tomorrow (an evening in UTC)."""
    ahead = date.today() + timedelta(days=1)
    monkeypatch.setattr(pack, "today", lambda country, now=None: ahead)
    return ahead


def test_the_domain_uses_the_countrys_day(evening, kz) -> None:  # type: ignore[no-untyped-def]
    assert norms.today() == evening
    assert mobile.today() == evening


async def test_a_census_of_the_countrys_today_is_accepted(evening, kz, plan) -> None:  # type: ignore[no-untyped-def]
    s1 = plan.settlements["S1"]
    head = "code,population,as_of,source\n"
    report = await settlements.import_census_csv(
        plan.db, plan.principal(), f"{head}{s1},41,{evening.isoformat()},Census today\n"
    )
    assert report.ok, report.issues
    # one day above the country's day is still the future
    later = (evening + timedelta(days=1)).isoformat()
    report = await settlements.import_census_csv(
        plan.db, plan.principal(), f"{head}{s1},42,{later},Census tomorrow\n"
    )
    assert [(i.line, i.field) for i in report.issues] == [(2, "as_of")]


async def test_a_visit_of_the_countrys_today_is_accepted(
    evening, client, login, make_user, make_person, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    planner = await login(await make_user("planner"))
    r = await client.post(
        f"{BASE}/mobile-teams",
        json={"facility_code": plan.facilities["S6"], "name": "Mobile complex 1"},
        headers=planner,
    )
    assert r.status_code == 201, r.text
    url = f"{BASE}/mobile-teams/{r.json()['id']}/visits"
    nurse = await login(await make_user("nurse", facility_code=plan.facilities["S6"]))
    person = await make_person(facility_code=plan.facilities["S6"])
    visit = {
        "settlement": plan.settlements["S1"],
        "visited_on": evening.isoformat(),
        "people": [{"person_id": person.id, "services": ["consultation"]}],
    }
    r = await client.post(url, json=visit, headers=nurse)
    assert r.status_code == 201, r.text
    later = visit | {"visited_on": (evening + timedelta(days=1)).isoformat()}
    r = await client.post(url, json=later, headers=nurse)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["visited_on"]
