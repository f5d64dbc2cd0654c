"""FHIR Claim: one line of a pharmacy's monthly claim, read and searched within scope."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim

from tests.domains.prescription.claim_rows import dispense, last_month, make_rx

pytestmark = pytest.mark.anyio

MONTH = f"{last_month():%Y-%m}"


@pytest.fixture
async def lines(db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    clinic = await make_facility()
    ph1, ph2 = await make_facility("pharmacy"), await make_facility("pharmacy")
    person = await make_person()
    rx = await make_rx(
        db,
        person.id,
        clinic.id,
        issued_on=last_month(day=1).date(),
        valid_until=last_month(day=2).date(),
    )
    d1 = await dispense(db, rx, ph1.id, amount=12345, units=10)
    d2 = await dispense(db, rx, ph2.id, amount=500, units=10, at=last_month(day=11))
    return {
        "person": person,
        "ph1": ph1,
        "ph2": ph2,
        "d": (d1.id, d2.id),
        "analyst": await login(await make_user("insurance_analyst")),
        "pharmacist": await login(await make_user("pharmacist", facility_code=ph1.code)),
    }


async def test_search_by_patient_gives_one_claim_per_line(client, lines):
    r = await client.get(
        "/fhir/Claim", params={"patient": f"Patient/{lines['person'].id}"}, headers=lines["analyst"]
    )
    assert r.status_code == 200, r.text
    b = Bundle.model_validate(r.json())
    assert b.total == 2
    claims = [e["resource"] for e in r.json()["entry"]]
    first = next(
        c for c in claims if c["provider"]["reference"] == f"Organization/{lines['ph1'].id}"
    )
    Claim.model_validate(first)
    assert first["patient"]["reference"] == f"Patient/{lines['person'].id}"
    assert first["type"]["coding"][0]["code"] == "pharmacy"
    assert first["total"]["value"] == 123.45
    assert first["total"]["currency"] == "UZS"
    assert first["item"][0]["quantity"]["value"] == 10
    # dispensed past the validity: the flag travels with its reason
    flags = [x for x in first["extension"] if x["url"].endswith("claim-flag")]
    assert flags[0]["extension"][0]["valueCode"] == "outside_validity"


async def test_search_by_provider_and_month(client, lines):
    q = {"provider": f"Organization/{lines['ph2'].id}", "created": MONTH}
    r = await client.get("/fhir/Claim", params=q, headers=lines["analyst"])
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1
    r = await client.get(
        "/fhir/Claim", params={**q, "created": "2001-01"}, headers=lines["analyst"]
    )
    assert r.json()["total"] == 0
    r = await client.get("/fhir/Claim", params={"created": MONTH}, headers=lines["analyst"])
    assert r.status_code == 422
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_a_pharmacist_reads_only_her_pharmacys_claims(client, lines):
    r = await client.get(
        "/fhir/Claim", params={"patient": str(lines["person"].id)}, headers=lines["pharmacist"]
    )
    assert r.status_code == 200, r.text
    ids = [e["resource"]["id"] for e in r.json()["entry"]]
    assert len(ids) == 1
    read = await client.get(f"/fhir/Claim/{ids[0]}", headers=lines["pharmacist"])
    assert read.status_code == 200
    assert read.json()["provider"]["reference"] == f"Organization/{lines['ph1'].id}"
    other = await client.get(
        "/fhir/Claim",
        params={"patient": str(lines["person"].id)},
        headers=lines["analyst"],
    )
    other_id = next(
        e["resource"]["id"]
        for e in other.json()["entry"]
        if e["resource"]["provider"]["reference"] == f"Organization/{lines['ph2'].id}"
    )
    r = await client.get(f"/fhir/Claim/{other_id}", headers=lines["pharmacist"])
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_other_roles_may_not_search_claims(client, lines, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    r = await client.get("/fhir/Claim", params={"patient": str(lines["person"].id)}, headers=doctor)
    assert r.status_code == 403
