"""A doctor's referral through the API: indication to profile, contraindications that warn
or refuse (and a clinician's attestation), entitlement dates, one referral at a time, and
bad input refused naming the field with nothing stored."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.domains.sanatorium.service.rules import local_today
from tests.domains.sanatorium.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days


def _years_ago(years: int, days: int = 0) -> date:
    try:
        d = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        d = TODAY.replace(year=TODAY.year - years, day=28)
    return d + timedelta(days=days)


async def _refer(client, world, person, **body):  # type: ignore[no-untyped-def]
    payload = {"indication": "I25.1", "category": "disability_1_2", **body}
    return await client.post(
        f"/api/v1/persons/{person.id}/sanatorium-referrals", json=payload, headers=world.doctor
    )


async def test_a_referral_is_queued_in_the_indicated_profile_with_the_category_tier(client, world):
    p = await world.make_patient()
    r = await _refer(client, world, p)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["profile"] == "cardiology"
    assert body["status"] == "queued"
    assert body["tier"] == 2
    assert body["indication"] == "I25.1"
    got = await client.get(f"/api/v1/sanatorium-referrals/{body['id']}", headers=world.doctor)
    assert got.status_code == 200
    assert got.json()["position"]["position"] >= 1
    events = await client.get(
        f"/api/v1/sanatorium-referrals/{body['id']}/events", headers=world.doctor
    )
    assert [e["kind"] for e in events.json()] == ["joined"]


async def test_no_indication_or_a_wrong_one_is_refused_naming_the_field(client, world):
    p = await world.make_patient()
    missing = await client.post(
        f"/api/v1/persons/{p.id}/sanatorium-referrals",
        json={"category": "disability_1_2"},
        headers=world.doctor,
    )
    assert missing.status_code == 422
    assert "indication" in fields(missing)
    not_indicated = await _refer(client, world, p, indication="J11.1")
    assert not_indicated.status_code == 422
    assert "J11.1" in fields(not_indicated)["indication"]
    wrong_profile = await _refer(client, world, p, profile="digestive")
    assert wrong_profile.status_code == 422
    assert "Cardiology" in fields(wrong_profile)["profile"]  # named, not coded
    bad_category = await _refer(client, world, p, category="astronaut")
    assert bad_category.status_code == 422
    assert "category" in fields(bad_category)
    listed = await client.get(f"/api/v1/persons/{p.id}/sanatorium-referrals", headers=world.doctor)
    assert listed.json() == []


async def test_a_contraindication_refuses_unless_a_clinician_attests(client, world):
    p = await world.make_patient()
    refused = await _refer(client, world, p, conditions=["J18.9"])
    assert refused.status_code == 422
    assert "J18.9" in fields(refused)["conditions.0"]
    attested = await _refer(
        client, world, p, conditions=["J18.9"], attestation="Pneumonia resolved, X-ray clear"
    )
    assert attested.status_code == 201, attested.text
    body = attested.json()
    assert body["attested_by"] == world.doctor_account.username
    assert body["warnings"] == ["override:acute_disease:J18.9"]


async def test_a_warning_lets_the_referral_through_and_says_so(client, world):
    p = await world.make_patient()
    r = await _refer(client, world, p, conditions=["I50.0"])
    assert r.status_code == 201
    assert r.json()["warnings"] == ["warn:needs_assessment:I50.0"]
    assert r.json()["attested_by"] is None


async def test_active_tuberculosis_is_the_indication_of_the_tuberculosis_profile(client, world):
    p = await world.make_patient()
    r = await _refer(client, world, p, indication="A15.0")
    assert r.status_code == 201, r.text
    assert r.json()["profile"] == "tuberculosis"


async def test_entitlement_boundaries_from_the_end_of_the_last_stay(client, world):
    # disability group II: every 2 years from the end of the last stay (the note's vector)
    early = await world.make_patient()
    r = await _refer(client, world, early, last_stay_ended_on=_years_ago(2, days=1).isoformat())
    assert r.status_code == 422
    since = _years_ago(0, days=1)
    assert f"{since:%d.%m.%Y}" in fields(r)["category"]
    on_the_day = await _refer(client, world, early, last_stay_ended_on=_years_ago(2).isoformat())
    assert on_the_day.status_code == 201, on_the_day.text
    assert on_the_day.json()["entitled_from"] == TODAY.isoformat()
    later = await world.make_patient()
    r = await _refer(client, world, later, last_stay_ended_on=_years_ago(2, days=-1).isoformat())
    assert r.status_code == 201


async def test_one_referral_in_progress_per_person(client, world):
    p = await world.make_patient()
    first = await _refer(client, world, p)
    again = await _refer(client, world, p, indication="M17.0")
    assert again.status_code == 409
    assert first.json()["number"] in again.json()["detail"]


async def test_a_person_outside_the_doctors_scope_is_not_found(client, world, make_person):
    stranger = await make_person(birth_date=date(1950, 1, 1))
    r = await _refer(client, world, stranger)
    assert r.status_code == 404


async def test_a_nurse_may_read_but_not_refer(client, world, make_user, login):
    nurse = await login(await make_user("nurse", facility_code=world.polyclinic.code))
    p = await world.make_patient()
    r = await client.post(
        f"/api/v1/persons/{p.id}/sanatorium-referrals",
        json={"indication": "I25.1", "category": "disability_1_2"},
        headers=nurse,
    )
    assert r.status_code == 403


async def test_a_clerk_correcting_the_category_moves_the_entry_and_logs_why(
    client, world, make_user, login
):
    clerk = await login(await make_user("registrar", facility_code=world.polyclinic.code))
    p = await world.make_patient()
    ref = (await _refer(client, world, p, category="old_age_pensioner")).json()
    assert ref["tier"] == 3
    r = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/reorder",
        json={"category": "chernobyl", "reason": "certificate of a Chernobyl liquidator shown"},
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == 1
    events = (
        await client.get(f"/api/v1/sanatorium-referrals/{ref['id']}/events", headers=world.doctor)
    ).json()
    assert events[-1]["kind"] == "reordered"
    assert events[-1]["reason"] == "certificate of a Chernobyl liquidator shown"
    assert events[-1]["detail"]["before"]["tier"] == 3


async def test_the_citizen_applies_and_a_doctor_confirms(client, world, make_user, login):
    p = await world.make_patient()
    me = await login(await make_user("citizen", person_id=p.id))
    r = await client.post(
        "/api/v1/me/sanatorium-referrals",
        json={"profile": "musculoskeletal", "category": "old_age_pensioner"},
        headers=me,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending_indication"
    ref = r.json()
    wrong = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/confirm",
        json={"indication": "I25.1"},
        headers=world.doctor,
    )
    assert wrong.status_code == 422
    assert "profile" in fields(wrong)
    ok = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/confirm",
        json={"indication": "M17.0"},
        headers=world.doctor,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "queued"
    assert ok.json()["applied_at"] == ref["applied_at"]
    mine = (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()
    assert mine[0]["position"]["position"] >= 1
    assert len(mine[0]["position"]["pseudonym"]) == 10
