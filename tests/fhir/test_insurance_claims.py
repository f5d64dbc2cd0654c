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
        params={"requestor": f"Organization/{p.facility.id}", "billing-period": f"{month:%Y-%m}"},
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


# ---- review fixes (round 2) ----------------------------------------------------------


async def _provider_headers(client, provider) -> dict:
    return {**await token_for(client, provider.account), "Content-Type": "application/fhir+json"}


def _ids(r) -> list[str]:
    return [e["resource"]["id"] for e in r.json().get("entry", [])]


@pytest.mark.parametrize("qty", [0, -1, 1.5, 2.01])
async def test_a_quantity_that_is_not_a_positive_whole_number_is_refused(
    client, make_provider, make_insuree, fresh_month, qty
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    headers = await _provider_headers(client, p)
    body = _claim(person.national_id, [("EMERG-CALL", month.isoformat(), qty)], f"Q-{qty}")
    r = await client.post("/fhir/Claim", json=body, headers=headers)
    assert r.status_code == 422, r.text
    issues = r.json()["issue"]
    assert [i["expression"] for i in issues] == [["Claim.item[0].quantity"]]
    # nothing was stored: the sender's number finds no claim
    r = await client.get("/fhir/Claim", params={"identifier": f"Q-{qty}"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 0


async def test_an_empty_item_list_and_an_unknown_patient_name_the_element(
    client, make_provider, make_insuree, fresh_month
):
    fresh_month()
    p = await make_provider()
    person = await make_insuree()
    headers = await _provider_headers(client, p)
    body = _claim(person.national_id, [])
    r = await client.post("/fhir/Claim", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [i["expression"] for i in r.json()["issue"]] == [["Claim.item"]]

    body = _claim(person.national_id, [("EMERG-CALL", "2024-01-02", 1)])
    body["patient"] = {"reference": "Patient/999999999"}
    r = await client.post("/fhir/Claim", json=body, headers=headers)
    assert r.status_code == 422, r.text
    (issue,) = r.json()["issue"]
    assert issue["expression"] == ["Claim.patient"]
    assert issue["diagnostics"] == "Patient 999999999 not found."


async def _stored_claim(db, provider, person, month, number, submitted_at):
    """A claim stored through the service, then received at ``submitted_at``."""
    from sqlalchemy import update

    from salomat.domains.insurance.models import ServiceClaim
    from tests.domains.insurance.claim_fixtures import line, submit

    out = await submit(db, provider, [line(person, "EMERG-CALL", month)], external_id=number)
    await db.execute(
        update(ServiceClaim).where(ServiceClaim.id == out.id).values(submitted_at=submitted_at)
    )
    await db.commit()
    return f"svc-{out.id}"


async def test_claims_are_searched_by_created_identifier_period_and_type(
    client, db, make_provider, make_insuree, fresh_month
):
    from datetime import UTC, datetime

    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    headers = await _provider_headers(client, p)
    # received on 31 Jan 23:30 UTC and 1 Feb 00:30 UTC of a year after the month, both for it
    jan = await _stored_claim(
        db, p, person, month, "N-JAN", datetime(month.year + 1, 1, 31, 23, 30, tzinfo=UTC)
    )
    feb = await _stored_claim(
        db, p, person, month, "N-FEB", datetime(month.year + 1, 2, 1, 0, 30, tzinfo=UTC)
    )
    org = f"Organization/{p.facility.id}"
    year = month.year + 1

    async def search(**params) -> list[str]:
        r = await client.get("/fhir/Claim", params={"provider": org, **params}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json().get("entry", []))
        return _ids(r)

    # newest first
    assert await search(type="professional") == [feb, jan]
    assert await search(type="professional", created=f"ge{year}-02-01") == [feb]
    assert await search(type="professional", created=f"lt{year}-02-01") == [jan]
    assert await search(type="professional", created=f"{year}-01") == [jan]
    assert await search(type="professional", created=f"{month:%Y-%m}") == []
    r = await client.get(
        "/fhir/Claim",
        params=[
            ("type", "professional"),
            ("provider", org),
            ("created", f"ge{year}-01-31T23:00:00Z"),
            ("created", f"le{year}-01-31T23:59:59Z"),
        ],
        headers=headers,
    )
    assert _ids(r) == [jan]
    # the month the claims are for: a custom parameter
    assert await search(**{"billing-period": f"{month:%Y-%m}"}) == [feb, jan]
    # every claim of the fund's is professional
    assert await search(type="institutional") == []
    assert await search(type=f"{CLAIM_TYPE}|professional") == [feb, jan]
    # the sender's number, with or without its system, and no type needed
    assert await search(identifier="N-FEB") == [feb]
    assert await search(identifier="urn:salomat:insurance-claim|N-JAN") == [jan]
    # a search by an id that is not there finds nothing (a read answers 404)
    assert await search(_id="svc-999999999") == []
    assert await search(_id=jan, identifier="N-FEB") == []
    assert await search(_id=jan, identifier="N-JAN") == [jan]


async def test_a_search_pages_in_the_database_and_audits_only_the_page(
    client, db, make_provider, make_insuree, fresh_month
):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent
    from salomat.core.db import utcnow
    from salomat.domains.insurance.models import ClaimLine, ServiceClaim

    month = fresh_month()
    p = await make_provider()
    people = [await make_insuree() for _ in range(3)]
    headers = await _provider_headers(client, p)
    # 203 claims of one line (stored directly: the control rules are not the point), the
    # last three each of another person
    now = utcnow()
    for i in range(203):
        claim = ServiceClaim(
            facility_id=p.facility.id,
            month=month,
            external_id=f"P-{i}",
            status="submitted",
            submitted_by="t",
            submitted_at=now - timedelta(minutes=203 - i),
        )
        db.add(claim)
        await db.flush()
        db.add(
            ClaimLine(
                claim_id=claim.id,
                facility_id=p.facility.id,
                person_id=people[max(0, i - 200)].id,
                service_code="EMERG-CALL",
                package="guaranteed",
                service_on=month,
                quantity=1,
                amount_claimed=100,
                amount_approved=None,
                encounter_ref=None,
                status="entered",
                flags=[],
            )
        )
    await db.commit()
    params = {"type": "professional", "provider": f"Organization/{p.facility.id}", "_count": 2}
    r = await client.get("/fhir/Claim", params=params, headers=headers)
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["total"] == 203
    assert [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]] == ["P-202", "P-201"]
    links = {x["relation"]: x["url"] for x in bundle["link"]}
    assert "_offset=2" in links["next"]
    # the page's people only: the newest two claims are people[2]'s and people[1]'s
    read = (
        (
            await db.execute(
                select(AuditEvent.patient_id).where(
                    AuditEvent.username == p.account.username,
                    AuditEvent.resource_type == "Claim",
                    AuditEvent.action == "read",
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(set(read)) == sorted([people[1].id, people[2].id])
    # the last page: past the 200 the search used to stop at
    r = await client.get("/fhir/Claim", params={**params, "_offset": 202}, headers=headers)
    assert [e["resource"]["identifier"][0]["value"] for e in r.json()["entry"]] == ["P-0"]
    assert "next" not in {x["relation"] for x in r.json()["link"]}


async def test_claim_response_and_reconciliation_in_the_request_language(
    client, db, make_provider, make_insuree, make_user, fresh_month
):
    from sqlalchemy import update

    from salomat.domains.insurance.models import ClaimLine

    month = fresh_month()
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=3))
    headers = await _provider_headers(client, p)
    first = _claim(person.national_id, [("EMERG-CALL", month.isoformat(), 1)], "R-1")
    r = await client.post("/fhir/Claim", json=first, headers=headers)
    assert r.status_code == 201, r.text
    one = r.json()["id"]
    second = _claim(
        dead.national_id,
        [
            ("EMERG-CALL", (month + timedelta(days=1)).isoformat(), 1),
            ("DIALYSIS", (month + timedelta(days=5)).isoformat(), 2),
        ],
    )
    r = await client.post("/fhir/Claim", json=second, headers=headers)
    two = r.json()["id"]
    ru = {**headers, "Accept-Language": "ru"}

    r = await client.get(f"/fhir/ClaimResponse/{two}", headers=ru)
    assert r.status_code == 200, r.text
    resp = r.json()
    assert resp["insurer"]["display"] == "Фонд медицинского страхования"
    flag = next(e for e in resp["item"][1]["extension"] if e["url"].endswith("claim-flag"))
    after = (month + timedelta(days=5)).strftime("%d.%m.%Y")
    death = (month + timedelta(days=3)).strftime("%d.%m.%Y")
    assert flag["extension"][1]["valueString"] == (
        f"услуга {after}, после зарегистрированной смерти {death}"
    )
    r = await client.get("/fhir/ClaimResponse", params={"request": f"Claim/{two}"}, headers=ru)
    assert _ids(r) == [two]
    assert "после зарегистрированной смерти" in r.text

    # the reviewer reduces the first claim's line to 1,000.00
    await db.execute(
        update(ClaimLine)
        .where(ClaimLine.claim_id == int(one.removeprefix("svc-")))
        .values(status="reduced", amount_approved=100000)
    )
    await db.commit()
    analyst = await token_for(client, await make_user("insurance_analyst"))
    r = await client.post(
        f"/api/v1/insurance/settlements/{month:%Y-%m}/compute",
        params={"facility_id": p.facility.id},
        headers=analyst,
    )
    sid = r.json()[0]["id"]
    r = await client.get(f"/fhir/PaymentReconciliation/settlement-{sid}", headers=ru)
    assert r.status_code == 200, r.text
    rec = r.json()
    system = "https://salomat.example/fhir/CodeSystem/settlement-part"
    parts = [
        (d["type"]["coding"][0]["system"], d["type"]["coding"][0]["code"],
         d["type"]["coding"][0]["display"])
        for d in rec["detail"][:3]
    ]  # fmt: skip
    assert parts == [
        (system, "capitation", "Подушевая оплата"),
        (system, "services", "Услуги"),
        (system, "pharmacy", "Аптека"),
    ]
    # one detail a service claim: the first reduced to 1,000.00; the second's call
    # (310,000.00) pays, its dialysis after the death waits for a decision
    claims = [
        (d["type"]["coding"][0]["code"], d["request"]["reference"], d["response"]["reference"],
         d["amount"]["value"])
        for d in rec["detail"][3:]
    ]  # fmt: skip
    assert claims == [
        ("claim", f"Claim/{one}", f"ClaimResponse/{one}", 1000.0),
        ("claim", f"Claim/{two}", f"ClaimResponse/{two}", 310000.0),
    ]
    assert rec["detail"][3]["request"]["identifier"]["value"] == "R-1"
    assert rec["detail"][1]["amount"]["value"] == 311000.0
    # the platform does not know the day the fund pays: not the month's end
    assert "paymentDate" not in rec
    assert rec["_paymentDate"]["extension"][0]["valueCode"] == "temp-unknown"
    r = await client.get(
        "/fhir/PaymentReconciliation",
        params={"billing-period": f"{month:%Y-%m}", "requestor": f"Organization/{p.facility.id}"},
        headers=ru,
    )
    assert _ids(r) == [f"settlement-{sid}"]
    # closed: the details add up to the services paid, and still no day of payment
    r = await client.post(f"/api/v1/insurance/settlements/{sid}/close", headers=analyst)
    assert r.status_code == 200, r.text
    rec = (await client.get(f"/fhir/PaymentReconciliation/settlement-{sid}", headers=ru)).json()
    assert rec["status"] == "active"
    assert rec["_paymentDate"]["extension"][0]["valueCode"] == "unsupported"
    assert (
        sum(d["amount"]["value"] for d in rec["detail"][3:]) == rec["detail"][1]["amount"]["value"]
    )
