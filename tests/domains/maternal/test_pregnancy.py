"""The pregnancy register through REST: open, contacts, advice, close (issue 4, items 1-3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.anyio

TODAY = date.today()


@dataclass
class Clinic:
    facility: Any
    woman: Any
    doctor: dict[str, str]


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> Clinic:
    """A polyclinic, a woman attached there and her family doctor."""
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    return Clinic(fac, woman, doctor)


def registration(lmp: date, **kw: Any) -> dict[str, Any]:
    return {"lmp": lmp.isoformat(), "gravida": 1, "parity": 0, **kw}


async def open_pregnancy(client, c: Clinic, **kw: Any) -> dict[str, Any]:
    lmp = kw.pop("lmp", TODAY - timedelta(weeks=10))
    r = await client.post(
        f"/api/v1/persons/{c.woman.id}/pregnancies", json=registration(lmp, **kw), headers=c.doctor
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == f'W/"{r.json()["version"]}"'
    return r.json()


async def add_contact(client, c: Clinic, preg: dict[str, Any], **values: Any):
    etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=c.doctor)).headers["etag"]
    return await client.post(
        f"/api/v1/pregnancies/{preg['id']}/contacts",
        json=values,
        headers={**c.doctor, "If-Match": etag},
    )


def fields(r) -> set[str]:
    return {e["field"] for e in r.json().get("errors", [])}


# ---- the acceptance example ------------------------------------------------------------


async def test_raised_pressure_twice_at_the_second_contact_gives_hypertension_advice_and_high_risk(
    client, clinic
):
    lmp = TODAY - timedelta(weeks=20)
    registered = lmp + timedelta(weeks=10)
    preg = await open_pregnancy(
        client, clinic, lmp=lmp, registered_on=registered.isoformat(), ga_days_at_scan=None
    )
    assert preg["status"] == "current"
    assert preg["edd"] == (lmp + timedelta(days=280)).isoformat()
    assert preg["dating_method"] == "lmp"
    assert preg["ga_weeks"] == "20w0d"
    first = await add_contact(
        client,
        clinic,
        preg,
        on=registered.isoformat(),
        systolic_1=112,
        diastolic_1=72,
        systolic_2=110,
        diastolic_2=70,
        hiv_test_done=True,
        syphilis_test_done=True,
        ultrasound_done=True,
    )
    assert first.status_code == 201, first.text
    assert first.json()["contacts"][0]["ga_weeks"] == "10w0d"
    assert "hypertension" not in {a["code"] for a in first.json()["advice"]}

    second = await add_contact(
        client,
        clinic,
        preg,
        on=TODAY.isoformat(),
        systolic_1=150,
        diastolic_1=95,
        systolic_2=150,
        diastolic_2=95,
        urine_protein="none",
    )
    assert second.status_code == 201, second.text
    body = second.json()
    assert len(body["contacts"]) == 2
    assert body["risk_level"] == "high"
    hyper = [a for a in body["advice"] if a["code"] == "hypertension"]
    assert len(hyper) == 1, body["advice"]
    advice = hyper[0]
    assert advice["rule_id"] == "DT.17"
    assert "DT.17" in advice["source"]
    assert "WHO" in advice["source"]
    assert advice["values"]["systolic"] == [150, 150]
    assert advice["values"]["diastolic"] == [95, 95]
    assert advice["active"] is True
    assert advice["contact_id"] == body["contacts"][1]["id"]

    listed = await client.get(f"/api/v1/pregnancies/{preg['id']}/advice", headers=clinic.doctor)
    assert listed.status_code == 200
    assert "hypertension" in {a["code"] for a in listed.json()}
    # earlier evaluations are kept, retired
    everything = await client.get(
        f"/api/v1/pregnancies/{preg['id']}/advice?retired=true", headers=clinic.doctor
    )
    assert any(not a["active"] for a in everything.json())
    read = await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)
    assert read.json()["risk_level"] == "high"
    assert read.headers["etag"] == f'W/"{read.json()["version"]}"'


# ---- impossible values: refused, naming the field, nothing stored -------------------------


async def test_an_lmp_in_the_future_is_refused_naming_lmp_and_nothing_is_stored(client, clinic):
    r = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies",
        json=registration(TODAY + timedelta(days=3)),
        headers=clinic.doctor,
    )
    assert r.status_code == 422, r.text
    assert "lmp" in fields(r)
    listed = await client.get(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies", headers=clinic.doctor
    )
    assert listed.json() == []


async def test_every_wrong_registration_field_is_named(client, clinic):
    r = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies",
        json=registration(
            TODAY - timedelta(weeks=8),
            registered_on=(TODAY + timedelta(days=1)).isoformat(),
            gravida=2,
            parity=2,
            conditions=["Chronic Hypertension!"],
        ),
        headers=clinic.doctor,
    )
    assert r.status_code == 422
    assert {"registered_on", "parity", "conditions"} <= fields(r)


async def test_a_blood_pressure_of_400_over_20_is_refused_and_nothing_changes(client, clinic):
    preg = await open_pregnancy(client, clinic)
    r = await add_contact(client, clinic, preg, systolic_1=400, diastolic_1=20)
    assert r.status_code == 422, r.text
    assert "systolic_1" in fields(r)
    read = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)).json()
    assert read["contacts"] == []
    assert read["version"] == preg["version"]


async def test_impossible_measurements_are_each_named(client, clinic):
    preg = await open_pregnancy(client, clinic)
    r = await add_contact(
        client,
        clinic,
        preg,
        systolic_1=120,
        diastolic_1=130,
        temperature_c_1=47,
        pulse_1=300,
        fetal_heart_rate_1=20,
        haemoglobin_g_l=400,
        fasting_glucose_mmol_l=55,
        danger_signs=["feeling_blue"],
        on=(TODAY + timedelta(days=2)).isoformat(),
    )
    assert r.status_code == 422
    assert {
        "diastolic_1",
        "temperature_c_1",
        "pulse_1",
        "fetal_heart_rate_1",
        "haemoglobin_g_l",
        "fasting_glucose_mmol_l",
        "danger_signs",
        "on",
    } <= fields(r)


async def test_a_contact_over_45_weeks_is_refused_naming_its_date(client, clinic):
    lmp = TODAY - timedelta(weeks=47)
    preg = await open_pregnancy(
        client, clinic, lmp=lmp, registered_on=(lmp + timedelta(weeks=9)).isoformat()
    )
    r = await add_contact(client, clinic, preg, systolic_1=110, diastolic_1=70)
    assert r.status_code == 422
    assert fields(r) == {"on"}
    assert "45 weeks" in r.json()["errors"][0]["message"]
    early = await add_contact(client, clinic, preg, on=(lmp - timedelta(days=3)).isoformat())
    assert early.status_code == 422
    assert fields(early) == {"on"}


async def test_an_age_at_lmp_outside_10_to_60_is_refused(client, make_person, make_user, login):
    fac_user = await make_user("family_doctor")
    child = await make_person(
        facility_code=fac_user.facility_code, birth_date=date(TODAY.year - 8, 1, 1)
    )
    auth = await login(fac_user)
    r = await client.post(
        f"/api/v1/persons/{child.id}/pregnancies",
        json=registration(TODAY - timedelta(weeks=8)),
        headers=auth,
    )
    assert r.status_code == 422
    assert "lmp" in fields(r)


# ---- one current pregnancy, then a new one after closing ------------------------------


async def test_a_second_current_pregnancy_is_refused(client, clinic):
    preg = await open_pregnancy(client, clinic)
    r = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies",
        json=registration(TODAY - timedelta(weeks=6)),
        headers=clinic.doctor,
    )
    assert r.status_code == 409
    assert r.json()["current_pregnancy_id"] == preg["id"]


async def test_closing_with_an_outcome_allows_a_new_pregnancy(client, clinic):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=30))
    url = f"/api/v1/pregnancies/{preg['id']}/close"
    no_etag = await client.post(url, json={"outcome": "live_birth"}, headers=clinic.doctor)
    assert no_etag.status_code == 412
    stale = await client.post(
        url, json={"outcome": "live_birth"}, headers={**clinic.doctor, "If-Match": 'W/"999"'}
    )
    assert stale.status_code == 412
    # at 30 weeks a fetal death is a stillbirth, recorded as a birth
    for outcome in ("live_birth", "stillbirth", "maternal_death", "miscarriage"):
        refused = await client.post(
            url,
            json={"outcome": outcome},
            headers={**clinic.doctor, "If-Match": f'W/"{preg["version"]}"'},
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["outcome"]
    closed = await client.post(
        url,
        json={"outcome": "termination"},
        headers={**clinic.doctor, "If-Match": f'W/"{preg["version"]}"'},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["outcome"] == "termination"
    assert closed.json()["closed_on"] == TODAY.isoformat()
    again = await client.post(
        url,
        json={"outcome": "miscarriage"},
        headers={**clinic.doctor, "If-Match": closed.headers["etag"]},
    )
    assert again.status_code == 409
    late = await add_contact(client, clinic, preg, systolic_1=110, diastolic_1=70)
    assert late.status_code == 409

    new = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=3), gravida=2, parity=1)
    assert new["id"] != preg["id"]
    listed = await client.get(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies", headers=clinic.doctor
    )
    assert [p["status"] for p in listed.json()] == ["current", "closed"]


async def test_an_unknown_outcome_is_refused(client, clinic):
    preg = await open_pregnancy(client, clinic)
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/close",
        json={"outcome": "lost"},
        headers={**clinic.doctor, "If-Match": f'W/"{preg["version"]}"'},
    )
    assert r.status_code == 422
    assert fields(r) == {"outcome"}


# ---- who may ------------------------------------------------------------------------------


async def test_a_clinician_of_another_facility_gets_404_as_for_a_missing_record(
    client, clinic, make_user, login
):
    preg = await open_pregnancy(client, clinic)
    stranger = await login(await make_user("obstetrician"))
    for r in (
        await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=stranger),
        await client.get(f"/api/v1/pregnancies/{preg['id']}/advice", headers=stranger),
        await client.get(f"/api/v1/persons/{clinic.woman.id}/pregnancies", headers=stranger),
        await client.post(
            f"/api/v1/persons/{clinic.woman.id}/pregnancies",
            json=registration(TODAY - timedelta(weeks=8)),
            headers=stranger,
        ),
        await client.get("/api/v1/pregnancies/999999999", headers=clinic.doctor),
    ):
        assert r.status_code == 404, r.text


async def test_roles(client, clinic, make_user, login):
    preg = await open_pregnancy(client, clinic)
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    registrar = await login(await make_user("registrar"))
    refused = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies",
        json=registration(TODAY - timedelta(weeks=8)),
        headers=nurse,
    )
    assert refused.status_code == 403
    contact = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/contacts",
        json={"systolic_1": 118, "diastolic_1": 76},
        headers={**nurse, "If-Match": f'W/"{preg["version"]}"'},
    )
    assert contact.status_code == 201, contact.text
    assert (
        await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=registrar)
    ).status_code == 403


async def test_a_dead_woman_and_a_man_are_refused(client, clinic, make_person):
    auth = clinic.doctor
    person = (await client.get(f"/api/v1/persons/{clinic.woman.id}", headers=auth)).json()
    died = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/death",
        json={"deceased_on": (TODAY - timedelta(days=1)).isoformat(), "cause": "I21.9"},
        headers={**auth, "If-Match": f'W/"{person["version"]}"'},
    )
    assert died.status_code == 200, died.text
    r = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/pregnancies",
        json=registration(TODAY - timedelta(weeks=8)),
        headers=auth,
    )
    assert r.status_code == 409
    assert "died" in r.json()["detail"]

    man = await make_person(facility_code=clinic.facility.code, sex="male")
    r = await client.post(
        f"/api/v1/persons/{man.id}/pregnancies",
        json=registration(TODAY - timedelta(weeks=8)),
        headers=auth,
    )
    assert r.status_code == 409
    assert "not registered as female" in r.json()["detail"]


async def test_her_death_closes_the_current_pregnancy(client, clinic):
    preg = await open_pregnancy(client, clinic)
    person = (await client.get(f"/api/v1/persons/{clinic.woman.id}", headers=clinic.doctor)).json()
    died = await client.post(
        f"/api/v1/persons/{clinic.woman.id}/death",
        json={"deceased_on": TODAY.isoformat(), "cause": "O15.0"},
        headers={**clinic.doctor, "If-Match": f'W/"{person["version"]}"'},
    )
    assert died.status_code == 200, died.text
    # she is no longer attached: the record is reached through the scope she had
    from salomat.core.db import session_factory
    from salomat.domains.maternal.models import Pregnancy

    async with session_factory()() as s:
        p = await s.get(Pregnancy, preg["id"])
        assert (p.status, p.outcome, p.closed_on) == ("closed", "maternal_death", TODAY)


async def test_reads_and_writes_are_audited_with_the_patient(client, clinic, db):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    preg = await open_pregnancy(client, clinic)
    await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type).where(
                AuditEvent.patient_id == clinic.woman.id
            )
        )
    ).all()
    assert ("create", "EpisodeOfCare") in rows
    assert ("read", "EpisodeOfCare") in rows


# ---- a registry merge moves her pregnancies ------------------------------------------------


async def test_a_merge_moves_her_pregnancy_and_an_undo_moves_it_back(
    client, clinic, make_person, make_user, login
):
    preg = await open_pregnancy(client, clinic)
    await add_contact(client, clinic, preg, systolic_1=110, diastolic_1=70)
    survivor = await make_person(facility_code=clinic.facility.code)
    registrar = await login(await make_user("registrar"))
    merged = await client.post(
        f"/api/v1/persons/{survivor.id}/merge",
        json={"merged_id": clinic.woman.id, "reason": "the same woman registered twice"},
        headers=registrar,
    )
    assert merged.status_code == 200, merged.text
    assert set(merged.json()["moved"]["domains"]) >= {"pregnancy", "antenatal_contact"}
    read = await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)
    assert read.json()["person_id"] == survivor.id
    assert {c["person_id"] for c in read.json()["contacts"]} == {survivor.id}
    undone = await client.post(
        f"/api/v1/merges/{merged.json()['id']}/undo",
        json={"reason": "they are two different women"},
        headers=registrar,
    )
    assert undone.status_code == 200, undone.text
    read = await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)
    assert read.json()["person_id"] == clinic.woman.id


async def test_a_merge_of_two_records_each_with_a_current_pregnancy_is_refused(
    client, clinic, make_person, make_user, login
):
    await open_pregnancy(client, clinic)
    other = Clinic(
        clinic.facility, await make_person(facility_code=clinic.facility.code), clinic.doctor
    )
    await open_pregnancy(client, other)
    registrar = await login(await make_user("registrar"))
    r = await client.post(
        f"/api/v1/persons/{other.woman.id}/merge",
        json={"merged_id": clinic.woman.id, "reason": "the same woman registered twice"},
        headers=registrar,
    )
    assert r.status_code == 409
    assert "current pregnancy" in r.json()["detail"]
