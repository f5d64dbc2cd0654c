"""The shared record's search as HAPI and Medplum offer it (issue 18 item 5): ``_elements``,
modifiers (``:missing``, ``:not``), ``_include`` and ``_revinclude``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fhir.test_record import (
    World,
    create,
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
    assert set(b["entry"][0]["resource"]) == {"resourceType", "id", "meta", "status"}


async def test_metadata_defines_elements(client, world: World):
    cs = ok(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for t in ("Procedure", "Observation", "Encounter"):
        assert "_elements:" in listed[t]["documentation"], t
