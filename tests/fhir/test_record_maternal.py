"""A hospital's Observation for a pregnant woman reaches the antenatal rules (issue 18,
"the domain rules that depend on such data (maternal advice from an external
Observation, for example) run on it").

End to end through FHIR as another system sends it, and read back as the family doctor
reads the pregnancy (REST API, FHIR DetectedIssue, the worklist, the page). Rules:
../shared/domain/maternal.md (DT.17: severe = systolic >= 160 or diastolic >= 110 on both
readings; DT.04: one reading >= 140/90 is measured again).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.anyio
TODAY = date.today()
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
FHIR_JSON = "application/fhir+json"


def bp(person_id: int, sbp: int, dbp: int, at: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "Blood pressure"},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": f"{TODAY.isoformat()}T{at}:00+05:00",
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": sbp, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": dbp, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
async def clinic(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": (TODAY - timedelta(weeks=30)).isoformat(), "gravida": 2, "parity": 1},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    return {
        "woman": woman,
        "pid": r.json()["id"],
        "doctor": doctor,
        "hospital": await login(await make_user("nurse")),
        "make_person": make_person,
    }


async def post(client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        "/fhir/Observation", json=body, headers={**headers, "Content-Type": FHIR_JSON}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def advice(client, c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    r = await client.get(f"/api/v1/pregnancies/{c['pid']}", headers=c["doctor"])
    assert r.status_code == 200, r.text
    return {a["code"]: a for a in r.json()["advice"]}


async def test_a_hospitals_severe_blood_pressure_gives_the_advice_and_the_flag(client, clinic):
    c = clinic
    first = await post(client, c["hospital"], bp(c["woman"].id, 165, 112, "09:00"))
    got = await advice(client, c)
    assert "remeasure_bp" in got  # one reading: measured again (DT.04)
    assert "severe_hypertension" not in got
    second = await post(client, c["hospital"], bp(c["woman"].id, 163, 111, "09:15"))
    got = await advice(client, c)
    assert "severe_hypertension" in got
    assert [e["resource"] for e in got["severe_hypertension"]["details"]["external"]] == [
        first["id"],
        second["id"],
    ]
    # the same advice over FHIR
    r = await client.get(f"/fhir/DetectedIssue?patient={c['woman'].id}", headers=c["doctor"])
    assert r.status_code == 200, r.text
    codes = {
        e["resource"]["code"]["coding"][0]["code"]
        for e in r.json().get("entry", [])
        if e["resource"]["status"] == "final"
    }
    assert "severe_hypertension" in codes
    # the family doctor's worklist flags her: high risk, no referral accepted
    r = await client.get("/api/v1/worklists/antenatal", headers=c["doctor"])
    assert r.status_code == 200, r.text
    row = next(x for x in r.json() if x["pregnancy_id"] == c["pid"])
    assert row["risk_level"] == "high"
    assert "high_risk_no_referral" in {x["code"] for x in row["reasons"]}
    # the pregnancy page names the source
    r = await client.get(f"/patients/{c['woman'].id}/pregnancy", headers=c["doctor"])
    assert r.status_code == 200, r.text
    assert f"Observation {second['id']}, {TODAY:%d.%m.%Y}" in r.text


async def test_a_transaction_of_two_readings(client, clinic):
    c = clinic
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}",
                "resource": bp(c["woman"].id, 160, 100, at),
                "request": {"method": "POST", "url": "Observation"},
            }
            for i, at in ((1, "08:00"), (2, "08:20"))
        ],
    }
    r = await client.post(
        "/fhir", json=bundle, headers={**c["hospital"], "Content-Type": FHIR_JSON}
    )
    assert r.status_code == 200, r.text
    assert "severe_hypertension" in await advice(client, c)  # systolic >= 160 on both


async def test_just_below_severe_is_hypertension(client, clinic):
    c = clinic
    await post(client, c["hospital"], bp(c["woman"].id, 159, 109, "09:00"))
    await post(client, c["hospital"], bp(c["woman"].id, 159, 109, "09:15"))
    got = await advice(client, c)
    assert "hypertension" in got
    assert "severe_hypertension" not in got


async def test_update_and_entered_in_error(client, clinic):
    c = clinic
    await post(client, c["hospital"], bp(c["woman"].id, 165, 112, "09:00"))
    second = await post(client, c["hospital"], bp(c["woman"].id, 163, 111, "09:15"))
    assert "severe_hypertension" in await advice(client, c)

    async def put(body: dict[str, Any], version: str) -> None:
        r = await client.put(
            f"/fhir/Observation/{second['id']}",
            json={**body, "id": second["id"]},
            headers={**c["hospital"], "Content-Type": FHIR_JSON, "If-Match": f'W/"{version}"'},
        )
        assert r.status_code == 200, r.text

    # corrected to a normal value: the pair is no longer raised on both readings
    await put(bp(c["woman"].id, 120, 80, "09:15", status="corrected"), "1")
    got = await advice(client, c)
    assert not {"severe_hypertension", "hypertension"} & set(got)
    # back to severe, then withdrawn as entered in error: only the first reading is left
    await put(bp(c["woman"].id, 163, 111, "09:15", status="amended"), "2")
    assert "severe_hypertension" in await advice(client, c)
    await put(bp(c["woman"].id, 163, 111, "09:15", status="entered-in-error"), "3")
    got = await advice(client, c)
    assert "severe_hypertension" not in got
    assert "remeasure_bp" in got


async def test_no_pregnancy_the_observation_is_kept_as_sent(client, clinic):
    """No current pregnancy: the record keeps the Observation, maternal takes nothing
    (tests/domains/maternal/test_external_readings.py counts the rows)."""
    c = clinic
    man = await c["make_person"](sex="male")
    body = await post(client, c["hospital"], bp(man.id, 170, 115, "09:00"))
    r = await client.get(f"/fhir/Observation/{body['id']}", headers=c["hospital"])
    assert r.status_code == 200, r.text
    assert r.json()["component"][0]["valueQuantity"]["value"] == 170


async def test_two_readings_sent_at_once_are_both_read(client, clinic, backend, monkeypatch):
    """Two hospital Observations for her stored at the same moment: each request takes its
    reading and evaluates the pregnancy one after the other (the pregnancy row is locked
    first), so the last evaluation sees both readings (PostgreSQL; SQLite has one
    writer)."""
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    from salomat.domains.record.service import writes

    barrier = asyncio.Barrier(2)
    take = writes.maternal.take_external_observation

    async def together(*args: Any, **kw: Any) -> int:
        # both Observations are stored; both reach the antenatal rules now
        await asyncio.wait_for(barrier.wait(), 60)
        return await take(*args, **kw)

    monkeypatch.setattr(writes.maternal, "take_external_observation", together)
    c = clinic
    answers = await asyncio.gather(
        *[
            client.post(
                "/fhir/Observation",
                json=bp(c["woman"].id, 166, 113, at),
                headers={**c["hospital"], "Content-Type": FHIR_JSON},
            )
            for at in ("09:00", "09:10")
        ]
    )
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    got = await advice(client, c)
    assert "severe_hypertension" in got
    assert {e["resource"] for e in got["severe_hypertension"]["details"]["external"]} == {
        r.json()["id"] for r in answers
    }
