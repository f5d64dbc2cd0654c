"""Transactions and batches as R4 processes them (http.html, bundle.html): a resource
written once, POSTs before PUTs, an entry's fullUrl replaced wherever it stands (references,
uri elements, the narrative's links), a relative reference to an entry with an absolute
fullUrl, ifNoneExist values with ``+``, an antenatal contact sent as a batch, and the
response's lastModified as the resource's meta.lastUpdated."""

from __future__ import annotations

from typing import Any

import pytest

from salomat.core import audit
from salomat.core.audit import AuditQuery
from salomat.fhir.patient import national_system
from tests.factories import unique
from tests.fhir import test_bundle
from tests.fhir.test_bundle import World, answer, issues, location, urn

pytestmark = pytest.mark.anyio
#: a hospital's nurse, a person and the hospital's identifier system (tests/fhir/test_bundle.py)
world = test_bundle.world


async def read(client, w: World, loc: str) -> dict[str, Any]:
    r = await client.get(f"/fhir/{loc}", headers=w.hospital)
    assert r.status_code == 200, r.text
    return r.json()


def put(resource: dict[str, Any], **request: Any) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url, **request}}


async def test_a_transaction_writes_a_resource_once(client, world):
    """R4: overlapping resource identities fail the transaction; in a batch the second
    write fails alone."""
    enc = await world.stay(client)
    current = await read(client, world, enc)
    twice = [put(current), put({**current, "status": "cancelled"}, ifMatch='W/"2"')]
    r = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": twice},
        headers=world.hospital,
    )
    assert "Bundle.entry[1].request.url" in issues(r, 422)
    assert enc in r.json()["issue"][0]["diagnostics"]
    assert await read(client, world, enc) == current
    entries = answer(
        await client.post(
            "/fhir",
            json={"resourceType": "Bundle", "type": "batch", "entry": twice},
            headers=world.hospital,
        ),
        "batch-response",
    )
    assert [e["response"]["status"][:3] for e in entries] == ["200", "422"]
    assert entries[1]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].request.url"
    ]
    assert (await read(client, world, enc))["meta"]["versionId"] == "2"


async def test_posts_are_processed_before_puts(client, db, world):
    """R4 http.html: a transaction processes its POSTs, then its PUTs, whatever order
    the entries come in; a reference to a PUT entry's fullUrl is that resource."""
    enc = await world.stay(client)
    current = await read(client, world, enc)
    u = urn()
    observation = world.observation(f"Patient/{world.person.id}", u, "8310-5", 37.2, "Cel")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{**put(current), "fullUrl": u}, observation],
    }
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    assert [e["response"]["status"] for e in entries] == ["200 OK", "201 Created"]
    obs = location(entries[1])
    assert (await read(client, world, obs))["encounter"] == {"reference": enc}
    rows, _ = await audit.search(
        db, AuditQuery(username=world.nurse.username, actions=frozenset({"create", "update"}))
    )
    done = [
        f"{r.action} {r.resource_type}/{r.resource_id}" for r in sorted(rows, key=lambda r: r.id)
    ]
    assert done[-2:] == [f"create {obs}", f"update {enc}"]


async def test_a_full_url_is_replaced_in_uri_elements_and_the_narrative(client, world):
    """R4 http.html: the server replaces an entry's fullUrl in references, uri/url/
    canonical/oid/uuid elements and the narrative's href and src; strings of other types
    stay as sent."""
    bundle = world.scenario()
    e = bundle["entry"][1]["fullUrl"]
    obs = bundle["entry"][3]["resource"]
    obs["extension"] = [
        {"url": "https://hospital.example/fhir/StructureDefinition/stay", "valueUri": e},
        {"url": "https://hospital.example/fhir/StructureDefinition/note", "valueString": e},
    ]
    obs["note"] = [{"text": e}]
    obs["text"] = {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{e}">the stay</a> '
        f"<img src='{e}'/> {e}</div>",
    }
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    enc = location(entries[1])
    stored = await read(client, world, location(entries[3]))
    assert stored["encounter"] == {"reference": enc}
    assert [x.get("valueUri") or x.get("valueString") for x in stored["extension"]] == [enc, e]
    assert stored["note"] == [{"text": e}]
    assert stored["text"]["div"] == (
        f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{enc}">the stay</a> '
        f"<img src='{enc}'/> {e}</div>"
    )


async def test_a_relative_reference_finds_the_entry_with_that_absolute_full_url(client, world):
    """R4 bundle.html: ``Encounter/77`` in an entry resolves to the entry whose fullUrl is
    ``<base>/Encounter/77`` (the base of the referring entry's own fullUrl, when it has
    one); it was stored dangling before."""
    bundle = world.scenario()
    bundle["entry"][1]["fullUrl"] = "http://his.example/fhir/Encounter/77"
    for i in (2, 3, 4):
        bundle["entry"][i]["resource"]["encounter"] = {"reference": "Encounter/77"}
    bundle["entry"][4]["fullUrl"] = "http://his.example/fhir/Observation/78"
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    enc = location(entries[1])
    for i in (2, 3, 4):
        assert (await read(client, world, location(entries[i])))["encounter"] == {"reference": enc}
    # two entries end in Encounter/77 on two bases: a referrer without a base of its own
    # cannot tell which, and is refused naming the element; one on a base finds its own
    bundle = world.scenario()
    again = world.encounter("http://lab.example/fhir/Encounter/77", urn(), unique("ENC-"))
    again["resource"]["subject"] = bundle["entry"][2]["resource"]["subject"]
    bundle["entry"][1]["fullUrl"] = "http://his.example/fhir/Encounter/77"
    bundle["entry"].append(again)
    for i in (2, 3, 4):
        bundle["entry"][i]["resource"]["encounter"] = {"reference": "Encounter/77"}
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    named = issues(r, 422)
    assert "Bundle.entry[2].resource.encounter" in named, named
    for i in (2, 3, 4):
        bundle["entry"][i]["fullUrl"] = f"http://lab.example/fhir/Observation/{i}"
    bundle["entry"][2]["fullUrl"] = "http://lab.example/fhir/Condition/2"
    entries = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    lab = location(entries[5])
    for i in (2, 3, 4):
        assert (await read(client, world, location(entries[i])))["encounter"] == {"reference": lab}


async def test_a_plus_in_if_none_exist_is_part_of_the_value(client, world):
    value = unique("A+B-")
    bundle = world.scenario(value)
    bundle["entry"] = bundle["entry"][:2]
    first = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    second = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    assert [e["response"]["status"] for e in second] == ["200 OK", "200 OK"]
    assert second[1]["response"]["location"] == first[1]["response"]["location"]
    # and in a conditional reference
    condition = world.scenario()["entry"][2]
    condition["resource"]["encounter"] = {
        "reference": f"Encounter?identifier={world.system}|{value}"
    }
    condition["resource"]["subject"] = {
        "reference": f"Patient?identifier={national_system()}|{world.nid}"
    }
    (entry,) = answer(
        await client.post(
            "/fhir",
            json={"resourceType": "Bundle", "type": "transaction", "entry": [condition]},
            headers=world.hospital,
        ),
        "transaction-response",
    )
    stored = await read(client, world, location(entry))
    assert stored["encounter"] == {"reference": location(first[1])}


async def test_an_antenatal_contact_sent_as_a_batch_is_told_to_be_a_transaction(client, world):
    bundle = {**world.scenario(), "type": "batch"}
    bundle["entry"][1]["resource"]["episodeOfCare"] = [{"reference": "EpisodeOfCare/1"}]
    r = await client.post("/fhir", json=bundle, headers=world.hospital)
    assert issues(r, 422) == {"Bundle.type"}
    assert "transaction" in r.json()["issue"][0]["diagnostics"]
    assert "EpisodeOfCare" in r.json()["issue"][0]["diagnostics"]


async def test_last_modified_is_written_as_meta_last_updated(client, world):
    entries = answer(
        await client.post("/fhir", json=world.scenario(), headers=world.hospital),
        "transaction-response",
    )
    enc = location(entries[1])
    current = await read(client, world, enc)
    assert entries[1]["response"]["lastModified"] == current["meta"]["lastUpdated"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [put({**current, "status": "cancelled"})],
    }
    (changed,) = answer(
        await client.post("/fhir", json=bundle, headers=world.hospital), "transaction-response"
    )
    current = await read(client, world, enc)
    assert changed["response"]["lastModified"] == current["meta"]["lastUpdated"]
    reads = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": enc}}],
    }
    (got,) = answer(
        await client.post("/fhir", json=reads, headers=world.hospital), "batch-response"
    )
    assert got["response"]["lastModified"] == current["meta"]["lastUpdated"]
    assert got["resource"]["meta"] == current["meta"]
