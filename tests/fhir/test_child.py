"""FHIR over the child passport: growth Observations and the mother as RelatedPerson."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.relatedperson import RelatedPerson

from tests.domains.child.test_passport import born
from tests.domains.maternal.test_pregnancy import Clinic, add_contact, clinic, open_pregnancy

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TODAY = date.today()
MODELS = {"Observation": Observation, "RelatedPerson": RelatedPerson}


def ok(r) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def entries(b: dict) -> list[dict]:
    return [e["resource"] for e in b.get("entry", [])]


def not_found(r) -> None:
    assert r.status_code == 404, r.text
    OperationOutcome.model_validate(r.json())


@pytest.fixture
async def baby(client, clinic: Clinic, make_user, login) -> dict[str, Any]:
    birth = await born(client, clinic, days_ago=366)
    baby_id = birth["babies"][0]["person_id"]
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    r = await client.post(
        f"/api/v1/persons/{baby_id}/growth",
        json={
            "weight_kg": 7.0,
            "length_or_height_cm": 64,
            "measured_lying": True,
            "head_circumference_cm": 44,
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    return {"id": baby_id, "nurse": nurse, "m": r.json(), "mother": clinic.woman}


async def test_growth_observations_search_read_and_validate(client, baby):
    nurse, m = baby["nurse"], baby["m"]
    b = ok(await client.get("/fhir/Observation", params={"patient": baby["id"]}, headers=nurse))
    found = {r["id"]: r for r in entries(b)}
    assert set(found) == {f"g{m['id']}-{k}" for k in ("weight", "length", "bmi", "head")}
    weight = found[f"g{m['id']}-weight"]
    assert weight["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "29463-7",
        "display": "Body weight",
    }
    assert weight["valueQuantity"]["value"] == 7.0
    assert weight["subject"]["reference"] == f"Patient/{baby['id']}"
    z = {c["code"]["coding"][0]["code"]: c for c in weight["component"]}
    assert z["wfa"]["valueQuantity"]["value"] == -2.06
    assert z["wfl"]["valueQuantity"]["value"] == 0.24
    assert z["wfa"]["interpretation"][0]["coding"][0]["code"] == "moderate_underweight"
    length = found[f"g{m['id']}-length"]
    assert length["code"]["coding"][0]["code"] == "89269-5"
    (lhfa,) = length["component"]
    assert lhfa["valueQuantity"]["value"] == -3.9
    assert lhfa["interpretation"][0]["coding"][0]["code"] == "severe_stunting"
    assert found[f"g{m['id']}-head"]["code"]["coding"][0]["code"] == "9843-4"
    assert found[f"g{m['id']}-bmi"]["code"]["coding"][0]["code"] == "39156-5"
    # the code filter and a read by id
    b = ok(
        await client.get(
            "/fhir/Observation",
            params={"patient": baby["id"], "code": "http://loinc.org|29463-7"},
            headers=nurse,
        )
    )
    assert [r["id"] for r in entries(b)] == [weight["id"]]
    read = ok(await client.get(f"/fhir/Observation/{weight['id']}", headers=nurse))
    assert read == weight
    for bad in (f"g{m['id']}-colour", "g999999-weight", "gx-weight"):
        not_found(await client.get(f"/fhir/Observation/{bad}", headers=nurse))


async def test_the_mothers_antenatal_observations_and_the_babys_growth_do_not_mix(
    client, baby, make_user, login
):
    nurse = baby["nurse"]
    b = ok(
        await client.get("/fhir/Observation", params={"patient": baby["mother"].id}, headers=nurse)
    )
    ids = [r["id"] for r in entries(b)]
    assert ids
    assert not any(i.startswith("g") for i in ids)
    other = await login(await make_user("nurse"))
    not_found(await client.get(f"/fhir/Observation/g{baby['m']['id']}-weight", headers=other))


async def test_a_woman_with_contacts_still_gets_her_antenatal_observations(client, clinic):
    preg = await open_pregnancy(client, clinic)
    r = await add_contact(client, clinic, preg, weight_kg=60.5)
    assert r.status_code == 201, r.text
    b = ok(
        await client.get(
            "/fhir/Observation", params={"patient": clinic.woman.id}, headers=clinic.doctor
        )
    )
    weights = [r for r in entries(b) if r["code"]["coding"][0]["code"] == "29463-7"]
    assert [w["valueQuantity"]["value"] for w in weights] == [60.5]


async def test_the_mother_as_related_person(client, baby, make_user, login, make_person):
    nurse, mother = baby["nurse"], baby["mother"]
    b = ok(await client.get("/fhir/RelatedPerson", params={"patient": baby["id"]}, headers=nurse))
    (rp,) = entries(b)
    assert rp["id"] == f"{baby['id']}-mother"
    assert rp["patient"]["reference"] == f"Patient/{baby['id']}"
    assert rp["relationship"][0]["coding"][0]["code"] == "MTH"
    assert rp["extension"][0]["valueReference"]["reference"] == f"Patient/{mother.id}"
    assert rp["name"][0]["family"] == mother.family_name
    assert ok(await client.get(f"/fhir/RelatedPerson/{rp['id']}", headers=nurse)) == rp
    # a child born elsewhere has no recorded mother
    fac_child = await make_person(
        facility_code=baby["mother"].attached_facility_code, birth_date=TODAY - timedelta(days=9)
    )
    b = ok(await client.get("/fhir/RelatedPerson", params={"patient": fac_child.id}, headers=nurse))
    assert entries(b) == []
    not_found(await client.get(f"/fhir/RelatedPerson/{fac_child.id}-mother", headers=nurse))
    not_found(await client.get(f"/fhir/RelatedPerson/{baby['id']}-father", headers=nurse))
    # out of scope: like a missing one
    other = await login(await make_user("nurse"))
    not_found(await client.get(f"/fhir/RelatedPerson/{rp['id']}", headers=other))
    r = await client.get("/fhir/RelatedPerson", params={"patient": baby["id"]}, headers=other)
    assert r.status_code == 404
    # search needs the patient; unknown parameters are refused
    r = await client.get("/fhir/RelatedPerson", headers=nurse)
    assert r.status_code == 422
    r = await client.get(
        "/fhir/RelatedPerson", params={"patient": baby["id"], "colour": "x"}, headers=nurse
    )
    assert r.status_code == 422


async def test_metadata_lists_related_person(client):
    cs = (await client.get("/fhir/metadata")).json()
    CapabilityStatement.model_validate(cs)
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    rp = listed["RelatedPerson"]
    assert {i["code"] for i in rp["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in rp["searchParam"]} == {"patient", "_count"}
