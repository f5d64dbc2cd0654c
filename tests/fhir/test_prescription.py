"""FHIR Medication (read, search) and MedicationRequest (read, search, create)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from salomat.domains.prescription import service
from tests.factories import unique

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
FORMULARY = "urn:salomat:formulary"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
TYPES = "urn:salomat:prescription-type"
MODELS = {"Medication": Medication, "MedicationRequest": MedicationRequest}
HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def entries(b: dict) -> list[dict]:
    return [e["resource"] for e in b.get("entry", [])]


@pytest.fixture
async def clinic(db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    patient = await make_person(facility_code=fac.code, birth_date=date(1958, 1, 9))
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    code = unique("AML")
    await service.import_formulary(
        db, f"{HEADER}\n{code},amlodipine,C08CA01,Amlo,tablet,10 mg,tablet,30,2200000\n"
    )
    await db.commit()
    m = await service.medicine_by_code(db, code)
    return {"facility": fac, "patient": patient, "doctor": doctor, "code": code, "medicine": m}


def request_body(patient: int, code: str, **kw: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"coding": [{"system": FORMULARY, "code": code}]},
        "reasonCode": [{"coding": [{"system": ICD10, "code": kw.pop("diagnosis", "I10")}]}],
        "courseOfTherapyType": {"coding": [{"system": TYPES, "code": "reimbursed"}]},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 0.5}}],
            }
        ],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}},
    }
    res.update(kw)
    return res


async def test_medication_read_and_search_by_atc(client, clinic):
    m = clinic["medicine"]
    res = ok(await client.get(f"/fhir/Medication/{m.id}", headers=clinic["doctor"]))
    codes = {(c["system"], c["code"]) for c in res["code"]["coding"]}
    assert ("http://www.whocc.no/atc", "C08CA01") in codes
    assert (FORMULARY, clinic["code"]) in codes
    b = ok(
        await client.get(
            "/fhir/Medication",
            params={"code": "http://www.whocc.no/atc|C08CA01", "_count": 100},
            headers=clinic["doctor"],
        )
    )
    assert b["total"] >= 1

    def atcs(bundle: dict) -> set[str]:
        return {
            c["code"]
            for r in entries(bundle)
            for c in r["code"]["coding"]
            if c["system"] == "http://www.whocc.no/atc"
        }

    assert atcs(b) == {"C08CA01"}
    b = ok(await client.get("/fhir/Medication", params={"code": "C08"}, headers=clinic["doctor"]))
    assert "C08CA01" in atcs(b)
    b = ok(
        await client.get("/fhir/Medication", params={"code": "J01CA04"}, headers=clinic["doctor"])
    )
    assert "C08CA01" not in atcs(b)
    assert "code" in issues(
        await client.get(
            "/fhir/Medication", params={"code": "http://x|C08CA01"}, headers=clinic["doctor"]
        ),
        422,
    )


async def test_create_read_and_search_a_medication_request(client, clinic):
    body = request_body(clinic["patient"].id, clinic["code"])
    created = ok(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 201
    )
    assert created["status"] == "active"
    assert created["dispenseRequest"]["quantity"]["value"] == 30  # 0.5 x 2 x 30
    assert created["identifier"][0]["system"] == "urn:salomat:prescription-code"
    assert created["medicationReference"]["reference"] == f"Medication/{clinic['medicine'].id}"
    rid = created["id"]
    p = await client.get(f"/api/v1/prescriptions/{rid}", headers=clinic["doctor"])
    assert p.json()["source"] == "fhir"
    read = ok(await client.get(f"/fhir/MedicationRequest/{rid}", headers=clinic["doctor"]))
    assert read["reasonCode"][0]["coding"][0]["code"] == "I10"
    b = ok(
        await client.get(
            "/fhir/MedicationRequest",
            params={"patient": f"Patient/{clinic['patient'].id}", "status": "active"},
            headers=clinic["doctor"],
        )
    )
    assert [r["id"] for r in entries(b)] == [rid]
    b = ok(
        await client.get(
            "/fhir/MedicationRequest",
            params={"patient": str(clinic["patient"].id), "status": "cancelled"},
            headers=clinic["doctor"],
        )
    )
    assert entries(b) == []
    assert "patient" in issues(
        await client.get("/fhir/MedicationRequest", headers=clinic["doctor"]), 422
    )


async def test_a_lapsed_request_is_stopped_not_active(client, db, clinic):
    from datetime import timedelta

    from sqlalchemy import update

    from salomat.domains.prescription.models import Prescription

    body = request_body(clinic["patient"].id, clinic["code"])
    created = ok(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 201
    )
    today = date.today()
    await db.execute(
        update(Prescription)
        .where(Prescription.id == int(created["id"]))
        .values(issued_on=today - timedelta(days=30), valid_until=today - timedelta(days=1))
    )
    await db.commit()
    read = ok(
        await client.get(f"/fhir/MedicationRequest/{created['id']}", headers=clinic["doctor"])
    )
    assert read["status"] == "stopped"
    patient = f"Patient/{clinic['patient'].id}"

    async def search(status: str) -> list[str]:
        b = ok(
            await client.get(
                "/fhir/MedicationRequest",
                params={"patient": patient, "status": status},
                headers=clinic["doctor"],
            )
        )
        return [r["id"] for r in entries(b)]

    assert await search("active") == []
    assert await search("stopped") == [created["id"]]


async def test_a_refused_request_names_the_element(client, clinic):
    body = request_body(clinic["patient"].id, clinic["code"], diagnosis="J45.9")
    found = issues(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 422
    )
    assert found == {"MedicationRequest.reasonCode"}
    body = request_body(clinic["patient"].id, clinic["code"])
    del body["dispenseRequest"]
    found = issues(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 422
    )
    assert "MedicationRequest.dispenseRequest.expectedSupplyDuration" in found
    body = request_body(clinic["patient"].id, "NO-SUCH-CODE")
    found = issues(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 422
    )
    assert found == {"MedicationRequest.medicationCodeableConcept"}


BOUNDS = "MedicationRequest.dosageInstruction[0].timing.repeat.boundsDuration"
SUPPLY = "MedicationRequest.dispenseRequest.expectedSupplyDuration"
DOSE = "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity"


def with_durations(body: dict[str, Any], bounds: dict | None, supply: dict | None) -> dict:
    repeat = body["dosageInstruction"][0]["timing"]["repeat"]
    if bounds is not None:
        repeat["boundsDuration"] = bounds
    if supply is None:
        del body["dispenseRequest"]
    else:
        body["dispenseRequest"]["expectedSupplyDuration"] = supply
    return body


async def test_durations_are_whole_days_or_weeks(client, clinic):
    async def post(b: dict[str, Any]):
        return await client.post("/fhir/MedicationRequest", json=b, headers=clinic["doctor"])

    pid, code = clinic["patient"].id, clinic["code"]
    # weeks are seven days
    body = with_durations(
        request_body(pid, code), {"value": 2, "unit": "weeks", "code": "wk"}, None
    )
    created = ok(await post(body), 201)
    assert created["dispenseRequest"]["expectedSupplyDuration"]["value"] == 14
    assert created["dispenseRequest"]["quantity"]["value"] == 14  # 0.5 x 2 x 14
    await client.post(
        f"/api/v1/prescriptions/{created['id']}/cancel",
        json={"reason": "test"},
        headers=clinic["doctor"],
    )
    # months, hours: refused, naming the element that carried them
    body = with_durations(
        request_body(pid, code), {"value": 1, "unit": "month", "code": "mo"}, None
    )
    assert issues(await post(body), 422) == {BOUNDS}
    body = with_durations(request_body(pid, code), None, {"value": 720, "unit": "h", "code": "h"})
    assert issues(await post(body), 422) == {SUPPLY}
    # a part of a day is refused, not rounded
    body = with_durations(request_body(pid, code), None, {"value": 10.5, "code": "d"})
    assert issues(await post(body), 422) == {SUPPLY}
    body = with_durations(request_body(pid, code), {"value": 1.5, "code": "wk"}, None)
    assert issues(await post(body), 422) == {BOUNDS}


async def test_the_dose_unit_must_be_the_medicines(client, clinic):
    body = request_body(clinic["patient"].id, clinic["code"])
    body["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"] = "mg"
    r = await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"])
    assert issues(r, 422) == {DOSE}
    assert "tablet" in r.text
    body["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"] = "tablet"
    created = ok(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 201
    )
    assert created["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"] == "tablet"


async def test_out_of_scope_is_not_found(client, clinic, make_user, login):
    other = await login(await make_user("family_doctor"))
    body = request_body(clinic["patient"].id, clinic["code"])
    r = await client.post("/fhir/MedicationRequest", json=body, headers=other)
    assert r.status_code == 404
    created = ok(
        await client.post("/fhir/MedicationRequest", json=body, headers=clinic["doctor"]), 201
    )
    r = await client.get(f"/fhir/MedicationRequest/{created['id']}", headers=other)
    assert r.status_code == 404
