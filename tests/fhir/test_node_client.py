"""A hospital system written in Node (fhir-kit-client, unmodified) sends a stay to the
shared health record over real HTTP, finds it again by its own identifiers, retries a
conditional create and updates with If-Match; every resource Salomat answered it passes
HL7's R4 JSON schema (tests/external/node/hospital.mjs prints what happened)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from salomat.fhir.patient import national_system
from tests.factories import national_id_for
from tests.fhir.validator import require_node, run_node

pytestmark = pytest.mark.anyio
BIRTH = date(1979, 6, 21)


async def token(base: str, account: Any) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(
            "/auth/token", data={"username": account.username, "password": account.password}
        )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def node() -> str:
    """Node with the packages installed (before the server starts: else a skip)."""
    return require_node()


@pytest.fixture
async def stay(node, live_server, make_facility, make_person, make_user) -> dict[str, Any]:
    """What the Node script printed after a run against the live server: a patient of a
    polyclinic, sent by a nurse of a district hospital."""
    polyclinic = await make_facility()
    hospital = await make_facility("district_hospital")
    nid = national_id_for(BIRTH, "male")
    person = await make_person(polyclinic.code, national_id=nid, birth_date=BIRTH, sex="male")
    nurse = await make_user("nurse", facility_code=hospital.code)
    admin = await make_user("admin")
    doctor = await make_user("family_doctor", facility_code=polyclinic.code)
    out = await run_node(
        "hospital.mjs",
        "--base",
        f"{live_server}/fhir",
        "--token",
        await token(live_server, nurse),
        "--admin-token",
        await token(live_server, admin),
        "--patient",
        f"{national_system()}|{nid}",
    )
    return {
        "summary": json.loads(out),
        "person": person,
        "doctor": await token(live_server, doctor),
        "base": live_server,
    }


async def test_a_node_hospital_system_sends_finds_and_updates_a_stay(stay):
    s = stay["summary"]
    person = stay["person"]
    assert s["capability"] == {"fhirVersion": "4.0.1", "transaction": True}

    # its identifier systems registered, and found again by URI
    assert [n["status"] for n in s["namingSystems"]] == [201, 201]
    assert s["namingSystemFound"] == [f"NamingSystem/{s['namingSystems'][0]['id']}"]

    # the transaction: the Patient matched by national id, four resources created
    t = s["transaction"]
    assert t["type"] == "transaction-response"
    assert t["statuses"] == ["200 OK"] + ["201 Created"] * 4
    refs = s["refs"]
    assert refs["patientRef"] == f"Patient/{person.id}"
    assert [r.split("/")[0] for r in t["locations"][1:]] == [
        "Encounter",
        "Condition",
        "Observation",
        "Observation",
    ]
    assert all(r.split("/")[1].startswith("shr-") for r in t["locations"][1:])

    # found again by its case number, with the stay's diagnosis and results
    # (_revinclude); its _include of the Patient is left out: the hospital reads what it
    # sent, not the person's registry record (docs/record.md, Scope)
    e = s["encounterSearch"]
    assert e["total"] == 1
    assert e["match"] == [refs["encounterRef"]]
    assert sorted(e["include"]) == sorted(
        [refs["conditionRef"], refs["temperatureRef"], refs["hemoglobinRef"]]
    )
    # and the lab result by its order number, with its Encounter (_include)
    o = s["observationSearch"]
    assert o["match"] == [refs["hemoglobinRef"]]
    assert o["include"] == [refs["encounterRef"]]
    assert o["value"] == {
        "value": 128,
        "unit": "g/L",
        "system": "http://unitsofmeasure.org",
        "code": "g/L",
    }

    # the retried conditional create answers the first resource
    first, second = s["conditionalCreate"]
    assert (first["status"], second["status"]) == (201, 200)
    assert second["id"] == first["id"]
    assert first["location"].endswith(f"/fhir/Observation/{first['id']}/_history/1")

    # read, If-Match update, a stale If-Match refused with 412
    u = s["update"]
    assert u["readEtag"] == 'W/"1"'
    assert (u["version"], u["status"], u["value"]) == ("2", "amended", 84)
    assert u["stale"] == {"status": 412, "issues": ["conflict"]}
    assert u["history"] == ["2", "1"]
    assert u["firstVersionValue"] == 88

    # the batch: a read and a search answered, the unregistered identifier refused alone
    b = s["batch"]
    assert b["type"] == "batch-response"
    assert b["statuses"][:2] == ["200 OK", "200 OK"]
    assert b["statuses"][2] == "422 Unprocessable Entity"
    assert b["refused"][2][0].startswith("Bundle.entry[2].resource.identifier[0].system: ")
    assert b["searchTotal"] == 3  # the stay's temperature, hemoglobin and pulse

    assert s["refusals"]["unknownRead"] == {"status": 404, "issues": ["not-found"]}
    assert s["refusals"]["badCreate"] == {"status": 422, "issues": ["invalid"]}

    # every resource the server answered is valid FHIR R4 by HL7's JSON schema
    assert not s["schemaErrors"], "\n".join(s["schemaErrors"])
    assert s["validated"] >= 15
    assert {
        "Bundle",
        "CapabilityStatement",
        "NamingSystem",
        "Observation",
        "OperationOutcome",
    } <= set(s["validatedTypes"])

    # the family doctor of the patient's polyclinic reads what the hospital sent
    async with httpx.AsyncClient(
        base_url=f"{stay['base']}/fhir", headers={"Authorization": f"Bearer {stay['doctor']}"}
    ) as http:
        for ref in (refs["encounterRef"], refs["conditionRef"], refs["hemoglobinRef"]):
            r = await http.get(f"/{ref}")
            assert r.status_code == 200, (ref, r.text)
        cond = (await http.get(f"/{refs['conditionRef']}")).json()
    assert cond["subject"] == {"reference": refs["patientRef"]}
    assert cond["encounter"] == {"reference": refs["encounterRef"]}
    assert cond["code"]["text"] == "Community-acquired pneumonia"
