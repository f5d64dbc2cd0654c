"""A Bundle's GET entries with ``_elements`` (issue 18, search in a batch): the searchset
an entry answers holds resources tagged SUBSETTED, which R4 lets lack elements the whole
resource requires (the record's search keeps the required ones today; the check does not
rely on it). The batch-response is still checked against R4B, the subsetted resources for
what they hold, and answered as the search route answers the same query."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.fhir.bundle import checked_response
from salomat.fhir.patient import national_system
from tests.fhir.test_bundle import answer, world

__all__ = ["world"]

pytestmark = pytest.mark.anyio

SUBSETTED = "SUBSETTED"


def _tags(resource: dict[str, Any]) -> list[str]:
    return [t.get("code") for t in resource.get("meta", {}).get("tag", [])]


async def test_a_batch_search_with_elements_answers_the_subsets(client, world):
    stored = answer(
        await client.post("/fhir", json=world.scenario(), headers=world.hospital),
        "transaction-response",
    )
    assert [e["response"]["status"][:3] for e in stored] == ["200", *["201"] * 4]
    person = world.person.id
    queries = [
        f"Observation?patient={person}&_elements=code",
        f"Observation?subject=Patient/{person}&_elements=valueQuantity,code",
        f"Condition?subject=Patient/{person}&_elements=onset",
        f"Encounter?patient={person}&_elements=period",
        f"Encounter?subject=Patient/{person}&_elements=status",
        f"Patient?identifier={national_system()}|{world.nid}&_elements=gender",
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": q}} for q in queries],
    }
    for headers in (world.doctor, world.hospital):
        r = await client.post("/fhir", json=bundle, headers=headers)
        assert r.status_code == 200, r.text
        entries = r.json()["entry"]
        for q, e in zip(queries, entries, strict=True):
            direct = await client.get(f"/fhir/{q}", headers=headers)
            assert e["response"]["status"].startswith(str(direct.status_code)), (q, e)
            if direct.status_code == 200:
                assert e["resource"] == direct.json(), q
        doctor_obs = entries[0]["resource"]["entry"] if headers is world.doctor else None
        if doctor_obs is not None:
            assert len(doctor_obs) == 2
            for m in doctor_obs:
                assert SUBSETTED in _tags(m["resource"])
                assert "valueQuantity" not in m["resource"]
                assert "code" in m["resource"]


def test_a_subsetted_resource_is_checked_for_what_it_holds() -> None:
    """The check of a built answer: a SUBSETTED resource may lack required elements, not
    hold a wrong one; any other resource is checked whole."""
    tag = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": SUBSETTED}

    def body(resource: dict[str, Any]) -> dict[str, Any]:
        searchset = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [{"resource": resource, "search": {"mode": "match"}}],
        }
        return {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"resource": searchset, "response": {"status": "200 OK"}}],
        }

    subset = {"resourceType": "Observation", "id": "shr-1", "meta": {"tag": [tag]}}
    checked_response(body({**subset, "code": {"text": "pulse"}}))
    checked_response(body(subset))
    at = r"Bundle\.entry\[0\]\.resource\.entry\[0\]\.resource"
    with pytest.raises(ValueError, match=at):
        checked_response(body({**subset, "code": {"text": 5}}))
    with pytest.raises(ValueError, match=at):
        checked_response(body({**subset, "valueQuantity": {"value": "many"}}))
    with pytest.raises(ValueError, match="status"):
        # the same resource, not tagged: checked whole (status is required)
        checked_response(
            body({"resourceType": "Observation", "id": "shr-1", "code": {"text": "x"}})
        )
    with pytest.raises(ValueError, match="type"):
        # the batch-response itself is still checked (Bundle.type is required)
        checked_response({k: v for k, v in body(subset).items() if k != "type"})
    # and the searchset holding the subset (its entry.search.mode a code)
    outer = body(subset)
    outer["entry"][0]["resource"]["entry"][0]["search"]["mode"] = 7
    with pytest.raises(ValueError, match="mode"):
        checked_response(outer)


# ---- no input makes a batch's search entry a server error ------------------------------------

_TYPES = [
    "Observation", "Encounter", "Condition", "DocumentReference", "Procedure",
    "AllergyIntolerance", "DiagnosticReport", "Patient",
]  # fmt: skip
_ELEMENTS = st.one_of(
    st.lists(
        st.sampled_from(["code", "status", "subject", "value", "period", "onset", "id", "meta",
                         "gender", "name", "birthDate", "text", "nonsense", ""]),
        min_size=1, max_size=4,
    ).map(",".join),
    st.text(max_size=12),
)  # fmt: skip
_OTHERS = st.sampled_from(
    [("_count", "0"), ("_count", "1"), ("_summary", "count"), ("_sort", "-date"),
     ("_include", "Observation:encounter"), ("code", "http://loinc.org|8310-5"),
     ("_revinclude", "Observation:encounter"), ("status", "final")]
)  # fmt: skip


@st.composite
def _queries(draw: Any) -> tuple[str, list[tuple[str, str]]]:
    kind = draw(st.sampled_from(_TYPES))
    by = draw(st.sampled_from(["patient", "subject", "identifier"]))
    items = [(by, ""), ("_elements", draw(_ELEMENTS)), *draw(st.lists(_OTHERS, max_size=3))]
    return kind, items


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=st.lists(_queries(), min_size=1, max_size=4))
async def test_any_search_entry_with_elements_answers_without_a_server_error(client, world, drawn):
    """GET entries of the record's types and Patient with any ``_elements`` beside other
    result parameters: the batch answers 200, each entry its own outcome, none a 5xx."""
    if not getattr(world, "stored", False):  # once per test: the fixture is shared
        r = await client.post("/fhir", json=world.scenario(), headers=world.hospital)
        answer(r, "transaction-response")
        world.stored = True
    person = world.person.id
    urls = []
    for kind, items in drawn:
        filled = []
        for k, v in items:
            if k == "patient":
                v = str(person)
            elif k == "subject":
                v = f"Patient/{person}"
            elif k == "identifier":
                v = f"{national_system()}|{world.nid}" if kind == "Patient" else f"{world.system}|x"
            filled.append((k, v))
        urls.append(f"{kind}?{urlencode(filled)}")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": u}} for u in urls],
    }
    r = await client.post("/fhir", json=bundle, headers=world.doctor)
    assert r.status_code == 200, (urls, r.text)
    for url, entry in zip(urls, r.json()["entry"], strict=True):
        assert entry["response"]["status"][0] in "24", (url, entry)


async def test_a_batch_reads_and_searches_patients_as_the_routes_answer(client, world):
    """R4 batch: "reads inside a batch": ``GET Patient/<id>`` and ``GET Patient?…`` answer
    exactly as the read and search routes do for the same caller (scope, 404 for one out
    of it or missing), with the read's ETag."""
    person = world.person.id
    urls = [
        f"Patient/{person}",
        f"Patient?identifier={national_system()}|{world.nid}",
        "Patient/999999999",
        "Patient/x1",
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": u}} for u in urls],
    }
    for headers in (world.doctor, world.hospital):
        r = await client.post("/fhir", json=bundle, headers=headers)
        assert r.status_code == 200, r.text
        entries = r.json()["entry"]
        for u, e in zip(urls, entries, strict=True):
            direct = await client.get(f"/fhir/{u}", headers=headers)
            assert e["response"]["status"].startswith(str(direct.status_code)), (u, e)
            if direct.status_code == 200:
                assert e["resource"] == direct.json(), u
            if direct.status_code == 200 and "?" not in u:
                assert e["response"]["etag"] == direct.headers["etag"]
    # the doctor reads the person (in scope); an unknown id is 404 to both
    r = await client.post("/fhir", json=bundle, headers=world.doctor)
    statuses = [e["response"]["status"][:3] for e in r.json()["entry"]]
    assert statuses[0] == "200"
    assert statuses[2] == "404"
    # a Patient's history is not read in a Bundle: refused naming the url
    bad = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Patient/{person}/_history"}}],
    }
    r = await client.post("/fhir", json=bad, headers=world.doctor)
    assert r.status_code == 200, r.text
    e = r.json()["entry"][0]
    assert e["response"]["status"].startswith("422"), e
