"""Epidemic surveillance over FHIR: a case notification posted as a Condition alone or as a
Bundle with its laboratory Observation (Condition/$notify), read back as Condition and
Observation; refusals naming the element; a SANER-style MeasureReport of a facility's day
posted and produced for the facility and its region; permissions; answers checked
against HL7's R4 JSON schema."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.epidemic.service.notifications import today
from salomat.fhir import epidemic as mapper
from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@pytest.fixture
async def scene(make_place, make_person, make_user, login, make_facility):  # type: ignore[no-untyped-def]
    place = await make_place()
    person = await make_person(birth_date=date(2010, 1, 1))
    doctor = await make_user("family_doctor")
    lab = await make_facility()
    return {
        "place": place,
        "person": person,
        "doctor": doctor,
        "lab": lab.code,
        "doctor_auth": await login(doctor),
        "epi_auth": await login(await make_user("epidemiologist")),
    }


def _condition(
    s: dict[str, Any], onset: date | None = None, report: date | None = None
) -> dict[str, Any]:
    report = report or today()
    onset = onset or report - timedelta(days=2)
    return {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{s['person'].id}"},
        "code": {"coding": [{"system": ICD10, "code": "U07.1"}]},
        "onsetDateTime": onset.isoformat(),
        "recordedDate": report.isoformat(),
        "extension": [
            {
                "url": mapper.DISTRICT_EXT,
                "valueCoding": {"system": "urn:salomat:territory", "code": s["place"].district},
            }
        ],
    }


def _lab(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "SARS-CoV-2 RNA PCR"},
        "subject": {"reference": f"Patient/{s['person'].id}"},
        "valueCodeableConcept": {"coding": [{"system": mapper.SNOMED, "code": mapper.POSITIVE}]},
        "performer": [{"identifier": {"system": "urn:salomat:facility", "value": s["lab"]}}],
    }


async def test_condition_alone_and_read_back(client, scene) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/fhir/Condition/$notify", json=_condition(scene), headers=scene["doctor_auth"]
    )
    assert r.status_code == 201, r.text
    cond = r.json()
    assert cond["id"].startswith("epi-")
    assert cond["verificationStatus"]["coding"][0]["code"] == "provisional"
    r = await client.get(f"/fhir/Condition/{cond['id']}", headers=scene["epi_auth"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON)
    back = r.json()
    assert back["code"]["coding"][0]["code"] == "U07.1"
    assert back["subject"]["reference"] == f"Patient/{scene['person'].id}"
    errors = await schema_errors([("condition", back)])
    assert not invalid(errors), invalid(errors)


async def test_bundle_with_lab_observation(client, scene) -> None:  # type: ignore[no-untyped-def]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": _condition(scene), "request": {"method": "POST", "url": "Condition"}},
            {"resource": _lab(scene), "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    r = await client.post("/fhir/Condition/$notify", json=bundle, headers=scene["doctor_auth"])
    assert r.status_code == 201, r.text
    cond = r.json()
    assert cond["verificationStatus"]["coding"][0]["code"] == "confirmed"
    n = cond["id"].removeprefix("epi-")
    r = await client.get(f"/fhir/Observation/epi-lab-{n}", headers=scene["epi_auth"])
    assert r.status_code == 200, r.text
    obs = r.json()
    assert obs["performer"][0]["identifier"]["value"] == scene["lab"]
    errors = await schema_errors([("condition", cond), ("observation", obs)])
    assert not invalid(errors), invalid(errors)


async def test_refusals_name_the_element(client, scene) -> None:  # type: ignore[no-untyped-def]
    t = today()
    late = _condition(scene, onset=t, report=t - timedelta(days=1))
    r = await client.post("/fhir/Condition/$notify", json=late, headers=scene["doctor_auth"])
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "Condition.onsetDateTime" in r.text
    bad = _condition(scene)
    bad["code"]["coding"][0]["code"] = "J18.9"
    r = await client.post("/fhir/Condition/$notify", json=bad, headers=scene["doctor_auth"])
    assert r.status_code == 422
    assert "Condition.code" in r.text
    for body in (
        {"resourceType": "Condition"},
        {"resourceType": "Bundle", "type": "batch"},
        [1],
        "x",
    ):
        r = await client.post("/fhir/Condition/$notify", json=body, headers=scene["doctor_auth"])
        assert 400 <= r.status_code < 500, (body, r.status_code)


async def test_who_may_notify_and_read(client, scene, make_user, login) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/fhir/Condition/$notify", json=_condition(scene), headers=scene["doctor_auth"]
    )
    cid = r.json()["id"]
    for role in ("analyst", "registrar", "pharmacist"):
        auth = await login(await make_user(role))
        r = await client.post("/fhir/Condition/$notify", json=_condition(scene), headers=auth)
        assert r.status_code == 403, role
    other = await login(await make_user("family_doctor"))
    assert (await client.get(f"/fhir/Condition/{cid}", headers=other)).status_code == 404


async def test_measure_report_posted_and_produced(client, make_user, login, make_place) -> None:  # type: ignore[no-untyped-def]
    nurse = await make_user("nurse")
    auth = await login(nurse)
    day = today() - timedelta(days=1)
    for profile, beds in (("infectious", 30), ("icu", 6)):
        r = await client.post(
            "/api/v1/epidemic/beds",
            json={
                "facility": nurse.facility_code,
                "profile": profile,
                "beds": beds,
                "valid_from": (day - timedelta(days=10)).isoformat(),
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text

    def group(profile: str, value: str, occupied: int) -> dict[str, Any]:
        return {
            "code": {
                "coding": [
                    {"system": mapper.SANER_GROUP, "code": "Beds"},
                    {"system": mapper.PROFILE_SYSTEM, "code": profile},
                ]
            },
            "population": [
                {
                    "code": {"coding": [{"system": mapper.SANER_VALUES, "code": value}]},
                    "count": occupied,
                },
                {
                    "code": {"coding": [{"system": mapper.FLOW_SYSTEM, "code": "admitted"}]},
                    "count": 2,
                },
            ],
        }

    report = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": mapper.SANER_MEASURE,
        "subject": {"identifier": {"system": "urn:salomat:facility", "value": nurse.facility_code}},
        "period": {"start": day.isoformat(), "end": day.isoformat()},
        "group": [group("infectious", "numTotBedsOcc", 30), group("icu", "numICUBedsOcc", 5)],
    }
    r = await client.post("/fhir/MeasureReport", json=report, headers=auth)
    assert r.status_code == 201, r.text
    out = r.json()
    # SANER's one Beds group: every profile's beds summed; intensive care its own
    saner = [g for g in out["group"] if g["code"]["coding"][0]["system"] == mapper.SANER_GROUP]
    assert len(saner) == 1
    assert len(saner[0]["code"]["coding"]) == 1
    pops = {p["code"]["coding"][0]["code"]: p["count"] for p in saner[0]["population"]}
    assert pops["numTotBeds"] == 36
    assert pops["numTotBedsOcc"] == 35
    assert pops["numTotBedsAvail"] == 1
    assert pops["numICUBeds"] == 6
    assert pops["numICUBedsOcc"] == 5
    assert pops["numICUBedsAvail"] == 1
    # per profile: groups coded with the bed profile only
    by_profile = {
        g["code"]["coding"][0]["code"]: g
        for g in out["group"]
        if g["code"]["coding"][0]["system"] == mapper.PROFILE_SYSTEM
    }
    assert set(by_profile) == {"infectious", "icu"}
    for g in by_profile.values():
        assert [c["system"] for c in g["code"]["coding"]] == [mapper.PROFILE_SYSTEM]
    roles = {
        c["code"]: p["count"]
        for p in by_profile["infectious"]["population"]
        for c in p["code"]["coding"]
    }
    assert roles["denominator"] == 30
    assert roles["numerator"] == 30
    assert roles["numerator-complement"] == 0
    assert roles["admitted"] == 2
    # no flow is a population of the measure
    assert "initial-population" not in r.text
    # the produced report posted back is read as it was sent (the summary group skipped)
    back = {k: v for k, v in out.items() if k not in ("id", "meta")}
    r = await client.post("/fhir/MeasureReport", json=back, headers=auth)
    assert r.status_code == 201, r.text
    # one above the registered beds: refused naming the element sent, nothing stored
    report["group"] = [group("infectious", "numTotBedsOcc", 31)]
    r = await client.post("/fhir/MeasureReport", json=report, headers=auth)
    assert r.status_code == 422
    assert "MeasureReport.group[0].population[0].count" in r.text
    # a population without its count is refused, not taken as 0
    missing = group("infectious", "numTotBedsOcc", 1)
    del missing["population"][0]["count"]
    report["group"] = [missing]
    r = await client.post("/fhir/MeasureReport", json=report, headers=auth)
    assert r.status_code == 422, r.text
    assert "MeasureReport.group[0].population[0].count" in r.text
    # another facility: named as the subject, not ".facility"
    other = {**report, "group": [group("infectious", "numTotBedsOcc", 1)]}
    other["subject"] = {"identifier": {"system": "urn:salomat:facility", "value": "NOPE-1"}}
    r = await client.post("/fhir/MeasureReport", json=other, headers=auth)
    assert r.status_code == 422, r.text
    fields = {i.get("expression", [None])[0] for i in r.json()["issue"]}
    assert "MeasureReport.subject" in fields, r.text
    assert not any(f and f.endswith(".facility") for f in fields), r.text
    rid = out["id"]
    r = await client.get(f"/fhir/MeasureReport/{rid}", headers=auth)
    assert r.status_code == 200, r.text
    epi = await login(await make_user("epidemiologist"))
    r = await client.get(f"/fhir/MeasureReport/beds-country-{day.isoformat()}", headers=epi)
    assert r.status_code == 200, r.text
    country = r.json()
    assert country["group"]
    r = await client.get(f"/fhir/MeasureReport/beds-country-{day.isoformat()}", headers=auth)
    assert r.status_code == 403
    errors = await schema_errors([("facility", out), ("country", country)])
    assert not invalid(errors), invalid(errors)


async def test_metadata_lists_the_epidemic_interactions(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/fhir/metadata")
    assert r.status_code == 200
    by = {x["type"]: x for x in r.json()["rest"][0]["resource"]}
    assert {"read", "create"} <= {i["code"] for i in by["MeasureReport"]["interaction"]}
    assert "epidemic" in by["Condition"]["documentation"]
    errors = await schema_errors([("metadata", r.json())])
    assert not invalid(errors), invalid(errors)


async def test_notifiable_case_posted_to_condition_is_notified(client, scene) -> None:  # type: ignore[no-untyped-def]
    """POST /fhir/Condition with the notification extensions is the case's notification
    (as $notify), not a silent shared-record Condition; a plain Condition stays the
    record's."""
    r = await client.post("/fhir/Condition", json=_condition(scene), headers=scene["doctor_auth"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert cid.startswith("epi-"), cid
    r = await client.get(f"/fhir/Condition/{cid}", headers=scene["epi_auth"])
    assert r.status_code == 200, r.text
    # refused as $notify refuses it, naming the element
    bad = _condition(scene)
    bad["code"]["coding"][0]["code"] = "J18.9"
    r = await client.post("/fhir/Condition", json=bad, headers=scene["doctor_auth"])
    assert r.status_code == 422, r.text
    assert "Condition.code" in r.text
    # conditional create is not a notification's: refused, not a second case
    r = await client.post(
        "/fhir/Condition",
        json=_condition(scene),
        headers={**scene["doctor_auth"], "If-None-Exist": "identifier=x|1"},
    )
    assert r.status_code == 422, r.text
    assert "If-None-Exist" in r.text
    # a Condition without the notification's extensions stays the shared record's
    plain = _condition(scene)
    plain.pop("extension")
    r = await client.post("/fhir/Condition", json=plain, headers=scene["doctor_auth"])
    assert r.status_code == 201, r.text
    assert not r.json()["id"].startswith("epi-")
