"""Issue 18, search follow-ups: a chain alone on a type another register shares is the
record's (``patient.identifier`` merged with the register by the persons it names,
``subject.identifier`` the record's alone), and a facility that sent resources for a
person outside its scope finds them again by ``patient`` on a merged search, while the
register's share stays scoped and a person it sent nothing for answers as before."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import audit
from salomat.core.audit import AuditQuery
from salomat.core.config import get_settings
from salomat.country.national_id import system_uri
from tests.factories import national_id_for
from tests.fhir.test_record import (
    World,
    allergy,
    condition,
    create,
    document,
    encounter,
    ids,
    issues,
    observation,
    ok,
    world,
)

__all__ = ["world"]

pytestmark = pytest.mark.anyio
TODAY = date.today()


@dataclasses.dataclass
class Woman:
    w: World  # the record's world around her (its hospital sends)
    nid: str
    contacts: list[str]  # the register's Encounters of her pregnancy
    register_obs: list[str]  # the register's Observations of her


@pytest.fixture
async def woman(client, world: World, make_person) -> Woman:
    """A woman with a national id, attached to the doctor's polyclinic, with a
    pregnancy and one antenatal contact in the register."""
    birth = date(1992, 2, 3)
    nid = national_id_for(birth, "female", get_settings().country)
    person = await make_person(
        facility_code=world.patient.attached_facility_code,
        national_id=nid,
        birth_date=birth,
        sex="female",
    )
    w = dataclasses.replace(world, patient=person)
    lmp = TODAY - timedelta(weeks=20)
    r = await client.post(
        f"/api/v1/persons/{person.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0},
        headers=w.doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=w.doctor)).headers["etag"]
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/contacts",
        json={"on": TODAY.isoformat(), "systolic_1": 118, "diastolic_1": 76, "weight_kg": 61.0},
        headers={**w.doctor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text

    async def found(path: str) -> list[str]:
        r = await client.get(path, params={"patient": person.id}, headers=w.doctor)
        return ids(ok(r))

    contacts, obs = await found("/fhir/Encounter"), await found("/fhir/Observation")
    assert contacts
    assert obs
    return Woman(w=w, nid=nid, contacts=contacts, register_obs=obs)


# ---- item 2: a chain alone is the record's ------------------------------------------------------


async def test_a_patient_chain_alone_is_merged_and_a_subject_chain_is_the_records(
    client, woman: Woman
):
    w, nid = woman.w, woman.nid
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w))
    cond = await create(client, w.hospital, condition(w, enc["id"]))
    doc = await create(client, w.hospital, document(w, enc["id"]))
    national = f"{system_uri(get_settings().country)}|{nid}"

    async def found(path: str, **params: str) -> dict[str, Any]:
        return ok(await client.get(path, params=params, headers=w.doctor))

    for key in ("patient.identifier", "patient:Patient.identifier"):
        for value in (nid, national):
            merged = await found("/fhir/Encounter", **{key: value})
            assert ids(merged) == [*woman.contacts, enc["id"]], (key, value)
            assert merged["total"] == len(woman.contacts) + 1
            # the self link names the chain as asked
            assert "identifier=" in merged["link"][0]["url"]
        got = await found("/fhir/Observation", **{key: nid})
        assert ids(got) == [*woman.register_obs, obs["id"]], key
        # the merged search's filters and result parameters go with it
        counted = await found("/fhir/Observation", **{key: nid, "_summary": "count"})
        assert counted["total"] == len(woman.register_obs) + 1
        page = await found("/fhir/Observation", **{key: nid, "_count": "1", "_offset": "1"})
        assert ids(page) == [[*woman.register_obs, obs["id"]][1]]
        assert ids(await found("/fhir/Condition", **{key: nid})) == [cond["id"]]
        assert ids(await found("/fhir/DocumentReference", **{key: nid})) == [doc["id"]]
    for key in ("subject.identifier", "subject:Patient.identifier"):
        # the record's alone, as subject is
        assert ids(await found("/fhir/Encounter", **{key: nid})) == [enc["id"]], key
        assert ids(await found("/fhir/Observation", **{key: nid})) == [obs["id"]], key
        assert ids(await found("/fhir/Condition", **{key: nid})) == [cond["id"]], key
        assert ids(await found("/fhir/DocumentReference", **{key: nid})) == [doc["id"]], key
    # a chain and patient: both must name her
    both = await found(
        "/fhir/Encounter", **{"patient.identifier": nid, "patient": str(w.patient.id)}
    )
    assert ids(both) == [*woman.contacts, enc["id"]]
    other = await found(
        "/fhir/Encounter", **{"patient.identifier": nid, "patient": str(w.other.id)}
    )
    assert ids(other) == []
    # another system's identifier names nobody: empty, not refused
    assert ids(await found("/fhir/Encounter", **{"patient.identifier": "http://x.example|1"})) == []
    # a chain the record does not take is refused naming it, not sent to the register
    for path in ("/fhir/Encounter", "/fhir/Observation", "/fhir/Condition"):
        r = await client.get(path, params={"subject.name": "x"}, headers=w.doctor)
        assert issues(r, 422) == {"subject.name"}, path


async def test_a_chain_merged_by_a_person_out_of_scope_shows_nothing_of_her(client, woman: Woman):
    """The stranger (another polyclinic) searches by her national id: the register's
    share refuses her (left out, not 404: a chain is a search) and the record's leaves
    her out; both refusals audited."""
    w, nid = woman.w, woman.nid
    await create(client, w.hospital, encounter(w))
    for key in ("patient.identifier", "subject.identifier"):
        r = await client.get("/fhir/Encounter", params={key: nid}, headers=w.stranger)
        body = ok(r)
        assert body["total"] == 0, key
        assert ids(body) == []


async def test_a_chain_alone_in_a_batch_answers_as_over_http(client, woman: Woman):
    w, nid = woman.w, woman.nid
    enc = await create(client, w.hospital, encounter(w))
    queries = [f"Encounter?patient.identifier={nid}", f"Encounter?subject.identifier={nid}"]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": q}} for q in queries],
    }
    entries = ok(await client.post("/fhir", json=bundle, headers=w.doctor))["entry"]
    assert ids(entries[0]["resource"]) == [*woman.contacts, enc["id"]]
    assert ids(entries[1]["resource"]) == [enc["id"]]
    for q, e in zip(queries, entries, strict=True):
        assert e["resource"] == ok(await client.get(f"/fhir/{q}", headers=w.doctor)), q


# ---- item 3: the sender finds what it sent on a merged search --------------------------------


async def test_a_hospital_finds_what_it_sent_by_patient_and_nothing_of_the_register(
    client, db, woman: Woman
):
    w = woman.w
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w))
    alg = await create(client, w.hospital, allergy(w))
    pid = w.patient.id

    async def search(path: str, headers: dict[str, str], **params: str) -> Any:
        return await client.get(path, params={"patient": str(pid), **params}, headers=headers)

    # the doctor (in scope): the register's and the record's
    assert ids(ok(await search("/fhir/Encounter", w.doctor))) == [*woman.contacts, enc["id"]]
    # the hospital (out of scope, the sender): only what it sent, the register's left out
    got = ok(await search("/fhir/Encounter", w.hospital))
    assert ids(got) == [enc["id"]]
    assert got["total"] == 1
    assert ids(ok(await search("/fhir/Observation", w.hospital))) == [obs["id"]]
    assert ok(await search("/fhir/Observation", w.hospital, _summary="count"))["total"] == 1
    # a type it sent nothing of: empty (it sent others for her)
    assert ids(ok(await search("/fhir/Condition", w.hospital))) == []
    # the record-only types answer the same
    assert ids(ok(await search("/fhir/AllergyIntolerance", w.hospital))) == [alg["id"]]
    # the register's refusal of its share is audited, as before
    rows, _ = await audit.search(db, AuditQuery(patient_id=pid, action="denied"))
    assert rows, "the register's refusal was not audited"


async def test_a_person_the_caller_sent_nothing_for_answers_as_a_missing_one(client, woman: Woman):
    """No disclosure: the stranger (no scope, sent nothing) gets what an id that does
    not exist gets, status and body."""
    w = woman.w
    await create(client, w.hospital, encounter(w))
    for path in ("/fhir/Encounter", "/fhir/Observation", "/fhir/DocumentReference"):
        hidden = await client.get(path, params={"patient": w.patient.id}, headers=w.stranger)
        missing = await client.get(path, params={"patient": 999999999}, headers=w.stranger)
        assert hidden.status_code == missing.status_code, (path, hidden.text)
        assert hidden.json() == {
            **missing.json(),
            "issue": [
                {**i, "diagnostics": i["diagnostics"].replace("999999999", str(w.patient.id))}
                for i in missing.json()["issue"]
            ],
        }, path
    # the record-only types: empty either way
    for pid in (w.patient.id, 999999999):
        r = await client.get(
            "/fhir/AllergyIntolerance", params={"patient": pid}, headers=w.stranger
        )
        assert ok(r)["total"] == 0
