"""Searches of the shared record that another register answers too (merged by patient),
and the record's token values: the FHIR review of issue 18 part 1 (items 1, 2, 6, 7 and
the minor search findings)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir.record_search import SEARCH_PARAMS, parse_token, sort_merged
from tests.domains.cancer.conftest import cancer
from tests.factories import unique
from tests.fhir import test_maternal
from tests.fhir.test_record import (
    LOINC,
    World,
    create,
    document,
    encounter,
    ids,
    issues,
    observation,
    ok,
    world,
)

__all__ = ["cancer", "world"]

pytestmark = pytest.mark.anyio
pregnancy = test_maternal.register
STAGE = "21908-9"


# ---- token values (R4 search, token) ---------------------------------------------------------

_part = st.text(st.characters(blacklist_characters="|,"), max_size=12)


@given(system=_part, code=_part)
def test_a_token_keeps_an_empty_system_apart_from_none(system: str, code: str) -> None:
    """``<code>``: any system (None); ``|<code>``: no system (""); ``<system>|<code>``;
    ``<system>|``: every code of the system (code "")."""
    assert parse_token(code) == (None, code)
    assert parse_token(f"|{code}") == ("", code)
    assert parse_token(f"{system}|{code}") == (system, code)
    assert parse_token(f"{system}|") == (system, "")


def test_a_merged_sort_puts_resources_without_the_time_last_either_way() -> None:
    def obs(n: str, when: str | None) -> dict[str, Any]:
        res: dict[str, Any] = {"resourceType": "Observation", "id": n}
        if when:
            res["effectiveDateTime"] = when
        return res

    a, b, c, none = (
        obs("a", "2026-03-01"),
        obs("b", "2026-03-02T10:00:00+05:00"),
        obs("c", "2025"),
        obs("n", None),
    )
    assert [r["id"] for r in sort_merged([none, b, a, c], [("date", False)])] == list("cabn")
    assert [r["id"] for r in sort_merged([none, b, a, c], [("date", True)])] == list("bacn")


async def test_code_tokens_without_a_system_and_a_whole_system(client, world):
    """``code=|x`` finds only codings without a system; ``code=<system>|`` any code of
    that system; ``identifier=<system>|`` any identifier of it."""
    w = world
    subject = f"Patient/{w.patient.id}"
    coded = await create(client, w.hospital, observation(w))  # LOINC 85354-9
    bare = await create(
        client,
        w.hospital,
        observation(w, code={"coding": [{"code": "85354-9"}]}, component=None),
    )
    other = await create(
        client,
        w.hospital,
        observation(
            w,
            code={"coding": [{"system": "http://other.example", "code": "x1"}]},
            component=None,
            identifier=[{"system": w.system, "value": unique("OBS-")}],
        ),
    )

    async def found(**params: Any) -> list[str]:
        r = await client.get("/fhir/Observation", params=params, headers=w.doctor)
        return sorted(ids(ok(r)))

    assert await found(subject=subject, code="|85354-9") == [bare["id"]]
    assert await found(subject=subject, code="85354-9") == sorted([coded["id"], bare["id"]])
    assert await found(subject=subject, code=f"{LOINC}|") == [coded["id"]]
    assert await found(subject=subject, code="http://other.example|,|85354-9") == sorted(
        [other["id"], bare["id"]]
    )
    assert await found(subject=subject, identifier=f"{w.system}|") == [other["id"]]
    assert await found(subject=subject, identifier="|x") == []
    for bad in ("|", ",", f"{LOINC}|,"):
        r = await client.get(
            "/fhir/Observation", params={"subject": subject, "code": bad}, headers=w.doctor
        )
        assert issues(r, 422) == {"code"}, bad
    r = await client.get(
        "/fhir/Observation", params={"subject": subject, "status": f"{LOINC}|"}, headers=w.doctor
    )
    assert issues(r, 422) == {"status"}


# ---- item 1: the TNM stage code -------------------------------------------------------------


async def test_the_stage_code_answers_the_cancer_registry_and_the_record(client, cancer, world):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    r = await client.post(
        f"/api/v1/persons/{p.id}/cancer-notifications",
        json={
            "topography": "C50.4", "morphology": "8500/3", "basis": 7,
            "diagnosed_on": "2025-03-10", "date_kind": "microscopic",
            "stage": {"edition": "8", "t": "T2", "n": "N1", "m": "M0", "group": "IIB"},
        },
        headers=cancer.doctor,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    stage = f"cancer-stage-{r.json()['tumour']['id']}"
    w = World(**{**world.__dict__, "patient": p})
    ours = await create(
        client,
        cancer.doctor,
        observation(w, code={"coding": [{"system": LOINC, "code": STAGE}]}, component=None),
    )

    async def found(query: str) -> list[str]:
        return ids(ok(await client.get(f"/fhir/Observation?{query}", headers=cancer.doctor)))

    assert await found(f"subject=Patient/{p.id}&code={STAGE}") == [ours["id"]]
    assert await found(f"patient={p.id}&code={STAGE}") == [stage, ours["id"]]
    assert await found(f"patient={p.id}&code={LOINC}|{STAGE}") == [stage, ours["id"]]
    assert await found(f"patient={p.id}&code={STAGE}&_sort=-date") == [ours["id"], stage]
    counted = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&code={STAGE}&_summary=count",
            headers=cancer.doctor,
        )
    )
    assert counted["total"] == 2
    # the registry's own ways to its stage stay its own
    assert await found(f"_id={stage}") == [stage]
    tumour = stage.removeprefix("cancer-stage-")
    assert await found(f"focus=Condition/cancer-{tumour}") == [stage]


# ---- item 2: a search by patient answers both, or is refused ---------------------------------


async def test_a_sorted_search_by_patient_merges_then_sorts(client, world, pregnancy):
    register = pregnancy
    woman, doctor = register["woman"], register["doctor"]
    w = World(**{**world.__dict__, "patient": woman})
    contacts = ids(
        ok(await client.get("/fhir/Encounter", params={"patient": woman.id}, headers=doctor))
    )
    assert contacts
    early = await create(
        client, w.hospital, encounter(w, "early", period={"start": "1990-01-01T08:00:00Z"})
    )
    late = await create(
        client, w.hospital, encounter(w, "late", period={"start": "2999-01-01T08:00:00Z"})
    )
    every = sorted([*contacts, early["id"], late["id"]])

    async def search(**params: Any) -> dict[str, Any]:
        return ok(
            await client.get(
                "/fhir/Encounter", params={"patient": woman.id, **params}, headers=doctor
            )
        )

    up = await search(_sort="date")
    assert sorted(ids(up)) == every
    assert up["total"] == len(every)
    assert ids(up)[0] == early["id"]
    assert ids(up)[-1] == late["id"]
    down = await search(_sort="-date")
    assert ids(down)[0] == late["id"]
    assert ids(down)[-1] == early["id"]
    # pages of the sorted merge
    first = await search(_sort="-date", _count="1")
    assert ids(first) == [late["id"]]
    assert first["total"] == len(every)
    last = await search(_sort="-date", _count="1", _offset=str(len(every) - 1))
    assert ids(last) == [early["id"]]
    assert (await search(_sort="date", _summary="count"))["total"] == len(every)
    # ids of two registers have no common order
    r = await client.get(
        "/fhir/Encounter", params={"patient": woman.id, "_sort": "_id"}, headers=doctor
    )
    assert issues(r, 422) == {"_sort"}


async def test_a_filter_only_the_record_answers_is_refused_beside_patient(client, world, pregnancy):
    register = pregnancy
    woman, doctor = register["woman"], register["doctor"]
    w = World(**{**world.__dict__, "patient": woman})
    sent = await create(client, w.hospital, encounter(w))
    for path, params, name in (
        ("/fhir/Encounter", {"status": "finished"}, "status"),
        ("/fhir/Encounter", {"date": "ge2000-01-01"}, "date"),
        ("/fhir/Encounter", {"_lastUpdated": "ge2000-01-01"}, "_lastUpdated"),
        ("/fhir/Encounter", {"identifier": f"{w.system}|x"}, "identifier"),
        ("/fhir/Observation", {"category": "vital-signs"}, "category"),
        ("/fhir/Condition", {"date": "ge2000-01-01"}, "date"),
    ):
        r = await client.get(path, params={"patient": woman.id, **params}, headers=doctor)
        assert issues(r, 422) == {name}, (path, params)
    # subject searches the record alone, with any of its filters
    b = ok(
        await client.get(
            "/fhir/Encounter",
            params={"subject": f"Patient/{woman.id}", "status": "finished"},
            headers=doctor,
        )
    )
    assert ids(b) == [sent["id"]]


async def test_documents_by_patient_and_status_answer_sick_leave_and_the_record(client, world):
    w = world
    enc = await create(client, w.hospital, encounter(w))
    doc = await create(client, w.hospital, document(w, enc["id"]))

    async def found(status: str) -> list[str]:
        r = await client.get(
            "/fhir/DocumentReference",
            params={"patient": w.patient.id, "status": status},
            headers=w.doctor,
        )
        return ids(ok(r))

    assert await found("current") == [doc["id"]]
    assert await found("entered-in-error") == []


# ---- minors ------------------------------------------------------------------------------------


async def test_a_mixed_id_list_is_refused(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    for value in (f"{obs['id']},cancer-stage-1", f"42,{obs['id']}"):
        r = await client.get("/fhir/Observation", params={"_id": value}, headers=w.doctor)
        assert issues(r, 422) == {"_id"}, value
    r = await client.get("/fhir/Observation", params={"_id": obs["id"]}, headers=w.doctor)
    assert ids(ok(r)) == [obs["id"]]


async def test_the_capability_statement_lists_offset_and_it_pages(client, world):
    w = world
    cs = ok(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for t in SEARCH_PARAMS:
        assert "_offset" in {p["name"] for p in listed[t]["searchParam"]}, t
    a = await create(client, w.hospital, observation(w))
    b = await create(client, w.hospital, observation(w))
    r = await client.get(
        "/fhir/Observation",
        params={"subject": f"Patient/{w.patient.id}", "_count": "1", "_offset": "1"},
        headers=w.doctor,
    )
    page = ok(r)
    assert ids(page) == [b["id"]]
    assert page["total"] == 2
    assert a["id"] != b["id"]
