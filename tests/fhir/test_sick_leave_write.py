"""Sick-leave certificates opened and extended by another system through FHIR: the same
rules as the REST API, refusals naming the element sent, nothing stored on a refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import RelationIn
from salomat.domains.sickleave import service
from salomat.fhir import sick_leave as mapper
from tests.fhir.test_sick_leave import (
    CLERK,
    EXTEND_ENDS_ON,
    TODAY,
    Clinic,
    certificates_of,
    document,
    ext,
    issues,
    make_clinic,
    ok,
    open_flu,
    vkk,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> Clinic:
    return await make_clinic(make_facility, make_person, make_user, login)


async def test_open_through_fhir_then_extend_past_the_limit_after_the_vkk(client, clinic, db):
    alone = service.sick_leave_rules().practitioners["doctor"].alone_days
    r = await client.post(
        "/fhir/DocumentReference", json=document(clinic.worker.id), headers=clinic.doctor
    )
    doc = ok(r, 201)
    assert r.headers["location"].endswith(f"/fhir/DocumentReference/{doc['id']}/_history/1")
    assert doc["contained"][0]["code"]["coding"][0]["code"] == "J11.1"
    assert [x["attachment"]["contentType"] for x in doc["content"]] == [
        "application/pdf",
        "application/json",
    ]
    rest = await client.get(f"/api/v1/sick-leave/{doc['id']}", headers=clinic.doctor)
    assert (rest.json()["source"], rest.json()["days"]) == ("fhir", 5)
    url = f"/fhir/DocumentReference/{doc['id']}/$extend"

    def extend(*params: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": list(params)}

    past = TODAY + timedelta(days=alone)  # day alone + 1 of the certificate
    until = {"name": "ends_on", "valueDate": past.isoformat()}
    r = await client.post(url, json=extend(until), headers=clinic.doctor)
    assert issues(r, 422) == {EXTEND_ENDS_ON}
    assert "VKK" in r.json()["issue"][0]["diagnostics"]
    assert (
        len(
            (await client.get(f"/api/v1/sick-leave/{doc['id']}", headers=clinic.doctor)).json()[
                "periods"
            ]
        )
        == 1
    )

    r = await client.post(
        f"/api/v1/sick-leave/{doc['id']}/vkk", json=vkk(past), headers=clinic.doctor
    )
    assert r.status_code == 201, r.text
    decision = r.json()["vkk_decisions"][0]["id"]
    # a stale version: 412, nothing added
    r = await client.post(url, json=extend(until), headers={**clinic.doctor, "If-Match": 'W/"1"'})
    issues(r, 412)
    r = await client.post(
        url,
        json=extend(until, {"name": "vkk_decision_id", "valueInteger": decision}),
        headers=clinic.doctor,
    )
    doc = ok(r)
    assert r.headers["etag"] == f'W/"{doc["meta"]["versionId"]}"'
    periods = ext(doc, mapper.PERIOD_EXT)
    assert [p["grantedAs"] for p in periods] == ["doctor", "vkk"]
    assert periods[1]["start"] == (TODAY + timedelta(days=5)).isoformat()
    assert periods[1]["end"] == past.isoformat()
    assert periods[1]["vkkDecision"]["value"] == str(decision)
    assert doc["context"]["period"]["end"] == past.isoformat()
    [d] = ext(doc, mapper.VKK_EXT)
    assert (d["decision"], d["extendUntil"]) == ("extend", past.isoformat())


async def test_a_care_certificate_names_the_sick_child_as_the_conditions_subject(
    client, db, clinic, make_person
):
    child = await make_person(
        facility_code=clinic.facility.code, birth_date=TODAY - timedelta(days=3 * 365), sex="female"
    )
    await registry.add_relation(
        db,
        CLERK,
        child.id,
        RelationIn(related_person_id=clinic.worker.id, kind="father", document="BC-7"),
    )
    await db.commit()
    body = document(
        clinic.worker.id,
        reason="care",
        sick=child.id,
        diagnosis="J06.9",
        end=TODAY + timedelta(days=2),
    )
    body["type"]["coding"][0]["code"] = "care"
    doc = ok(await client.post("/fhir/DocumentReference", json=body, headers=clinic.doctor), 201)
    assert doc["contained"][0]["subject"] == {"reference": f"Patient/{child.id}"}
    assert doc["subject"] == {"reference": f"Patient/{clinic.worker.id}"}
    rest = (await client.get(f"/api/v1/sick-leave/{doc['id']}", headers=clinic.doctor)).json()
    assert (rest["kind"], rest["cared_person_id"]) == ("care", child.id)
    # the child named nowhere: refused on the Condition's subject
    body = document(clinic.worker.id, reason="care")
    body["type"]["coding"][0]["code"] = "care"
    r = await client.post("/fhir/DocumentReference", json=body, headers=clinic.doctor)
    assert "DocumentReference.contained[0].subject" in issues(r, 422)


async def test_bad_input_is_refused_naming_the_element_and_nothing_is_stored(client, db, clinic):
    pid = clinic.worker.id
    period = f"DocumentReference.extension('{mapper.PERIOD_EXT}')"
    doc = document(pid)
    no_content = {k: v for k, v in doc.items() if k != "content"}
    two_periods = document(pid)
    two_periods["extension"] = two_periods["extension"] * 2
    kind_care = document(pid)  # own illness is of the kind illness
    kind_care["type"]["coding"][0]["code"] = "care"
    granted = document(pid)
    granted["extension"][0]["extension"].append({"url": "grantedAs", "valueCode": "vkk"})
    cases: list[tuple[Any, int, set[str]]] = [
        ({**doc, "resourceType": "Patient"}, 400, {"DocumentReference.resourceType"}),
        (no_content, 400, {"DocumentReference.content"}),
        (document(pid, status="superseded"), 422, {"DocumentReference.status"}),
        (document(pid, reason="maternity"), 422, {"DocumentReference.type"}),
        (document(pid, reason="sunburn"), 422, {"DocumentReference.type"}),
        # opened only on the commission's decision, which FHIR does not carry
        (document(pid, reason="sanatorium_aftercare"), 422, {"DocumentReference.type"}),
        (kind_care, 422, {"DocumentReference.type"}),
        (
            document(pid, contained=[]),
            422,
            {"DocumentReference.contained", "DocumentReference.context.related[0]"},
        ),
        (document(pid, diagnosis="X99.99"), 422, {"DocumentReference.contained[0].code"}),
        (document(pid, subject={"reference": "Group/1"}), 422, {"DocumentReference.subject"}),
        (
            document(pid, identifier=[{"system": mapper.number_system(), "value": "1"}]),
            422,
            {"DocumentReference.identifier"},
        ),
        (two_periods, 422, {period}),
        (granted, 422, {f"{period}.extension('grantedAs')"}),
        (document(pid, end=TODAY - timedelta(days=1)), 422, {f"{period}.extension('end')"}),
        (document(pid, end=None), 422, {f"{period}.extension('end')"}),
        (
            document(pid, start=TODAY + timedelta(days=1), end=TODAY + timedelta(days=2)),
            422,
            {f"{period}.extension('start')"},
        ),
        (
            document(
                pid, context={"related": [{"reference": "#dx"}], "period": {"start": "2001-01-01"}}
            ),
            422,
            {"DocumentReference.context.period"},
        ),
        (document(pid, sick=pid + 10**9), 422, {"DocumentReference.contained[0].subject"}),
    ]
    for body, status, expected in cases:
        r = await client.post("/fhir/DocumentReference", json=body, headers=clinic.doctor)
        assert issues(r, status) == expected, body
    r = await client.post("/fhir/DocumentReference", content=b"{not json", headers=clinic.doctor)
    issues(r, 400)
    # a person outside the doctor's scope: as if there were none
    r = await client.post("/fhir/DocumentReference", json=document(10**12), headers=clinic.doctor)
    issues(r, 404)
    assert await certificates_of(db, pid) == 0

    c = await open_flu(client, clinic)
    url = f"/fhir/DocumentReference/{c['id']}/$extend"
    for params, status, expected in (
        ([{"name": "colour", "valueString": "red"}], 422, {"Parameters.parameter[0]"}),
        ([{"name": "ends_on", "valueString": "tomorrow"}], 422, {EXTEND_ENDS_ON}),
        (
            [{"name": "days", "valueInteger": 0}],
            422,
            {"Parameters.parameter.where(name='days')"},
        ),
        ([], 422, {EXTEND_ENDS_ON}),
        (
            [{"name": "ends_on", "valueDate": TODAY.isoformat()}],
            422,
            {EXTEND_ENDS_ON},
        ),
        (
            [
                {"name": "days", "valueInteger": 1},
                {"name": "vkk_decision_id", "valueInteger": 10**9},
            ],
            422,
            {"Parameters.parameter.where(name='vkk_decision_id')"},
        ),
    ):
        r = await client.post(
            url, json={"resourceType": "Parameters", "parameter": params}, headers=clinic.doctor
        )
        assert issues(r, status) == expected, params
    r = await client.post(url, json={"resourceType": "Patient"}, headers=clinic.doctor)
    issues(r, 400)
    r = await client.post(
        "/fhir/DocumentReference/999999999999/$extend",
        json={"resourceType": "Parameters", "parameter": [{"name": "days", "valueInteger": 1}]},
        headers=clinic.doctor,
    )
    issues(r, 404)
    rest = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()
    assert len(rest["periods"]) == 1
    assert rest["version"] == 1
    assert await certificates_of(db, pid) == 1


async def test_the_period_may_come_as_context_period(client, db, clinic):
    """Without the period extension, ``context.period`` (whole days) is the first period."""
    body = document(clinic.worker.id)
    del body["extension"]
    last = TODAY + timedelta(days=2)
    body["context"]["period"] = {"start": TODAY.isoformat(), "end": last.isoformat()}
    doc = ok(await client.post("/fhir/DocumentReference", json=body, headers=clinic.doctor), 201)
    assert [(p["start"], p["end"]) for p in ext(doc, mapper.PERIOD_EXT)] == [
        (TODAY.isoformat(), last.isoformat())
    ]
    body["context"]["period"] = {"start": f"{TODAY}T08:00:00+05:00", "end": last.isoformat()}
    r = await client.post("/fhir/DocumentReference", json=body, headers=clinic.doctor)
    assert issues(r, 422) == {"DocumentReference.context.period.start"}
    assert await certificates_of(db, clinic.worker.id) == 1
