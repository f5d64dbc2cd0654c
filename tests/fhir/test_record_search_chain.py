"""The shared record's search, issue 18 item 5 continued: comma OR on dates, chained
``subject:Patient.identifier``, ``Prefer: handling=lenient``."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.config import get_settings
from salomat.core.errors import Invalid
from salomat.country.national_id import system_uri
from salomat.fhir.record_chain import _inner
from salomat.fhir.record_params import MODIFIERS, SEARCH_PARAMS
from salomat.fhir.search_handling import lenient
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


# ---- the parsers never fail with a 500 -----------------------------------------------------


@settings(database=None, deadline=None, max_examples=200)
@given(st.text(max_size=60))
def test_any_prefer_header_is_read_as_lenient_or_not(header: str) -> None:
    assert lenient(header) in (True, False)
    assert lenient(f"{header},handling=lenient") is True
    assert lenient(f"{header},handling=strict") is False  # the last one counts


def test_handling_is_read_as_rfc_7240_writes_it() -> None:
    assert lenient('return=minimal; handling="lenient"') is True
    assert lenient("HANDLING=Lenient") is True
    assert lenient("handling=lenient, handling=strict") is False
    assert lenient("respond-async") is False
    assert lenient(None) is False


_parts = st.sampled_from(
    ["Observation", "Procedure", "AllergyIntolerance", "Immunization", "patient", "subject",
     "code", "date", "code:not", "_sort", "", "x", "_has"]
)  # fmt: skip


@settings(database=None, deadline=None, max_examples=300)
@given(st.lists(_parts, max_size=6))
def test_any_has_key_is_read_or_refused_naming_it(parts: list[str]) -> None:
    key = ":".join(["_has", *parts])
    refused: Invalid | None = None
    try:
        target, inner = _inner(key)
    except Invalid as e:
        refused = e
    if refused is not None:
        assert [err.field for err in refused.errors] == [key]
        return
    assert target in SEARCH_PARAMS
    assert inner in set(SEARCH_PARAMS[target]) | MODIFIERS[target]
    assert inner not in ("patient", "subject")


async def test_a_chain_value_that_cannot_be_stored_is_refused_not_an_error(client, world: World):
    w = world
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Procedure?subject.identifier=%00"}},
            {"request": {"method": "GET", "url": "Procedure?subject.identifier=a%00b"}},
        ],
    }
    r = await client.post("/fhir", json=batch, headers=w.doctor)
    for entry in ok(r)["entry"]:
        assert entry["response"]["status"].startswith("422"), entry
