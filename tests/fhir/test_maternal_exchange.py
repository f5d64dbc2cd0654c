"""Referrals as ServiceRequest, and an antenatal contact as a transaction Bundle
(issue 4 item 7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest

from salomat.fhir.maternal_exchange import ONLY_CONTACTS, SEARCH_PARAMS
from salomat.fhir.sanatorium_api import SEARCH_PARAMS as SANATORIUM_PARAMS
from tests.domains.maternal.test_referrals import (  # noqa: F401 (net is a fixture)
    act,
    net,
    refer,
    register_hypertensive,
)

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TODAY = date.today()
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def qty(v: float, code: str) -> dict[str, Any]:
    return {"value": v, "unit": code, "system": UCUM, "code": code}


def obs(code: str, **value: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:obs-{code}-{id(value)}",
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "encounter": {"reference": "urn:uuid:enc"},
            **value,
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def bp(s: int, d: int) -> dict[str, Any]:
    def part(code: str, v: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": qty(v, "mm[Hg]"),
        }

    return obs("85354-9", component=[part("8480-6", s), part("8462-4", d)])


def contact_bundle(
    woman_id: int, preg: dict[str, Any], on: date, observations: list[dict[str, Any]]
) -> dict[str, Any]:
    encounter = {
        "fullUrl": "urn:uuid:enc",
        "resource": {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            },
            "subject": {"reference": f"Patient/{woman_id}"},
            "episodeOfCare": [{"reference": f"EpisodeOfCare/{preg['id']}"}],
            "period": {"start": on.isoformat()},
        },
        "request": {"method": "POST", "url": "Encounter", "ifMatch": f'W/"{preg["version"]}"'},
    }
    body = {"resourceType": "Bundle", "type": "transaction", "entry": [encounter, *observations]}
    Bundle.model_validate(body)
    return body


SECOND = [
    bp(150, 95),
    bp(150, 95),
    obs("20454-5", valueString="none"),
    obs("29463-7", valueQuantity=qty(64.5, "kg")),
    obs("718-7", valueQuantity=qty(118, "g/L")),
    obs("1558-6", valueQuantity=qty(4.6, "mmol/L")),
    obs("55283-6", valueQuantity=qty(140, "/min")),
    obs("11881-0", valueQuantity=qty(20.0, "cm")),
]
SECOND_REST = {
    "systolic_1": 150,
    "diastolic_1": 95,
    "systolic_2": 150,
    "diastolic_2": 95,
    "urine_protein": "none",
    "weight_kg": 64.5,
    "haemoglobin_g_l": 118,
    "fasting_glucose_mmol_l": 4.6,
    "fetal_heart_rate_1": 140,
    "fundal_height_cm": 20.0,
}


@pytest.fixture
async def twins(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    """Two women registered at 10 weeks with the same first contact (REST)."""
    fac = await make_facility()
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    lmp = TODAY - timedelta(weeks=20)
    registered = lmp + timedelta(weeks=10)
    out: dict[str, Any] = {"doctor": doctor, "women": [], "pregs": []}
    for _ in range(2):
        woman = await make_person(facility_code=fac.code)
        r = await client.post(
            f"/api/v1/persons/{woman.id}/pregnancies",
            json={
                "lmp": lmp.isoformat(),
                "gravida": 1,
                "parity": 0,
                "registered_on": registered.isoformat(),
            },
            headers=doctor,
        )
        assert r.status_code == 201, r.text
        preg = r.json()
        r = await client.post(
            f"/api/v1/pregnancies/{preg['id']}/contacts",
            json={
                "on": registered.isoformat(),
                "systolic_1": 112,
                "diastolic_1": 72,
                "hiv_test_done": True,
                "syphilis_test_done": True,
                "ultrasound_done": True,
            },
            headers={**doctor, "If-Match": f'W/"{preg["version"]}"'},
        )
        assert r.status_code == 201, r.text
        out["women"].append(woman)
        out["pregs"].append(r.json())
    return out


async def detail(client, headers, preg_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/pregnancies/{preg_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# ---- the contact transaction -------------------------------------------------------------


async def test_a_bundle_contact_is_evaluated_like_the_rest_one(client, twins):
    doctor = twins["doctor"]
    (_, fhir_woman), (rest_preg, fhir_preg) = twins["women"], twins["pregs"]
    r = await client.post(
        f"/api/v1/pregnancies/{rest_preg['id']}/contacts",
        json={"on": TODAY.isoformat(), **SECOND_REST},
        headers={**doctor, "If-Match": f'W/"{rest_preg["version"]}"'},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/fhir",
        json=contact_bundle(fhir_woman.id, fhir_preg, TODAY, SECOND),
        headers={**doctor, "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    answer = r.json()
    Bundle.model_validate(answer)
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == 1 + len(SECOND)
    enc = answer["entry"][0]["response"]
    assert enc["status"].startswith("201")
    contact_id = enc["location"].removeprefix("Encounter/")
    locations = [e["response"]["location"] for e in answer["entry"][1:]]
    assert locations[:2] == [f"Observation/{contact_id}-bp1", f"Observation/{contact_id}-bp2"]

    rest, fhir = (
        await detail(client, doctor, rest_preg["id"]),
        await detail(client, doctor, fhir_preg["id"]),
    )
    assert fhir["risk_level"] == rest["risk_level"] == "high"
    assert fhir["care_level"] == rest["care_level"]
    codes = {a["code"] for a in rest["advice"]}
    assert {a["code"] for a in fhir["advice"]} == codes
    assert any("hypertension" in c for c in codes), codes
    # the same values were stored
    stored = fhir["contacts"][-1]
    assert str(stored["id"]) == contact_id
    assert {k: stored[k] for k in SECOND_REST} == SECOND_REST
    # the advice comes back in the Encounter entry's outcome, and the next If-Match
    told = {
        c["code"]
        for i in enc["outcome"]["issue"]
        for c in i.get("details", {}).get("coding", [])
        if c["system"] == "urn:salomat:maternal-advice"
    }
    assert told == codes
    assert enc["etag"] == f'W/"{fhir["version"]}"'
    # what was created reads back through FHIR
    for loc in [enc["location"], *locations]:
        got = await client.get(f"/fhir/{loc}", headers=doctor)
        assert got.status_code == 200, (loc, got.text)


async def test_a_bad_value_is_refused_naming_the_element_and_nothing_is_stored(client, twins):
    doctor = twins["doctor"]
    woman, preg = twins["women"][1], twins["pregs"][1]
    cases = [
        ([bp(400, 95)], "Bundle.entry[1].resource.component[0].valueQuantity"),
        (
            [bp(150, 95), obs("29463-7", valueQuantity=qty(900, "kg"))],
            "Bundle.entry[2].resource.valueQuantity",
        ),
        (
            [bp(150, 95), obs("29463-7", valueQuantity=qty(64, "[lb_av]"))],
            "Bundle.entry[2].resource.valueQuantity",
        ),
        ([obs("99999-9", valueQuantity=qty(1, "kg"))], "Bundle.entry[1].resource.code"),
        ([obs("20454-5", valueString="lots")], "Bundle.entry[1].resource.valueString"),
    ]
    for observations, element in cases:
        r = await client.post(
            "/fhir", json=contact_bundle(woman.id, preg, TODAY, observations), headers=doctor
        )
        assert element in issues(r, 422), (element, r.text)
    future = contact_bundle(woman.id, preg, TODAY + timedelta(days=3), [bp(150, 95)])
    assert "Bundle.entry[0].resource.period.start" in issues(
        await client.post("/fhir", json=future, headers=doctor), 422
    )
    stale = contact_bundle(woman.id, {**preg, "version": preg["version"] - 1}, TODAY, [])
    issues(await client.post("/fhir", json=stale, headers=doctor), 412)
    after = await detail(client, doctor, preg["id"])
    assert len(after["contacts"]) == 1
    assert after["version"] == preg["version"]


async def test_only_antenatal_contacts_and_only_with_the_permission(
    client, twins, make_user, login
):
    doctor = twins["doctor"]
    woman, preg = twins["women"][0], twins["pregs"][0]
    other = contact_bundle(woman.id, preg, TODAY, [])
    other["entry"].append(
        {
            "resource": {"resourceType": "Patient", "gender": "female"},
            "request": {"method": "POST", "url": "Patient"},
        }
    )
    r = await client.post("/fhir", json=other, headers=doctor)
    issues(r, 422)
    assert ONLY_CONTACTS in r.text
    batch = {**contact_bundle(woman.id, preg, TODAY, []), "type": "batch"}
    issues(await client.post("/fhir", json=batch, headers=doctor), 422)
    registrar = await login(await make_user("registrar"))
    good = contact_bundle(woman.id, preg, TODAY, [bp(120, 80)])
    issues(await client.post("/fhir", json=good, headers=registrar), 403)


# ---- ServiceRequest ------------------------------------------------------------------------


def ok(r) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            ServiceRequest.model_validate(e["resource"])
    else:
        ServiceRequest.model_validate(body)
    return body


async def test_a_referral_reads_and_searches_as_a_service_request(client, net):  # noqa: F811
    preg = await register_hypertensive(client, net)
    sent = await refer(client, net, preg)
    assert sent.status_code == 201, sent.text
    ref = sent.json()
    r = await client.get(f"/fhir/ServiceRequest/{ref['id']}", headers=net.doctor)
    sr = ok(r)
    assert r.headers["etag"] == f'W/"{ref["version"]}"'
    assert sr["status"] == "active"
    assert sr["intent"] == "order"
    assert sr["category"][0]["coding"][0]["code"] == "3457005"
    assert sr["subject"]["reference"] == f"Patient/{net.woman.id}"
    assert sr["requester"]["reference"] == f"Organization/{net.polyclinic.id}"
    assert sr["performer"][0]["reference"] == f"Organization/{net.maternity.id}"
    assert sr["performer"][0]["identifier"]["value"] == net.maternity.code
    assert sr["reasonCode"][0]["text"] == "hypertension 150/95 twice"
    assert sr["supportingInfo"][0]["reference"] == f"EpisodeOfCare/{preg['id']}"

    def ids(b: dict[str, Any]) -> list[str]:
        return [e["resource"]["id"] for e in b.get("entry", [])]

    search = "/fhir/ServiceRequest"
    mine = {"patient": f"Patient/{net.woman.id}"}
    assert ids(ok(await client.get(search, params=mine, headers=net.doctor))) == [str(ref["id"])]
    assert (
        ids(ok(await client.get(search, params={**mine, "status": "revoked"}, headers=net.doctor)))
        == []
    )
    inbox = {"performer": net.maternity.code}
    mob = net.maternity_obstetrician
    assert ids(ok(await client.get(search, params=inbox, headers=mob))) == [str(ref["id"])]
    # another facility's inbox is not the doctor's
    issues(await client.get(search, params=inbox, headers=net.doctor), 404)
    issues(await client.get(search, headers=net.doctor), 422)
    issues(await client.get(search, params={"colour": "x"}, headers=net.doctor), 422)

    for what, body in (("accept", {}), ("seen", {}), ("return", {"conclusion": "Labetalol"})):
        assert (await act(client, mob, ref, what, **body)).status_code == 200
    back = ok(await client.get(f"/fhir/ServiceRequest/{ref['id']}", headers=net.doctor))
    assert back["status"] == "completed"
    assert back["note"][0]["text"] == "returned: Labetalol"
    ext = {e["url"].rsplit("/", 1)[1]: e for e in back["extension"]}
    assert ext["referral-status"]["valueCode"] == "returned"
    found = ok(await client.get(search, params={**mine, "status": "completed"}, headers=net.doctor))
    assert ids(found) == [str(ref["id"])]


async def test_metadata_lists_service_request_and_the_transaction(client):
    cs = (await client.get("/fhir/metadata")).json()
    CapabilityStatement.model_validate(cs)
    rest = cs["rest"][0]
    (sr,) = [r for r in rest["resource"] if r["type"] == "ServiceRequest"]
    # create, and the parameters that pick sanatorium referrals: tests/fhir/test_sanatorium.py
    assert {i["code"] for i in sr["interaction"]} == {"read", "search-type", "create"}
    assert {p["name"] for p in sr["searchParam"]} == set(SEARCH_PARAMS) | set(
        SANATORIUM_PARAMS["ServiceRequest"]
    ) | {"_count"}
    # history-system: the shared record's (tests/fhir/test_record_http.py)
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch", "history-system"]
