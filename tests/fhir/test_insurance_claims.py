"""FHIR for the fund's service claims: a provider system POSTs a Claim (a resend is the
stored one), reads and searches it beside the pharmacies' Claims, reads the fund's
ClaimResponse (each item's adjudication and the rules' reasons) and the settlement's
PaymentReconciliation; another provider's claim reads as missing; the metadata lists
them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salomat.fhir.patient import national_system
from tests.domains.insurance import claim_fixtures
from tests.domains.insurance.claim_fixtures import register_death
from tests.factories import token_for

pytestmark = pytest.mark.anyio

# the insurance tests' fixtures (tests/domains/insurance/conftest.py), used here too
fresh_month = claim_fixtures.fresh_month
make_provider = claim_fixtures.make_provider
make_insuree = claim_fixtures.make_insuree


CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
SERVICE = "urn:salomat:insurance-service"


def _claim(nid: str, items: list[tuple[str, str, int]], number: str | None = None) -> dict:
    body = {
        "resourceType": "Claim",
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"identifier": {"system": national_system(), "value": nid}},
        "created": "2024-01-01",
        "provider": {"display": "us"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "fund"}}],
        "item": [
            {
                "sequence": i + 1,
                "productOrService": {"coding": [{"system": SERVICE, "code": code}]},
                "servicedDate": day,
                "quantity": {"value": qty},
            }
            for i, (code, day, qty) in enumerate(items)
        ],
    }  # fmt: skip
    if number:
        body["identifier"] = [{"system": "urn:salomat:insurance-claim", "value": number}]
    return body


async def test_a_provider_system_submits_and_reads_a_claim(
    client, db, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    p, other = await make_provider(), await make_provider()
    person = await make_insuree()
    await register_death(db, person, month + timedelta(days=3))
    headers = {**await token_for(client, p.account), "Content-Type": "application/fhir+json"}
    body = _claim(
        person.national_id,
        [
            ("EMERG-CALL", (month + timedelta(days=1)).isoformat(), 1),
            ("DIALYSIS", (month + timedelta(days=5)).isoformat(), 2),
        ],
        "F-1",
    )
    r = await client.post("/fhir/Claim", json=body, headers=headers)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["id"].startswith("svc-")
    assert r.headers["Location"].endswith(f"/Claim/{claim['id']}")
    # UZ tariffs: EMERG-CALL 310 000.00, DIALYSIS 690 000.00 x 2
    assert [i["net"]["value"] for i in claim["item"]] == [310000.0, 1380000.0]
    assert claim["total"]["value"] == 1690000.0
    assert claim["patient"]["reference"] == f"Patient/{person.id}"
    again = await client.post("/fhir/Claim", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == claim["id"]

    r = await client.get(f"/fhir/Claim/{claim['id']}", headers=headers)
    assert r.status_code == 200
    r = await client.get(
        "/fhir/Claim",
        params={"type": "professional", "patient": f"Patient/{person.id}"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [claim["id"]]

    r = await client.get(f"/fhir/ClaimResponse/{claim['id']}", headers=headers)
    assert r.status_code == 200, r.text
    resp = r.json()
    assert resp["outcome"] == "partial"  # the line after death waits for the reviewer
    second = resp["item"][1]
    status = next(e for e in second["extension"] if e["url"].endswith("claim-line-status"))
    assert status["valueCode"] == "flagged"
    flag = next(e for e in second["extension"] if e["url"].endswith("claim-flag"))
    assert flag["extension"][0]["valueCode"] == "after_death"

    theirs = await token_for(client, other.account)
    assert (await client.get(f"/fhir/Claim/{claim['id']}", headers=theirs)).status_code == 404
    assert (
        await client.get(f"/fhir/ClaimResponse/{claim['id']}", headers=theirs)
    ).status_code == 404

    analyst = await token_for(client, await make_user("insurance_analyst"))
    r = await client.post(
        f"/api/v1/insurance/settlements/{month:%Y-%m}/compute",
        params={"facility_id": p.facility.id},
        headers=analyst,
    )
    sid = r.json()[0]["id"]
    r = await client.get(f"/fhir/PaymentReconciliation/settlement-{sid}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["paymentAmount"]["value"] == 310000.0  # the flagged line waits
    r = await client.get(
        "/fhir/PaymentReconciliation",
        params={"requestor": f"Organization/{p.facility.id}", "created": f"{month:%Y-%m}"},
        headers=analyst,
    )
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [f"settlement-{sid}"]


async def test_a_wrong_claim_names_the_element(client, make_provider, make_insuree, fresh_month):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    headers = {**await token_for(client, p.account), "Content-Type": "application/fhir+json"}
    body = _claim(person.national_id, [("NOPE", month.isoformat(), 1)])
    r = await client.post("/fhir/Claim", json=body, headers=headers)
    assert r.status_code == 422, r.text
    issues = r.json()["issue"]
    assert any(
        "Claim.item[0].productOrService" in (i.get("expression") or [""])[0] for i in issues
    ), issues


async def test_metadata_lists_the_funds_resources(client):
    r = await client.get("/fhir/metadata")
    types = {x["type"]: x for x in r.json()["rest"][0]["resource"]}
    assert "ClaimResponse" in types
    assert "PaymentReconciliation" in types
    assert "create" in [i["code"] for i in types["Claim"]["interaction"]]
