"""Patient?_has: over the shared record, ``:exact`` / ``:contains`` on the string
parameters (Patient name, family, given; NamingSystem name), issue 18 item 5."""

from __future__ import annotations

import dataclasses

import pytest

from tests.factories import unique, unique_name
from tests.fhir.test_record import (
    LOINC,
    World,
    allergy,
    create,
    issues,
    observation,
    ok,
    world,
)

__all__ = ["world"]

pytestmark = pytest.mark.anyio
HB = "718-7"


def hemoglobin(w: World) -> dict:
    return observation(
        w,
        category=None,
        component=None,
        code={"coding": [{"system": LOINC, "code": HB, "display": "Hemoglobin"}]},
        valueQuantity={"value": 92, "unit": "g/L", "system": "http://unitsofmeasure.org",
                       "code": "g/L"},
    )  # fmt: skip


def patients(b: dict) -> list[str]:
    return sorted(e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match")


async def test_has_finds_the_patients_with_such_a_resource_in_scope(
    client, world: World, make_person
):
    w = world
    neighbour = await make_person(facility_code=w.patient.attached_facility_code)
    nw = dataclasses.replace(w, patient=neighbour)
    await create(client, w.hospital, hemoglobin(w))
    await create(client, w.hospital, observation(nw))  # blood pressure, no haemoglobin
    await create(client, w.hospital, hemoglobin(dataclasses.replace(w, patient=w.other)))
    await create(client, w.hospital, allergy(nw))

    async def found(headers: dict, **params: str) -> list[str]:
        r = await client.get("/fhir/Patient", params=params, headers=headers)
        return patients(ok(r))

    key = "_has:Observation:patient:code"
    # w.other has haemoglobin too, but is not the doctor's: left out
    assert await found(w.doctor, **{key: f"{LOINC}|{HB}"}) == [str(w.patient.id)]
    assert await found(w.doctor, **{"_has:Observation:subject:code": HB}) == [str(w.patient.id)]
    assert await found(w.doctor, **{key: f"{HB},85354-9"}) == sorted(
        [str(w.patient.id), str(neighbour.id)]
    )
    assert await found(
        w.doctor, **{"_has:AllergyIntolerance:patient:clinical-status": "active"}
    ) == [str(neighbour.id)]
    assert await found(w.doctor, **{key: "none-such"}) == []
    # with the Patient's own parameters: all of them
    assert await found(w.doctor, **{key: HB, "family": w.patient.family_name}) == [
        str(w.patient.id)
    ]
    assert await found(w.doctor, **{key: HB, "gender": "male"}) == []
    assert await found(w.doctor, **{key: HB, "_has:Observation:patient:date": "lt2000"}) == []
    assert await found(w.doctor, **{key: HB, "_has:Observation:patient:date": "ge2026"}) == [
        str(w.patient.id)
    ]
    # a doctor elsewhere sees neither
    assert await found(w.stranger, **{key: HB}) == []


async def test_has_is_refused_naming_the_parameter(client, world: World):
    w = world
    for key in (
        "_has:Observation:patient",
        "_has:Immunization:patient:vaccine-code",
        "_has:AllergyIntolerance:subject:code",
        "_has:Observation:performer:code",
        "_has:Observation:patient:performer",
        "_has:Observation:patient:_sort",
        "_has:Observation:patient:_has:Encounter:patient:status",
    ):
        r = await client.get("/fhir/Patient", params={key: "x"}, headers=w.doctor)
        assert issues(r, 422) == {key}, key
    r = await client.get(
        "/fhir/Patient", params={"_has:Observation:patient:date": "2026-13"}, headers=w.doctor
    )
    assert issues(r, 422) == {"date"}


async def test_exact_and_contains_on_the_patients_names(client, world: World, make_person):
    w = world
    family = unique_name("Qodirova")
    a = await make_person(
        facility_code=w.patient.attached_facility_code, family_name=family, given_name="Nilufar"
    )
    b = await make_person(
        facility_code=w.patient.attached_facility_code,
        family_name=f"{family}a",
        given_name="Nilufarxon",
    )

    async def found(**params: str) -> list[str]:
        return patients(ok(await client.get("/fhir/Patient", params=params, headers=w.doctor)))

    both = sorted([str(a.id), str(b.id)])
    assert await found(family=family) == both  # the beginning: both
    assert await found(**{"family:exact": family}) == [str(a.id)]
    assert await found(**{"family:exact": family.upper()}) == []  # case too
    assert await found(**{"name:exact": family}) == [str(a.id)]
    assert await found(**{"family:contains": family[3:].upper()}) == both
    assert await found(**{"family:contains": family[4:], "given:exact": "Nilufarxon"}) == [
        str(b.id)
    ]
    assert await found(**{"name:contains": family[2:], "given:contains": "FARXON"}) == [str(b.id)]
    # only the doctor's people: the stranger finds neither
    r = await client.get("/fhir/Patient", params={"family:exact": family}, headers=w.stranger)
    assert patients(ok(r)) == []
    for key in ("family:exact", "name:contains"):
        r = await client.get("/fhir/Patient", params={key: " "}, headers=w.doctor)
        assert issues(r, 422) == {key}
    r = await client.get("/fhir/Patient", params={"family:text": "x"}, headers=w.doctor)
    assert issues(r, 422) == {"family:text"}


async def test_patient_search_lenient_handling(client, world: World):
    w = world
    params = {"family:exact": w.patient.family_name, "address-city": "Tashkent"}
    r = await client.get("/fhir/Patient", params=params, headers=w.doctor)
    assert issues(r, 422) == {"address-city"}
    r = await client.get(
        "/fhir/Patient", params=params, headers={**w.doctor, "Prefer": "handling=lenient"}
    )
    b = ok(r)
    assert patients(b) == [str(w.patient.id)]
    (outcome,) = [e for e in b["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["resource"]["issue"][0]["expression"] == ["address-city"]


async def test_naming_system_name_exact_and_contains(client, world: World):
    w = world
    name = f"Lab{unique('n')}Results"
    url = f"https://lab-{unique('l').lower()}.example/results"
    r = await client.post(
        "/fhir/NamingSystem",
        json={
            "resourceType": "NamingSystem",
            "name": name,
            "status": "active",
            "kind": "identifier",
            "date": "2026-11-01",
            "uniqueId": [{"type": "uri", "value": url}],
        },
        headers=w.admin,
    )
    assert r.status_code == 201, r.text

    async def names(**params: str) -> list[str]:
        r = await client.get("/fhir/NamingSystem", params=params, headers=w.doctor)
        return [e["resource"]["name"] for e in ok(r).get("entry", [])]

    assert await names(**{"name:exact": name}) == [name]
    assert await names(**{"name:exact": name.lower()}) == []
    assert await names(**{"name:contains": name[3:-2].lower()}) == [name]
    assert await names(**{"name:contains": "no such part at all"}) == []
    assert await names(name=name[:5].lower()) == [name] or name in await names(name=name[:5])
    r = await client.get("/fhir/NamingSystem", params={"name:text": "x"}, headers=w.doctor)
    assert issues(r, 422) == {"name:text"}


async def test_metadata_declares_the_new_search_features(client, world: World):
    """Each feature is declared with its definition: the chains in patient's and
    subject's searchParam and the type's documentation, _has and the string modifiers on
    Patient, Prefer: handling on both, NamingSystem name's modifiers."""
    cs = ok(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for t in ("Observation", "Procedure", "AllergyIntolerance", "Encounter"):
        doc = listed[t]["documentation"]
        assert "subject:Patient.identifier" in doc or t == "AllergyIntolerance", t
        assert "patient.identifier" in doc, t
        assert "handling=lenient" in doc, t
        params = {p["name"]: p.get("documentation", "") for p in listed[t]["searchParam"]}
        assert "patient:Patient.identifier" in params["patient"], t
        assert "any of them (date=lt2020,gt2024)" in params["date"], t
    patient = listed["Patient"]
    assert "_has:<Type>:<patient|subject>:<param>" in patient["documentation"]
    assert "handling=lenient" in patient["documentation"]
    params = {p["name"]: p.get("documentation", "") for p in patient["searchParam"]}
    for name in ("name", "family", "given"):
        assert ":exact" in params[name], name
        assert ":contains" in params[name], name
    ns = {p["name"]: p["documentation"] for p in listed["NamingSystem"]["searchParam"]}
    assert "name:exact" in ns["name"]
    assert "name:contains" in ns["name"]


async def test_has_needs_the_record(client, world: World, make_user, login):
    """A registrar searches people but does not read the shared record: _has is refused
    (403), not answered from what she may not read."""
    registrar = await login(
        await make_user("registrar", facility_code=world.patient.attached_facility_code)
    )
    r = await client.get(
        "/fhir/Patient", params={"_has:Observation:patient:code": HB}, headers=registrar
    )
    assert r.status_code == 403, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    r = await client.get(
        "/fhir/Patient", params={"family": world.patient.family_name}, headers=registrar
    )
    assert patients(ok(r)) == [str(world.patient.id)]
