"""Access, scenarios and mobile teams through the REST API on the shared test region
(tests/domains/planning/conftest.py, the Kazakh pack: access measured to a physician
ambulatory or higher, 10 km, detour 1.3). The reference distances are computed here with
the haversine of the conftest's coordinates, not with the access module's k-d tree."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from salomat.domains.planning.service.norms import today as country_today
from tests.domains.planning.conftest import SETTLEMENTS

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"
DETOUR, THRESHOLD = 1.3, 10.0  # the KZ pack (planning.yaml access)


def km(a: str, b: str) -> float:
    """The estimate between two of the conftest's settlements: haversine x detour."""
    la1, lo1 = map(math.radians, SETTLEMENTS[a][2:4])
    la2, lo2 = map(math.radians, SETTLEMENTS[b][2:4])
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h)) * DETOUR


def fields(r) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["field"] for e in r.json().get("errors", [])]


@pytest.fixture
async def planner(client, login, make_user):  # type: ignore[no-untyped-def]
    return await login(await make_user("planner"))


def beyond_population(units_at: set[str]) -> int:
    """Population whose nearest ambulatory-or-higher (S6's polyclinic and ``units_at``)
    lies beyond the threshold."""
    sites = {"S6", *units_at}
    return sum(SETTLEMENTS[s][0] for s in SETTLEMENTS if min(km(s, t) for t in sites) > THRESHOLD)


async def test_access_of_the_region(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/access", params={"territory": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["threshold_km"] == THRESHOLD
    assert body["threshold_level"] == "physician_ambulatory"
    assert body["method"] == "estimate"
    by = {s["code"].removeprefix(plan.region): s for s in body["settlements"]}
    s1 = by["S1"]["nearest"]["physician_ambulatory"]
    assert s1["settlement_code"] == plan.settlements["S6"]
    assert s1["unit"] == "polyclinic"
    assert s1["method"] == "estimate"
    assert s1["km"] == pytest.approx(km("S1", "S6"), rel=1e-6)
    # S3's nearest medical point is S2's (nearer than S4's)
    s3 = by["S3"]["nearest"]["medical_point"]
    assert s3["settlement_code"] == plan.settlements["S2"]
    assert s3["km"] == pytest.approx(km("S3", "S2"), rel=1e-6)
    total = sum(v[0] for v in SETTLEMENTS.values())
    assert body["population"] == total
    assert body["population_beyond"] == beyond_population(set())
    assert body["share_beyond"] == pytest.approx(beyond_population(set()) / total)


async def test_a_district_counts_units_across_its_border(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"{BASE}/access", params={"territory": plan.districts["D1"]}, headers=planner
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["settlements"]) == 5  # D1's own
    s5 = {s["code"]: s for s in body["settlements"]}[plan.settlements["S5"]]
    # the polyclinic of S6 is in D2 and still the nearest doctor-staffed unit
    assert s5["nearest"]["physician_ambulatory"]["settlement_code"] == plan.settlements["S6"]


async def test_a_planners_scenario_shows_the_change_beyond_the_threshold(
    client, planner, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    # issue 22, done when: open a physician ambulatory in S4
    body = {
        "territory": plan.region,
        "edition": "kz-2022",
        "proposed": [{"settlement": plan.settlements["S4"], "unit": "physician_ambulatory"}],
    }
    r = await client.post(f"{BASE}/scenario", json=body, headers=planner)
    assert r.status_code == 200, r.text
    sc = r.json()
    before, after = beyond_population(set()), beyond_population({"S4"})
    assert sc["population_beyond_before"] == before
    assert sc["population_beyond_after"] == after
    assert after < before
    gained = {g["code"].removeprefix(plan.region) for g in sc["gained"]}
    assert gained == {
        s
        for s in SETTLEMENTS
        if km(s, "S6") > THRESHOLD and min(km(s, "S6"), km(s, "S4")) <= THRESHOLD
    }
    assert sc["gained_population"] == before - after
    # kz-2022: S4 (1,200) needs a FAP and has a medical point: the ambulatory closes it
    assert plan.settlements["S4"] in sc["closed"]
    assert sc["gaps_after"] == sc["gaps_before"] - 1


async def test_bad_access_and_scenario_input_is_422_naming_the_field(
    client, planner, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/access", params={"territory": "NOWHERE"}, headers=planner)
    assert r.status_code == 422
    assert fields(r) == ["territory"]
    body = {
        "territory": plan.districts["D1"],
        "proposed": [
            {"settlement": plan.settlements["S6"], "unit": "physician_ambulatory"},  # D2
            {"settlement": plan.settlements["S1"], "unit": "spaceport"},
        ],
    }
    r = await client.post(f"{BASE}/scenario", json=body, headers=planner)
    assert r.status_code == 422, r.text
    assert fields(r) == ["proposed.0.settlement", "proposed.1.unit"]
    r = await client.post(
        f"{BASE}/scenario", json={"territory": plan.region, "proposed": []}, headers=planner
    )
    assert r.status_code == 422
    assert "proposed" in fields(r)[0]


async def test_a_settlement_without_coordinates_is_reported(client, planner, plan, kz, db) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.registry.models import Territory

    d1 = (
        await db.execute(Territory.__table__.select().where(Territory.code == plan.districts["D1"]))
    ).one()
    db.add(
        Territory(
            code=f"{plan.region}S7", level="settlement", parent_id=d1.id, name="No place",
            names={}, is_rural=True,
        )
    )  # fmt: skip
    await db.commit()
    r = await client.get(f"{BASE}/access", params={"territory": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    assert r.json()["no_coordinates"] == [f"{plan.region}S7"]
    body = {
        "territory": plan.region,
        "proposed": [{"settlement": f"{plan.region}S7", "unit": "medical_point"}],
    }
    r = await client.post(f"{BASE}/scenario", json=body, headers=planner)
    assert r.status_code == 422
    assert fields(r) == ["proposed.0.settlement"]


async def test_who_may_read_access(client, login, make_user, plan, kz) -> None:  # type: ignore[no-untyped-def]
    q = {"territory": plan.region}
    assert (await client.get(f"{BASE}/access", params=q)).status_code == 401
    for role, status in (("family_doctor", 403), ("registrar", 403), ("analyst", 200)):
        auth = await login(await make_user(role))
        assert (await client.get(f"{BASE}/access", params=q, headers=auth)).status_code == status


async def _team(client, planner, plan) -> int:  # type: ignore[no-untyped-def]
    r = await client.post(
        f"{BASE}/mobile-teams",
        json={"facility_code": plan.facilities["S6"], "name": "Mobile complex 1"},
        headers=planner,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_teams_route_calendar_and_visit(
    client, login, make_user, make_person, planner, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    team = await _team(client, planner, plan)
    saturday = date(2026, 12, 5)
    body = {"territory": plan.districts["D1"], "start": saturday.isoformat(), "save": True}
    r = await client.post(f"{BASE}/mobile-teams/{team}/route", json=body, headers=planner)
    assert r.status_code == 200, r.text
    route = r.json()
    # D1's settlements without a unit: S1 and S3 (S2, S4 have medical points, S5 a FAP)
    assert route["method"] == "estimate"
    assert len(route["days"]) == 1
    day = route["days"][0]
    assert day["day"] == "2026-12-07"  # the weekend skipped
    assert sorted(day["settlements"]) == [plan.settlements["S1"], plan.settlements["S3"]]
    # the tour's km: base -> one -> the other -> base, either way round
    tour = km("S6", "S1") + km("S1", "S3") + km("S3", "S6")
    assert day["km"] == pytest.approx(tour, abs=0.01)
    assert day["minutes"] == pytest.approx(tour / 60 * 60 + 2 * 90, abs=0.1)  # 60 km/h
    # the calendar
    q = {"from": "2026-12-01", "to": "2026-12-31"}
    r = await client.get(f"{BASE}/mobile-teams/{team}/calendar", params=q, headers=planner)
    assert r.status_code == 200, r.text
    cal = r.json()
    assert [c["sequence"] for c in cal] == [1, 2]
    s3_plan = next(c for c in cal if c["settlement"] == plan.settlements["S3"])
    assert s3_plan["visited"] is False
    # a nurse of the team's facility records the visit to S3 with two people seen
    nurse = await login(await make_user("nurse", facility_code=plan.facilities["S6"]))
    a = await make_person(facility_code=plan.facilities["S6"])
    b = await make_person(facility_code=plan.facilities["S6"])
    today = country_today().isoformat()
    visit = {
        "settlement": plan.settlements["S3"],
        "visited_on": today,
        "plan_id": s3_plan["id"],
        "people": [
            {"person_id": a.id, "services": ["consultation", "screening"]},
            {"person_id": b.id, "services": ["vaccination"]},
        ],
    }
    r = await client.post(f"{BASE}/mobile-teams/{team}/visits", json=visit, headers=nurse)
    assert r.status_code == 201, r.text
    v = r.json()
    assert [p["person_id"] for p in v["people"]] == [a.id, b.id]
    r = await client.get(r.headers["location"], headers=nurse)
    assert r.status_code == 200
    assert r.json()["people"][0]["services"] == ["consultation", "screening"]
    # the calendar shows it made; the planner sees counts, not people
    r = await client.get(f"{BASE}/mobile-teams/{team}/calendar", params=q, headers=planner)
    assert next(c for c in r.json() if c["id"] == s3_plan["id"])["visited"] is True
    q2 = {"from": today, "to": today}
    r = await client.get(f"{BASE}/mobile-teams/{team}/visits", params=q2, headers=planner)
    assert r.status_code == 200, r.text
    (summary,) = r.json()
    # counts of 1 to 4 could point at people in a village: "<5" (tests/.../test_visit_counts.py)
    assert summary["people"] == "<5"
    assert summary["services"] == {"consultation": "<5", "screening": "<5", "vaccination": "<5"}
    assert "person_id" not in str(summary)
    # the planner may not read who was seen
    r = await client.get(f"{BASE}/mobile-visits/{v['id']}", headers=planner)
    assert r.status_code == 403
    # every person seen is audited
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    rows = (
        await plan.db.execute(
            select(AuditEvent.patient_id, AuditEvent.action).where(
                AuditEvent.resource_type == "Encounter",
                AuditEvent.resource_id.in_(
                    [f"mobile-{v['id']}-{a.id}", f"mobile-{v['id']}-{b.id}"]
                ),
            )
        )
    ).all()
    assert {(p, act) for p, act in rows} >= {(a.id, "create"), (b.id, "create"), (a.id, "read")}


async def test_a_visit_is_refused_outside_the_scope(
    client, login, make_user, make_person, planner, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    team = await _team(client, planner, plan)
    nurse = await login(await make_user("nurse", facility_code=plan.facilities["S6"]))
    mine = await make_person(facility_code=plan.facilities["S6"])
    other = await make_person()  # attached nowhere
    today = country_today()
    visit = {
        "settlement": plan.settlements["S1"],
        "visited_on": today.isoformat(),
        "people": [
            {"person_id": mine.id, "services": ["consultation"]},
            {"person_id": other.id, "services": ["consultation"]},  # not in her scope
            {"person_id": 9_999_999, "services": ["surgery"]},  # nobody; no such service
        ],
    }
    url = f"{BASE}/mobile-teams/{team}/visits"
    r = await client.post(url, json=visit, headers=nurse)
    assert r.status_code == 422, r.text
    assert fields(r) == ["people.2.services.0", "people.1.person_id", "people.2.person_id"]
    # the refused people are audited as denied (kept although the request failed)
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    denied = (
        await plan.db.execute(
            select(AuditEvent.patient_id).where(
                AuditEvent.resource_type == "Encounter", AuditEvent.action == "denied"
            )
        )
    ).scalars()
    assert {other.id, 9_999_999} <= set(denied)
    # a day in the future, a place that is no settlement, a plan that is not the team's
    bad = visit | {
        "visited_on": (today + timedelta(days=1)).isoformat(),
        "settlement": plan.districts["D1"],
        "plan_id": 123456,
        "people": visit["people"][:1],
    }
    r = await client.post(url, json=bad, headers=nurse)
    assert r.status_code == 422
    assert fields(r) == ["visited_on", "settlement", "plan_id"]
    # a nurse of another facility does not see the team at all
    stranger = await login(await make_user("nurse", facility_code=plan.facilities["S5"]))
    ok = visit | {"people": visit["people"][:1]}
    assert (await client.post(url, json=ok, headers=stranger)).status_code == 404
    # a planner may not record
    assert (await client.post(url, json=ok, headers=planner)).status_code == 403
    assert (await client.post(url, json=ok, headers=nurse)).status_code == 201


async def test_team_and_route_input_is_422_naming_the_field(
    client, login, make_user, planner, plan, kz
) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        f"{BASE}/mobile-teams",
        json={"facility_code": "NOPE", "name": "x", "members": [99_999_999]},
        headers=planner,
    )
    assert r.status_code == 422
    assert fields(r) == ["facility_code", "members.0"]
    r = await client.post(
        f"{BASE}/mobile-teams",
        json={"facility_code": plan.facilities["S6"], "name": "x", "members": [2**31]},
        headers=planner,
    )
    assert r.status_code == 422  # past the practitioner table's 32-bit ids
    assert fields(r) == ["members.0"]
    team = await _team(client, planner, plan)
    url = f"{BASE}/mobile-teams/{team}/route"
    r = await client.post(
        url,
        json={"territory": plan.districts["D1"], "start": "2026-12-07", "settlements": ["X1"]},
        headers=planner,
    )
    assert r.status_code == 422
    assert fields(r) == ["settlements.0"]
    r = await client.post(
        url, json={"territory": plan.districts["D1"], "start": "1066-10-14"}, headers=planner
    )
    assert r.status_code == 422
    assert fields(r) == ["start"]
    q = {"from": "2026-12-31", "to": "2026-12-01"}
    r = await client.get(f"{BASE}/mobile-teams/{team}/calendar", params=q, headers=planner)
    assert r.status_code == 422
    assert fields(r) == ["to"]
    assert (await client.get(f"{BASE}/mobile-teams/999999", headers=planner)).status_code == 404
    # an analyst sees a route but may not save it as the calendar
    analyst = await login(await make_user("analyst"))
    body = {"territory": plan.districts["D1"], "start": "2026-12-07"}
    assert (await client.post(url, json=body, headers=analyst)).status_code == 200
    r = await client.post(url, json=body | {"save": True}, headers=analyst)
    assert r.status_code == 403


async def test_too_many_settlements_for_one_plan_is_422_and_the_capacity_splits_days(
    client, planner, plan, kz, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.planning.service import routing

    team = await _team(client, planner, plan)
    monkeypatch.setattr(routing, "MAX_STOPS", 1)  # D1 has two settlements without a unit
    url = f"{BASE}/mobile-teams/{team}/route"
    body = {"territory": plan.districts["D1"], "start": "2026-12-07"}
    r = await client.post(url, json=body, headers=planner)
    assert r.status_code == 422
    assert fields(r) == ["territory"]
    one = body | {"settlements": [plan.settlements["S1"]]}
    r = await client.post(url, json=one, headers=planner)
    assert r.status_code == 200, r.text
    assert r.json()["days"][0]["settlements"] == [plan.settlements["S1"]]

    # a capacity of one settlement a day: two days, Monday and Tuesday
    monkeypatch.setattr(routing, "MAX_STOPS", 500)
    r = await client.post(url, json=body | {"capacity": 1}, headers=planner)
    assert r.status_code == 200, r.text
    assert [d["day"] for d in r.json()["days"]] == ["2026-12-07", "2026-12-08"]
    assert all(len(d["settlements"]) == 1 for d in r.json()["days"])
    r = await client.post(url, json=body | {"capacity": 0}, headers=planner)
    assert r.status_code == 422
    assert fields(r) == ["capacity"]


async def test_a_merge_moves_the_people_seen_to_the_survivor(
    client, login, make_user, make_person, planner, plan, kz, db
) -> None:  # type: ignore[no-untyped-def]
    from salomat.core.security import Principal
    from salomat.domains.registry import service as registry

    team = await _team(client, planner, plan)
    nurse = await login(await make_user("nurse", facility_code=plan.facilities["S6"]))
    twin = await make_person(facility_code=plan.facilities["S6"])
    visit = {
        "settlement": plan.settlements["S1"],
        "visited_on": country_today().isoformat(),
        "people": [{"person_id": twin.id, "services": ["consultation"]}],
    }
    r = await client.post(f"{BASE}/mobile-teams/{team}/visits", json=visit, headers=nurse)
    assert r.status_code == 201, r.text
    survivor = await make_person(
        facility_code=plan.facilities["S6"], family_name=twin.family_name,
        given_name=twin.given_name, birth_date=twin.birth_date, sex=twin.sex,
        duplicate_reason="test: the same woman registered twice",
    )  # fmt: skip
    clerk = Principal(user_id=0, username="clerk", role="registrar", session_id="t")
    await registry.merge_persons(db, clerk, survivor.id, twin.id, "registered twice")
    await db.commit()
    r = await client.get(r.headers["location"], headers=nurse)
    assert r.status_code == 200, r.text
    assert [p["person_id"] for p in r.json()["people"]] == [survivor.id]
