"""The rest of screening's FHIR (issue 21): the disease-management follow-up visits'
readings as Observations (the blood-pressure trend another system reads), the programme's
qualifying diagnosis as a Condition, and screening results submitted in a transaction or
batch Bundle.

Expected values are written from the sources, not from the code: LOINC 85354-9 is the
blood-pressure panel with systolic 8480-6 and diastolic 8462-4 in mm[Hg] (loinc.org);
condition-clinical's codes active / resolved and condition-category's problem-list-item
(HL7 R4 terminology); R4's Observation.basedOn may name a CarePlan, and its encounter an
Encounter only. Every answer is checked with its R4B model here and with HL7's R4 JSON
schema at the session's end.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from salomat.core import audit
from salomat.domains.screening.service.common import today as country_today
from salomat.fhir import screening as mapper
from tests.domains.screening.conftest import kz, scr, today

__all__ = ["kz", "scr", "today"]

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SCREENING = f"{mapper.CATEGORY_SYSTEM}|screening"
FOLLOW_UP = f"{mapper.CATEGORY_SYSTEM}|dmp-follow-up"
MODELS: dict[str, Any] = {
    m.__name__: m for m in (Observation, Condition, EpisodeOfCare, Bundle, OperationOutcome)
}
TODAY = country_today()


def _day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def ok(r, status: int = 200) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    MODELS[body["resourceType"]].model_validate(body)
    return body


def entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in body.get("entry", [])]


def issues(r, status: int) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


async def _enrol(client, auth, person_id: int, on: str, code: str = "I10") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"programme": "hypertension", "diagnosis_code": code, "enrolled_on": on}
    r = await client.post(f"/api/v1/persons/{person_id}/dmp-enrolments", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


async def _follow_up(client, auth, enrolment: int, on: str, *measurements: dict) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(
        f"/api/v1/dmp-enrolments/{enrolment}/visits",
        json={"visited_on": on, "measurements": list(measurements)},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _end(client, auth, enrolment: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    current = (await client.get(f"/api/v1/dmp-enrolments/{enrolment}", headers=auth)).headers[
        "etag"
    ]
    r = await client.post(
        f"/api/v1/dmp-enrolments/{enrolment}/end",
        json={"ended_on": TODAY.isoformat(), "end_reason": reason},
        headers={**auth, "If-Match": current},
    )
    assert r.status_code == 200, r.text


def _mmhg(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}


def _bp(res: dict[str, Any]) -> tuple[Any, ...]:
    return tuple((c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in res["component"])


# ---- the follow-up visits' readings ------------------------------------------------------------


async def test_follow_up_readings_are_the_blood_pressure_trend(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(90))
    first = await _follow_up(
        client, auth, e["id"], _day(60),
        {"kind": "bp", "systolic": 158, "diastolic": 96},
        {"kind": "hba1c", "value": 7.4, "unit": "%"},
    )  # fmt: skip
    second = await _follow_up(
        client, auth, e["id"], _day(30), {"kind": "bp", "systolic": 138, "diastolic": 88}
    )
    trend = ok(
        await client.get(
            f"/fhir/Observation?patient=Patient/{p.id}&category={FOLLOW_UP}&code={LOINC}|85354-9",
            headers=auth,
        )
    )
    assert trend["total"] == 2
    older, newer = entries(trend)
    assert (older["effectiveDateTime"], newer["effectiveDateTime"]) == (_day(60), _day(30))
    assert older["code"]["coding"][0]["code"] == "85354-9"
    assert _bp(older) == (("8480-6", _mmhg(158)), ("8462-4", _mmhg(96)))
    assert _bp(newer) == (("8480-6", _mmhg(138)), ("8462-4", _mmhg(88)))
    bp_id = first["measurements"][0]["id"]
    assert older["id"] == f"dmp-{first['id']}-{bp_id}"
    assert newer["id"] == f"dmp-{second['id']}-{second['measurements'][0]['id']}"
    # R4: the programme's schedule it was measured under; no Encounter invented
    assert older["basedOn"] == [{"reference": f"CarePlan/dmp-{e['id']}"}]
    assert "encounter" not in older
    assert older["subject"] == {"reference": f"Patient/{p.id}"}
    assert older["category"][0]["coding"][0]["code"] == "vital-signs"
    # a follow-up reading is no screening result: its own category, no screening profile
    # (posted back, it is not taken for one)
    assert older["category"][1]["coding"][0]["code"] == "dmp-follow-up"
    assert mapper.PROFILE not in older["meta"].get("profile", [])
    assert not mapper.is_screening(older)
    screenings = await client.get(
        f"/fhir/Observation?patient={p.id}&category={SCREENING}", headers=auth
    )
    assert ok(screenings)["total"] == 0
    # every reading of the person: the HbA1c too, in per cent
    everything = ok(
        await client.get(f"/fhir/Observation?patient={p.id}&category={FOLLOW_UP}", headers=auth)
    )
    assert everything["total"] == 3
    [hba1c] = [r for r in entries(everything) if r["code"]["coding"][0]["code"] == "4548-4"]
    assert hba1c["valueQuantity"] == {"value": 7.4, "unit": "%", "system": UCUM, "code": "%"}
    # date: the day itself is in (ge), the day after is not (gt)
    since = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&category={FOLLOW_UP}&code=85354-9&date=ge{_day(30)}",
            headers=auth,
        )
    )
    assert [r["id"] for r in entries(since)] == [newer["id"]]
    after = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&category={FOLLOW_UP}&date=gt{_day(30)}",
            headers=auth,
        )
    )
    assert after["total"] == 0
    # read, and searched by _id
    assert ok(await client.get(f"/fhir/Observation/{older['id']}", headers=auth)) == older
    by_id = ok(await client.get(f"/fhir/Observation?_id={older['id']}", headers=auth))
    assert [r["id"] for r in entries(by_id)] == [older["id"]]


async def test_screening_and_follow_up_readings_come_in_order(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    r = await client.post(
        f"/api/v1/persons/{p.id}/screenings",
        json={
            "programme": "address_screening", "performed_on": _day(120), "result": "abnormal",
            "next_step": "enrol",
            "measurements": [{"kind": "bp", "systolic": 165, "diastolic": 99}],
        },
        headers=auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    e = await _enrol(client, auth, p.id, _day(100))
    await _follow_up(
        client, auth, e["id"], _day(50), {"kind": "bp", "systolic": 140, "diastolic": 90}
    )
    trend = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&category={SCREENING},{FOLLOW_UP}&code=85354-9",
            headers=auth,
        )
    )
    assert [(x["id"].split("-")[0], _bp(x)[0][1]["value"]) for x in entries(trend)] == [
        ("screening", 165),
        ("dmp", 140),
    ]


async def test_a_search_by_patient_and_code_answers_the_readings_with_the_others(
    client, login, make_user, scr
):
    """Without the screening category, ``Observation?patient=&code=`` is the merged
    search (the pregnancy register's, screening's, the shared record's): a client that
    knows nothing of the national category still gets the blood-pressure trend; a role
    without ``screening:read`` does not."""
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(90))
    v = await _follow_up(
        client, auth, e["id"], _day(60), {"kind": "bp", "systolic": 150, "diastolic": 95}
    )
    oid = f"dmp-{v['id']}-{v['measurements'][0]['id']}"
    found = ok(
        await client.get(f"/fhir/Observation?patient={p.id}&code={LOINC}|85354-9", headers=auth)
    )
    assert [r["id"] for r in entries(found)] == [oid]
    assert (
        ok(await client.get(f"/fhir/Observation?patient={p.id}&code={LOINC}|4548-4", headers=auth))[
            "total"
        ]
        == 0
    )
    # sorted across the shares (the reading has its day)
    for sort in ("date", "-date", "_lastUpdated"):
        body = ok(await client.get(f"/fhir/Observation?patient={p.id}&_sort={sort}", headers=auth))
        assert oid in [r["id"] for r in entries(body)], sort
        body = ok(await client.get(f"/fhir/Condition?patient={p.id}&_sort={sort}", headers=auth))
        assert f"dmp-{e['id']}" in [r["id"] for r in entries(body)], sort
    obstetrician = await login(await make_user("obstetrician", facility_code=scr.polyclinic.code))
    theirs = ok(
        await client.get(f"/fhir/Observation?patient={p.id}&code=85354-9", headers=obstetrician)
    )
    assert oid not in [r["id"] for r in entries(theirs)]


async def test_follow_up_readings_out_of_scope_are_404_and_audited(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(40))
    v = await _follow_up(
        client, auth, e["id"], _day(10), {"kind": "bp", "systolic": 130, "diastolic": 80}
    )
    oid = f"dmp-{v['id']}-{v['measurements'][0]['id']}"
    _, before = await audit.search(scr.db, audit.AuditQuery(patient_id=p.id, action="read"))
    ok(await client.get(f"/fhir/Observation/{oid}", headers=auth))
    rows, after = await audit.search(scr.db, audit.AuditQuery(patient_id=p.id, action="read"))
    assert after == before + 1
    assert (rows[0].username, rows[0].resource_type) == (scr.doctor_account.username, "Observation")
    other = await login(scr.other_doctor_account)
    assert issues(await client.get(f"/fhir/Observation/{oid}", headers=other), 404) == set()
    assert ok(await client.get(f"/fhir/Observation?_id={oid}", headers=other))["total"] == 0
    # the wrong visit for the reading, and a reading that does not exist
    wrong = f"dmp-{v['id'] + 1000}-{v['measurements'][0]['id']}"
    assert (await client.get(f"/fhir/Observation/{wrong}", headers=auth)).status_code == 404
    assert (await client.get(f"/fhir/Observation/dmp-{v['id']}-0", headers=auth)).status_code == 404


@given(st.text(max_size=30))
def test_follow_up_ids_parse_or_are_none(text):
    parsed = mapper.parse_followup_id(text)
    if parsed is not None:
        assert mapper.followup_id(*parsed) == text.removeprefix("Observation/")
    assert mapper.parse_followup_id(mapper.followup_id(3, 41)) == (3, 41)
    assert mapper.parse_followup_id("dmp-recall-3") is None
    assert mapper.parse_followup_id("dmp-3") is None


# ---- Condition ----------------------------------------------------------------------------------


async def test_programme_diagnosis_is_a_condition_active_then_resolved(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(30))
    cid = f"dmp-{e['id']}"
    c = ok(await client.get(f"/fhir/Condition/{cid}", headers=auth))
    assert c["code"]["coding"] == [{"system": ICD10, "code": "I10"}]
    assert c["clinicalStatus"]["coding"][0]["system"] == CLINICAL
    assert c["clinicalStatus"]["coding"][0]["code"] == "active"
    assert c["category"][0]["coding"][0] == {
        "system": CATEGORY, "code": "problem-list-item", "display": "Problem List Item",
    }  # fmt: skip
    assert c["subject"] == {"reference": f"Patient/{p.id}"}
    assert c["recordedDate"] == _day(30)
    assert "abatementDateTime" not in c
    ep = ok(await client.get(f"/fhir/EpisodeOfCare/{cid}", headers=auth))
    assert ep["diagnosis"][0]["condition"]["reference"] == f"Condition/{cid}"
    # a search by patient answers the programme's diagnoses with the other registers'
    found = ok(await client.get(f"/fhir/Condition?patient={p.id}", headers=auth))
    assert cid in [r["id"] for r in entries(found)]
    for query, hit in [
        ("code=I10", True),
        (f"code={ICD10}|I10", True),
        ("code=E11", False),
        ("clinical-status=active", True),
        ("clinical-status=resolved", False),
    ]:
        body = ok(await client.get(f"/fhir/Condition?patient={p.id}&{query}", headers=auth))
        assert (cid in [r["id"] for r in entries(body)]) is hit, query
    assert [
        r["id"] for r in entries(ok(await client.get(f"/fhir/Condition?_id={cid}", headers=auth)))
    ] == [cid]
    # the enrolment ends: the patient recovered
    await _end(client, auth, e["id"], "recovered")
    c = ok(await client.get(f"/fhir/Condition/{cid}", headers=auth))
    assert c["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert c["abatementDateTime"] == TODAY.isoformat()
    assert c["meta"]["versionId"] == "2"
    resolved = ok(
        await client.get(f"/fhir/Condition?patient={p.id}&clinical-status=resolved", headers=auth)
    )
    assert [r["id"] for r in entries(resolved)] == [cid]
    active = ok(
        await client.get(f"/fhir/Condition?patient={p.id}&clinical-status=active", headers=auth)
    )
    assert cid not in [r["id"] for r in entries(active)]


async def test_a_programme_ended_otherwise_keeps_the_diagnosis_active(client, login, scr):
    """A transfer ends the programme here, not the hypertension: the Condition stays
    active (the EpisodeOfCare is finished)."""
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(30))
    await _end(client, auth, e["id"], "transferred")
    c = ok(await client.get(f"/fhir/Condition/dmp-{e['id']}", headers=auth))
    assert c["clinicalStatus"]["coding"][0]["code"] == "active"
    assert "abatementDateTime" not in c
    ep = ok(await client.get(f"/fhir/EpisodeOfCare/dmp-{e['id']}", headers=auth))
    assert ep["status"] == "finished"


async def test_no_programme_diagnosis_without_screening_read(client, login, make_user, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(30))
    cid = f"dmp-{e['id']}"
    obstetrician = await login(await make_user("obstetrician", facility_code=scr.polyclinic.code))
    assert (await client.get(f"/fhir/Condition/{cid}", headers=obstetrician)).status_code == 403
    assert (await client.get(f"/fhir/Condition?_id={cid}", headers=obstetrician)).status_code == 403
    # her search by patient answers the registers she reads, without the programme's
    r = await client.get(f"/fhir/Condition?patient={p.id}", headers=obstetrician)
    assert cid not in [x["id"] for x in entries(ok(r))]
    analyst = await login(await make_user("analyst"))
    assert (await client.get(f"/fhir/Condition/{cid}", headers=analyst)).status_code == 403
    # out of the doctor's scope: 404 like a missing one
    other = await login(scr.other_doctor_account)
    assert (await client.get(f"/fhir/Condition/{cid}", headers=other)).status_code == 404
    assert (await client.get("/fhir/Condition/dmp-0", headers=auth)).status_code == 404


# ---- a transaction or batch of screening results ----------------------------------------------


def _result(person_id: int, systolic: int, diastolic: int = 88) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "meta": {"profile": [mapper.PROFILE]},
        "extension": [
            {"url": mapper.PROGRAMME_EXT,
             "valueCoding": {"system": mapper.PROGRAMME_SYSTEM, "code": "health_profile"}}
        ],
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": _day(20),
        "interpretation": [{"coding": [{"code": "N"}]}],
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
             "valueQuantity": {"value": systolic, "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
             "valueQuantity": {"value": diastolic, "system": UCUM, "code": "mm[Hg]"}},
        ],
    }  # fmt: skip


def _bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources
        ],
    }


async def _visits(client, auth, person_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/v1/persons/{person_id}/screening-card", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["visits"]  # type: ignore[no-any-return]


async def test_a_transaction_of_screening_results_is_stored_as_screenings(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))  # 18-40: the health-profile check
    body = ok(
        await client.post("/fhir", json=_bundle("transaction", _result(p.id, 128)), headers=auth)
    )
    assert body["type"] == "transaction-response"
    [entry] = body["entry"]
    assert entry["response"]["status"] == "201 Created"
    location = entry["response"]["location"]
    assert location.startswith("Observation/screening-")
    assert location.endswith("/_history/1")
    read = ok(await client.get(f"/fhir/{location.removesuffix('/_history/1')}", headers=auth))
    assert _bp(read) == (("8480-6", _mmhg(128)), ("8462-4", _mmhg(88)))
    # stored through the screening service, not as a shared-record resource
    [visit] = await _visits(client, auth, p.id)
    assert [(m["kind"], m["systolic"]) for m in visit["measurements"]] == [("bp", 128)]


async def test_an_impossible_systolic_fails_the_transaction_naming_the_element(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    bundle = _bundle("transaction", _result(p.id, 400))
    r = await client.post("/fhir", json=bundle, headers=auth)
    assert "Bundle.entry[0].resource.component[0].valueQuantity.value" in issues(r, 422)
    # a good result beside it is not stored either: all or nothing
    bundle = _bundle("transaction", _result(p.id, 120), _result(p.id, 400))
    r = await client.post("/fhir", json=bundle, headers=auth)
    assert "Bundle.entry[1].resource.component[0].valueQuantity.value" in issues(r, 422)
    assert await _visits(client, auth, p.id) == []


async def test_a_batch_answers_each_screening_result(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    bundle = _bundle("batch", _result(p.id, 400), _result(p.id, 121))
    body = ok(await client.post("/fhir", json=bundle, headers=auth))
    bad, good = body["entry"]
    assert bad["response"]["status"].startswith("422")
    [issue] = bad["response"]["outcome"]["issue"]
    assert issue["expression"] == ["Bundle.entry[0].resource.component[0].valueQuantity.value"]
    assert good["response"]["status"] == "201 Created"
    [visit] = await _visits(client, auth, p.id)
    assert visit["measurements"][0]["systolic"] == 121


async def test_a_bundle_result_needs_screening_record(client, login, make_user, scr):
    """An obstetrician writes the shared record, not screening results."""
    obstetrician = await login(await make_user("obstetrician", facility_code=scr.polyclinic.code))
    p = await scr.make_patient(date(1990, 1, 1))
    r = await client.post(
        "/fhir", json=_bundle("transaction", _result(p.id, 120)), headers=obstetrician
    )
    assert r.status_code == 403, r.text
    auth = await login(scr.nurse_account)
    assert await _visits(client, auth, p.id) == []


# ---- CapabilityStatement ------------------------------------------------------------------------


async def test_metadata_lists_the_programme_diagnosis(client):
    r = await client.get("/fhir/metadata")
    assert r.status_code == 200, r.text
    cs = r.json()
    CapabilityStatement.model_validate(cs)
    [condition] = [x for x in cs["rest"][0]["resource"] if x["type"] == "Condition"]
    assert "Screening" in condition["documentation"]
    assert {i["code"] for i in condition["interaction"]} >= {"read", "search-type"}
    assert {"patient", "code", "clinical-status", "_id"} <= {
        p["name"] for p in condition["searchParam"]
    }
    [observation] = [x for x in cs["rest"][0]["resource"] if x["type"] == "Observation"]
    assert "dmp-" in observation["documentation"]


@pytest.mark.parametrize(
    ("url", "status", "element"),
    [
        ("/fhir/Condition?patient={p}&clinical-status=bogus", 422, "clinical-status"),
        ("/fhir/Condition?_id=dmp-{e}&clinical-status=inactive", 422, "clinical-status"),
        ("/fhir/Condition?_id=dmp-{e}&_count=-1", 422, "_count"),
        ("/fhir/Condition/dmp-abc", 404, None),
        ("/fhir/Condition/dmp-99999999999999999999999", 404, None),
        ("/fhir/Observation/dmp-{e}-x", 404, None),
        ("/fhir/Observation/dmp-1-99999999999999999999999", 404, None),
        ("/fhir/Observation?_id=dmp-{e}-1&category=" + SCREENING + "&date=tomorrow", 422, "date"),
    ],
)
async def test_odd_requests_are_refused_naming_the_parameter(
    client, login, scr, url, status, element
):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, _day(30))
    r = await client.get(url.format(p=p.id, e=e["id"]), headers=auth)
    found = issues(r, status)
    if element is not None:
        assert element in found


@pytest.mark.parametrize(
    ("change", "element"),
    [
        (lambda r, e: r.pop("subject"), "Bundle.entry[0].resource.subject"),
        (lambda r, e: r.pop("effectiveDateTime"), "Bundle.entry[0].resource.effectiveDateTime"),
        (
            lambda r, e: r["component"][1]["valueQuantity"].update(value=400),
            "Bundle.entry[0].resource.component[1].valueQuantity.value",
        ),
        (
            lambda r, e: r["component"][0]["valueQuantity"].update(value="abc"),
            "Bundle.entry[0].resource.component[0].valueQuantity.value",
        ),
        (
            lambda r, e: e["request"].update(ifNoneExist="identifier=x|1"),
            "Bundle.entry[0].request.ifNoneExist",
        ),
    ],
)
async def test_bundle_result_refusals_name_the_entry_element(client, login, scr, change, element):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    bundle = _bundle("transaction", _result(p.id, 120))
    change(bundle["entry"][0]["resource"], bundle["entry"][0])
    r = await client.post("/fhir", json=bundle, headers=auth)
    assert r.status_code in (400, 422), r.text
    assert any(x.startswith(element) for x in issues(r, r.status_code)), r.text
    assert await _visits(client, auth, p.id) == []
