"""SMART on FHIR's Python client (fhirclient, unmodified) against the shared health record
over real HTTP: its models' ``create``, ``read`` and ``update``, its search API
(``where``, ``include``, pages followed through ``next`` links) and a transaction Bundle
built from its models, as another medical information system in Python would use it.

fhirclient parses every answer into its R4 models, which refuse an element R4 does not
have: each answer read here is, besides, valid FHIR R4 by that second reader.

The client is configured, not changed: a bearer token issued by Salomat is given the way
fhirclient restores a saved session (``FHIRServer(state=...)`` with an ``oauth2`` auth
holding the access token), so it signs each request with ``Authorization: Bearer``
without a SMART launch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import uuid4

import anyio
import httpx
import pytest
from fhirclient import server as fhir_server
from fhirclient.models.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.encounter import Encounter
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.namingsystem import NamingSystem
from fhirclient.models.observation import Observation
from requests import HTTPError

from salomat.fhir.patient import national_system
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio
BIRTH = date(1983, 9, 14)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def connect(base: str, access_token: str) -> fhir_server.FHIRServer:
    """fhirclient's server, signing with a bearer token (a restored oauth2 state)."""
    return fhir_server.FHIRServer(
        None,
        state={
            "base_uri": f"{base}/fhir/",  # with the slash: fhirclient joins paths to it
            "auth_type": "oauth2",
            "auth": {"access_token": access_token},
        },
    )


async def token(base: str, account: Any) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(
            "/auth/token", data={"username": account.username, "password": account.password}
        )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@dataclass
class Lab:
    person: Any
    nid: str
    admin: fhir_server.FHIRServer
    lab: fhir_server.FHIRServer  # a laboratory's nurse: sends results
    doctor: fhir_server.FHIRServer  # the family doctor of the patient's polyclinic
    system: str  # the laboratory's order numbers (registered by the test)


@pytest.fixture
async def world(live_server, make_facility, make_person, make_user) -> Lab:
    polyclinic = await make_facility()
    lab = await make_facility("district_hospital")
    nid = national_id_for(BIRTH, "female")
    person = await make_person(polyclinic.code, national_id=nid, birth_date=BIRTH, sex="female")
    return Lab(
        person=person,
        nid=nid,
        admin=connect(live_server, await token(live_server, await make_user("admin"))),
        lab=connect(
            live_server,
            await token(live_server, await make_user("nurse", facility_code=lab.code)),
        ),
        doctor=connect(
            live_server,
            await token(
                live_server, await make_user("family_doctor", facility_code=polyclinic.code)
            ),
        ),
        system=f"https://lab-{uuid4()}.example/order",
    )


def hemoglobin(w: Lab, order: str, value: float, enc: str | None = None) -> Observation:
    obs = Observation(
        {
            "resourceType": "Observation",
            "identifier": [{"system": w.system, "value": order}],
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
            "code": {
                "coding": [
                    {"system": LOINC, "code": "718-7", "display": "Hemoglobin [Mass/volume]"}
                ]
            },
            "subject": {"reference": f"Patient/{w.person.id}"},
            "effectiveDateTime": "2026-10-05T08:30:00+05:00",
            "valueQuantity": {"value": value, "unit": "g/L", "system": UCUM, "code": "g/L"},
        }
    )
    if enc is not None:
        obs.encounter = obs.subject.__class__({"reference": enc})
    return obs


def register_orders(w: Lab) -> NamingSystem:
    """The admin registers the laboratory's order numbers (the model's create)."""
    ns = NamingSystem(
        {
            "resourceType": "NamingSystem",
            "name": "LabOrders",
            "status": "active",
            "kind": "identifier",
            "date": "2026-10-01",
            "uniqueId": [{"type": "uri", "value": w.system, "preferred": True}],
        }
    )
    return NamingSystem(ns.create(w.admin))


def scenario(w: Lab) -> dict[str, Any]:
    """What the laboratory's system does, blocking as fhirclient is; what it saw."""
    seen: dict[str, Any] = {}
    made = register_orders(w)
    seen["naming_system"] = made.uniqueId[0].value
    seen["naming_system_found"] = [
        x.id for x in NamingSystem.where({"value": w.system}).perform_resources_iter(w.lab)
    ]
    assert made.id in seen["naming_system_found"]

    # an Encounter and three results of it, each by the model's create
    enc = Encounter(
        {
            "resourceType": "Encounter",
            "identifier": [{"system": w.system, "value": f"V-{uuid4()}"}],
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            },
            "subject": {"reference": f"Patient/{w.person.id}"},
            "period": {"start": "2026-10-05T08:00:00+05:00"},
        }
    )
    stored_enc = Encounter(enc.create(w.lab))
    enc_ref = f"Encounter/{stored_enc.id}"
    orders = [f"HB-{uuid4()}" for _ in range(3)]
    created = [
        Observation(hemoglobin(w, o, v, enc_ref).create(w.lab))
        for o, v in zip(orders, (118, 121, 125), strict=True)
    ]
    seen["created"] = [(o.id, o.meta.versionId, o.valueQuantity.value) for o in created]

    # read with the model, as the laboratory and as the family doctor
    first = Observation.read(created[0].id, w.lab)
    seen["read"] = first.as_json()
    seen["doctor_read"] = Observation.read(created[0].id, w.doctor).as_json()

    # search: by the laboratory's own order number, with the Encounter included
    bundle = next(
        Observation.where({"identifier": f"{w.system}|{orders[1]}"})
        .include("encounter")
        .perform_iter(w.lab)
    )
    seen["by_order"] = [
        (e.search.mode, e.resource.resource_type, e.resource.id) for e in bundle.entry
    ]
    # every result of the encounter, one a page: fhirclient follows the next links
    seen["paged"] = [
        o.id
        for o in Observation.where(
            {"patient": f"Patient/{w.person.id}", "encounter": enc_ref, "_count": "1"}
        ).perform_resources_iter(w.lab)
    ]

    # update: the model's update sends the version read in meta.versionId
    first.status = "amended"
    first.valueQuantity.value = 119
    seen["updated"] = Observation(first.update()).as_json()
    # the copy read before that is stale now: 412, nothing changed
    stale = Observation.read(created[1].id, w.lab)
    stale.meta.versionId = "0"
    try:
        stale.update()
    except HTTPError as e:
        seen["stale"] = e.response.status_code
    try:
        Observation.read("shr-999999999", w.lab)
    except fhir_server.FHIRNotFoundException as e:
        seen["missing"] = e.response.status_code

    # a transaction built from its models: a conditional create, sent twice
    def conditional() -> Bundle:
        entry = BundleEntry()
        entry.fullUrl = f"urn:uuid:{uuid4()}"
        entry.resource = hemoglobin(w, f"{orders[0]}-repeat", 117, enc_ref)
        # the patient by national id: a conditional reference the server resolves
        entry.resource.subject.reference = f"Patient?identifier={national_system()}|{w.nid}"
        entry.request = BundleEntryRequest(
            {
                "method": "POST",
                "url": "Observation",
                "ifNoneExist": f"identifier={w.system}|{orders[0]}-repeat",
            }
        )
        return Bundle({"resourceType": "Bundle", "type": "transaction", "entry": [entry.as_json()]})

    answers = [Bundle(conditional().create(w.lab)) for _ in range(2)]
    seen["transactions"] = [
        (b.type, b.entry[0].response.status, b.entry[0].response.location.split("/_history/")[0])
        for b in answers
    ]
    repeat = Observation.read(seen["transactions"][0][2].split("/")[1], w.lab)
    seen["repeat_subject"] = repeat.subject.reference
    return seen


async def test_fhirclient_creates_reads_searches_and_updates(world):
    w = world
    seen = await anyio.to_thread.run_sync(scenario, w)
    assert seen["naming_system"] == w.system

    (first, second, third) = seen["created"]
    assert [c[1] for c in seen["created"]] == ["1", "1", "1"]
    assert [c[2] for c in seen["created"]] == [118, 121, 125]
    assert all(c[0].startswith("shr-") for c in seen["created"])

    # read back as sent, by the sender and by the patient's family doctor
    read = seen["read"]
    assert read["id"] == first[0]
    assert read["valueQuantity"] == {"value": 118, "unit": "g/L", "system": UCUM, "code": "g/L"}
    assert read["code"]["coding"][0]["code"] == "718-7"
    assert read["identifier"][0]["system"] == w.system
    assert seen["doctor_read"] == read

    # found by the order number; the included Encounter marked so
    matches = [x for x in seen["by_order"] if x[0] == "match"]
    includes = [x for x in seen["by_order"] if x[0] == "include"]
    assert matches == [("match", "Observation", second[0])]
    assert [(t, i.startswith("shr-")) for _, t, i in includes] == [("Encounter", True)]
    # every result of the stay, a page at a time
    assert sorted(seen["paged"]) == sorted([first[0], second[0], third[0]])

    updated = seen["updated"]
    assert (updated["meta"]["versionId"], updated["status"]) == ("2", "amended")
    assert updated["valueQuantity"]["value"] == 119
    assert seen["stale"] == 412
    assert seen["missing"] == 404

    # the conditional create in a transaction: created once, the retry answers it
    (t1, s1, loc1), (t2, s2, loc2) = seen["transactions"]
    assert (t1, t2) == ("transaction-response", "transaction-response")
    assert (s1, s2) == ("201 Created", "200 OK")
    assert loc1 == loc2
    assert loc1.startswith("Observation/shr-")
    assert seen["repeat_subject"] == f"Patient/{w.person.id}"


async def test_fhirclient_models_read_every_answer(world):
    """The history and search Bundles and the CapabilityStatement read into fhirclient's
    strict R4 models: an element R4 does not define, or of the wrong type, would raise
    FHIRValidationError."""
    w = world

    def run() -> dict[str, str]:
        register_orders(w)
        obs = Observation(hemoglobin(w, f"HB-{uuid4()}", 130).create(w.lab))
        read = {}
        for path, model in (
            (f"Observation/{obs.id}/_history", Bundle),
            (f"Observation?subject=Patient/{w.person.id}&_count=5", Bundle),
            (f"Observation?identifier={w.system}|&_summary=count", Bundle),
            ("metadata", CapabilityStatement),
        ):
            try:
                read[path] = model(w.lab.request_json(path)).resource_type
            except FHIRValidationError as e:
                read[path] = f"refused by fhirclient's R4 models: {e}"
        return read

    read = await anyio.to_thread.run_sync(run)
    assert list(read.values()) == ["Bundle", "Bundle", "Bundle", "CapabilityStatement"], read


async def test_the_sender_finds_its_results_by_patient(world):
    w = world

    def run() -> tuple[list[str], list[str]]:
        register_orders(w)
        obs = Observation(hemoglobin(w, f"HB-{uuid4()}", 130).create(w.lab))
        by_subject = Observation.where({"subject": f"Patient/{w.person.id}"})
        by_patient = Observation.where({"patient": f"Patient/{w.person.id}"})
        assert [o.id for o in by_subject.perform_resources_iter(w.lab)] == [obs.id]
        return [obs.id], [o.id for o in by_patient.perform_resources_iter(w.lab)]

    made, found = await anyio.to_thread.run_sync(run)
    assert found == made
