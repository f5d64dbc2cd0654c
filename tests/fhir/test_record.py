"""The shared health record over FHIR: create (conditional), read, vread, history, update,
search of the seven types other systems send; NamingSystem; and the claims that leave the
other domains' share of Encounter, Observation, Condition and DocumentReference to them."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from salomat.fhir.record_api import SEARCH_PARAMS
from tests.factories import unique
from tests.fhir import test_maternal

pytestmark = pytest.mark.anyio
#: a woman with a pregnancy and two antenatal contacts (tests/fhir/test_maternal.py)
pregnancy = test_maternal.register

FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PDF = base64.b64encode(b"%PDF-1.4 discharge summary").decode()


def ok(r, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def ids(b: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in b.get("entry", [])]


def sent_part(resource: dict[str, Any]) -> dict[str, Any]:
    """A stored resource without what the server sets (id, meta but meta.source)."""
    out = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    source = resource.get("meta", {}).get("source")
    if source is not None:
        out["meta"] = {"source": source}
    return out


@dataclass
class World:
    patient: Any
    other: Any  # a person attached elsewhere, out of the doctor's scope
    doctor: dict[str, str]  # family doctor of the patient's polyclinic
    hospital: dict[str, str]  # a clinician of another facility that sends records
    stranger: dict[str, str]  # a doctor of a third facility: the patient out of scope
    oncologist: dict[str, str]
    admin: dict[str, str]
    system: str  # a registered identifier system


@pytest.fixture
async def world(client, make_facility, make_person, make_user, login) -> World:
    fac = await make_facility()
    patient = await make_person(facility_code=fac.code)
    other = await make_person(facility_code=(await make_facility()).code)
    admin = await login(await make_user("admin"))
    system = f"https://hospital-{unique('h').lower()}.example/encounters"
    r = await client.post(
        "/fhir/NamingSystem",
        json={
            "resourceType": "NamingSystem",
            "name": "CityHospitalEncounters",
            "status": "active",
            "kind": "identifier",
            "date": "2026-11-01",
            "uniqueId": [{"type": "uri", "value": system, "preferred": True}],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return World(
        patient=patient,
        other=other,
        doctor=await login(await make_user("family_doctor", facility_code=fac.code)),
        hospital=await login(await make_user("nurse")),
        stranger=await login(await make_user("family_doctor")),
        oncologist=await login(await make_user("oncologist", facility_code=fac.code)),
        admin=admin,
        system=system,
    )


# ---- rich examples of every type -----------------------------------------------------------


def encounter(w: World, n: str = "1", **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "Encounter",
        "meta": {"source": "urn:oid:1.2.860.3.44#his"},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Admission to cardiology</div>',
        },
        "extension": [{"url": "https://hospital.example/ext/ward", "valueString": "Ward 3"}],
        "identifier": [{"system": w.system, "value": f"ENC-{n}-{unique('e')}"}],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter",
        },
        "type": [
            {
                "coding": [{"system": SNOMED, "code": "32485007", "display": "Hospital admission"}],
                "text": "Admission",
            }
        ],
        "subject": {"reference": f"Patient/{w.patient.id}", "display": "the patient"},
        "period": {"start": "2026-03-01T08:00:00+05:00", "end": "2026-03-05T12:30:00+05:00"},
        "reasonCode": [{"coding": [{"system": ICD10, "code": "I10"}], "text": "Hypertension"}],
        "hospitalization": {"dischargeDisposition": {"text": "home"}},
        "serviceProvider": {"display": "City hospital No. 1"},
    }
    body.update(extra)
    return body


def condition(w: World, enc: str, **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                    }
                ]
            }
        ],
        "severity": {"coding": [{"system": SNOMED, "code": "6736007", "display": "Moderate"}]},
        "code": {
            "coding": [
                {"system": ICD10, "code": "I10", "display": "Essential (primary) hypertension"},
                {"system": SNOMED, "code": "59621000", "display": "Essential hypertension"},
            ],
            "text": "Essential hypertension",
        },
        "subject": {"reference": f"Patient/{w.patient.id}"},
        "encounter": {"reference": f"Encounter/{enc}"},
        "onsetDateTime": "2026-03-01",
        "recordedDate": "2026-03-02T09:00:00+05:00",
        "recorder": {"display": "Dr. Karimova"},
        "note": [{"text": "Known for 2 years, untreated."}],
    }
    body.update(extra)
    return body


def observation(w: World, enc: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs"}]}],
        "code": {
            "coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}],
            "text": "Blood pressure",
        },
        "subject": {"reference": f"Patient/{w.patient.id}"},
        "effectiveDateTime": "2026-03-01T09:15:00+05:00",
        "issued": "2026-03-01T09:20:00.000+05:00",
        "performer": [{"display": "Nurse Aliyeva"}],
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H",
                    }
                ]
            }
        ],
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {
                    "value": 150,
                    "unit": "mm[Hg]",
                    "system": UCUM,
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {
                    "value": 95.5,
                    "unit": "mm[Hg]",
                    "system": UCUM,
                    "code": "mm[Hg]",
                },
            },
        ],
    }
    if enc is not None:
        body["encounter"] = {"reference": f"Encounter/{enc}"}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def procedure(w: World, enc: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "category": {"coding": [{"system": SNOMED, "code": "387713003", "display": "Surgery"}]},
        "code": {"coding": [{"system": SNOMED, "code": "80146002", "display": "Appendectomy"}]},
        "subject": {"reference": f"Patient/{w.patient.id}"},
        "encounter": {"reference": f"Encounter/{enc}"},
        "performedPeriod": {
            "start": "2026-03-02T10:00:00+05:00",
            "end": "2026-03-02T11:10:00+05:00",
        },
        "performer": [{"actor": {"display": "Dr. Rahimov"}}],
        "bodySite": [{"coding": [{"system": SNOMED, "code": "66754008", "display": "Appendix"}]}],
        "outcome": {"text": "successful"},
        "note": [{"text": "No complications."}],
    }


def allergy(w: World) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "confirmed",
                }
            ]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {"coding": [{"system": SNOMED, "code": "764146007", "display": "Penicillin"}]},
        "patient": {"reference": f"Patient/{w.patient.id}"},
        "recordedDate": "2026-03-01",
        "reaction": [
            {
                "manifestation": [
                    {"coding": [{"system": SNOMED, "code": "271807003", "display": "Rash"}]}
                ],
                "severity": "moderate",
            }
        ],
    }


def diagnostic_report(w: World, enc: str, obs: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": "58410-2", "display": "CBC panel"}]},
        "subject": {"reference": f"Patient/{w.patient.id}"},
        "encounter": {"reference": f"Encounter/{enc}"},
        "effectiveDateTime": "2026-03-02T07:00:00+05:00",
        "issued": "2026-03-02T12:00:00+05:00",
        "result": [{"reference": f"Observation/{obs}"}],
        "conclusion": "Within normal limits.",
    }


def document(w: World, enc: str, **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "18842-5", "display": "Discharge summary"}]},
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Record"}]}
        ],
        "subject": {"reference": f"Patient/{w.patient.id}"},
        "date": "2026-03-05T12:00:00+05:00",
        "author": [{"display": "City hospital No. 1"}],
        "description": "Discharge summary",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": PDF,
                    "size": len(base64.b64decode(PDF)),
                    "title": "Discharge summary.pdf",
                }
            }
        ],
        "context": {"encounter": [{"reference": f"Encounter/{enc}"}]},
    }
    body.update(extra)
    return body


async def create(client, headers, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = await client.post(f"/fhir/{body['resourceType']}", json=body, headers=headers)
    got = ok(r, status)
    assert got["id"].startswith("shr-")
    assert r.headers["location"].endswith(
        f"/fhir/{body['resourceType']}/{got['id']}/_history/{got['meta']['versionId']}"
    )
    assert r.headers["etag"] == f'W/"{got["meta"]["versionId"]}"'
    assert "last-modified" in r.headers
    return got


# ---- create, read, vread: every element comes back --------------------------------------------


async def test_every_type_round_trips_unchanged(client, world):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w, enc["id"]))
    sent = [
        encounter(w, "2"),
        condition(w, enc["id"]),
        observation(w, enc["id"]),
        procedure(w, enc["id"]),
        allergy(w),
        diagnostic_report(w, enc["id"], obs["id"]),
        document(w, enc["id"]),
    ]
    for body in sent:
        original = copy.deepcopy(body)
        got = await create(client, w.hospital, body)
        assert got["meta"]["versionId"] == "1"
        assert sent_part(got) == original, body["resourceType"]
        # the family doctor of the patient reads it as sent
        r = await client.get(f"/fhir/{body['resourceType']}/{got['id']}", headers=w.doctor)
        read = ok(r)
        assert r.headers["etag"] == 'W/"1"'
        assert "last-modified" in r.headers
        assert read == got
        v1 = ok(
            await client.get(
                f"/fhir/{body['resourceType']}/{got['id']}/_history/1", headers=w.doctor
            )
        )
        assert v1 == got
    # the sending facility now holds the person in scope: it reads back what it sent
    ok(await client.get(f"/fhir/Encounter/{enc['id']}", headers=w.hospital))


async def test_update_with_if_match_history_and_vread(client, world):
    w = world
    first = await create(client, w.hospital, observation(w))
    oid = first["id"]
    changed = {**observation(w), "id": oid, "status": "amended", "note": [{"text": "re-read"}]}
    r = await client.put(
        f"/fhir/Observation/{oid}", json=changed, headers={**w.hospital, "If-Match": 'W/"1"'}
    )
    second = ok(r)
    assert second["meta"]["versionId"] == "2"
    assert r.headers["etag"] == 'W/"2"'
    assert r.headers["location"].endswith(f"/fhir/Observation/{oid}/_history/2")
    assert sent_part(second) == {k: v for k, v in changed.items() if k != "id"}
    # a stale version: refused 412 as FHIR R4 has it (http.html, update), nothing changed
    r = await client.put(
        f"/fhir/Observation/{oid}", json=changed, headers={**w.hospital, "If-Match": 'W/"1"'}
    )
    assert r.status_code == 412, r.text
    assert r.json()["issue"][0]["code"] == "conflict"
    r = await client.put(
        f"/fhir/Observation/{oid}",
        json={**changed, "meta": {"versionId": "1"}},
        headers=w.hospital,
    )
    assert r.status_code == 412, r.text
    # no version at all
    r = await client.put(f"/fhir/Observation/{oid}", json=changed, headers=w.hospital)
    assert r.status_code == 412, r.text
    # the URL's id and the body's must agree
    r = await client.put(
        f"/fhir/Observation/{oid}",
        json={**changed, "id": "shr-999999"},
        headers={**w.hospital, "If-Match": 'W/"2"'},
    )
    assert issues(r, 400) == {"Observation.id"}
    # the person may not change
    moved = {**changed, "subject": {"reference": f"Patient/{w.other.id}"}}
    r = await client.put(
        f"/fhir/Observation/{oid}", json=moved, headers={**w.hospital, "If-Match": 'W/"2"'}
    )
    assert issues(r, 422) == {"Observation.subject"}
    # no update-as-create (updateCreate false): a shr- id naming nothing is 405 as R4
    # http.html has it; so is another type's id, and one of a person outside the caller's
    # scope (the same answer, as a read's 404 is)
    for t, rid, who in (
        ("Observation", "shr-999999999", w.hospital),
        ("Encounter", oid, w.hospital),
        ("Observation", oid, w.stranger),
    ):
        r = await client.put(
            f"/fhir/{t}/{rid}",
            json={**(changed if t == "Observation" else encounter(w, "x")), "id": rid},
            headers={**who, "If-Match": 'W/"2"'},
        )
        assert r.status_code == 405, (t, rid, r.text)
        assert r.headers["allow"] == "GET"
        assert r.json()["issue"][0]["code"] == "not-supported"
    # an id that is not the record's at all: not found
    r = await client.put(
        "/fhir/Observation/shr-x", json={**changed, "id": "shr-x"}, headers=w.hospital
    )
    assert r.status_code == 404, r.text
    cs = ok(await client.get("/fhir/metadata"))
    listed = {x["type"]: x for x in cs["rest"][0]["resource"]}
    assert listed["Observation"]["updateCreate"] is False

    h = ok(await client.get(f"/fhir/Observation/{oid}/_history", headers=w.doctor))
    assert h["type"] == "history"
    assert [e["request"]["method"] for e in h["entry"]] == ["PUT", "POST"]
    assert [e["resource"]["meta"]["versionId"] for e in h["entry"]] == ["2", "1"]
    paged = ok(
        await client.get(
            f"/fhir/Observation/{oid}/_history",
            params={"_count": "1", "_offset": "1"},
            headers=w.doctor,
        )
    )
    assert paged["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in paged["entry"]] == ["1"]
    v1 = ok(await client.get(f"/fhir/Observation/{oid}/_history/1", headers=w.doctor))
    assert v1["status"] == "final"
    assert v1 == first
    r = await client.get(f"/fhir/Observation/{oid}/_history/3", headers=w.doctor)
    assert r.status_code == 404, r.text
    now = ok(await client.get(f"/fhir/Observation/{oid}", headers=w.doctor))
    assert now == second


def _text(value: Any) -> str:
    """A JSON member's value as the answer writes it (compact, as Starlette does)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def test_search_history_vread_and_batch_return_each_value_as_written(client, world):
    """Every answer holding a stored resource gives it back to the character: a search's,
    a history's and a batch's Bundle do not write its times again as the R4B model would
    (``09:20:00.000+05:00`` as ``09:20:00+05:00``, ``09:15:00.5`` as ``09:15:00.500000``,
    meta.lastUpdated ``.363Z`` as ``.363000Z``)."""
    w = world
    written = {
        "issued": "2026-03-01T09:20:00.000+05:00",
        "effectiveDateTime": "2026-03-01T09:15:00.5+05:00",
        "valueTime": "09:15:00.5",
    }
    first = await create(client, w.hospital, observation(w, **written))
    oid = first["id"]
    changed = {**observation(w, **written), "id": oid, "note": [{"text": "checked"}]}
    second = ok(
        await client.put(
            f"/fhir/Observation/{oid}", json=changed, headers={**w.hospital, "If-Match": 'W/"1"'}
        )
    )
    versions = {"1": first, "2": second}

    def same(got: dict[str, Any], raw: str, want: dict[str, Any]) -> None:
        assert got == want
        for name, value in written.items():
            assert got[name] == value
            assert f'"{name}":{_text(value)}' in raw, name
        stamp = want["meta"]["lastUpdated"]
        assert len(stamp.rsplit(".", 1)[1]) == len("363Z"), stamp  # to the millisecond
        assert f'"lastUpdated":{_text(stamp)}' in raw

    r = await client.get(f"/fhir/Observation/{oid}", headers=w.doctor)
    same(ok(r), r.text, second)
    for v, want in versions.items():
        r = await client.get(f"/fhir/Observation/{oid}/_history/{v}", headers=w.doctor)
        same(ok(r), r.text, want)
    r = await client.get("/fhir/Observation", params={"_id": oid}, headers=w.doctor)
    (entry,) = ok(r)["entry"]
    same(entry["resource"], r.text, second)
    r = await client.get(f"/fhir/Observation/{oid}/_history", headers=w.doctor)
    history = ok(r)
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    for e in history["entry"]:
        want = versions[e["resource"]["meta"]["versionId"]]
        same(e["resource"], r.text, want)
        # the entry's lastModified reads as the resource's lastUpdated
        assert e["response"]["lastModified"] == want["meta"]["lastUpdated"]
    # the same through a batch's reads (POST /fhir, reading only)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Observation/{oid}"}},
            {"request": {"method": "GET", "url": f"Observation/{oid}/_history/1"}},
            {"request": {"method": "GET", "url": f"Observation?_id={oid}"}},
            {"request": {"method": "GET", "url": f"Observation/{oid}/_history"}},
        ],
    }
    r = await client.post("/fhir", json=batch, headers=w.hospital)
    read, vread, found, hist = ok(r)["entry"]
    assert [e["response"]["status"][:3] for e in (read, vread, found, hist)] == ["200"] * 4
    same(read["resource"], r.text, second)
    same(vread["resource"], r.text, first)
    same(found["resource"]["entry"][0]["resource"], r.text, second)
    assert [e["resource"] for e in hist["resource"]["entry"]] == [second, first]


async def test_conditional_create_by_identifier(client, world):
    w = world
    body = encounter(w)
    ident = body["identifier"][0]
    condition_header = {"If-None-Exist": f"identifier={ident['system']}|{ident['value']}"}
    first = await create(client, {**w.hospital, **condition_header}, body)
    # the condition names one of the body's identifiers (else 422)
    resent = dict(encounter(w), identifier=body["identifier"])
    again = await create(client, {**w.hospital, **condition_header}, resent, status=200)
    assert again["id"] == first["id"]
    # the same business identifier without the condition: one resource per identifier
    r = await client.post("/fhir/Encounter", json=body, headers=w.hospital)
    assert r.status_code in (409, 422), r.text
    r = await client.post(
        "/fhir/Encounter", json=body, headers={**w.hospital, "If-None-Exist": "colour=red"}
    )
    assert issues(r, 422) == {"If-None-Exist: colour"}


# ---- refusals -----------------------------------------------------------------------------------


async def test_refusals_name_the_element(client, world):
    w = world
    post = client.post

    async def refused(body: dict[str, Any], status: int = 422) -> set[str]:
        return issues(
            await post(f"/fhir/{body['resourceType']}", json=body, headers=w.hospital), status
        )

    bad = observation(w, valueQuantity={"value": "lots"}, status="bogus", colour="red")
    assert await refused(bad) == {
        "Observation.valueQuantity.value",
        "Observation.status",
        "Observation.colour",
    }
    no_status = observation(w)
    del no_status["status"]
    assert "Observation.status" in await refused(no_status)
    for subject in ("Group/1", "Patient/999999999"):
        named = await refused(observation(w, subject={"reference": subject}))
        assert len(named) == 1
        assert named.pop().startswith("Observation.subject"), subject
    unregistered = encounter(
        w, identifier=[{"system": "https://nowhere.example/ids", "value": "1"}]
    )
    assert await refused(unregistered) == {"Encounter.identifier[0].system"}
    assert "Observation.modifierExtension" in await refused(
        observation(
            w, modifierExtension=[{"url": "https://x.example/ext/negated", "valueBoolean": True}]
        )
    )
    # an encounter of another person
    theirs = await create(
        client, w.hospital, encounter(w, subject={"reference": f"Patient/{w.other.id}"})
    )
    assert await refused(observation(w, theirs["id"])) == {"Observation.encounter"}
    enc = await create(client, w.hospital, encounter(w))
    doc = document(w, enc["id"])
    doc["content"][0]["attachment"]["contentType"] = "application/x-msdownload"
    assert await refused(doc) == {"DocumentReference.content[0].attachment.contentType"}
    doc = document(w, enc["id"])
    doc["content"][0]["attachment"]["size"] = 3
    assert await refused(doc) == {"DocumentReference.content[0].attachment.size"}
    # not JSON, another type than the URL's
    r = await post(
        "/fhir/Observation", content=b"{", headers={**w.hospital, "Content-Type": FHIR_JSON}
    )
    assert r.status_code == 400, r.text
    r = await post("/fhir/Procedure", json=encounter(w), headers=w.hospital)
    assert issues(r, 400) == {"Procedure.resourceType"}
    # roles without record:write
    registrar = w.admin
    r = await post("/fhir/Procedure", json=procedure(w, enc["id"]), headers=registrar)
    assert r.status_code == 403, r.text


async def test_unknown_and_out_of_scope_are_404(client, world):
    w = world
    got = await create(client, w.hospital, observation(w))
    for path in (
        "/fhir/Observation/shr-999999999",
        "/fhir/Procedure/shr-999999999",
        "/fhir/Procedure/12",
        "/fhir/Observation/shr-x",
        f"/fhir/Observation/{got['id']}/_history",
    ):
        r = await client.get(path, headers=w.stranger if "_history" in path else w.doctor)
        assert r.status_code == 404, (path, r.text)
    r = await client.get(f"/fhir/Observation/{got['id']}", headers=w.stranger)
    assert r.status_code == 404, r.text
    r = await client.get(f"/fhir/Observation/{got['id']}/_history/1", headers=w.stranger)
    assert r.status_code == 404, r.text
    # a search leaves out persons out of scope
    b = ok(
        await client.get(
            "/fhir/Observation", params={"subject": f"Patient/{w.patient.id}"}, headers=w.stranger
        )
    )
    assert b["total"] == 0
    # another type's id
    r = await client.get(f"/fhir/Condition/{got['id']}", headers=w.doctor)
    assert r.status_code == 404, r.text


# ---- search -------------------------------------------------------------------------------------


async def test_search_parameters(client, world):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    a = await create(
        client,
        w.hospital,
        observation(w, enc["id"], effectiveDateTime="2026-03-01T09:15:00+05:00"),
    )
    b = await create(
        client,
        w.hospital,
        observation(
            w,
            status="preliminary",
            effectiveDateTime="2026-03-10",
            code={"coding": [{"system": LOINC, "code": "8310-5", "display": "Body temperature"}]},
            valueQuantity={"value": 38.2, "unit": "Cel", "system": UCUM, "code": "Cel"},
            component=None,
            identifier=[{"system": w.system, "value": unique("OBS-")}],
        ),
    )
    c = await create(
        client,
        w.hospital,
        observation(
            w,
            effectiveDateTime="2026-04-20T10:00:00Z",
            category=[{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
            code={"coding": [{"system": LOINC, "code": "718-7", "display": "Hemoglobin"}]},
            component=None,
            valueQuantity={"value": 131, "unit": "g/L", "system": UCUM, "code": "g/L"},
        ),
    )
    for x in (b, c):
        assert "component" not in x

    async def found(**params: Any) -> list[str]:
        r = await client.get("/fhir/Observation", params=params, headers=w.doctor)
        return sorted(ids(ok(r)))

    subject = f"Patient/{w.patient.id}"
    every = sorted([a["id"], b["id"], c["id"]])
    assert await found(subject=subject) == every
    assert await found(patient=str(w.patient.id), _sort="date") == every
    assert await found(_id=f"{a['id']},{c['id']}") == sorted([a["id"], c["id"]])
    ident = b["identifier"][0]
    assert await found(identifier=f"{ident['system']}|{ident['value']}") == [b["id"]]
    assert await found(subject=subject, identifier=ident["value"]) == [b["id"]]
    assert await found(subject=subject, code=f"{LOINC}|718-7") == [c["id"]]
    assert await found(subject=subject, code="718-7,8310-5") == sorted([b["id"], c["id"]])
    assert await found(subject=subject, code="http://other.example|718-7") == []
    assert await found(subject=subject, category="laboratory") == [c["id"]]
    assert await found(subject=subject, category=f"{OBS_CATEGORY}|vital-signs") == sorted(
        [a["id"], b["id"]]
    )
    assert await found(subject=subject, status="preliminary") == [b["id"]]
    assert await found(subject=subject, status="final,preliminary") == every
    assert await found(subject=subject, encounter=f"Encounter/{enc['id']}") == [a["id"]]
    # dates: a day, the intervals before and after, prefixes
    assert await found(subject=subject, date="2026-03-10") == [b["id"]]
    assert await found(subject=subject, date="eq2026-03") == sorted([a["id"], b["id"]])
    assert await found(subject=subject, date="ne2026-03-10") == sorted([a["id"], c["id"]])
    assert await found(subject=subject, date="lt2026-03-10") == [a["id"]]
    assert await found(subject=subject, date="le2026-03-10") == sorted([a["id"], b["id"]])
    assert await found(subject=subject, date="gt2026-03-10") == [c["id"]]
    assert await found(subject=subject, date="ge2026-03-10") == sorted([b["id"], c["id"]])
    assert await found(subject=subject, date="sa2026-03-10") == [c["id"]]
    assert await found(subject=subject, date="eb2026-03-10") == [a["id"]]
    assert b["id"] in await found(subject=subject, date="ap2026-03-10")
    assert await found(subject=subject, date=["ge2026-03-02", "lt2026-04-01"]) == [b["id"]]
    assert await found(subject=subject, _lastUpdated="ge2000-01-01") == every
    assert await found(subject=subject, _lastUpdated="lt2000-01-01") == []

    r = await client.get(
        "/fhir/Observation", params={"subject": subject, "_sort": "-date"}, headers=w.doctor
    )
    assert ids(ok(r)) == [c["id"], b["id"], a["id"]]
    r = await client.get(
        "/fhir/Observation", params={"subject": subject, "_sort": "date"}, headers=w.doctor
    )
    assert ids(ok(r)) == [a["id"], b["id"], c["id"]]
    page = ok(
        await client.get(
            "/fhir/Observation",
            params={"subject": subject, "_sort": "date", "_count": "2", "_offset": "1"},
            headers=w.doctor,
        )
    )
    assert ids(page) == [b["id"], c["id"]]
    assert page["total"] == 3
    for summary in ({"_count": "0"}, {"_summary": "count"}):
        counted = ok(
            await client.get(
                "/fhir/Observation", params={"subject": subject, **summary}, headers=w.doctor
            )
        )
        assert counted["total"] == 3
        assert "entry" not in counted
    # refused, naming the parameter
    for bad, name in (
        ({"subject": subject, "date": "2026-13-01"}, "date"),
        ({"subject": subject, "_sort": "colour"}, "_sort"),
        ({"subject": subject, "_summary": "text"}, "_summary"),
        ({"subject": "Group/1"}, "subject"),
        ({"subject": subject, "colour": "red"}, "colour"),
    ):
        r = await client.get("/fhir/Observation", params=bad, headers=w.doctor)
        assert issues(r, 422) == {name}, bad
    r = await client.get("/fhir/Procedure", headers=w.doctor)
    assert issues(r, 422) == {"patient"}


async def test_search_of_the_other_types(client, world):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w, enc["id"]))
    cond = await create(
        client,
        w.hospital,
        condition(w, enc["id"], identifier=[{"system": w.system, "value": unique("DX-")}]),
    )
    proc = await create(client, w.hospital, procedure(w, enc["id"]))
    alg = await create(client, w.hospital, allergy(w))
    rep = await create(client, w.hospital, diagnostic_report(w, enc["id"], obs["id"]))
    doc = await create(client, w.hospital, document(w, enc["id"]))
    subject = f"Patient/{w.patient.id}"

    async def found(kind: str, **params: Any) -> list[str]:
        return ids(ok(await client.get(f"/fhir/{kind}", params=params, headers=w.doctor)))

    assert await found("Encounter", subject=subject) == [enc["id"]]
    assert await found("Encounter", subject=subject, status="finished") == [enc["id"]]
    assert await found("Condition", subject=subject, category="encounter-diagnosis") == [cond["id"]]
    assert await found("Condition", subject=subject, code=f"{SNOMED}|59621000") == [cond["id"]]
    assert await found("Condition", subject=subject, **{"clinical-status": "active"}) == [
        cond["id"]
    ]
    assert await found("Condition", subject=subject, **{"clinical-status": "resolved"}) == []
    # by identifier alone: the cancer registry's route and the record's answer together
    ident = cond["identifier"][0]
    assert await found("Condition", identifier=f"{ident['system']}|{ident['value']}") == [
        cond["id"]
    ]
    assert await found("Condition", identifier=ident["value"], code="I10") == [cond["id"]]
    assert await found("Condition", identifier=ident["value"], code="C18.2") == []
    assert await found("Procedure", patient=str(w.patient.id)) == [proc["id"]]
    assert await found("Procedure", patient=str(w.patient.id), date="2026-03-02") == [proc["id"]]
    assert await found("AllergyIntolerance", patient=subject) == [alg["id"]]
    assert await found("AllergyIntolerance", patient=subject, code="764146007") == [alg["id"]]
    assert await found("DiagnosticReport", patient=subject, category="LAB") == [rep["id"]]
    assert await found("DiagnosticReport", patient=subject, encounter=f"Encounter/{enc['id']}") == [
        rep["id"]
    ]
    assert await found("DocumentReference", subject=subject) == [doc["id"]]
    assert await found("DocumentReference", subject=subject, category="11503-0") == [doc["id"]]


async def test_a_search_by_patient_alone_answers_the_register_and_the_record(
    client, world, pregnancy
):
    """Encounter?patient=X is the pregnancy register's route: the record's Encounters of
    the same woman come after its contacts; the oncologist (no pregnancy:read) sees the
    record's only."""
    register = pregnancy
    woman, doctor = register["woman"], register["doctor"]
    w = World(**{**world.__dict__, "patient": woman})
    before = ok(await client.get("/fhir/Encounter", params={"patient": woman.id}, headers=doctor))
    contacts = ids(before)
    assert contacts
    assert not any(i.startswith("shr-") for i in contacts)
    sent = await create(client, w.hospital, encounter(w))
    after = ok(await client.get("/fhir/Encounter", params={"patient": woman.id}, headers=doctor))
    assert ids(after) == [*contacts, sent["id"]]
    assert after["total"] == len(contacts) + 1
    # paging runs across both
    last = ok(
        await client.get(
            "/fhir/Encounter",
            params={"patient": woman.id, "_count": "1", "_offset": str(len(contacts))},
            headers=doctor,
        )
    )
    assert ids(last) == [sent["id"]]
    counted = ok(
        await client.get(
            "/fhir/Encounter", params={"patient": woman.id, "_count": "0"}, headers=doctor
        )
    )
    assert counted["total"] == len(contacts) + 1
    summary = ok(
        await client.get(
            "/fhir/Encounter", params={"patient": woman.id, "_summary": "count"}, headers=doctor
        )
    )
    assert summary["total"] == len(contacts) + 1
    assert "entry" not in summary
    # Observation and Condition alike
    obs = await create(client, w.hospital, observation(w))
    got = ids(
        ok(await client.get("/fhir/Observation", params={"patient": woman.id}, headers=doctor))
    )
    assert got[-1] == obs["id"]
    assert len(got) > 1
    cond = await create(client, w.hospital, condition(w, sent["id"]))
    got = ids(ok(await client.get("/fhir/Condition", params={"patient": woman.id}, headers=doctor)))
    assert got[-1] == cond["id"]
    # the register's own parameters still go to it alone
    r = await client.get(
        "/fhir/Encounter",
        params={"episode-of-care": register["preg"]["id"]},
        headers=doctor,
    )
    assert ids(ok(r)) == contacts


async def test_the_oncologist_reads_the_record_share_without_the_register(
    client, world, make_user, login
):
    w = world
    sent = await create(client, w.hospital, encounter(w))
    b = ok(
        await client.get("/fhir/Encounter", params={"patient": w.patient.id}, headers=w.oncologist)
    )
    assert ids(b) == [sent["id"]]
    # a citizen: refused as the register refused before
    citizen = await login(await make_user("citizen", person_id=w.patient.id))
    r = await client.get("/fhir/Encounter", params={"patient": w.patient.id}, headers=citizen)
    assert r.status_code == 403, r.text


# ---- NamingSystem --------------------------------------------------------------------------------


async def test_naming_systems(client, world):
    w = world
    url = f"urn:oid:1.2.860.3.{uuid4().int % 10**9 + 1}"
    body = {
        "resourceType": "NamingSystem",
        "name": "RegionalLabIds",
        "status": "active",
        "kind": "identifier",
        "date": "2026-11-01",
        "responsible": "Regional laboratory",
        "description": "Specimen ids of the regional laboratory",
        "uniqueId": [{"type": "oid", "value": url.removeprefix("urn:oid:"), "preferred": True}],
    }
    r = await client.post("/fhir/NamingSystem", json=body, headers=w.admin)
    made = ok(r, 201)
    assert r.headers["location"].endswith(f"/fhir/NamingSystem/{made['id']}")
    assert made["uniqueId"] == body["uniqueId"]  # the OID as sent; kept as urn:oid:…
    assert made["responsible"] == "Regional laboratory"
    read = ok(await client.get(f"/fhir/NamingSystem/{made['id']}", headers=w.doctor))
    assert read == made
    by_value = ok(await client.get("/fhir/NamingSystem", params={"value": url}, headers=w.doctor))
    assert ids(by_value) == [made["id"]]
    by_url = ok(await client.get("/fhir/NamingSystem", params={"url": url}, headers=w.doctor))
    assert ids(by_url) == [made["id"]]
    by_name = ok(
        await client.get("/fhir/NamingSystem", params={"name": "RegionalLab"}, headers=w.doctor)
    )
    assert made["id"] in ids(by_name)
    every = ok(await client.get("/fhir/NamingSystem", params={"_count": "100"}, headers=w.doctor))
    builtin = [e for e in every["entry"] if "id" not in e["resource"]]
    assert builtin, "the platform's own systems are listed"
    # the same URI again, another kind, no URI, a clerk
    r = await client.post("/fhir/NamingSystem", json=body, headers=w.admin)
    assert r.status_code == 409, r.text
    r = await client.post(
        "/fhir/NamingSystem", json={**body, "kind": "codesystem"}, headers=w.admin
    )
    assert issues(r, 422) == {"NamingSystem.kind"}
    r = await client.post(
        "/fhir/NamingSystem",
        json={**body, "uniqueId": [{"type": "other", "value": "x"}]},
        headers=w.admin,
    )
    assert issues(r, 422) == {"NamingSystem.uniqueId"}
    r = await client.post("/fhir/NamingSystem", json=body, headers=w.doctor)
    assert r.status_code == 403, r.text
    r = await client.get("/fhir/NamingSystem/999999999", headers=w.doctor)
    assert r.status_code == 404, r.text
    # an identifier of the new system is now taken
    obs = observation(w, identifier=[{"system": url, "value": "S-1"}])
    await create(client, w.hospital, obs)


async def test_a_naming_system_is_kept_and_returned_as_sent(client, world):
    """Nothing of a registered NamingSystem is dropped or changed: date, publisher,
    contact, type, every uniqueId, meta.source and the narrative come back on create,
    read and search as sent, with the id and meta the server sets."""
    w = world
    uri = f"https://lab-{uuid4().hex[:8]}.example/orders"
    body = {
        "resourceType": "NamingSystem",
        "id": "mine",
        "meta": {"source": "urn:oid:1.2.860.3.77#lis", "versionId": "7"},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Lab order numbers</div>',
        },
        "extension": [{"url": "https://lab.example/ext/owner", "valueString": "IT"}],
        "name": "LabOrders",
        "status": "active",
        "kind": "identifier",
        "date": "2020-01-01T10:00:00.000+05:00",
        "publisher": "Lab Inc",
        "contact": [
            {"name": "IT desk", "telecom": [{"system": "email", "value": "it@lab.example"}]}
        ],
        "responsible": "Regional laboratory",
        "type": {"text": "orders"},
        "description": "Order numbers of the laboratory",
        "usage": "one per order",
        "uniqueId": [
            {"type": "uri", "value": uri, "preferred": True},
            {"type": "oid", "value": f"1.2.860.3.{uuid4().int % 10**9 + 1}", "comment": "old"},
        ],
    }
    r = await client.post("/fhir/NamingSystem", json=body, headers=w.admin)
    made = ok(r, 201)
    nid = made["id"]
    assert nid != "mine"
    assert made["meta"]["versionId"] == "1"
    assert made["meta"]["source"] == body["meta"]["source"]
    assert made["meta"]["lastUpdated"].endswith("Z")
    sent = {k: v for k, v in body.items() if k not in ("id", "meta")}
    assert {k: v for k, v in made.items() if k not in ("id", "meta")} == sent
    assert f'"date":{_text(body["date"])}' in r.text
    read = await client.get(f"/fhir/NamingSystem/{nid}", headers=w.doctor)
    assert ok(read) == made
    for params in ({"value": uri}, {"name": "LabOrd"}):
        found = ok(await client.get("/fhir/NamingSystem", params=params, headers=w.doctor))
        assert [e["resource"] for e in found["entry"] if e["resource"].get("id") == nid] == [
            made
        ], params
    # the preferred URI names the system: its identifiers are taken now
    await create(client, w.hospital, observation(w, identifier=[{"system": uri, "value": "O-1"}]))
    # what would be kept must be valid FHIR JSON, and nothing whose meaning is not honoured
    for bad, element in (
        ({"publisher": ""}, "NamingSystem.publisher"),
        ({"contact": []}, "NamingSystem.contact"),
        ({"usage": None}, "NamingSystem.usage"),
        (
            {"modifierExtension": [{"url": "https://x.example/m", "valueBoolean": True}]},
            "NamingSystem.modifierExtension",
        ),
        ({"implicitRules": "https://x.example/rules"}, "NamingSystem.implicitRules"),
    ):
        again = {**body, **bad, "uniqueId": [{"type": "uri", "value": f"{uri}/{uuid4().hex}"}]}
        r = await client.post("/fhir/NamingSystem", json=again, headers=w.admin)
        assert element in issues(r, 422), (bad, r.text)


# ---- the capability statement --------------------------------------------------------------------


async def test_metadata_lists_the_record_and_every_parameter_works(client, world):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    cs = ok(await client.get("/fhir/metadata"))
    CapabilityStatement.model_validate(cs)
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    samples = {
        "patient": f"Patient/{w.patient.id}",
        "subject": f"Patient/{w.patient.id}",
        "_id": enc["id"],
        "identifier": f"{w.system}|x",
        "code": "x",
        "category": "x",
        "status": "final",
        "clinical-status": "active",
        "date": "ge2026-01-01",
        "encounter": f"Encounter/{enc['id']}",
        "_lastUpdated": "ge2026-01-01",
        "_sort": "-date",
        "_summary": "count",
        "_count": "0",
        "_offset": "0",
    }
    for t, params in SEARCH_PARAMS.items():
        res = listed[t]
        codes = {i["code"] for i in res["interaction"]}
        assert {"read", "vread", "update", "history-instance", "create", "search-type"} <= codes
        names = {p["name"] for p in res["searchParam"]}
        assert set(params) | {"_count"} <= names, t
        for name in [*params, "_count"]:
            query = {"subject" if t != "AllergyIntolerance" else "patient": samples["patient"]}
            query[name] = samples[name]
            r = await client.get(f"/fhir/{t}", params=query, headers=w.doctor)
            assert r.status_code == 200, (t, name, r.text)
    ns = listed["NamingSystem"]
    assert {i["code"] for i in ns["interaction"]} == {"read", "create", "search-type"}


async def test_odd_input_is_refused_or_found_empty_never_an_error(client, world):
    w = world
    subject = f"Patient/{w.patient.id}"
    for path in (
        "/fhir/Observation/shr-",
        "/fhir/Observation/shr-0",
        "/fhir/Observation/shr--1",
        f"/fhir/Observation/shr-{2**70}",
        "/fhir/Observation/shr-1/_history/0",
        f"/fhir/Observation/shr-1/_history/{2**40}",
        "/fhir/Procedure/%C2%B2",
    ):
        r = await client.get(path, headers=w.doctor)
        assert r.status_code in (404, 422), (path, r.text)
    for params in (
        {"subject": subject, "_count": "abc"},
        {"subject": subject, "_count": "-1"},
        {"subject": subject, "_count": str(2**70)},
        {"subject": subject, "_offset": str(2**70)},
        {"subject": subject, "date": "ap"},
        {"subject": subject, "date": "2026-03-01T10:00"},
        {"subject": subject, "_lastUpdated": "x"},
        {"subject": subject, "identifier": "|"},
        {"subject": subject, "code": ","},
        {"subject": f"Patient/{2**70}"},
        {"_id": ","},
        {"_id": f"shr-{2**70}"},
        {"subject": subject, "encounter": "Encounter/shr-x"},
        {"subject": subject, "_sort": ""},
        {"patient": "Patient/abc"},
    ):
        r = await client.get("/fhir/Observation", params=params, headers=w.doctor)
        assert r.status_code in (200, 422), (params, r.text)
        if r.status_code == 200:
            assert ok(r)["total"] == 0, params
    got = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{got['id']}"
    body = {**observation(w), "id": got["id"]}
    for headers in ({"If-Match": "garbage"}, {"If-Match": f'W/"{2**70}"'}, {"If-Match": 'W/"0"'}):
        r = await client.put(url, json=body, headers={**w.hospital, **headers})
        assert r.status_code in (409, 412, 422), (headers, r.text)
    for condition in ("identifier=", "identifier=|", "_id=shr-x", "", "?&&"):
        r = await client.post(
            "/fhir/Observation",
            json=observation(w),
            headers={**w.hospital, "If-None-Exist": condition},
        )
        assert r.status_code in (200, 201, 412, 422), (condition, r.text)
    r = await client.put(url, content=b"[1,", headers={**w.hospital, "If-Match": 'W/"1"'})
    assert r.status_code == 400, r.text


async def test_documents_by_patient_answer_sick_leave_and_the_record(
    client, world, make_user, login
):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    doc = await create(client, w.hospital, document(w, enc["id"]))
    b = ok(
        await client.get(
            "/fhir/DocumentReference", params={"patient": w.patient.id}, headers=w.doctor
        )
    )
    assert ids(b) == [doc["id"]]
    # the citizen reads her sick-leave certificates there as before (no record:read)
    citizen = await login(await make_user("citizen", person_id=w.patient.id))
    b = ok(
        await client.get(
            "/fhir/DocumentReference", params={"patient": w.patient.id}, headers=citizen
        )
    )
    assert ids(b) == []
    r = await client.get(f"/fhir/DocumentReference/{doc['id']}", headers=citizen)
    assert r.status_code == 403, r.text
    # status is sick leave's and the record's alike: both answer it
    b = ok(
        await client.get(
            "/fhir/DocumentReference",
            params={"patient": w.patient.id, "status": "current"},
            headers=w.doctor,
        )
    )
    assert ids(b) == [doc["id"]]
    # sick leave's own parameters stay its own
    b = ok(
        await client.get(
            "/fhir/DocumentReference",
            params={"patient": w.patient.id, "type": "illness"},
            headers=w.doctor,
        )
    )
    assert ids(b) == []


async def test_a_body_too_deep_to_parse_is_a_400_on_every_create(client, world):
    """Condition and DocumentReference creates look into the body to see whose it is (the
    cancer registry's, sick leave's) before the record parses it: a body nested past the
    parser's depth is refused there as on Observation, never a 500."""
    deep = b'{"resourceType": "Condition", "note": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    for kind in ("Condition", "DocumentReference", "Observation"):
        r = await client.post(
            f"/fhir/{kind}",
            content=deep.replace(b"Condition", kind.encode()),
            headers={**world.hospital, "content-type": "application/fhir+json"},
        )
        assert r.status_code == 400, (kind, r.status_code, r.text[:200])
        assert r.json()["resourceType"] == "OperationOutcome"
