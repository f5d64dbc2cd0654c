"""The shared record's search, issue 18 item 5 continued: comma OR on dates, chained
``subject:Patient.identifier``, ``Prefer: handling=lenient``."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from salomat.core.config import get_settings
from salomat.country.national_id import system_uri
from tests.factories import national_id_for
from tests.fhir.test_record import (
    World,
    allergy,
    create,
    encounter,
    ids,
    issues,
    observation,
    ok,
    procedure,
    world,
)

__all__ = ["world"]

pytestmark = pytest.mark.anyio


async def with_national_id(w: World, make_person) -> tuple[World, str]:
    """The world around a patient of the same polyclinic who has a national id."""
    birth = date(1990, 4, 12)
    nid = national_id_for(birth, "female", get_settings().country)
    person = await make_person(
        facility_code=w.patient.attached_facility_code,
        national_id=nid,
        birth_date=birth,
        sex="female",
    )
    return dataclasses.replace(w, patient=person), nid


def when(day: str) -> dict[str, Any]:
    return {"effectiveDateTime": day}


# ---- comma OR on dates ---------------------------------------------------------------------


async def test_a_comma_in_a_date_is_any_of_them_and_repeats_are_all(client, world: World):
    w = world
    subject = f"Patient/{w.patient.id}"
    old = await create(client, w.hospital, observation(w, **when("2019-06-01")))
    mid = await create(client, w.hospital, observation(w, **when("2022-06-01")))
    new = await create(client, w.hospital, observation(w, **when("2025-06-01")))

    async def found(*dates: str) -> list[str]:
        params = [("subject", subject), *(("date", d) for d in dates)]
        return ids(ok(await client.get("/fhir/Observation", params=params, headers=w.doctor)))

    assert await found("lt2020,gt2024") == [old["id"], new["id"]]
    assert await found("ge2020", "le2023") == [mid["id"]]  # repeated: AND, as before
    assert await found("lt2020,gt2024", "ge2019-06-01") == [old["id"], new["id"]]
    assert await found("lt2020,gt2024", "gt2020") == [new["id"]]
    assert await found("2019,2022") == [old["id"], mid["id"]]
    # _lastUpdated: the three were just stored
    r = await client.get(
        "/fhir/Observation",
        params={"subject": subject, "_lastUpdated": "lt2000,gt2020"},
        headers=w.doctor,
    )
    assert ok(r)["total"] == 3
    r = await client.get(
        "/fhir/Observation",
        params={"subject": subject, "date": "lt2020,2021-13"},
        headers=w.doctor,
    )
    assert issues(r, 422) == {"date"}


# ---- chains --------------------------------------------------------------------------------


async def test_chained_patient_identifier_finds_the_persons_records(
    client, world: World, make_person
):
    w, nid = await with_national_id(world, make_person)
    system = system_uri(get_settings().country)
    enc = await create(client, w.hospital, encounter(w))
    proc = await create(client, w.hospital, procedure(w, enc["id"]))
    alg = await create(client, w.hospital, allergy(w))
    # the world's other patient has records too, which no chain to ours finds
    await create(client, w.hospital, allergy(world))
    for key in ("subject:Patient.identifier", "subject.identifier", "patient.identifier",
                "patient:Patient.identifier"):  # fmt: skip
        for value in (f"{system}|{nid}", nid, f"{system}|x,{nid}"):
            r = await client.get("/fhir/Procedure", params={key: value}, headers=w.doctor)
            assert ids(ok(r)) == [proc["id"]], (key, value)
    for key in ("patient.identifier", "patient:Patient.identifier"):
        r = await client.get("/fhir/AllergyIntolerance", params={key: nid}, headers=w.doctor)
        assert ids(ok(r)) == [alg["id"]]
    # another system's identifier (registered or not), a national id of nobody: none
    for value in (f"{w.system}|{nid}", "https://elsewhere.example/ids|1", "00000000000000"):
        r = await client.get(
            "/fhir/Procedure", params={"subject:Patient.identifier": value}, headers=w.doctor
        )
        assert ok(r)["total"] == 0, value
    # with the other filters, and two chains: all of them
    r = await client.get(
        "/fhir/Procedure",
        params={"subject.identifier": nid, "code": "x"},
        headers=w.doctor,
    )
    assert ok(r)["total"] == 0
    # the scope applies: a doctor of another polyclinic finds nothing
    r = await client.get("/fhir/Procedure", params={"subject.identifier": nid}, headers=w.stranger)
    assert ok(r)["total"] == 0
    # the paging link names the chain
    r = await client.get(
        "/fhir/Procedure", params={"subject.identifier": nid, "_count": "1"}, headers=w.doctor
    )
    assert "subject.identifier=" in ok(r)["link"][0]["url"]


async def test_a_chain_on_observation_through_a_batch(client, world: World, make_person):
    """A Bundle's GET entry answers with the same search (the record's route)."""
    w, nid = await with_national_id(world, make_person)
    obs = await create(client, w.hospital, observation(w))
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Observation?subject:Patient.identifier={nid}"}},
            {"request": {"method": "GET", "url": f"Observation?subject.name={nid}"}},
        ],
    }
    r = await client.post("/fhir", json=batch, headers=w.doctor)
    body = ok(r)
    first, second = body["entry"]
    assert first["response"]["status"].startswith("200")
    assert ids(first["resource"]) == [obs["id"]]
    assert second["response"]["status"].startswith("422")


async def test_chains_the_record_does_not_take_are_refused_naming_them(client, world: World):
    w = world
    for t, key in (
        ("Procedure", "subject.name"),
        ("Procedure", "subject:Group.identifier"),
        ("Procedure", "encounter.identifier"),
        ("AllergyIntolerance", "subject.identifier"),
        ("Procedure", "subject:Patient.birthdate"),
    ):
        r = await client.get(f"/fhir/{t}", params={key: "x"}, headers=w.doctor)
        assert issues(r, 422) == {key}, key
    r = await client.get("/fhir/Procedure", params={"subject.identifier": "x|"}, headers=w.doctor)
    assert issues(r, 422) == {"subject.identifier"}


async def test_a_merged_persons_national_id_finds_the_survivors_records(
    client, world: World, make_person, make_user, login
):
    """After a merge the survivor carries the national id: a chain finds the records
    that were the merged person's, now the survivor's."""
    w, nid = await with_national_id(world, make_person)
    twin = await make_person(
        facility_code=w.patient.attached_facility_code, sex="female", family_name="Twinova"
    )
    proc_w = dataclasses.replace(w, patient=twin)
    enc = await create(client, w.hospital, encounter(proc_w))
    proc = await create(client, w.hospital, procedure(proc_w, enc["id"]))
    r = await client.get("/fhir/Procedure", params={"subject.identifier": nid}, headers=w.doctor)
    assert ok(r)["total"] == 0
    registrar = await login(
        await make_user("registrar", facility_code=w.patient.attached_facility_code)
    )
    r = await client.post(
        f"/api/v1/persons/{w.patient.id}/merge",
        json={"merged_id": twin.id, "reason": "the same woman registered twice"},
        headers=registrar,
    )
    assert r.status_code in (200, 201), r.text
    r = await client.get("/fhir/Procedure", params={"subject.identifier": nid}, headers=w.doctor)
    assert ids(ok(r)) == [proc["id"]]


# ---- Prefer: handling ----------------------------------------------------------------------


async def test_lenient_handling_ignores_an_unknown_parameter_and_says_so(client, world: World):
    w = world
    subject = f"Patient/{w.patient.id}"
    enc = await create(client, w.hospital, encounter(w))
    proc = await create(client, w.hospital, procedure(w, enc["id"]))
    params = {"subject": subject, "performer": "x", "subject.name": "y"}
    for prefer in (None, "handling=strict"):
        headers = {**w.doctor, **({"Prefer": prefer} if prefer else {})}
        r = await client.get("/fhir/Procedure", params=params, headers=headers)
        assert issues(r, 422) >= {"performer"}, prefer
    r = await client.get(
        "/fhir/Procedure",
        params=params,
        headers={**w.doctor, "Prefer": "return=representation, handling=lenient"},
    )
    b = ok(r)
    assert ids({"entry": [e for e in b["entry"] if e["search"]["mode"] == "match"]}) == [proc["id"]]
    (outcome,) = [e for e in b["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["resource"]["resourceType"] == "OperationOutcome"
    named = {i["expression"][0] for i in outcome["resource"]["issue"]}
    assert named == {"performer", "subject.name"}
    assert all(i["severity"] == "warning" for i in outcome["resource"]["issue"])
    # the self link names what was searched, not what was ignored
    assert "performer" not in b["link"][0]["url"]
    assert b["total"] == 1
    # a bad value of a known parameter is still refused
    r = await client.get(
        "/fhir/Procedure",
        params={"subject": subject, "date": "2026-13"},
        headers={**w.doctor, "Prefer": "handling=lenient"},
    )
    assert issues(r, 422) == {"date"}


async def test_lenient_handling_on_a_merged_search(client, world: World):
    """Encounter?patient=X answers the register's and the record's: with lenient
    handling through a batch (whose GET entries this search answers) an unknown parameter
    is left out and the search is merged as without it."""
    w = world
    enc = await create(client, w.hospital, encounter(w))
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "request": {
                    "method": "GET",
                    "url": f"Encounter?patient={w.patient.id}&bogus=1",
                }
            }
        ],
    }
    r = await client.post("/fhir", json=batch, headers={**w.doctor, "Prefer": "handling=lenient"})
    (entry,) = ok(r)["entry"]
    assert entry["response"]["status"].startswith("200"), entry
    found = entry["resource"]
    assert [e["resource"]["id"] for e in found["entry"] if e["search"]["mode"] == "match"] == [
        enc["id"]
    ]
    assert found["entry"][0]["search"]["mode"] == "outcome"
