"""Transactions and batches of the shared health record: POST /fhir with a Bundle (issue 18).

A hospital sends, in one transaction, a Patient matched by national id, an Encounter under
its own identifier system, a Condition and two Observations of that Encounter (urn:uuid
references); the family doctor of the person's polyclinic reads them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from salomat.core import audit
from salomat.core.audit import AuditQuery
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import NamingSystemIn
from salomat.fhir.bundle import MAX_ENTRIES
from salomat.fhir.patient import DUPLICATE_REASON_EXT, national_system
from tests.factories import national_id_for, unique, unique_name
from tests.fhir import test_maternal
from tests.fhir.test_maternal_exchange import (  # noqa: F401 (twins is a fixture)
    bp,
    contact_bundle,
    twins,
)

pytestmark = pytest.mark.anyio
#: a woman with a pregnancy and two antenatal contacts (tests/fhir/test_maternal.py)
pregnancy = test_maternal.register

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
BIRTH = date(1988, 4, 12)


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def answer(r, kind: str) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    body = r.json()
    Bundle.model_validate(body)
    assert body["type"] == kind
    return body["entry"]


class World:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def patient_entry(self, full_url: str) -> dict[str, Any]:
        token = f"{national_system()}|{self.nid}"
        return {
            "fullUrl": full_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": national_system(), "value": self.nid}],
            },
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={token}"},
        }

    def encounter(self, full_url: str, subject: str, value: str) -> dict[str, Any]:
        return {
            "fullUrl": full_url,
            "resource": {
                "resourceType": "Encounter",
                "identifier": [{"system": self.system, "value": value}],
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": subject},
                "period": {"start": "2026-11-02T08:00:00Z", "end": "2026-11-09T12:00:00Z"},
            },
            "request": {
                "method": "POST",
                "url": "Encounter",
                "ifNoneExist": f"identifier={self.system}|{value}",
            },
        }

    def scenario(self, value: str | None = None) -> dict[str, Any]:
        """Patient (ifNoneExist), Encounter, Condition (Patient?identifier=), two
        Observations: the issue's transaction."""
        p, e = urn(), urn()
        value = value or unique("ENC-")
        conditional = f"Patient?identifier={national_system()}|{self.nid}"
        entries = [
            self.patient_entry(p),
            self.encounter(e, p, value),
            {
                "fullUrl": urn(),
                "resource": {
                    "resourceType": "Condition",
                    "subject": {"reference": conditional},
                    "encounter": {"reference": e},
                    "code": {
                        "coding": [{"system": ICD10, "code": "J18.9", "display": "Pneumonia"}],
                        "text": "Community-acquired pneumonia",
                    },
                    "onsetDateTime": "2026-11-01",
                },
                "request": {"method": "POST", "url": "Condition"},
            },
            self.observation(p, e, "8310-5", 38.4, "Cel"),
            self.observation(p, e, "8867-4", 96, "/min"),
        ]
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

    def independent(self, enc: str) -> dict[str, Any]:
        """A batch of the scenario's Condition and Observations for a stored Encounter:
        no entry refers to another (a batch's entries are independent of each other)."""
        bundle = {**self.scenario(), "type": "batch"}
        bundle["entry"] = bundle["entry"][2:]
        patient = f"Patient?identifier={national_system()}|{self.nid}"
        for e in bundle["entry"]:
            e["resource"]["subject"] = {"reference": patient}
            e["resource"]["encounter"] = {"reference": enc}
        return bundle

    async def stay(self, client) -> str:
        """A stay stored by a transaction: its ``Encounter/shr-<n>``."""
        bundle = self.scenario()
        bundle["entry"] = bundle["entry"][:2]
        r = await client.post("/fhir", json=bundle, headers=self.hospital)
        return location(answer(r, "transaction-response")[1])

    def observation(self, subject: str, enc: str, code: str, v: float, unit: str) -> dict:
        return {
            "fullUrl": urn(),
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "observation-category",
                                "code": "vital-signs",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": {"reference": subject},
                "encounter": {"reference": enc},
                "effectiveDateTime": "2026-11-02T09:00:00Z",
                "valueQuantity": {"value": v, "unit": unit, "system": UCUM, "code": unit},
            },
            "request": {"method": "POST", "url": "Observation"},
        }


@pytest.fixture
async def world(client, db, make_facility, make_person, make_user, login) -> World:
    polyclinic = await make_facility()
    hospital = await make_facility("district_hospital")
    nid = national_id_for(BIRTH, "female")
    person = await make_person(polyclinic.code, national_id=nid, birth_date=BIRTH, sex="female")
    system = f"https://hospital-{unique('h')}.example/encounter"
    admin = Principal(user_id=0, username="fixture", role="admin", session_id="fixture")
    await record.register_naming_system(
        db, admin, NamingSystemIn(name="Hospital encounters", url=system)
    )
    await db.commit()
    nurse = await make_user("nurse", facility_code=hospital.code)
    return World(
        person=person,
        nid=nid,
        system=system,
        nurse=nurse,
        hospital=await login(nurse),
        doctor=await login(await make_user("family_doctor", facility_code=polyclinic.code)),
    )


def location(entry: dict[str, Any]) -> str:
    """``<Type>/<id>`` of a response's ``<Type>/<id>/_history/<v>``."""
    return entry["response"]["location"].split("/_history/")[0]


async def search(client, headers, query: str) -> list[dict[str, Any]]:
    r = await client.get(f"/fhir/{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


async def test_a_hospital_sends_a_stay_and_the_family_doctor_reads_it(client, db, world):
    value = unique("ENC-")
    r = await client.post("/fhir", json=world.scenario(value), headers=world.hospital)
    entries = answer(r, "transaction-response")
    assert [e["response"]["status"] for e in entries] == ["200 OK"] + ["201 Created"] * 4
    assert location(entries[0]) == f"Patient/{world.person.id}"
    enc = location(entries[1])
    assert enc.startswith("Encounter/shr-")
    for e in entries[1:]:
        assert e["response"]["location"].endswith("/_history/1")
        assert e["response"]["etag"] == 'W/"1"'
        assert e["response"]["lastModified"]
    condition, pulse = location(entries[2]), location(entries[4])
    # each write audited, as the sender, for the person
    rows, _ = await audit.search(
        db, AuditQuery(patient_id=world.person.id, username=world.nurse.username, action="create")
    )
    assert sorted(f"{r.resource_type}/{r.resource_id}" for r in rows) == sorted(
        location(e) for e in entries[1:]
    )

    # the references were rewritten to what was stored
    got = await client.get(f"/fhir/{condition}", headers=world.hospital)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["encounter"] == {"reference": enc}
    assert body["subject"] == {"reference": f"Patient/{world.person.id}"}
    assert body["code"]["text"] == "Community-acquired pneumonia"

    # the sender finds its stay by its own identifier
    found = await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}")
    assert [f"Encounter/{x['id']}" for x in found] == [enc]

    # the family doctor of the person's polyclinic reads what the hospital sent
    for loc in (enc, condition, pulse):
        got = await client.get(f"/fhir/{loc}", headers=world.doctor)
        assert got.status_code == 200, (loc, got.text)
    obs = await client.get(f"/fhir/{pulse}", headers=world.doctor)
    assert obs.json()["encounter"] == {"reference": enc}
    assert obs.json()["valueQuantity"]["value"] == 96


async def test_one_bad_entry_in_a_transaction_stores_nothing_and_is_named(client, world):
    value = unique("ENC-")
    bundle = world.scenario(value)
    # the last entry is written last: the others were stored when it failed
    bundle["entry"][4]["resource"]["identifier"] = [
        {"system": "https://unregistered.example/obs", "value": "1"}
    ]
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    named = issues(r, 422)
    assert any(x.startswith("Bundle.entry[4].resource.identifier[0]") for x in named), named
    assert (
        await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}") == []
    )
    found = await search(client, world.doctor, f"Condition?subject=Patient/{world.person.id}")
    assert found == []


async def test_one_bad_entry_in_a_batch_fails_alone(client, world):
    enc = await world.stay(client)
    bundle = world.independent(enc)
    bundle["entry"][1]["resource"]["status"] = "sort-of"
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    entries = answer(r, "batch-response")
    statuses = [e["response"]["status"] for e in entries]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "201 Created"]
    outcome = entries[1]["response"]["outcome"]
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[1].resource.status"]
    stored = await search(client, world.doctor, f"Observation?subject=Patient/{world.person.id}")
    assert [o["code"]["coding"][0]["code"] for o in stored] == ["8867-4"]
    assert [o["encounter"] for o in stored] == [{"reference": enc}]


async def test_a_batch_entry_may_not_refer_to_another_entry(client, world):
    """R4 (bundle.html): a batch's entries have no interdependencies and the server checks.
    An entry referring to another's fullUrl fails (422 naming the element) and the entry it
    names is stored on its own; refused as well when the entry it names fails."""
    value = unique("ENC-")
    bundle = {**world.scenario(value), "type": "batch"}
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "batch-response"
    )
    assert [e["response"]["status"][:3] for e in entries] == ["200", "422", "422", "422", "422"]
    # the first link of each naming an entry: the Patient's, or (the Condition's subject is
    # a conditional reference) the Encounter's
    expected = [("subject", 0), ("encounter", 1), ("subject", 0), ("subject", 0)]
    for i, (element, other) in enumerate(expected, start=1):
        (issue,) = entries[i]["response"]["outcome"]["issue"]
        assert issue["expression"] == [f"Bundle.entry[{i}].resource.{element}"]
        assert f"Bundle.entry[{other}]" in issue["diagnostics"]
    assert (
        await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}") == []
    )
    # an entry naming the Encounter only (the Patient by a conditional reference)
    bundle = {**world.scenario(value), "type": "batch"}
    bundle["entry"] = bundle["entry"][1:3]
    bundle["entry"][0]["resource"]["subject"] = {
        "reference": f"Patient?identifier={national_system()}|{world.nid}"
    }
    bundle["entry"][1]["resource"]["subject"] = bundle["entry"][0]["resource"]["subject"]
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "batch-response"
    )
    assert [e["response"]["status"][:3] for e in entries] == ["201", "422"]
    (issue,) = entries[1]["response"]["outcome"]["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource.encounter"]
    assert "Bundle.entry[0]" in issue["diagnostics"]
    found = await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}")
    assert len(found) == 1
    assert await search(client, world.doctor, f"Condition?subject=Patient/{world.person.id}") == []


async def test_if_none_exist_gives_back_what_is_stored(client, world):
    value = unique("ENC-")
    first = answer(
        await client.post("/fhir", json=world.scenario(value), headers=world.hospital),
        "transaction-response",
    )
    again = world.scenario(value)
    again["entry"] = again["entry"][:2]
    second = answer(
        await client.post("/fhir", json=again, headers=world.hospital), "transaction-response"
    )
    assert second[1]["response"]["status"] == "200 OK"
    assert second[1]["response"]["location"] == first[1]["response"]["location"]
    found = await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}")
    assert len(found) == 1


async def test_reads_inside_a_batch(client, world):
    value = unique("ENC-")
    stored = answer(
        await client.post("/fhir", json=world.scenario(value), headers=world.hospital),
        "transaction-response",
    )
    enc = location(stored[1])
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": enc}},
            {"request": {"method": "GET", "url": f"Encounter?identifier={world.system}|{value}"}},
            {"request": {"method": "GET", "url": "Encounter/shr-999999999"}},
            {"request": {"method": "GET", "url": f"{enc}/_history/1"}},
        ],
    }
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.doctor), "batch-response"
    )
    assert [e["response"]["status"] for e in entries] == [
        "200 OK",
        "200 OK",
        "404 Not Found",
        "200 OK",
    ]
    assert f"Encounter/{entries[0]['resource']['id']}" == enc
    assert entries[0]["response"]["etag"] == 'W/"1"'
    searchset = entries[1]["resource"]
    assert searchset["type"] == "searchset"
    assert [f"Encounter/{e['resource']['id']}" for e in searchset["entry"]] == [enc]
    assert entries[3]["resource"]["meta"]["versionId"] == "1"
    # reads in a transaction too
    read = {**bundle, "type": "transaction", "entry": bundle["entry"][:1]}
    entries = answer(
        await client.post("/fhir", json=read, headers=world.doctor), "transaction-response"
    )
    assert entries[0]["resource"]["identifier"][0]["value"] == value


async def test_a_search_the_register_answers_too_is_answered_in_a_bundle_as_over_http(
    client, make_user, login, pregnancy
):
    """Observation?patient=X is the pregnancy register's search and the record's: a GET
    entry gets what GET /fhir/Observation?patient=X answers (the contacts' observations,
    then the record's, paged across both, counted together), and is refused as it is."""
    woman, doctor = pregnancy["woman"], pregnancy["doctor"]
    sent = await client.post(
        "/fhir/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{woman.id}"},
            "effectiveDateTime": "2026-11-02T09:00:00Z",
            "valueQuantity": {"value": 88, "unit": "/min", "system": UCUM, "code": "/min"},
        },
        headers=doctor,
    )
    assert sent.status_code == 201, sent.text
    everything = (await client.get(f"/fhir/Observation?patient={woman.id}", headers=doctor)).json()
    found = [e["resource"]["id"] for e in everything["entry"]]
    assert found[-1] == sent.json()["id"]
    assert len(found) > 1, found
    assert not found[0].startswith("shr-"), found
    last = len(found) - 1
    queries = [
        f"Observation?patient={woman.id}",
        f"Observation?patient=Patient/{woman.id}&_count=2&_offset={last - 1}",
        f"Observation?patient={woman.id}&_count=1&_offset={last}",
        f"Observation?patient={woman.id}&code={LOINC}|8867-4",
        f"Observation?patient={woman.id}&_summary=count",
        f"Encounter?patient={woman.id}&_count=0",
        f"Observation?patient={woman.id}&_sort=-date",
        f"Observation?patient={woman.id}&_count=many",
        "Observation?patient=Patient/x",
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": q}} for q in queries],
    }
    entries = answer(await client.post("/fhir", json=bundle, headers=doctor), "batch-response")
    for q, e in zip(queries, entries, strict=True):
        r = await client.get(f"/fhir/{q}", headers=doctor)
        assert e["response"]["status"].startswith(str(r.status_code)), (q, e, r.text)
        if r.status_code == 200:
            assert e["resource"] == r.json(), q
        else:
            got = e["response"]["outcome"]["issue"]
            assert [i["diagnostics"] for i in got] == [
                i["diagnostics"] for i in r.json()["issue"]
            ], q
    # the paging links point at the search, not at the Bundle
    assert entries[1]["resource"]["link"][0]["url"].endswith(
        f"/fhir/Observation?patient=Patient%2F{woman.id}&_count=2&_offset={last - 1}"
    )
    assert [e["resource"]["id"] for e in entries[2]["resource"]["entry"]] == [found[-1]]
    assert entries[4]["resource"]["total"] == len(found)
    # a _sort answered as the route answers it (above), the record's share in it
    assert found[-1] in [e["resource"]["id"] for e in entries[6]["resource"]["entry"]]
    assert [e["response"]["status"][:3] for e in entries[-2:]] == ["422", "422"]
    # a registrar may send Bundles but not read the register: refused as over HTTP
    registrar = await login(await make_user("registrar"))
    refused = answer(
        await client.post(
            "/fhir", json={**bundle, "entry": bundle["entry"][:1]}, headers=registrar
        ),
        "batch-response",
    )
    r = await client.get(f"/fhir/{queries[0]}", headers=registrar)
    assert r.status_code == 403, r.text
    assert refused[0]["response"]["status"] == "403 Forbidden"
    assert (
        refused[0]["response"]["outcome"]["issue"][0]["diagnostics"]
        == (r.json()["issue"][0]["diagnostics"])
    )


async def test_an_unknown_urn_uuid_fails_the_entry_naming_the_element(client, world):
    bundle = world.scenario()
    bundle["entry"][3]["resource"]["encounter"] = {"reference": urn()}
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    assert "Bundle.entry[3].resource.encounter" in issues(r, 422)
    batch = world.independent(await world.stay(client))
    batch["entry"][1]["resource"]["encounter"] = {"reference": urn()}
    entries = answer(
        await client.post("/fhir", json=batch, headers=world.hospital), "batch-response"
    )
    assert entries[1]["response"]["status"].startswith("422")
    assert entries[1]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.encounter"
    ]
    assert entries[2]["response"]["status"] == "201 Created"


async def test_a_duplicate_full_url_and_a_cycle_are_refused(client, world):
    bundle = world.scenario()
    bundle["entry"][4]["fullUrl"] = bundle["entry"][3]["fullUrl"]
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    assert "Bundle.entry[4].fullUrl" in issues(r, 422)

    bundle = world.scenario()
    p, a, b = (bundle["entry"][0]["fullUrl"], urn(), urn())
    one = world.encounter(a, p, unique("ENC-"))
    two = world.encounter(b, p, unique("ENC-"))
    one["resource"]["partOf"] = {"reference": b}
    two["resource"]["partOf"] = {"reference": a}
    cycle = {**bundle, "entry": [bundle["entry"][0], one, two]}
    r = await client.post("/fhir", json=cycle, headers=world.hospital)
    assert "Bundle.entry[1].resource.partOf" in issues(r, 422)


async def test_a_conditional_reference_must_find_one_person(client, world):
    bundle = world.scenario()
    other = national_id_for(BIRTH, "male")
    bundle["entry"][2]["resource"]["subject"] = {
        "reference": f"Patient?identifier={national_system()}|{other}"
    }
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    assert "Bundle.entry[2].resource.subject" in issues(r, 422)


async def test_an_update_takes_if_match_and_history_reads_back(client, world):
    stored = answer(
        await client.post("/fhir", json=world.scenario(), headers=world.hospital),
        "transaction-response",
    )
    enc = location(stored[1])
    current = (await client.get(f"/fhir/{enc}", headers=world.hospital)).json()
    changed = {**current, "status": "cancelled"}
    changed.pop("meta")

    def put(version: int | None) -> dict[str, Any]:
        request = {"method": "PUT", "url": enc}
        if version is not None:
            request["ifMatch"] = f'W/"{version}"'
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"fullUrl": f"http://testserver/fhir/{enc}", "resource": changed,
                 "request": request}
            ],
        }  # fmt: skip

    # an id the record never gave is not created by a PUT (updateCreate false): 405, as a
    # plain PUT answers
    unknown = {**changed, "id": "shr-999999999"}
    r = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "http://testserver/fhir/Encounter/shr-999999999", "resource": unknown,
             "request": {"method": "PUT", "url": "Encounter/shr-999999999",
                         "ifMatch": 'W/"1"'}}]},
        headers=world.hospital,
    )  # fmt: skip
    assert r.status_code == 405, r.text
    # without ifMatch (and no meta.versionId) an entry does not overwrite whatever version
    # is current, as a plain PUT does not: 412 naming the entry, nothing changed
    r = await client.post("/fhir", json=put(None), headers=world.hospital)
    assert "Bundle.entry[0].request.ifMatch" in issues(r, 412)
    assert (await client.get(f"/fhir/{enc}", headers=world.hospital)).json() == current

    (entry,) = answer(
        await client.post("/fhir", json=put(1), headers=world.hospital), "transaction-response"
    )
    assert entry["response"]["status"] == "200 OK"
    assert entry["response"]["location"] == f"{enc}/_history/2"
    r = await client.post("/fhir", json=put(1), headers=world.hospital)
    assert r.status_code in (409, 412), r.text
    assert "Bundle.entry[0]" in {x.split(".request")[0] for x in issues(r, r.status_code)}
    history = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"{enc}/_history"}}],
    }
    (entry,) = answer(
        await client.post("/fhir", json=history, headers=world.doctor), "batch-response"
    )
    versions = [e["resource"]["status"] for e in entry["resource"]["entry"]]
    assert versions == ["cancelled", "finished"]


async def test_patients_are_matched_or_registered_only_by_the_registry(
    client, db, world, make_user, login
):
    unknown = national_id_for(BIRTH, "male")
    newcomer = {
        "fullUrl": urn(),
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": national_system(), "value": unknown}],
            "name": [{"family": unique_name("Ra"), "given": [unique_name("Al")]}],
            "gender": "male",
            "birthDate": BIRTH.isoformat(),
        },
        "request": {
            "method": "POST",
            "url": "Patient",
            "ifNoneExist": f"identifier={national_system()}|{unknown}",
        },
    }
    # a hospital may not register a person the registry does not know
    alone = {"resourceType": "Bundle", "type": "transaction", "entry": [newcomer]}
    assert "Bundle.entry[0]" in issues(
        await client.post("/fhir", json=alone, headers=world.hospital), 403
    )
    # the registry's staff may, through the Patient create
    clerk = await make_user("registrar")
    registrar = await login(clerk)
    scenario = world.scenario()
    stay = scenario["entry"][1]
    stay["resource"]["subject"] = {
        "reference": f"Patient?identifier={national_system()}|{world.nid}"
    }
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [scenario["entry"][0], newcomer, stay],
    }
    entries = answer(await client.post("/fhir", json=batch, headers=registrar), "batch-response")
    assert [e["response"]["status"] for e in entries] == [
        "200 OK",
        "201 Created",
        "403 Forbidden",
    ]
    assert location(entries[0]) == f"Patient/{world.person.id}"
    # the refused entry is audited although the batch succeeded
    denied, _ = await audit.search(db, AuditQuery(username=clerk.username, action="denied"))
    assert [r.detail for r in denied] == ["role registrar lacks record:write"]
    created = location(entries[1])
    got = await client.get(f"/fhir/{created}", headers=registrar)
    assert got.status_code == 200, got.text
    assert got.json()["identifier"][0]["value"] == unknown


async def test_a_new_patient_is_checked_as_the_patient_create_checks_it(
    client, world, make_user, login
):
    """The registry's duplicate check and the Patient create's refusals, each named
    from its entry."""

    def newcomer(**extra: Any) -> dict[str, Any]:
        nid = national_id_for(BIRTH, "female")
        return {
            "fullUrl": urn(),
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": national_system(), "value": nid}],
                "name": [{"family": unique_name("Ra"), "given": [unique_name("Al")]}],
                "gender": "female",
                "birthDate": BIRTH.isoformat(),
                **extra,
            },
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={national_system()}|{nid}",
            },
        }

    namesake = newcomer()
    namesake["resource"]["name"] = [
        {"family": world.person.family_name, "given": [world.person.given_name]}
    ]
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            namesake,
            newcomer(deceasedBoolean=True),
            newcomer(generalPractitioner=[{"reference": "Organization/999999999"}]),
        ],
    }
    registrar = await login(await make_user("registrar"))
    entries = answer(await client.post("/fhir", json=batch, headers=registrar), "batch-response")
    assert [e["response"]["status"] for e in entries] == [
        "409 Conflict",
        "422 Unprocessable Entity",
        "422 Unprocessable Entity",
    ]
    resembles, dead, nowhere = (e["response"]["outcome"]["issue"] for e in entries)
    reason = f"Bundle.entry[0].resource.extension('{DUPLICATE_REASON_EXT}')"
    assert reason in {x for i in resembles for x in i["expression"]}
    assert any(f"Patient/{world.person.id}" in i["diagnostics"] for i in resembles)
    assert [i["expression"] for i in dead] == [["Bundle.entry[1].resource.deceased[x]"]]
    assert [i["expression"] for i in nowhere] == [
        ["Bundle.entry[2].resource.generalPractitioner[0]"]
    ]


async def test_who_may_send_a_bundle(client, world, make_user, login):
    registrar = await login(await make_user("registrar"))
    issues(await client.post("/fhir", json=world.scenario(), headers=registrar), 403)
    analyst = await login(await make_user("analyst"))
    issues(await client.post("/fhir", json=world.scenario(), headers=analyst), 403)
    issues(await client.post("/fhir", json=world.scenario()), 401)


async def test_size_and_shape_limits(client, world):
    many = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Encounter/shr-1"}}] * (MAX_ENTRIES + 1),
    }
    assert "Bundle.entry" in issues(
        await client.post("/fhir", json=many, headers=world.hospital), 422
    )
    other = {**world.scenario(), "type": "collection"}
    assert "Bundle.type" in issues(
        await client.post("/fhir", json=other, headers=world.hospital), 422
    )
    r = await client.post(
        "/fhir",
        content=b"{not json",
        headers={**world.hospital, "Content-Type": "application/fhir+json"},
    )
    assert r.status_code in (400, 422), r.text


async def test_the_antenatal_contact_transaction_still_goes_to_the_pregnancy(client, twins):  # noqa: F811
    woman, preg = twins["women"][0], twins["pregs"][0]
    r = await client.post(
        "/fhir",
        json=contact_bundle(woman.id, preg, date.today(), [bp(120, 80)]),
        headers=twins["doctor"],
    )
    entries = answer(r, "transaction-response")
    assert entries[0]["response"]["location"].removeprefix("Encounter/").isdigit()
    assert entries[1]["response"]["location"].endswith("-bp1")


async def test_metadata_lists_transaction_and_batch(client):
    rest = (await client.get("/fhir/metadata")).json()["rest"][0]
    # history-system: the shared record's (tests/fhir/test_record_http.py)
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch", "history-system"]
