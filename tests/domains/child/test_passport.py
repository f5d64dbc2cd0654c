"""The child passport through REST: a baby born in the system, scope, roles, visits, newborn."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.child.schemas import VisitOut
from salomat.domains.child.service import visit_schedule
from tests.domains.maternal.test_birth import post_birth
from tests.domains.maternal.test_pregnancy import Clinic, clinic, open_pregnancy

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def born(client, c: Clinic, days_ago: int = 20) -> dict[str, Any]:
    """A baby born in the system ``days_ago`` days ago: the birth record as answered."""
    lmp = TODAY - timedelta(days=days_ago + 39 * 7)
    preg = await open_pregnancy(
        client, c, lmp=lmp, registered_on=(lmp + timedelta(weeks=10)).isoformat()
    )
    r = await post_birth(
        client,
        c,
        preg,
        {
            "born_on": (TODAY - timedelta(days=days_ago)).isoformat(),
            "mode": "spontaneous_vaginal",
            "babies": [
                {
                    "outcome": "live",
                    "sex": "female",
                    "given_name": "Malika",
                    "birth_weight_g": 3150,
                    "length_cm": 49.5,
                    "apgar_1": 8,
                    "apgar_5": 9,
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_passport_of_a_baby_born_in_the_system_shows_the_mother_and_the_birth(
    client, clinic, make_user, login
):
    birth = await born(client, clinic)
    baby = birth["babies"][0]["person_id"]
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    r = await client.get(f"/api/v1/persons/{baby}/passport", headers=nurse)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["is_child"] is True
    assert p["age_days"] == 20
    assert p["birth"]["mother_person_id"] == clinic.woman.id
    assert p["birth"]["mother"]["family_name"] == clinic.woman.family_name
    assert p["birth"]["birth"]["born_on"] == birth["born_on"]
    assert p["birth"]["birth_order"] == 1
    assert p["birth"]["multiple"] is False
    # the newborn data come from the birth record until screening is entered
    nb = p["newborn"]
    assert (nb["stored"], nb["from_birth_record"], nb["birth_weight_g"], nb["apgar_5"]) == (
        False,
        True,
        3150,
        9,
    )
    assert nb["ga_days"] == birth["ga_days"]
    assert [s["status"] for s in p["schedule"][:4]] == ["missed", "missed", "overdue", "upcoming"]
    assert p["schedule_source"].startswith("UNVERIFIED")
    # the mother's side of her own passport: the pregnancy, the birth, her child
    m = (await client.get(f"/api/v1/persons/{clinic.woman.id}/passport", headers=nurse)).json()
    assert m["is_child"] is False
    (h,) = m["mother"]["pregnancies"]
    assert h["pregnancy"]["outcome"] == "live_birth"
    assert h["birth"]["id"] == birth["id"]
    assert [c["id"] for c in m["mother"]["children"]] == [baby]


async def test_out_of_scope_is_404_and_roles(client, clinic, make_user, login, make_person):
    birth = await born(client, clinic)
    baby = birth["babies"][0]["person_id"]
    elsewhere = await login(await make_user("nurse"))
    for path in ("passport", "growth", "well-child-visits"):
        r = await client.get(f"/api/v1/persons/{baby}/{path}", headers=elsewhere)
        assert r.status_code == 404, (path, r.text)
    r = await client.put(
        f"/api/v1/persons/{baby}/newborn-screening", json={"hearing": "pass"}, headers=elsewhere
    )
    assert r.status_code == 404
    missing = await client.get("/api/v1/persons/999999999/passport", headers=elsewhere)
    assert missing.status_code == 404
    # roles: the obstetrician reads, the registrar may not; the obstetrician records nothing
    obst = await login(await make_user("obstetrician", facility_code=clinic.facility.code))
    assert (await client.get(f"/api/v1/persons/{baby}/passport", headers=obst)).status_code == 200
    r = await client.post(f"/api/v1/persons/{baby}/well-child-visits", json={}, headers=obst)
    assert r.status_code == 403
    registrar = await login(await make_user("registrar"))
    r = await client.get(f"/api/v1/persons/{baby}/passport", headers=registrar)
    assert r.status_code == 403


async def test_the_mother_as_citizen_reads_her_childs_passport_and_nobody_elses(
    client, clinic, make_user, login, make_person
):
    birth = await born(client, clinic)
    baby = birth["babies"][0]["person_id"]
    mother = await login(await make_user("citizen", person_id=clinic.woman.id))
    r = await client.get(f"/api/v1/persons/{baby}/passport", headers=mother)
    assert r.status_code == 200, r.text
    assert r.json()["birth"]["mother"]["id"] == clinic.woman.id
    stranger = await make_person(facility_code=clinic.facility.code, birth_date=TODAY)
    r = await client.get(f"/api/v1/persons/{stranger.id}/passport", headers=mother)
    assert r.status_code == 404
    r = await client.post(f"/api/v1/persons/{baby}/growth", json={"weight_kg": 3.5}, headers=mother)
    assert r.status_code == 403


async def test_newborn_screening_keeps_the_birth_values_and_takes_if_match(
    client, clinic, make_user, login
):
    baby = (await born(client, clinic, days_ago=5))["babies"][0]["person_id"]
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    url = f"/api/v1/persons/{baby}/newborn-screening"
    refused = await client.put(url, json={"hearing": "pass", "birth_weight_g": 3000}, headers=nurse)
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"birth_weight_g"}
    r = await client.put(
        url,
        json={"hearing": "pass", "hypothyroidism": "pending", "screened_on": TODAY.isoformat()},
        headers=nurse,
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == 'W/"1"'
    nb = r.json()
    assert (nb["birth_weight_g"], nb["from_birth_record"], nb["stored"]) == (3150, True, True)
    assert nb["screening"] == {"hearing": "pass", "hypothyroidism": "pending"}
    stale = await client.put(
        url, json={"hypothyroidism": "normal"}, headers={**nurse, "If-Match": 'W/"7"'}
    )
    assert stale.status_code == 412
    again = await client.put(
        url,
        json={"hearing": "pass", "hypothyroidism": "normal"},
        headers={**nurse, "If-Match": 'W/"1"'},
    )
    assert again.status_code == 200
    assert again.headers["etag"] == 'W/"2"'
    p = (await client.get(f"/api/v1/persons/{baby}/passport", headers=nurse)).json()
    assert p["newborn"]["screening"]["hypothyroidism"] == "normal"


async def test_newborn_values_are_entered_for_a_child_born_elsewhere(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=30))
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    p = (await client.get(f"/api/v1/persons/{child.id}/passport", headers=nurse)).json()
    assert (p["birth"], p["newborn"]) == (None, None)
    url = f"/api/v1/persons/{child.id}/newborn-screening"
    bad = await client.put(url, json={"birth_weight_g": 9000, "apgar_1": 11}, headers=nurse)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"birth_weight_g", "apgar_1"}
    r = await client.put(
        url, json={"birth_weight_g": 2900, "phenylketonuria": "normal"}, headers=nurse
    )
    assert r.status_code == 200, r.text
    assert (r.json()["birth_weight_g"], r.json()["from_birth_record"]) == (2900, False)


async def test_well_child_visits_are_recorded_and_count_in_the_schedule(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=45))
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    url = f"/api/v1/persons/{child.id}/well-child-visits"
    r = await client.post(
        url,
        json={
            "on": TODAY.isoformat(),
            "milestones": ["social_smile", "holds_head_up"],
            "feeding": "exclusive_breastfeeding",
            "illnesses": ["cold"],
            "notes": "well",
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["age_days"], r.json()["milestones"]) == (45, ["holds_head_up", "social_smile"])
    bad = await client.post(
        url,
        json={"on": (TODAY + timedelta(days=1)).isoformat(), "milestones": ["Bad code"]},
        headers=nurse,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"on", "milestones.0"}
    assert len((await client.get(url, headers=nurse)).json()) == 1
    p = (await client.get(f"/api/v1/persons/{child.id}/passport", headers=nurse)).json()
    six_weeks = next(s for s in p["schedule"] if s["age_days"] == 42)
    assert (six_weeks["status"], six_weeks["visit_id"]) == ("done", r.json()["id"])


async def test_visit_milestones_are_codes_of_the_packs_list(
    client, make_facility, make_person, make_user, login
):
    from salomat.domains.child.service import milestones

    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=400))
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    url = f"/api/v1/persons/{child.id}/well-child-visits"
    every = [m.code for m in milestones()]
    r = await client.post(url, json={"milestones": [every[-1], *every, every[0]]}, headers=nurse)
    assert r.status_code == 201, r.text
    assert r.json()["milestones"] == sorted(every)
    bad = await client.post(
        url, json={"milestones": ["walks_alone", "flies", "Walks_alone"]}, headers=nurse
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [
        {"field": "milestones.1", "message": '"flies" is not in the list of milestones'},
        {"field": "milestones.2", "message": '"Walks_alone" is not in the list of milestones'},
    ]
    ru = await client.post(
        url, json={"milestones": ["flies"]}, headers={**nurse, "Accept-Language": "ru"}
    )
    assert ru.status_code == 422
    assert ru.json()["errors"][0]["message"] == "«flies» нет в перечне этапов развития"
    # more than the schema's 40 values is refused before the list is read
    many = await client.post(url, json={"milestones": ["walks_alone"] * 41}, headers=nurse)
    assert many.status_code == 422
    assert len((await client.get(url, headers=nurse)).json()) == 1


def test_the_schedule_statuses():
    birth = date(2026, 1, 1)

    def visit(i: int, day: int) -> VisitOut:
        from datetime import UTC, datetime

        return VisitOut(
            id=i,
            person_id=1,
            on=birth + timedelta(days=day),
            age_days=day,
            milestones=[],
            feeding=None,
            notes=None,
            illnesses=[],
            facility_id=None,
            recorded_by="x",
            recorded_at=datetime.now(UTC),
        )

    today = birth + timedelta(days=65)
    s = visit_schedule(birth, [visit(1, 1), visit(2, 40)], today, "UZ")
    by_age = {x.age_days: x.status for x in s}
    assert by_age[1] == "done"
    assert by_age[3] == "missed"
    assert by_age[10] == "missed"
    assert by_age[42] == "done"
    assert by_age[70] == "due"
    assert by_age[98] == "upcoming"
    # one visit counts once
    assert sum(x.visit_id == 1 for x in s) == 1


async def test_a_merge_moves_the_childs_rows_and_an_unmerge_moves_them_back(
    client, make_facility, make_person, make_user, login
):
    from tests.domains.maternal.test_merge import merge, undo

    fac = await make_facility()
    birth = TODAY - timedelta(days=100)
    keep = await make_person(facility_code=fac.code, birth_date=birth, sex="male")
    dup = await make_person(
        facility_code=fac.code, birth_date=birth, sex="male", given_name=keep.given_name
    )
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    for path, body in (
        ("growth", {"weight_kg": 6.0}),
        ("well-child-visits", {"feeding": "mixed"}),
    ):
        r = await client.post(f"/api/v1/persons/{dup.id}/{path}", json=body, headers=nurse)
        assert r.status_code == 201, r.text
    r = await client.put(
        f"/api/v1/persons/{dup.id}/newborn-screening", json={"hearing": "pass"}, headers=nurse
    )
    assert r.status_code == 200, r.text
    registrar = await login(await make_user("registrar"))
    m = await merge(client, registrar, keep.id, dup.id)
    assert {"growth_measurement", "well_child_visit", "newborn_record"} <= set(
        m["moved"]["domains"]
    )
    p = (await client.get(f"/api/v1/persons/{keep.id}/passport", headers=nurse)).json()
    assert (len(p["measurements"]), len(p["visits"]), p["newborn"]["screening"]) == (
        1,
        1,
        {"hearing": "pass"},
    )
    await undo(client, registrar, m["id"])
    p = (await client.get(f"/api/v1/persons/{keep.id}/passport", headers=nurse)).json()
    assert (p["measurements"], p["visits"], p["newborn"]) == ([], [], None)


async def test_nothing_new_is_recorded_on_a_merged_record(
    client, make_facility, make_person, make_user, login
):
    from tests.domains.maternal.test_merge import merge
    from tests.domains.registry.test_web import web_login

    fac = await make_facility()
    birth = TODAY - timedelta(days=100)
    keep = await make_person(facility_code=fac.code, birth_date=birth, sex="male")
    dup = await make_person(
        facility_code=fac.code, birth_date=birth, sex="male", given_name=keep.given_name
    )
    nurse_user = await make_user("nurse", facility_code=fac.code)
    nurse = await login(nurse_user)
    registrar = await login(await make_user("registrar"))
    await merge(client, registrar, keep.id, dup.id)
    for method, path, body in (
        ("post", "growth", {"weight_kg": 6.0}),
        ("post", "well-child-visits", {"feeding": "mixed"}),
        ("put", "newborn-screening", {"hearing": "pass"}),
    ):
        r = await client.request(
            method, f"/api/v1/persons/{dup.id}/{path}", json=body, headers=nurse
        )
        assert r.status_code == 409, (path, r.text)
        assert f"merged into Patient {keep.id}" in r.text, path
    p = (await client.get(f"/api/v1/persons/{keep.id}/passport", headers=nurse)).json()
    assert (p["measurements"], p["visits"], p["newborn"]) == ([], [], None)
    # the passport page of the merged record offers no form; the surviving one does
    await web_login(client, nurse_user)
    page = await client.get(f"/children/{dup.id}")
    assert page.status_code == 200, page.text
    for form in ("visit-form", "newborn-form", "measure-form"):
        assert f'data-testid="{form}"' not in page.text, form
    page = await client.get(f"/children/{keep.id}")
    for form in ("visit-form", "newborn-form", "measure-form"):
        assert f'data-testid="{form}"' in page.text, form


async def test_the_vaccination_card_is_in_the_passport_for_roles_that_read_it(
    client, clinic, make_user, login
):
    baby = (await born(client, clinic, days_ago=3))["babies"][0]["person_id"]
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    p = (await client.get(f"/api/v1/persons/{baby}/passport", headers=nurse)).json()
    assert p["vaccinations"]["person_id"] == baby
    assert p["vaccinations"]["schedule"]  # the national calendar from birth
    obst = await login(await make_user("obstetrician", facility_code=clinic.facility.code))
    p = (await client.get(f"/api/v1/persons/{baby}/passport", headers=obst)).json()
    assert p["vaccinations"] is None
    assert p["vaccinations_href"]
