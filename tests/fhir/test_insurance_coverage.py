"""FHIR Coverage (computed: Coverage/<Patient id>) and CoverageEligibilityRequest ->
CoverageEligibilityResponse on the KZ pack: an employee paid to June is in force through
September; an insurance-package service is excluded after that with the reason; a
provider reads by national id anyone but by record id only in its scope and never
reads the payer; an unknown service code names the item; /fhir/metadata lists both."""

from __future__ import annotations

import pytest

from tests.domains.insurance.test_status import kz_person, month, months, new_payer, pay

pytestmark = pytest.mark.anyio


@pytest.fixture
def kz(monkeypatch):  # type: ignore[no-untyped-def]
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def request_for(patient: dict, *codes: str, day: str = "2026-09-30") -> dict:
    return {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "patient": patient,
        "created": "2026-09-30",
        "servicedDate": day,
        "insurer": {"display": "fund"},
        "item": [
            {"productOrService": {"coding": [{"code": c}]}} for c in codes
        ],
    }  # fmt: skip


@pytest.fixture
async def employee(kz, db, make_person):  # type: ignore[no-untyped-def]
    p = await kz_person(make_person, sex="male")
    employer = await new_payer(db, "employer", name="Never Shown LLP")
    for m in months(month(2026, 1), 6):
        await pay(db, p.id, employer, "employer", m, m.replace(day=25))
    await db.commit()
    return p


async def test_coverage_search_by_national_id_and_read_by_id(
    client, employee, make_user, login, make_facility
):
    from salomat.country import national_id

    system = national_id.system_uri("KZ")
    analyst = await login(await make_user("insurance_analyst"))
    r = await client.get(
        "/fhir/Coverage",
        params={"identifier": f"{system}|{employee.national_id}", "date": "2026-09-30"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    cov = r.json()["entry"][0]["resource"]
    assert (cov["id"], cov["status"], cov["period"]["end"]) == (
        str(employee.id), "active", "2026-09-30"
    )  # fmt: skip
    assert cov["beneficiary"]["reference"] == f"Patient/{employee.id}"
    # the fund's analyst reads who paid in the explanation, as in the REST status
    assert "Never Shown LLP paid for June 2026" in cov["extension"][0]["valueString"]
    r = await client.get(f"/fhir/Coverage/{employee.id}", params={"date": "2026-10-01"},
                         headers=analyst)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    # a doctor of another facility: by national id yes, by record id 404
    doctor = await login(await make_user("family_doctor"))
    r = await client.get(
        "/fhir/Coverage", params={"beneficiary:identifier": employee.national_id}, headers=doctor
    )
    assert r.status_code == 200
    assert b"Never Shown" not in r.content
    r = await client.get(f"/fhir/Coverage/{employee.id}", headers=doctor)
    assert r.status_code == 404


async def test_an_eligibility_request_answers_inforce_and_each_item(
    client, employee, make_user, login
):
    from salomat.country import national_id

    doctor = await login(await make_user("family_doctor"))
    patient = {"identifier": {"system": national_id.system_uri("KZ"),
                              "value": employee.national_id}}  # fmt: skip
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "MRI-BRAIN", "EMERG-CALL"),
        headers=doctor,
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["resourceType"] == "CoverageEligibilityResponse"
    ins = res["insurance"][0]
    assert ins["inforce"] is True
    assert [(i["productOrService"]["coding"][0]["code"], i["excluded"]) for i in ins["item"]] == [
        ("MRI-BRAIN", False),
        ("EMERG-CALL", False),
    ]
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "MRI-BRAIN", "EMERG-CALL", day="2026-10-01"),
        headers=doctor,
    )
    ins = r.json()["insurance"][0]
    assert ins["inforce"] is False
    mri, call = ins["item"]
    assert mri["excluded"] is True
    assert "not insured since 01.10.2026" in mri["description"]
    assert call["excluded"] is False
    assert b"Never Shown" not in r.content
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "EMERG-CALL", "NOPE"),
        headers=doctor,
    )
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "CoverageEligibilityRequest.item[1]" in r.text


async def test_the_capability_statement_lists_coverage(client):
    r = await client.get("/fhir/metadata")
    types = {x["type"] for x in r.json()["rest"][0]["resource"]}
    assert {"Coverage", "CoverageEligibilityRequest"} <= types
