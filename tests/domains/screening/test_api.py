"""The REST API: 422 naming fields, Idempotency-Key, If-Match, scope (404), the
worklists, the citizen's screenings due. The default test pack (Uzbekistan: PP-103's
health-profile check at 18-40 and the address screening over 40)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.domains.screening.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()
AGO = (TODAY - timedelta(days=30)).isoformat()


async def test_screening_round_trip_and_idempotent_retry(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))  # over 40: address screening
    body = {
        "programme": "address_screening",
        "performed_on": AGO,
        "result": "abnormal",
        "next_step": "enrol",
        "measurements": [
            {"kind": "bp", "systolic": 162, "diastolic": 98},
            {"kind": "glucose_fasting", "value": 110, "unit": "mg/dL"},
            {"kind": "smoking", "code": "current"},
        ],
    }
    headers = {**auth, "Idempotency-Key": f"scr-{p.id}"}
    url = f"/api/v1/persons/{p.id}/screenings"
    a = await client.post(url, json=body, headers=headers)
    b = await client.post(url, json=body, headers=headers)
    assert a.status_code == b.status_code == 201, a.text
    assert a.json()["id"] == b.json()["id"]
    v = a.json()
    assert v["opportunistic"] is False
    g = v["measurements"][1]
    assert (g["unit"], g["unit_entered"]) == ("mmol/L", "mg/dL")
    r = await client.get(a.headers["location"], headers=auth)
    assert r.status_code == 200
    assert len(r.json()["measurements"]) == 3


@pytest.mark.parametrize(
    ("measurement", "field"),
    [
        ({"kind": "bp", "systolic": 400, "diastolic": 90}, "measurements.0.systolic"),
        ({"kind": "glucose_fasting", "value": 6, "unit": "mmol"}, "measurements.0.unit"),
        ({"kind": "glucose_fasting", "value": 900, "unit": "mmol/L"}, "measurements.0.value"),
    ],
)
async def test_bad_measurements_answer_422_naming_the_field(client, login, scr, measurement, field):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    r = await client.post(
        f"/api/v1/persons/{p.id}/screenings",
        json={"programme": "health_profile", "performed_on": AGO, "result": "normal",
              "measurements": [measurement]},
        headers=auth,
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert field in fields(r)


async def test_enrolment_diagnosis_duplicate_and_if_match(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    url = f"/api/v1/persons/{p.id}/dmp-enrolments"
    bad = await client.post(
        url, json={"programme": "t2dm", "diagnosis_code": "E10.9", "enrolled_on": AGO},
        headers=auth,
    )  # fmt: skip
    assert bad.status_code == 422
    assert "diagnosis_code" in fields(bad)
    ok = await client.post(
        url, json={"programme": "t2dm", "diagnosis_code": "E11.9", "enrolled_on": AGO},
        headers=auth,
    )  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert ok.headers["etag"] == 'W/"1"'
    again = await client.post(
        url, json={"programme": "t2dm", "diagnosis_code": "E11", "enrolled_on": AGO},
        headers=auth,
    )  # fmt: skip
    assert again.status_code == 409
    eid = ok.json()["id"]
    visit = await client.post(
        f"/api/v1/dmp-enrolments/{eid}/visits",
        json={"visited_on": TODAY.isoformat(),
              "measurements": [{"kind": "hba1c", "value": 7.4, "unit": "%"}]},
        headers=auth,
    )  # fmt: skip
    assert visit.status_code == 201, visit.text
    [c] = visit.json()["control"]
    assert (c["controlled"], c["lenient_controlled"]) == (False, True)
    end = {"ended_on": TODAY.isoformat(), "end_reason": "transferred"}
    none = await client.post(f"/api/v1/dmp-enrolments/{eid}/end", json=end, headers=auth)
    assert none.status_code == 412
    current = (await client.get(f"/api/v1/dmp-enrolments/{eid}", headers=auth)).headers["etag"]
    stale = await client.post(
        f"/api/v1/dmp-enrolments/{eid}/end", json=end, headers={**auth, "If-Match": 'W/"1"'}
    )
    assert current != 'W/"1"'  # the visit moved the next visit date: a new version
    assert stale.status_code == 412
    done = await client.post(
        f"/api/v1/dmp-enrolments/{eid}/end", json=end, headers={**auth, "If-Match": current}
    )
    assert done.status_code == 200, done.text
    assert done.json()["end_reason"] == "transferred"


async def test_out_of_scope_is_404_and_nurses_do_not_enrol(client, login, scr):
    other = await login(scr.other_doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    r = await client.get(f"/api/v1/persons/{p.id}/screening-card", headers=other)
    assert r.status_code == 404
    nurse = await login(scr.nurse_account)
    r = await client.post(
        f"/api/v1/persons/{p.id}/dmp-enrolments",
        json={"programme": "hypertension", "diagnosis_code": "I10", "enrolled_on": AGO},
        headers=nurse,
    )  # fmt: skip
    assert r.status_code == 403


async def test_worklists_and_counts(client, login, scr):
    auth = await login(scr.doctor_account)
    young = await scr.make_patient(date(TODAY.year - 25, 1, 1))
    older = await scr.make_patient(date(TODAY.year - 55, 1, 1))
    r = await client.get("/api/v1/screening/worklists/invitations", headers=auth)
    assert r.status_code == 200, r.text
    rows = {(x["person_id"], x["programme"]) for x in r.json()["invitations"]}
    assert (young.id, "health_profile") in rows
    assert (older.id, "address_screening") in rows
    assert (young.id, "address_screening") not in rows
    r = await client.get("/api/v1/screening/target-groups", headers=auth)
    assert r.status_code == 200
    counts = {c["programme"]: c for c in r.json()}
    assert counts["health_profile"]["eligible"] >= 1
    bad = await client.get("/api/v1/screening/worklists/nobody", headers=auth)
    assert bad.status_code == 422
    assert "kind" in fields(bad)
    overdue = await client.get("/api/v1/screening/worklists/overdue", headers=auth)
    assert overdue.status_code == 200


async def test_citizen_sees_her_screenings_due(client, login, scr, make_user):
    p = await scr.make_patient(date(TODAY.year - 45, 1, 1))
    citizen = await make_user("citizen", person_id=p.id)
    auth = await login(citizen)
    r = await client.get("/api/v1/me/screenings-due", headers=auth)
    assert r.status_code == 200, r.text
    [item] = r.json()
    assert item["programme"] == "address_screening"
    assert item["due_now"] is True
    doctor = await login(scr.doctor_account)
    r = await client.get("/api/v1/me/screenings-due", headers=doctor)
    assert r.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/screening/target-groups?on=0001-01-01",
        "/api/v1/screening/worklists/invitations?on=0001-01-01",
        "/api/v1/screening/worklists/overdue?on=9999-12-31",
    ],
)
async def test_a_day_outside_the_calendar_is_named_not_a_server_error(client, login, scr, url):
    auth = await login(scr.doctor_account)
    r = await client.get(url, headers=auth)
    assert r.status_code == 422, r.text
    assert "on" in fields(r)


async def test_the_card_on_a_day_outside_the_calendar_is_named(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))
    r = await client.get(f"/api/v1/persons/{p.id}/screening-card?on=0001-01-01", headers=auth)
    assert r.status_code == 422, r.text
    assert "on" in fields(r)


async def test_the_card_on_a_past_day_shows_only_what_was_recorded_by_then(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))
    url = f"/api/v1/persons/{p.id}/screenings"
    for ago, bp in ((60, [150, 95]), (10, [128, 80])):
        body = {
            "programme": "address_screening",
            "performed_on": (TODAY - timedelta(days=ago)).isoformat(),
            "result": "normal" if bp[0] < 140 else "abnormal",
            "next_step": "none" if bp[0] < 140 else "refer",
            "measurements": [{"kind": "bp", "systolic": bp[0], "diastolic": bp[1]}],
        }
        r = await client.post(url, json=body, headers=auth)
        assert r.status_code == 201, r.text
    card = f"/api/v1/persons/{p.id}/screening-card"
    now = (await client.get(card, headers=auth)).json()
    assert [t["systolic"] for t in now["bp_trend"]] == [150, 128]
    then = (await client.get(f"{card}?on={(TODAY - timedelta(days=30)).isoformat()}",
                             headers=auth)).json()  # fmt: skip
    assert [t["systolic"] for t in then["bp_trend"]] == [150]
    assert len(then["visits"]) == 1
