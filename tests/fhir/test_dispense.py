"""FHIR MedicationDispense: read and search by patient and prescription, in scope only."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.medicationdispense import MedicationDispense

from salomat.fhir.dispense import COPAYMENT, PRICE, REIMBURSED
from tests.domains.prescription.dispensing_data import make_case, make_medicine, pharmacist

pytestmark = pytest.mark.anyio
FHIR_JSON = "application/fhir+json"


async def _dispensed(client, db, make_facility, make_person, make_user, login):  # type: ignore[no-untyped-def]
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50)
    generic = await make_medicine(db, inn=case.medicine.inn, reference_price=24_000)
    auth = await login(await pharmacist(make_facility, make_user))
    r = await client.post(
        "/api/v1/dispensing/lookup",
        json={"code": case.rx.code, "national_id": case.national_id},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    url = f"/api/v1/prescriptions/{case.rx.id}/dispensings"
    first = await client.post(url, json={"packages": 1, "price": 30_000}, headers=auth)
    second = await client.post(
        url, json={"units": 10, "price": 24_000, "medicine_code": generic.code}, headers=auth
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    return case, first.json(), second.json()


async def test_read_maps_the_dispensing(client, db, make_facility, make_person, make_user, login):
    case, first, second = await _dispensed(client, db, make_facility, make_person, make_user, login)
    doctor = await login(await make_user("family_doctor", facility_code=case.clinic.code))
    r = await client.get(f"/fhir/MedicationDispense/{second['id']}", headers=doctor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    MedicationDispense.model_validate(body)
    assert body["status"] == "completed"
    assert body["subject"]["reference"] == f"Patient/{case.person.id}"
    assert body["authorizingPrescription"][0]["reference"] == f"MedicationRequest/{case.rx.id}"
    assert body["performer"][0]["actor"]["reference"] == f"Organization/{second['facility_id']}"
    assert body["quantity"]["value"] == 10
    assert body["substitution"]["wasSubstituted"] is True
    ext = {e["url"]: e["valueInteger"] for e in body["extension"]}
    assert ext[PRICE] == second["price"] == 8_000
    assert ext[REIMBURSED] + ext[COPAYMENT] == ext[PRICE]
    assert r.headers["etag"] == 'W/"1"'
    plain = (await client.get(f"/fhir/MedicationDispense/{first['id']}", headers=doctor)).json()
    assert plain["substitution"]["wasSubstituted"] is False


async def test_search_by_patient_and_by_prescription(
    client, db, make_facility, make_person, make_user, login
):
    case, first, second = await _dispensed(client, db, make_facility, make_person, make_user, login)
    doctor = await login(await make_user("family_doctor", facility_code=case.clinic.code))
    by_patient = await client.get(
        "/fhir/MedicationDispense", params={"patient": f"Patient/{case.person.id}"}, headers=doctor
    )
    assert by_patient.status_code == 200, by_patient.text
    b = by_patient.json()
    assert b["type"] == "searchset"
    assert b["total"] == 2
    assert [e["resource"]["id"] for e in b["entry"]] == [str(second["id"]), str(first["id"])]
    by_rx = await client.get(
        "/fhir/MedicationDispense",
        params={"prescription": f"MedicationRequest/{case.rx.id}", "_count": "1"},
        headers=doctor,
    )
    assert by_rx.status_code == 200
    assert by_rx.json()["total"] == 2
    assert len(by_rx.json()["entry"]) == 1
    assert any(link["relation"] == "next" for link in by_rx.json()["link"])
    none = await client.get("/fhir/MedicationDispense", headers=doctor)
    assert none.status_code == 422
    odd = await client.get("/fhir/MedicationDispense", params={"colour": "x"}, headers=doctor)
    assert odd.status_code == 422
    assert odd.json()["resourceType"] == "OperationOutcome"


async def test_out_of_scope_is_404_like_missing(
    client, db, make_facility, make_person, make_user, login
):
    case, first, _ = await _dispensed(client, db, make_facility, make_person, make_user, login)
    stranger = await login(await make_user("family_doctor"))
    hidden = await client.get(f"/fhir/MedicationDispense/{first['id']}", headers=stranger)
    missing = await client.get("/fhir/MedicationDispense/999999999", headers=stranger)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["resourceType"] == "OperationOutcome"
    by_rx = await client.get(
        "/fhir/MedicationDispense", params={"prescription": str(case.rx.id)}, headers=stranger
    )
    assert by_rx.status_code == 404
    # the pharmacist reads through the REST API, not the clinical FHIR resources
    chemist = await login(await pharmacist(make_facility, make_user))
    r = await client.get(f"/fhir/MedicationDispense/{first['id']}", headers=chemist)
    assert r.status_code == 403


async def test_metadata_lists_medication_dispense(client):
    cs = (await client.get("/fhir/metadata")).json()
    res = next(r for r in cs["rest"][0]["resource"] if r["type"] == "MedicationDispense")
    assert {i["code"] for i in res["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in res["searchParam"]} == {"patient", "prescription", "_count"}
