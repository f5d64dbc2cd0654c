"""The cancer registry as FHIR: primary tumours (Condition ``cancer-<n>``), their TNM stage
(Observation ``cancer-stage-<n>``), and a notification another system submits
(``POST Condition``), beside the pregnancy register's Conditions and Observations.

Everything runs in the ``cancer`` fixture's own region; every resource the server
answers is validated with its ``fhir.resources`` R4B model. Expected codes are the
standards' own: LOINC 21908-9 / 21905-5 / 21906-3 / 21907-1 (clinical stage group, T, N,
M), the IARC basis of diagnosis (0 death certificate only ... 7 histology of the
primary), ICD-O-3 topography and morphology as the report gave them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from salomat.core.errors import Invalid
from tests.domains.cancer.conftest import cancer
from tests.factories import unique

__all__ = ["cancer"]

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
LOINC = "http://loinc.org"
MORPHOLOGY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
BASIS = "urn:salomat:iarc-basis-of-diagnosis"
TNM = "urn:salomat:uicc-tnm"
SENDER = "urn:oid:1.2.860.0.7.77"  # the sending hospital's report ids
MODELS: dict[str, Any] = {"Condition": Condition, "Observation": Observation}


def ok(r, status: int = 200) -> dict[str, Any]:  # type: ignore[no-untyped-def]
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


def issues(r, status: int) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def code(concept: dict[str, Any]) -> str:
    return concept["coding"][0]["code"]


def submitted(
    person_id: int,
    report: str,
    *,
    topography: str = "C18.2",
    morphology: str = "8140/3",
    basis: str = "7",
    onset: str = "2025-03-10",
    stage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Condition",
        "identifier": [{"system": SENDER, "value": report}],
        "extension": [
            {
                "url": MORPHOLOGY,
                "valueCodeableConcept": {"coding": [{"system": ICDO3, "code": morphology}]},
            }
        ],
        "subject": {"reference": f"Patient/{person_id}"},
        "bodySite": [{"coding": [{"system": ICDO3, "code": topography}]}],
        "evidence": [{"code": [{"coding": [{"system": BASIS, "code": basis}]}]}],
        "onsetDateTime": onset,
    }
    if stage is not None:
        body["stage"] = [stage]
    body.update(extra)
    return body


async def _notify(client, cancer, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return ok(await client.post("/fhir/Condition", json=body, headers=cancer.doctor), 201)


async def _get(client, cancer, url: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return ok(await client.get(url, headers=cancer.doctor))


async def _tumours(client, headers, person_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/v1/persons/{person_id}/tumours", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# ---- a submitted notification ---------------------------------------------------------------


async def test_a_posted_condition_makes_a_tumour_read_and_found_by_its_identifier(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    report = unique("HX-")
    r = await client.post("/fhir/Condition", json=submitted(p.id, report), headers=cancer.doctor)
    c = ok(r, 201)
    [t] = await _tumours(client, cancer.doctor, p.id)
    assert c["id"] == f"cancer-{t['id']}"
    assert r.headers["location"].endswith(
        f"/fhir/Condition/cancer-{t['id']}/_history/{t['version']}"
    )
    assert r.headers["etag"] == f'W/"{t["version"]}"'
    # the codes as sent; ICD-10 C18.2 is ICD-O-3 C18.2 with a malignant (/3) morphology
    assert c["code"]["coding"][0]["system"] == ICD10
    assert code(c["code"]) == "C18.2"
    assert c["bodySite"] == [{"coding": [{"system": ICDO3, "code": "C18.2"}]}]
    [m] = [e for e in c["extension"] if e["url"] == MORPHOLOGY]
    assert m["valueCodeableConcept"]["coding"][0] == {"system": ICDO3, "code": "8140/3"}
    assert c["identifier"] == [{"system": SENDER, "value": report}]
    assert c["onsetDateTime"] == "2025-03-10"
    assert c["subject"] == {"reference": f"Patient/{p.id}"}
    assert code(c["evidence"][0]["code"][0]) == "7"
    assert code(c["verificationStatus"]) == "confirmed"
    assert code(c["clinicalStatus"]) == "active"
    assert "stage" not in c
    # kept as a notification from another system, under the sender's id
    rest = (await client.get(f"/api/v1/tumours/{t['id']}", headers=cancer.doctor)).json()
    [n] = rest["notifications"]
    assert (n["source"], n["external_system"], n["external_id"]) == ("system", SENDER, report)

    read = ok(await client.get(f"/fhir/Condition/cancer-{t['id']}", headers=cancer.doctor))
    assert read == c
    for query in (
        f"patient={p.id}&category=cancer-registry",
        f"patient=Patient/{p.id}&category=urn:salomat:condition-category|cancer-registry"
        f"&code={ICD10}|C18.2&body-site=C18.2&clinical-status=active"
        "&verification-status=confirmed",
        f"identifier={SENDER}|{report}",
        f"identifier={report}",
        f"_id=cancer-{t['id']}",
    ):
        b = ok(await client.get(f"/fhir/Condition?{query}", headers=cancer.doctor))
        assert ids(b) == [c["id"]], query
    for query in (
        f"patient={p.id}&category=cancer-registry&code=C18.3",
        f"patient={p.id}&category=cancer-registry&verification-status=unconfirmed",
        f"identifier=urn:other|{report}",
    ):
        b = ok(await client.get(f"/fhir/Condition?{query}", headers=cancer.doctor))
        assert b["total"] == 0, query


async def test_the_same_identifier_twice_makes_one_tumour_and_one_notification(client, cancer):
    p = await cancer.make_patient()
    body = submitted(p.id, unique("HX-"))
    a = ok(await client.post("/fhir/Condition", json=body, headers=cancer.doctor), 201)
    b = ok(await client.post("/fhir/Condition", json=body, headers=cancer.doctor), 201)
    assert a["id"] == b["id"]
    [t] = await _tumours(client, cancer.doctor, p.id)
    rest = (await client.get(f"/api/v1/tumours/{t['id']}", headers=cancer.doctor)).json()
    assert len(rest["notifications"]) == 1
    # the same id sent for another patient is refused, naming the identifier
    other = await cancer.make_patient()
    body["subject"] = {"reference": f"Patient/{other.id}"}
    r = await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
    assert r.status_code == 409, r.text
    assert await _tumours(client, cancer.doctor, other.id) == []


async def test_a_second_report_of_the_same_primary_joins_it_and_adds_its_identifier(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    first, second = unique("HX-"), unique("PATH-")
    a = await _notify(client, cancer, submitted(p.id, first))
    b = ok(
        await client.post(
            "/fhir/Condition",
            json=submitted(p.id, second, topography="C18.7", basis="5", onset="2025-04-02"),
            headers=cancer.doctor,
        ),
        201,
    )
    assert b["id"] == a["id"]
    assert [i["value"] for i in b["identifier"]] == [first, second]
    assert b["meta"]["versionId"] != a["meta"]["versionId"]


async def test_a_male_with_a_cervical_primary_is_refused_naming_body_site(client, cancer):
    p = await cancer.make_patient(sex="male")
    r = await client.post(
        "/fhir/Condition",
        json=submitted(p.id, unique("HX-"), topography="C53.9", morphology="8070/3"),
        headers=cancer.doctor,
    )
    assert issues(r, 422) == {"Condition.bodySite"}
    assert await _tumours(client, cancer.doctor, p.id) == []


async def test_bad_submissions_name_each_element_and_store_nothing(client, cancer):
    p = await cancer.make_patient()
    cases = [
        (submitted(p.id, unique("HX-"), topography="C99.9"), {"Condition.bodySite"}),
        (
            submitted(p.id, unique("HX-"), morphology="8140/6"),
            {f"Condition.extension('{MORPHOLOGY}')"},
        ),
        (submitted(p.id, unique("HX-"), basis="3"), {"Condition.evidence"}),
        (submitted(p.id, unique("HX-"), onset="2025-03"), {"Condition.onsetDateTime"}),
        (submitted(p.id, unique("HX-"), identifier=[]), {"Condition.identifier"}),
        (
            submitted(
                p.id,
                unique("HX-"),
                verificationStatus={
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "refuted",
                        }
                    ]
                },
            ),
            {"Condition.verificationStatus"},
        ),
        (
            submitted(
                p.id,
                unique("HX-"),
                stage={"summary": {"coding": [{"system": TNM, "code": "IIZ"}]}},
            ),
            {"Condition.stage.summary"},
        ),
    ]
    for body, expected in cases:
        r = await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
        assert issues(r, 422) == expected, body
    # a future onset (the day it was reported, today by default, is then before it too)
    future = submitted(p.id, unique("HX-"), onset="2099-01-01")
    r = await client.post("/fhir/Condition", json=future, headers=cancer.doctor)
    assert "Condition.onsetDateTime" in issues(r, 422)
    assert await _tumours(client, cancer.doctor, p.id) == []
    r = await client.post(
        "/fhir/Condition", json={"resourceType": "Observation"}, headers=cancer.doctor
    )
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    ("basis", "verification"),
    # IARC: 5-7 microscopically verified, 1, 2, 4 clinical; 9 unknown (no evidence known)
    [("1", "confirmed"), ("4", "confirmed"), ("5", "confirmed"), ("9", "unconfirmed")],
)
async def test_verification_status_follows_the_basis(client, cancer, basis, verification):
    p = await cancer.make_patient()
    c = ok(
        await client.post(
            "/fhir/Condition", json=submitted(p.id, unique("HX-"), basis=basis),
            headers=cancer.doctor,
        ),
        201,
    )  # fmt: skip
    assert code(c["verificationStatus"]) == verification
    assert code(c["evidence"][0]["code"][0]) == basis


async def test_a_rare_combination_waiting_for_confirmation_is_provisional(client, cancer):
    # age 3 with C61 (prostate): rare under 5 (IARC Check), kept and waiting
    p = await cancer.make_patient(born=date(2022, 1, 1), sex="male")
    c = ok(
        await client.post(
            "/fhir/Condition",
            json=submitted(p.id, unique("HX-"), topography="C61.9", morphology="8140/3",
                           onset="2025-03-10"),
            headers=cancer.doctor,
        ),
        201,
    )  # fmt: skip
    assert code(c["verificationStatus"]) == "provisional"


async def test_a_report_the_rules_cannot_place_answers_202_until_the_registrar_does(client, cancer):
    p = await cancer.make_patient(born=date(1950, 1, 1))
    known = await _notify(client, cancer, submitted(p.id, unique("HX-")))
    report = unique("MET-")
    body = submitted(p.id, report, topography="C80.9", basis="6")
    r = await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
    assert r.status_code == 202, r.text
    oo = OperationOutcome.model_validate(r.json())
    assert oo.issue[0].severity == "information"
    assert report in (oo.issue[0].diagnostics or "")
    found = await _get(client, cancer, f"/fhir/Condition?identifier={SENDER}|{report}")
    assert found["total"] == 0
    # sent again while waiting: the same answer, still one notification
    again = await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
    assert again.status_code == 202, again.text
    q = (await client.get("/api/v1/cancer-registry/queue", headers=cancer.registrar)).json()
    [item] = [i for i in q if i["person_id"] == p.id and i["kind"] == "to_review"]
    tumour_id = int(known["id"].removeprefix("cancer-"))
    d = await client.post(
        f"/api/v1/cancer-notifications/{item['notification_id']}/decision",
        json={"action": "attach", "tumour_id": tumour_id, "note": "metastasis"},
        headers=cancer.registrar,
    )
    assert d.status_code == 200, d.text
    found = await _get(client, cancer, f"/fhir/Condition?identifier={SENDER}|{report}")
    assert ids(found) == [known["id"]]
    placed = ok(await client.post("/fhir/Condition", json=body, headers=cancer.doctor), 201)
    assert placed["id"] == known["id"]


async def test_a_report_set_aside_answers_409_when_sent_again(client, cancer):
    p = await cancer.make_patient(born=date(1950, 1, 1))
    await _notify(client, cancer, submitted(p.id, unique("HX-")))
    body = submitted(p.id, unique("MET-"), topography="C80.9", basis="6")
    assert (
        await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
    ).status_code == 202
    q = (await client.get("/api/v1/cancer-registry/queue", headers=cancer.registrar)).json()
    [item] = [i for i in q if i["person_id"] == p.id and i["kind"] == "to_review"]
    d = await client.post(
        f"/api/v1/cancer-notifications/{item['notification_id']}/decision",
        json={"action": "reject"},
        headers=cancer.registrar,
    )
    assert d.status_code == 200, d.text
    r = await client.post("/fhir/Condition", json=body, headers=cancer.doctor)
    assert issues(r, 409) == set()
    assert len(await _tumours(client, cancer.doctor, p.id)) == 1


# ---- a DCO case, the stage ----------------------------------------------------------------


async def test_a_death_certificate_only_case_reads_unconfirmed_and_inactive(client, cancer):
    p = await cancer.make_patient(born=date(1948, 2, 2), sex="male")
    person = (await client.get(f"/api/v1/persons/{p.id}", headers=cancer.doctor)).json()
    died = await client.post(
        f"/api/v1/persons/{p.id}/death",
        json={"deceased_on": "2025-01-15", "cause": "C34.9"},
        headers={**cancer.doctor, "If-Match": f'W/"{person["version"]}"'},
    )
    assert died.status_code == 200, died.text
    b = ok(
        await client.get(
            f"/fhir/Condition?patient={p.id}&category=cancer-registry", headers=cancer.doctor
        )
    )
    [c] = [e["resource"] for e in b["entry"]]
    assert code(c["verificationStatus"]) == "unconfirmed"
    assert code(c["clinicalStatus"]) == "inactive"
    assert c["evidence"][0]["code"][0]["coding"][0] == {
        "system": BASIS,
        "code": "0",
        "display": "death certificate only",
    }
    assert c["onsetDateTime"] == "2025-01-15"
    assert code(c["bodySite"][0]) == "C34.9"
    assert "identifier" not in c  # not another system's report
    read = ok(await client.get(f"/fhir/Condition/{c['id']}", headers=cancer.doctor))
    assert code(read["verificationStatus"]) == "unconfirmed"


async def test_the_stage_is_an_observation_referenced_from_the_condition(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    r = await client.post(
        f"/api/v1/persons/{p.id}/cancer-notifications",
        json={
            "topography": "C50.4", "morphology": "8500/3", "basis": 7,
            "diagnosed_on": "2025-03-10", "date_kind": "microscopic",
            "stage": {"edition": "8", "t": "T2", "n": "N1", "m": "M0", "group": "IIB"},
        },
        headers=cancer.doctor,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    tid = r.json()["tumour"]["id"]
    c = ok(await client.get(f"/fhir/Condition/cancer-{tid}", headers=cancer.doctor))
    [stage] = c["stage"]
    assert stage["summary"]["coding"][0] == {"system": TNM, "version": "8", "code": "IIB"}
    assert stage["assessment"] == [{"reference": f"Observation/cancer-stage-{tid}"}]
    o = ok(await client.get(f"/fhir/Observation/cancer-stage-{tid}", headers=cancer.doctor))
    assert o["code"]["coding"][0]["system"] == LOINC
    assert code(o["code"]) == "21908-9"
    assert code(o["valueCodeableConcept"]) == "IIB"
    assert o["focus"] == [{"reference": f"Condition/cancer-{tid}"}]
    assert {code(x["code"]): code(x["valueCodeableConcept"]) for x in o["component"]} == {
        "21905-5": "T2",
        "21906-3": "N1",
        "21907-1": "M0",
    }
    assert o["subject"] == {"reference": f"Patient/{p.id}"}
    for query in (
        f"patient={p.id}&code={LOINC}|21908-9",
        f"patient={p.id}&code=21908-9",
        f"focus=Condition/cancer-{tid}",
        f"_id=cancer-stage-{tid}",
    ):
        b = ok(await client.get(f"/fhir/Observation?{query}", headers=cancer.doctor))
        assert ids(b) == [o["id"]], query
    # a tumour without a stage has no Observation, and its Condition no stage
    unstaged = await _notify(client, cancer, submitted(p.id, unique("HX-"), topography="C18.2"))
    n = unstaged["id"].removeprefix("cancer-")
    r = await client.get(f"/fhir/Observation/cancer-stage-{n}", headers=cancer.doctor)
    assert issues(r, 404) == set()
    b = await _get(client, cancer, f"/fhir/Observation?patient={p.id}&code=21908-9")
    assert ids(b) == [o["id"]]


async def test_a_submitted_stage_summary_is_kept(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    stage = {"summary": {"coding": [{"system": TNM, "version": "8", "code": "IIIA"}]}}
    c = ok(
        await client.post(
            "/fhir/Condition", json=submitted(p.id, unique("HX-"), stage=stage),
            headers=cancer.doctor,
        ),
        201,
    )  # fmt: skip
    assert c["stage"][0]["summary"]["coding"][0]["code"] == "IIIA"
    stage_id = c["id"].replace("cancer-", "cancer-stage-")
    o = await _get(client, cancer, f"/fhir/Observation/{stage_id}")
    assert code(o["valueCodeableConcept"]) == "IIIA"
    assert "component" not in o


# ---- scope, roles, sharing the types ----------------------------------------------------------


async def test_out_of_scope_is_404_like_a_missing_tumour_and_audited(
    client, db, cancer, make_user, login
):
    from salomat.core.audit import AuditEvent

    p = await cancer.make_patient()
    report = unique("HX-")
    c = await _notify(client, cancer, submitted(p.id, report))
    stranger = await login(await make_user("family_doctor"))
    for url in (
        f"/fhir/Condition/{c['id']}",
        "/fhir/Condition/cancer-999999999",
        f"/fhir/Observation/{c['id'].replace('cancer-', 'cancer-stage-')}",
        f"/fhir/Condition?patient={p.id}&category=cancer-registry",
    ):
        r = await client.get(url, headers=stranger)
        assert r.status_code == 404, (url, r.text)
    # a search by a key out of scope finds nothing (200), the refusal audited
    b = ok(await client.get(f"/fhir/Condition?identifier={SENDER}|{report}", headers=stranger))
    assert b["total"] == 0
    b = ok(await client.get(f"/fhir/Condition?_id={c['id']}", headers=stranger))
    assert b["total"] == 0
    denied = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.patient_id == p.id, AuditEvent.action == "denied")
    )
    assert denied >= 2
    r = await client.post("/fhir/Condition", json=submitted(p.id, unique("HX-")), headers=stranger)
    assert r.status_code == 404, r.text


async def test_roles_without_the_permission_get_403(client, cancer, make_user, login):
    p = await cancer.make_patient()
    c = await _notify(client, cancer, submitted(p.id, unique("HX-")))
    pharmacist = await login(await make_user("pharmacist"))
    for url in (
        f"/fhir/Condition/{c['id']}",
        f"/fhir/Condition?patient={p.id}&category=cancer-registry",
        f"/fhir/Observation?patient={p.id}&code=21908-9",
    ):
        assert (await client.get(url, headers=pharmacist)).status_code == 403, url
    r = await client.post(
        "/fhir/Condition", json=submitted(p.id, unique("HX-")), headers=pharmacist
    )
    assert r.status_code == 403, r.text
    # an analyst reads aggregate statistics only
    analyst = await login(await make_user("analyst"))
    assert (await client.get(f"/fhir/Condition/{c['id']}", headers=analyst)).status_code == 403


async def test_the_pregnancy_registers_searches_are_unchanged(client, cancer):
    p = await cancer.make_patient()
    await _notify(client, cancer, submitted(p.id, unique("HX-")))
    # no registry parameter: the register's route answers (its Conditions only)
    b = ok(await client.get(f"/fhir/Condition?patient={p.id}", headers=cancer.doctor))
    assert b["total"] == 0
    b = ok(await client.get(f"/fhir/Observation?patient={p.id}", headers=cancer.doctor))
    assert not any(i.startswith("cancer-") for i in ids(b))
    # a registry search without a key is refused by name
    r = await client.get("/fhir/Condition?category=cancer-registry", headers=cancer.doctor)
    assert issues(r, 422) == {"patient"}
    r = await client.get(
        f"/fhir/Condition?patient={p.id}&category=cancer-registry&clinical-status=resolved",
        headers=cancer.doctor,
    )
    assert issues(r, 422) == {"clinical-status"}


async def test_metadata_merges_the_registrys_share_of_condition_and_observation(client):
    cs = (await client.get("/fhir/metadata")).json()
    CapabilityStatement.model_validate(cs)
    listed = [r for r in cs["rest"][0]["resource"] if r["type"] in ("Condition", "Observation")]
    assert sorted(r["type"] for r in listed) == ["Condition", "Observation"]
    by = {r["type"]: r for r in listed}
    # the shared record's Conditions add vread, update, patch and history
    # (tests/fhir/test_record.py, test_record_http.py)
    assert {i["code"] for i in by["Condition"]["interaction"]} == {
        "read",
        "search-type",
        "create",
        "vread",
        "update",
        "patch",
        "history-instance",
        "history-type",
    }
    names = {p["name"] for p in by["Condition"]["searchParam"]}
    assert {"patient", "category", "identifier", "_id", "body-site", "clinical-status"} <= names
    assert {"patient", "encounter", "code", "focus", "_id"} <= {
        p["name"] for p in by["Observation"]["searchParam"]
    }


# ---- the mapper's reading of a submitted Condition ----------------------------------------------


_REQUIRED = {
    "subject": "Condition.subject",
    "identifier": "Condition.identifier",
    "bodySite": "Condition.bodySite",
    "extension": f"Condition.extension('{MORPHOLOGY}')",
    "evidence": "Condition.evidence",
    "onsetDateTime": "Condition.onsetDateTime",
}
_CODE = st.text(alphabet="0123456789./CM", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    dropped=st.sets(st.sampled_from(sorted(_REQUIRED))),
    topography=_CODE,
    morphology=_CODE,
    basis=st.sampled_from(["0", "1", "2", "4", "5", "6", "7", "9"]),
    system=st.text(alphabet="abcdefghijklmnopqrstuvwxyz:.", min_size=1, max_size=30),
    report=st.text(alphabet="ABCXYZ0123456789-", min_size=1, max_size=20),
)
def test_from_fhir_takes_the_codes_as_sent_and_names_every_missing_element(
    dropped, topography, morphology, basis, system, report
):
    """Whatever the codes, they reach the service as sent (it checks them); every
    required element left out (a subject that is not a Patient) is named, and only
    those."""
    from salomat.fhir import cancer as mapper

    body = submitted(7, report, topography=topography, morphology=morphology, basis=basis)
    body["identifier"][0]["system"] = system
    for key in dropped:
        if key == "subject":  # required by R4B itself: send one that is not a Patient
            body["subject"] = {"reference": "Group/7"}
        else:
            body.pop(key)
    cond = Condition.model_validate(body)
    if dropped:
        with pytest.raises(Invalid) as e:
            mapper.from_fhir(cond)
        assert {f.field for f in e.value.errors} == {_REQUIRED[k] for k in dropped}
        return
    got = mapper.from_fhir(cond)
    assert got.person_id == 7
    assert got.values == {
        "source": "system",
        "topography": topography,
        "morphology": morphology,
        "basis": basis,
        "diagnosed_on": date(2025, 3, 10),
        "external_system": system,
        "external_id": report,
    }
