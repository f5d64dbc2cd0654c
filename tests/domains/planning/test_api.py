"""The planning REST API: permissions (deny by default), the norms, settlements, gaps
and staffing of the test region, the census import (201; 422 naming line and column,
nothing stored), and 422 naming the field for bad parameters."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in r.json().get("errors", [])}


@pytest.fixture
async def planner(client, login, make_user):  # type: ignore[no-untyped-def]
    return await login(await make_user("planner"))


async def test_deny_by_default(client, login, make_user, plan) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/norms")
    assert r.status_code == 401
    for role in ("registrar", "family_doctor", "auditor", "statistician"):
        auth = await login(await make_user(role))
        r = await client.get(f"{BASE}/settlements", params={"territory": plan.region}, headers=auth)
        assert r.status_code == 403, role
    # the analyst reads but may not import
    auth = await login(await make_user("analyst"))
    r = await client.get(f"{BASE}/gaps", params={"territory": plan.region}, headers=auth)
    assert r.status_code == 200
    r = await client.post(f"{BASE}/census", content="code,population,as_of,source\n", headers=auth)
    assert r.status_code == 403


async def test_norms_kz(client, planner, kz) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/norms", headers=planner)
    assert r.status_code == 200, r.text
    body = r.json()
    editions = {e["code"]: e for e in body["editions"]}
    assert set(editions) == {"kz-2017", "kz-2021-action-plan", "kz-2022"}
    assert editions["kz-2022"]["in_force"] is True
    assert editions["kz-2022"]["bands"][1] == {
        "min_population": 50,
        "max_population": 499,
        "unit": "medical_point",
    }
    assert body["currency"] == "KZT"
    assert body["units"][0]["code"] == "health_worker"


async def test_settlements_gaps_staffing(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    q = {"territory": plan.region, "edition": "kz-2022"}
    r = await client.get(f"{BASE}/settlements", params=q, headers=planner)
    assert r.status_code == 200, r.text
    by = {s["code"].removeprefix(plan.region): s for s in r.json()}
    assert by["S4"]["population"] == 1200
    assert by["S4"]["population_origin"] == "census"
    assert by["S4"]["attached"] == 3
    assert by["S4"]["required_unit"] == "feldsher_obstetric_point"
    assert by["S4"]["existing_units"] == ["medical_point"]
    assert by["S4"]["gap"] is True
    r = await client.get(f"{BASE}/gaps", params=q, headers=planner)
    assert r.status_code == 200, r.text
    g = r.json()
    # S1 (35) needs a visiting medical worker: listed apart, not a gap
    assert g["total"]["with_gap"] == 3
    assert (g["total"]["visiting_worker"], g["total"]["population_visiting_worker"]) == (1, 35)
    assert [s["code"] for s in g["visiting_worker"]] == [plan.settlements["S1"]]
    assert plan.settlements["S1"] not in {s["code"] for s in g["gaps"]}
    assert g["districts"][0]["by_unit"]["physician_ambulatory"] == 1
    r = await client.get(
        f"{BASE}/staffing", params={"territory": plan.districts["D2"]}, headers=planner
    )
    assert r.status_code == 200, r.text
    gp = next(x for x in r.json()["by_position"] if x["position"] == "family_doctor")
    assert (gp["required"], float(gp["exact_fte"]), float(gp["filled"])) == (10, 9.12, 2.5)


async def test_bad_parameters_422_naming_the_field(client, planner, plan) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/settlements", params={"territory": "NO-SUCH"}, headers=planner)
    assert r.status_code == 422
    assert fields(r) == {"territory"}
    r = await client.get(
        f"{BASE}/gaps", params={"territory": plan.region, "edition": "kz-1999"}, headers=planner
    )
    assert r.status_code == 422
    assert fields(r) == {"edition"}
    r = await client.get(f"{BASE}/staffing", params={"on": "2025-13-01"}, headers=planner)
    assert r.status_code == 422
    r = await client.get(f"{BASE}/settlements", params={"territory": "a b"}, headers=planner)
    assert r.status_code == 422


async def test_census_import(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    s1, s3 = plan.settlements["S1"], plan.settlements["S3"]
    good = f"code,population,as_of,source\n{s1},60,2026-01-01,Census 2026\n"
    r = await client.post(
        f"{BASE}/census", content=good, headers={**planner, "Content-Type": "text/csv"}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"lines": 1, "imported": 1, "replaced": 0, "coordinates": 0}
    r = await client.get(
        f"{BASE}/settlements",
        params={"territory": s1, "edition": "kz-2022"},
        headers=planner,
    )
    s = r.json()[0]
    assert (s["population"], s["population_source"], s["required_unit"]) == (
        60,
        "Census 2026",
        "medical_point",
    )
    bad = f"code,population,as_of,source\n{s3},500,2026-01-01,C\n{s3},-5,2026-02-01,C\n"
    r = await client.post(f"{BASE}/census", content=bad, headers=planner)
    assert r.status_code == 422
    assert fields(r) == {"lines.3.population"}
    r = await client.get(f"{BASE}/settlements", params={"territory": s3}, headers=planner)
    assert r.json()[0]["population"] == 420  # line 2 was good but nothing was stored
    r = await client.post(f"{BASE}/census", content=b"\xff\xfe\x00", headers=planner)
    assert r.status_code == 422
    assert fields(r) == {"file"}


async def test_saved_scenarios(client, login, make_user, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    s3, s6 = plan.settlements["S3"], plan.settlements["S6"]
    body = {
        "territory": plan.districts["D1"],
        "name": "FAP in S3",
        "edition": "kz-2022",
        "proposed": [{"settlement": s3, "unit": "feldsher_obstetric_point"}],
    }
    r = await client.post(f"{BASE}/scenarios", json=body, headers=planner)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert r.headers["Location"] == f"{BASE}/scenarios/{saved['id']}"
    assert (saved["territory"], saved["proposed"]) == (body["territory"], body["proposed"])
    # the analyst reads them, may not save or delete
    analyst = await login(await make_user("analyst"))
    r = await client.get(
        f"{BASE}/scenarios", params={"territory": plan.districts["D1"]}, headers=analyst
    )
    assert [s["id"] for s in r.json()] == [saved["id"]]
    assert (await client.post(f"{BASE}/scenarios", json=body, headers=analyst)).status_code == 403
    r = await client.delete(f"{BASE}/scenarios/{saved['id']}", headers=analyst)
    assert r.status_code == 403
    # a settlement of another district, an unknown unit, an unknown edition: each named
    bad = {**body, "proposed": [{"settlement": s6, "unit": "castle"}]}
    r = await client.post(f"{BASE}/scenarios", json=bad, headers=planner)
    assert r.status_code == 422
    assert fields(r) == {"proposed.0.settlement", "proposed.0.unit"}
    r = await client.post(f"{BASE}/scenarios", json={**body, "edition": "x"}, headers=planner)
    assert fields(r) == {"edition"}
    r = await client.post(f"{BASE}/scenarios", json={**body, "proposed": []}, headers=planner)
    assert r.status_code == 422
    # deleted, then gone
    r = await client.delete(f"{BASE}/scenarios/{saved['id']}", headers=planner)
    assert r.status_code == 204
    r = await client.get(f"{BASE}/scenarios/{saved['id']}", headers=planner)
    assert r.status_code == 404
