"""The shared record's search as HAPI and Medplum offer it (issue 18 item 5): ``_elements``,
modifiers (``:missing``, ``:not``), ``_include`` and ``_revinclude``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.fhir.test_record import (
    World,
    condition,
    create,
    diagnostic_report,
    encounter,
    ids,
    issues,
    observation,
    ok,
    world,
)

__all__ = ["world"]

pytestmark = pytest.mark.anyio


def got(r) -> dict[str, Any]:
    """A searchset whose matches may be subsetted (R4: a SUBSETTED resource may lack
    required elements, so it is not validated as whole)."""
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# ---- _elements ------------------------------------------------------------------------------


async def test_elements_returns_the_listed_elements_tagged_subsetted(client, world: World):
    w = world
    obs = await create(client, w.hospital, observation(w))
    r = await client.get(
        "/fhir/Observation",
        params={"subject": f"Patient/{w.patient.id}", "_elements": "code,effective,status"},
        headers=w.doctor,
    )
    b = ok(r)
    assert ids(b) == [obs["id"]]
    res = b["entry"][0]["resource"]
    assert set(res) == {"resourceType", "id", "meta", "code", "effectiveDateTime", "status"}
    assert res["code"] == obs["code"]
    assert res["effectiveDateTime"] == obs["effectiveDateTime"]
    assert res["meta"]["versionId"] == obs["meta"]["versionId"]
    assert {"code": "SUBSETTED"}.items() <= res["meta"]["tag"][-1].items()
    assert "_elements=code%2Ceffective%2Cstatus" in b["link"][0]["url"]
    # without _elements the resource is whole and not tagged
    whole = ok(
        await client.get(
            "/fhir/Observation", params={"subject": f"Patient/{w.patient.id}"}, headers=w.doctor
        )
    )["entry"][0]["resource"]
    assert "subject" in whole
    assert "SUBSETTED" not in str(whole.get("meta"))


async def test_elements_must_name_elements(client, world: World):
    w = world
    for bad in ("", "code,", "code;status", "Code"):
        r = await client.get(
            "/fhir/Observation",
            params={"subject": f"Patient/{w.patient.id}", "_elements": bad},
            headers=w.doctor,
        )
        assert issues(r, 422) == {"_elements"}, bad


async def test_elements_on_a_merged_search_subsets_the_record_share(client, world: World):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    b = got(
        await client.get(
            "/fhir/Encounter",
            params={"patient": str(w.patient.id), "_elements": "status"},
            headers=w.doctor,
        )
    )
    assert ids(b) == [enc["id"]]
    # R4 requires Encounter.class (1..1): a subset keeps it unasked (search.html#elements)
    assert set(b["entry"][0]["resource"]) == {"resourceType", "id", "meta", "status", "class"}


async def test_elements_keeps_what_the_type_requires(client, world: World):
    """R4: "Servers SHOULD always return mandatory elements whether they are requested or
    not" — Condition.subject (1..1), Encounter.status and class (1..1), Observation.status
    and code (1..1)."""
    w = world
    enc = await create(client, w.hospital, encounter(w))
    await create(client, w.hospital, condition(w, enc["id"]))
    await create(client, w.hospital, observation(w))
    subject = f"Patient/{w.patient.id}"
    cond = ok(
        await client.get(
            "/fhir/Condition", params={"subject": subject, "_elements": "onset"}, headers=w.doctor
        )
    )["entry"][0]["resource"]
    assert {"subject"} <= set(cond)
    assert "code" not in cond  # 0..1 in R4: left out as asked
    obs = ok(
        await client.get(
            "/fhir/Observation", params={"subject": subject, "_elements": "note"}, headers=w.doctor
        )
    )["entry"][0]["resource"]
    assert {"status", "code"} <= set(obs)
    assert "subject" not in obs  # 0..1 in Observation


async def test_metadata_defines_elements(client, world: World):
    cs = ok(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for t in ("Procedure", "Observation", "Encounter"):
        assert "_elements:" in listed[t]["documentation"], t


# ---- _include and _revinclude --------------------------------------------------------------


def by_mode(b: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in b.get("entry", []):
        r = e["resource"]
        out.setdefault(e["search"]["mode"], []).append(f"{r['resourceType']}/{r['id']}")
    return out


async def test_include_adds_the_encounter_patient_and_results_once(client, world: World):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    obs1 = await create(client, w.hospital, observation(w, enc["id"]))
    obs2 = await create(client, w.hospital, observation(w, enc["id"]))
    subject = f"Patient/{w.patient.id}"
    b = ok(
        await client.get(
            "/fhir/Observation",
            params=[
                ("subject", subject),
                ("_include", "Observation:encounter"),
                ("_include", "Observation:subject"),
            ],
            headers=w.doctor,
        )
    )
    assert by_mode(b) == {
        "match": [f"Observation/{obs1['id']}", f"Observation/{obs2['id']}"],
        "include": [f"Encounter/{enc['id']}", f"Patient/{w.patient.id}"],
    }
    assert b["total"] == 2
    patient = b["entry"][-1]
    assert patient["fullUrl"].endswith(f"/Patient/{w.patient.id}")
    rep = await create(client, w.hospital, diagnostic_report(w, enc["id"], obs1["id"]))
    b = ok(
        await client.get(
            "/fhir/DiagnosticReport",
            params={"subject": subject, "_include": "DiagnosticReport:result"},
            headers=w.doctor,
        )
    )
    assert by_mode(b) == {
        "match": [f"DiagnosticReport/{rep['id']}"],
        "include": [f"Observation/{obs1['id']}"],
    }
    cond = await create(client, w.hospital, condition(w, enc["id"]))
    b = ok(
        await client.get(
            "/fhir/Condition",
            params={"subject": subject, "_include": "*:encounter"},
            headers=w.doctor,
        )
    )
    assert by_mode(b) == {
        "match": [f"Condition/{cond['id']}"],
        "include": [f"Encounter/{enc['id']}"],
    }


async def test_revinclude_adds_what_names_the_encounters(client, world: World):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    other = await create(client, w.hospital, encounter(w, "2"))
    obs = await create(client, w.hospital, observation(w, enc["id"]))
    await create(client, w.hospital, observation(w, other["id"]))
    cond = await create(client, w.hospital, condition(w, enc["id"]))
    b = ok(
        await client.get(
            "/fhir/Encounter",
            params=[
                ("subject", f"Patient/{w.patient.id}"),
                ("_id", enc["id"]),
                ("_revinclude", "Observation:encounter"),
                ("_revinclude", "Condition:encounter"),
            ],
            headers=w.doctor,
        )
    )
    assert by_mode(b) == {
        "match": [f"Encounter/{enc['id']}"],
        "include": [f"Observation/{obs['id']}", f"Condition/{cond['id']}"],
    }


async def test_an_included_resource_the_caller_may_not_read_is_left_out(client, world: World):
    """The hospital finds what it sent (record-sender) but may not read the person's
    registry entry: the Patient is left out, its own Encounter included; the family doctor
    (the person in scope) gets both."""
    w = world
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w, enc["id"]))
    params = [
        ("subject", f"Patient/{w.patient.id}"),
        ("_include", "Observation:encounter"),
        ("_include", "Observation:patient"),
    ]
    b = ok(await client.get("/fhir/Observation", params=params, headers=w.hospital))
    assert by_mode(b) == {
        "match": [f"Observation/{obs['id']}"],
        "include": [f"Encounter/{enc['id']}"],
    }
    b = ok(await client.get("/fhir/Observation", params=params, headers=w.doctor))
    assert by_mode(b)["include"] == [f"Encounter/{enc['id']}", f"Patient/{w.patient.id}"]
    b = ok(await client.get("/fhir/Observation", params=params, headers=w.stranger))
    assert by_mode(b) == {}


async def test_unknown_includes_and_iterate_are_refused(client, world: World):
    w = world
    subject = f"Patient/{w.patient.id}"
    for params, name in (
        ({"subject": subject, "_include": "Observation:performer"}, "_include"),
        ({"subject": subject, "_include": "Condition:encounter"}, "_include"),
        ({"subject": subject, "_revinclude": "Condition:encounter"}, "_revinclude"),
        ({"subject": subject, "_include:iterate": "Observation:encounter"}, "_include:iterate"),
        ({"patient": str(w.patient.id), "_include": "Observation:result"}, "_include"),
    ):
        r = await client.get("/fhir/Observation", params=params, headers=w.doctor)
        assert issues(r, 422) == {name}, params


async def test_metadata_lists_the_includes(client, world: World):
    cs = ok(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert "DiagnosticReport:result" in listed["DiagnosticReport"]["searchInclude"]
    assert "Observation:encounter" in listed["Observation"]["searchInclude"]
    assert "Observation:encounter" in listed["Encounter"]["searchRevInclude"]
    assert "_include" in listed["Encounter"]["documentation"]


# ---- modifiers ------------------------------------------------------------------------------


async def test_missing_and_not_modifiers(client, world: World):
    w = world
    subject = f"Patient/{w.patient.id}"
    enc = await create(client, w.hospital, encounter(w))
    with_enc = await create(client, w.hospital, observation(w, enc["id"]))
    bare = await create(
        client,
        w.hospital,
        observation(w, category=None, effectiveDateTime=None, issued=None, status="preliminary"),
    )

    async def found(**params: str) -> list[str]:
        r = await client.get(
            "/fhir/Observation", params={"subject": subject, **params}, headers=w.doctor
        )
        return ids(ok(r))

    assert await found(**{"encounter:missing": "true"}) == [bare["id"]]
    assert await found(**{"encounter:missing": "false"}) == [with_enc["id"]]
    assert await found(**{"category:missing": "true"}) == [bare["id"]]
    assert await found(**{"date:missing": "true"}) == [bare["id"]]
    assert await found(**{"date:missing": "false"}) == [with_enc["id"]]
    assert await found(**{"identifier:missing": "true"}) == [with_enc["id"], bare["id"]]
    assert await found(**{"code:missing": "false"}) == [with_enc["id"], bare["id"]]
    assert await found(**{"status:missing": "true"}) == []
    assert await found(**{"status:not": "final"}) == [bare["id"]]
    assert await found(**{"category:not": "vital-signs"}) == [bare["id"]]
    assert await found(**{"code:not": "85354-9"}) == []
    assert await found(**{"code:not": "x"}) == [with_enc["id"], bare["id"]]


async def test_unknown_modifiers_and_values_are_refused_naming_the_parameter(client, world: World):
    w = world
    subject = f"Patient/{w.patient.id}"
    for name, value in (
        ("code:exact", "x"),
        ("code:contains", "x"),
        ("code:text", "x"),
        ("date:not", "2026"),
        ("code:missing", "yes"),
        ("status:missing", ""),
    ):
        r = await client.get(
            "/fhir/Observation", params={"subject": subject, name: value}, headers=w.doctor
        )
        assert issues(r, 422) == {name}, name
    r = await client.get(
        "/fhir/Condition",
        params={"subject": subject, "clinical-status:not": "active"},
        headers=w.doctor,
    )
    assert ok(r)["total"] == 0


async def test_include_on_a_merged_search(client, world: World):
    """Encounter?patient=X answers the pregnancy register's Encounters and the record's:
    _include adds the Patient, _revinclude the record's resources of the record's
    Encounters, after both shares' matches; _elements subsets the matches only."""
    w = world
    lmp = date.today() - timedelta(weeks=20)
    r = await client.post(
        f"/api/v1/persons/{w.patient.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0},
        headers=w.doctor,
    )
    assert r.status_code == 201, r.text
    enc = await create(client, w.hospital, encounter(w))
    obs = await create(client, w.hospital, observation(w, enc["id"]))
    r = await client.get(
        "/fhir/Encounter",
        params=[
            ("patient", str(w.patient.id)),
            ("_include", "Encounter:patient"),
            ("_revinclude", "Observation:encounter"),
            ("_elements", "status"),
        ],
        headers=w.doctor,
    )
    b = got(r)
    modes = by_mode(b)
    assert f"Encounter/{enc['id']}" in modes["match"]
    assert modes["include"] == [f"Patient/{w.patient.id}", f"Observation/{obs['id']}"]
    included = [e["resource"] for e in b["entry"] if e["search"]["mode"] == "include"]
    assert "code" in included[1]  # whole, not subsetted
    for e in b["entry"]:
        if e["search"]["mode"] == "match":
            assert set(e["resource"]) <= {"resourceType", "id", "meta", "status", "class"}
    # the link names the includes; the total counts the matches only
    assert "_include=Encounter%3Apatient" in b["link"][0]["url"]
    assert b["total"] == len(modes["match"])
