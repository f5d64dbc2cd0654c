"""HTTP conformance of the FHIR API on the shared record (issue 18, part 6): ``_format``
and ``Accept`` (406), a body's ``Content-Type`` (415), ``If-None-Match`` (304),
``Prefer: return=``, ``PATCH`` with JSON Patch, ``$validate``, and the type-level and
system-level ``_history`` with ``_since``."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir import common, record_http
from tests.fhir import test_record
from tests.fhir.test_record import (
    create,
    encounter,
    ids,
    issues,
    observation,
    ok,
    sent_part,
)

pytestmark = pytest.mark.anyio
world = test_record.world  # the fixture
PATCH = "application/json-patch+json"


def outcome(r, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/fhir+json"
    body = r.json()
    OperationOutcome.model_validate(body)
    return body["issue"]


async def patch(client, headers, url: str, ops: Any, version: str | None = "1", **kw: Any):
    h = {**headers, "Content-Type": PATCH}
    if version is not None:
        h["If-Match"] = f'W/"{version}"'
    h.update(kw.pop("extra", {}))
    return await client.patch(url, json=ops, headers=h)


# ---- _format, Accept, Content-Type ---------------------------------------------------------


async def test_format_accept_and_content_type_are_negotiated_on_every_route(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    for fmt in ("json", "application/fhir+json", "application/json"):
        assert ok(await client.get(url, params={"_format": fmt}, headers=w.doctor)) == obs
        # a search's parameters never see it (they refuse unknown ones)
        found = ok(
            await client.get(
                "/fhir/Observation",
                params={"_id": obs["id"], "_format": fmt},
                headers=w.doctor,
            )
        )
        assert ids(found) == [obs["id"]]
        assert all("_format" not in link["url"] for link in found["link"])
    # another domain's search, which refuses unknown parameters, takes it too
    ok(
        await client.get(
            f"/fhir/Patient/{w.patient.id}", params={"_format": "json"}, headers=w.doctor
        )
    )
    for fmt in ("xml", "application/fhir+xml", "ttl", "html"):
        issue = outcome(await client.get(url, params={"_format": fmt}, headers=w.doctor), 406)
        assert issue[0]["code"] == "not-supported"
        assert "JSON only" in issue[0]["diagnostics"]
    # _format wins over Accept
    ok(
        await client.get(
            url, params={"_format": "json"}, headers={**w.doctor, "Accept": "application/fhir+xml"}
        )
    )
    for accept in (
        "application/fhir+json",
        "application/json",
        "application/fhir+json; fhirVersion=4.0",
        "*/*",
        "application/*",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "application/fhir+xml, application/fhir+json;q=0.5",
    ):
        ok(await client.get(url, headers={**w.doctor, "Accept": accept}))
    for accept in (
        "application/fhir+xml",
        "application/xml, text/turtle",
        "application/fhir+json;q=0",
        "application/fhir+json; fhirVersion=3.0",
    ):
        outcome(await client.get(url, headers={**w.doctor, "Accept": accept}), 406)
        outcome(await client.get("/fhir/metadata", headers={"Accept": accept}), 406)
    # a body in a format the server does not read: 415, nothing stored
    body = observation(w, identifier=[{"system": w.system, "value": "OBS-415"}])
    for content_type in (
        "application/fhir+xml",
        "text/plain",
        PATCH,
        "application/fhir+json; charset=iso-8859-1",
    ):
        r = await client.post(
            "/fhir/Observation",
            content=__import__("json").dumps(body).encode(),
            headers={**w.hospital, "Content-Type": content_type},
        )
        assert outcome(r, 415)[0]["code"] == "not-supported"
    for content_type in (
        "application/fhir+json",
        "application/json",
        "application/fhir+json; charset=utf-8",
    ):
        r = await client.get(
            "/fhir/Observation",
            params={"identifier": f"{w.system}|OBS-415"},
            headers={**w.hospital, "Content-Type": content_type},
        )
        assert ok(r)["total"] == 0
    # a PATCH reads JSON Patch only
    r = await patch(client, w.hospital, url, [], extra={"Content-Type": "application/fhir+json"})
    assert r.status_code == 415
    assert r.headers["accept-patch"] == PATCH


@given(st.text(max_size=200))
def test_any_accept_header_is_judged_without_error(header: str) -> None:
    ranges = common._media_ranges(header)
    for kind, params in ranges:
        assert isinstance(common._json_accepted(kind, params), bool)
    # a header naming FHIR JSON anywhere (with no weight) is always acceptable
    extended = common._media_ranges(f"{header.replace(',', ' ')},application/fhir+json")
    assert any(common._json_accepted(k, p) for k, p in extended)


@given(st.text(max_size=100), st.integers(min_value=1, max_value=10**6))
def test_if_none_match_names_a_version_or_not(noise: str, version: int) -> None:
    assert common.etag_matches(f'W/"{version}"', version)
    assert common.etag_matches(f'"{version}"', str(version))
    assert common.etag_matches(f'W/"{version + 1}", W/"{version}"', version)
    assert common.etag_matches("*", version)
    assert not common.etag_matches(f'W/"{version + 1}"', version)
    assert not common.etag_matches(None, version)
    assert common.etag_matches(noise, version) == any(
        t.strip() == "*" or t.strip().removeprefix("W/").strip('"') == str(version)
        for t in noise.split(",")
    )


@given(st.text(max_size=100))
def test_prefer_return_is_one_of_fhirs_or_none(header: str) -> None:
    got = common.preferred_return(header)
    assert got is None or got in common.RETURN_PREFERENCES
    assert common.preferred_return("handling=lenient, return=minimal") == "minimal"
    assert common.preferred_return('return="OperationOutcome"') == "OperationOutcome"
    assert common.preferred_return("return=xml") is None


# ---- If-None-Match ---------------------------------------------------------------------------


async def test_if_none_match_answers_304_while_the_version_is_current(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    for tag in ('W/"1"', '"1"', "*", 'W/"7", W/"1"'):
        r = await client.get(url, headers={**w.doctor, "If-None-Match": tag})
        assert r.status_code == 304, r.text
        assert r.content == b""
        assert r.headers["etag"] == 'W/"1"'
    r = await client.get(f"{url}/_history/1", headers={**w.doctor, "If-None-Match": 'W/"1"'})
    assert r.status_code == 304
    changed = {**observation(w), "id": obs["id"], "status": "amended"}
    ok(await client.put(url, json=changed, headers={**w.hospital, "If-Match": 'W/"1"'}))
    r = await client.get(url, headers={**w.doctor, "If-None-Match": 'W/"1"'})
    assert ok(r)["meta"]["versionId"] == "2"
    assert r.headers["etag"] == 'W/"2"'
    # the version read is still version 1
    assert (
        await client.get(f"{url}/_history/1", headers={**w.doctor, "If-None-Match": 'W/"1"'})
    ).status_code == 304
    # scope first: a stranger gets the 404 of a missing resource, never a 304
    r = await client.get(url, headers={**w.stranger, "If-None-Match": "*"})
    assert r.status_code == 404
    # every resource served with an ETag: another domain's Patient too
    r = await client.get(f"/fhir/Patient/{w.patient.id}", headers=w.doctor)
    tag = ok(r) and r.headers["etag"]
    r = await client.get(
        f"/fhir/Patient/{w.patient.id}", headers={**w.doctor, "If-None-Match": tag}
    )
    assert r.status_code == 304


# ---- Prefer: return= ---------------------------------------------------------------------------


async def test_prefer_return_on_create_and_update(client, world):
    w = world
    r = await client.post(
        "/fhir/Observation",
        json=observation(w),
        headers={**w.hospital, "Prefer": "return=minimal"},
    )
    assert r.status_code == 201
    assert r.content == b""
    assert r.headers["etag"] == 'W/"1"'
    assert "last-modified" in r.headers
    assert r.headers["preference-applied"] == "return=minimal"
    # the Location answers
    location = r.headers["location"]
    stored = ok(await client.get("/fhir" + location.split("/fhir", 1)[1], headers=w.hospital))
    assert sent_part(stored) == observation(w)
    r = await client.post(
        "/fhir/Observation",
        json=observation(w),
        headers={**w.hospital, "Prefer": "return=OperationOutcome"},
    )
    issue = outcome(r, 201)
    assert issue[0]["severity"] == "information"
    assert r.headers["location"].split("/fhir/")[1].split("/_history")[0] in issue[0]["diagnostics"]
    r = await client.post(
        "/fhir/Observation",
        json=observation(w),
        headers={**w.hospital, "Prefer": "return=representation"},
    )
    created = ok(r, 201)
    assert r.headers["preference-applied"] == "return=representation"
    url = f"/fhir/Observation/{created['id']}"
    changed = {**observation(w), "id": created["id"], "status": "amended"}
    r = await client.put(
        url, json=changed, headers={**w.hospital, "If-Match": 'W/"1"', "Prefer": "return=minimal"}
    )
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["etag"] == 'W/"2"'
    assert ok(await client.get(url, headers=w.hospital))["status"] == "amended"
    # an unknown preference is ignored (RFC 7240): the resource comes back
    changed["status"] = "corrected"
    r = await client.put(
        url, json=changed, headers={**w.hospital, "If-Match": 'W/"2"', "Prefer": "return=xml"}
    )
    assert ok(r)["status"] == "corrected"


# ---- PATCH -------------------------------------------------------------------------------------


async def test_json_patch_stores_a_new_version_through_update(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    ops = [
        {"op": "test", "path": "/status", "value": "final"},
        {"op": "replace", "path": "/status", "value": "amended"},
        {"op": "add", "path": "/note", "value": [{"text": "re-measured"}]},
        {"op": "add", "path": "/performer/-", "value": {"display": "Dr. Karimova"}},
        {"op": "remove", "path": "/interpretation"},
    ]
    r = await patch(client, w.hospital, url, ops)
    got = ok(r)
    assert got["meta"]["versionId"] == "2"
    assert r.headers["etag"] == 'W/"2"'
    assert r.headers["location"].endswith(f"{url}/_history/2")
    expected = copy.deepcopy(sent_part(obs))
    expected["status"] = "amended"
    expected["note"] = [{"text": "re-measured"}]
    expected["performer"].append({"display": "Dr. Karimova"})
    del expected["interpretation"]
    assert sent_part(got) == expected
    assert ok(await client.get(url, headers=w.doctor)) == got
    assert ok(await client.get(f"{url}/_history/1", headers=w.doctor)) == obs
    history = ok(await client.get(f"{url}/_history", headers=w.doctor))
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    # Prefer applies as on an update
    r = await patch(
        client,
        w.hospital,
        url,
        [{"op": "replace", "path": "/status", "value": "corrected"}],
        "2",
        extra={"Prefer": "return=minimal"},
    )
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["etag"] == 'W/"3"'


async def test_a_patch_keeps_a_decimal_as_written(client, world):
    """R4 decimal: "the precision of the decimal value has significance": 95.50 patched in
    comes back 95.50 (the body is sent as text: httpx's json= would write 95.5)."""
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    raw = b'[{"op": "replace", "path": "/component/1/valueQuantity/value", "value": 95.50}]'
    h = {**w.hospital, "Content-Type": PATCH, "If-Match": 'W/"1"'}
    r = await client.patch(url, content=raw, headers=h)
    assert r.status_code == 200, r.text
    assert b'"value":95.50' in r.content.replace(b" ", b"")
    again = await client.get(url, headers=w.doctor)
    assert b'"value":95.50' in again.content.replace(b" ", b"")


async def test_a_patch_that_fails_or_changes_what_it_may_not_changes_nothing(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    replace = [{"op": "replace", "path": "/status", "value": "amended"}]
    # resource contention is required: no If-Match, or a stale one, is 412
    assert (await patch(client, w.hospital, url, replace, None)).status_code == 412
    assert (await patch(client, w.hospital, url, replace, "2")).status_code == 412
    # a failed test (FHIR R4 http.html: 422)
    r = await patch(
        client,
        w.hospital,
        url,
        [{"op": "test", "path": "/status", "value": "preliminary"}, *replace],
    )
    assert issues(r, 422) == {"PATCH/0/value"}
    # a path naming nothing
    r = await patch(
        client, w.hospital, url, [{"op": "replace", "path": "/valueString", "value": "x"}]
    )
    assert issues(r, 422) == {"PATCH/0/path"}
    # what a patch may not change
    for path, value, element in (
        ("/subject", {"reference": f"Patient/{w.other.id}"}, "Observation.subject"),
        ("/id", "shr-1", "Observation.id"),
        ("/resourceType", "Condition", "Observation.resourceType"),
        ("/meta/versionId", "7", "Observation.meta.versionId"),
    ):
        r = await patch(client, w.hospital, url, [{"op": "replace", "path": path, "value": value}])
        assert element in issues(r, 422), (path, r.text)
    # the result is checked as an update is: the status code, an unregistered system
    r = await patch(client, w.hospital, url, [{"op": "replace", "path": "/status", "value": "x"}])
    assert issues(r, 422) == {"Observation.status"}
    r = await patch(
        client,
        w.hospital,
        url,
        [
            {
                "op": "add",
                "path": "/identifier",
                "value": [{"system": "https://nowhere.example/ids", "value": "1"}],
            }
        ],
    )
    assert any(e.startswith("Observation.identifier") for e in issues(r, 422))
    # a malformed patch document: 400 (RFC 5789)
    for doc in (
        {"op": "add"},
        [{"op": "delete", "path": "/status"}],
        [{"op": "add", "path": "status", "value": 1}],
        [{"op": "move", "path": "/a"}],
    ):
        r = await patch(client, w.hospital, url, doc)
        assert r.status_code == 400, (doc, r.text)
    r = await client.patch(
        url,
        content=b'[{"op": "add", "path": "/note", "value": [], "op": "remove"}]',
        headers={**w.hospital, "Content-Type": PATCH, "If-Match": 'W/"1"'},
    )
    assert r.status_code == 400, r.text
    # only the sending facility changes it; a stranger cannot see it
    r = await patch(client, w.doctor, url, replace)
    assert r.status_code == 403, r.text
    r = await patch(client, w.stranger, url, replace)
    assert r.status_code == 404, r.text
    r = await patch(client, w.hospital, "/fhir/Observation/shr-999999999", replace)
    assert r.status_code == 404, r.text
    # nothing of it stored
    assert ok(await client.get(url, headers=w.doctor)) == obs


async def test_two_patches_of_one_version_at_once_store_one(client, world, backend, monkeypatch):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    barrier = asyncio.Barrier(2)
    update = record_http.record.update_resource

    async def together(*args, **kw):  # type: ignore[no-untyped-def]
        # both have read version 1 and applied their patch: they store now
        await asyncio.wait_for(barrier.wait(), 60)
        return await update(*args, **kw)

    monkeypatch.setattr(record_http.record, "update_resource", together)
    answers = await asyncio.gather(
        *[
            patch(client, w.hospital, url, [{"op": "add", "path": "/note", "value": [{"text": t}]}])
            for t in ("first", "second")
        ]
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses[0] == 200
    assert statuses[1] in (409, 412), [r.text for r in answers]
    monkeypatch.undo()
    stored = ok(await client.get(url, headers=w.doctor))
    assert stored["meta"]["versionId"] == "2"
    winner = next(r for r in answers if r.status_code == 200).json()
    assert stored["note"] == winner["note"]
    history = ok(await client.get(f"{url}/_history", headers=w.doctor))
    assert history["total"] == 2


# ---- $validate ---------------------------------------------------------------------------------


async def test_validate_checks_as_create_and_stores_nothing(client, world):
    w = world
    ident = {"system": w.system, "value": "VAL-1"}
    body = observation(w, identifier=[ident])
    issue = outcome(
        await client.post("/fhir/Observation/$validate", json=body, headers=w.hospital), 200
    )
    assert [i["severity"] for i in issue] == ["information"]
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": body},
            {"name": "mode", "valueCode": "create"},
        ],
    }
    r = await client.post("/fhir/Observation/$validate", json=params, headers=w.hospital)
    assert [i["severity"] for i in outcome(r, 200)] == ["information"]
    found = ok(
        await client.get(
            "/fhir/Observation", params={"identifier": f"{w.system}|VAL-1"}, headers=w.hospital
        )
    )
    assert found["total"] == 0
    # errors: the R4B model's, the record's own (an unregistered system, a missing patient)
    bad = observation(
        w,
        status="bogus",
        identifier=[{"system": "https://nowhere.example/ids", "value": "1"}],
    )
    r = await client.post("/fhir/Observation/$validate", json=bad, headers=w.hospital)
    issue = outcome(r, 200)
    assert {i["severity"] for i in issue} == {"error"}
    assert "Observation.status" in {e for i in issue for e in i.get("expression", [])}
    bad = observation(
        w,
        identifier=[{"system": "https://nowhere.example/ids", "value": "1"}],
        subject={"reference": "Patient/999999999"},
    )
    expressions = {
        e
        for i in outcome(
            await client.post("/fhir/Observation/$validate", json=bad, headers=w.hospital), 200
        )
        for e in i.get("expression", [])
    }
    assert "Observation.subject" in expressions
    assert any(e.startswith("Observation.identifier") for e in expressions)
    # a taken identifier, as a create would refuse it
    await create(client, w.hospital, body)
    issue = outcome(
        await client.post("/fhir/Observation/$validate", json=body, headers=w.hospital), 200
    )
    assert issue[0]["severity"] == "error"
    assert issue[0]["code"] == "conflict"
    # only mode create; another type's resource is an error of the resource
    params["parameter"][1]["valueCode"] = "update"
    r = await client.post("/fhir/Observation/$validate", json=params, headers=w.hospital)
    assert issues(r, 422) == {"Parameters.parameter[1]"}
    r = await client.post("/fhir/Observation/$validate", json=encounter(w), headers=w.hospital)
    assert outcome(r, 200)[0]["expression"] == ["Observation.resourceType"]
    # record:write
    r = await client.post("/fhir/Observation/$validate", json=body, headers=w.admin)
    assert r.status_code == 403


# ---- _history of a type and of the system --------------------------------------------------


async def test_type_and_system_history_show_what_the_caller_may_read(client, world, monkeypatch):
    w = world
    start = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    enc = await create(client, w.hospital, encounter(w))
    first = await create(client, w.hospital, observation(w, enc["id"]))
    url = f"/fhir/Observation/{first['id']}"
    ok(
        await client.put(
            url,
            json={**observation(w, enc["id"]), "id": first["id"], "status": "amended"},
            headers={**w.hospital, "If-Match": 'W/"1"'},
        )
    )
    # someone out of the doctor's scope, sent by a third facility
    other = observation(w, subject={"reference": f"Patient/{w.other.id}"})
    hidden = await create(client, w.stranger, other)
    since = {"_since": start}
    got = ok(await client.get("/fhir/Observation/_history", params=since, headers=w.doctor))
    assert got["type"] == "history"
    assert [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in got["entry"]] == [
        (first["id"], "2"),
        (first["id"], "1"),
    ]
    assert got["total"] == 2
    assert [e["request"]["method"] for e in got["entry"]] == ["PUT", "POST"]
    assert got["entry"][1]["response"]["etag"] == 'W/"1"'
    system = ok(await client.get("/fhir/_history", params=since, headers=w.doctor))
    assert [e["resource"]["resourceType"] for e in system["entry"]] == [
        "Observation",
        "Observation",
        "Encounter",
    ]
    assert hidden["id"] not in {e["resource"]["id"] for e in system["entry"]}
    # the sender sees what it sent (its own reason), nothing else of the person
    mine = ok(await client.get("/fhir/_history", params=since, headers=w.stranger))
    assert [e["resource"]["id"] for e in mine["entry"]] == [hidden["id"]]
    # _since: from the update on
    updated = ok(await client.get(url, headers=w.doctor))["meta"]["lastUpdated"]
    later = ok(
        await client.get("/fhir/Observation/_history", params={"_since": updated}, headers=w.doctor)
    )
    assert [e["resource"]["meta"]["versionId"] for e in later["entry"]] == ["2"]
    # paging
    page = ok(await client.get("/fhir/_history", params={**since, "_count": "1"}, headers=w.doctor))
    assert len(page["entry"]) == 1
    assert page["total"] == 3
    nxt = next(link["url"] for link in page["link"] if link["relation"] == "next")
    page2 = ok(await client.get("/fhir" + nxt.split("/fhir", 1)[1], headers=w.doctor))
    assert page2["entry"][0]["resource"]["meta"]["versionId"] == "1"
    # refusals name the parameter
    for params, name in (
        ({"_since": "2026-11-01"}, "_since"),
        ({"_at": "2026"}, "_at"),
        ({"_since": "2026-13-01T00:00:00Z"}, "_since"),
    ):
        assert issues(await client.get("/fhir/_history", params=params, headers=w.doctor), 422) == {
            name
        }
    # too many people in the window: refused, not cut
    monkeypatch.setattr(record_http.record.history, "MAX_PEOPLE", 0)
    r = await client.get("/fhir/Observation/_history", params=since, headers=w.doctor)
    assert issues(r, 422) == {"_since"}


async def test_history_reads_are_audited_as_reads(client, world):
    w = world
    start = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    obs = await create(client, w.hospital, observation(w))
    before = ok(
        await client.get(
            "/fhir/AuditEvent",
            params={"patient": str(w.patient.id), "action": "R"},
            headers=w.admin,
        )
    )["total"]
    ok(await client.get("/fhir/Observation/_history", params={"_since": start}, headers=w.doctor))
    after = ok(
        await client.get(
            "/fhir/AuditEvent",
            params={"patient": str(w.patient.id), "action": "R", "_count": "50"},
            headers=w.admin,
        )
    )
    assert after["total"] == before + 1
    reads = [e["resource"] for e in after["entry"]]
    assert any(
        any(obs["id"] in str(en.get("what", {})) for en in a.get("entity", [])) for a in reads
    )


# ---- the CapabilityStatement declares what works -------------------------------------------


async def test_metadata_declares_formats_patch_validate_and_history(client):
    r = await client.get("/fhir/metadata")
    cs = ok(r)
    CapabilityStatement.model_validate(cs)
    assert cs["format"] == ["json"]
    assert cs["patchFormat"] == [PATCH]
    rest = cs["rest"][0]
    assert "history-system" in {i["code"] for i in rest["interaction"]}
    by_type = {res["type"]: res for res in rest["resource"]}
    for t in record_http.record.RESOURCE_TYPES:
        codes = {i["code"] for i in by_type[t]["interaction"]}
        assert {"patch", "history-type", "history-instance", "read", "vread"} <= codes, t
        assert "validate" in [o["name"] for o in by_type[t]["operation"]]


async def test_what_is_not_the_records_is_said_so(client, world):
    """A PATCH of another domain's id of a shared type is 405 (it serves none); $validate of
    a cancer notification says it checks the record's resources only; a conditional
    create that matched says so when asked for an OperationOutcome."""
    from salomat.fhir import cancer

    w = world
    r = await patch(client, w.hospital, "/fhir/Condition/cancer-1", [])
    assert outcome(r, 405)[0]["code"] == "not-supported"
    assert r.headers["allow"] == "GET, PUT"
    notification = {
        "resourceType": "Condition",
        "extension": [{"url": cancer.MORPHOLOGY_EXT, "valueCodeableConcept": {"text": "x"}}],
        "subject": {"reference": f"Patient/{w.patient.id}"},
    }
    r = await client.post("/fhir/Condition/$validate", json=notification, headers=w.hospital)
    assert outcome(r, 200)[0]["code"] == "not-supported"
    body = encounter(w)
    ident = body["identifier"][0]
    headers = {
        **w.hospital,
        "If-None-Exist": f"identifier={ident['system']}|{ident['value']}",
        "Prefer": "return=OperationOutcome",
    }
    first = outcome(await client.post("/fhir/Encounter", json=body, headers=headers), 201)
    again = outcome(await client.post("/fhir/Encounter", json=body, headers=headers), 200)
    assert first[0]["diagnostics"].startswith("Created Encounter/shr-")
    assert "matched the condition; nothing was stored" in again[0]["diagnostics"]


async def test_a_history_audits_each_person_left_out(client, world):
    w = world
    start = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    other = observation(w, subject={"reference": f"Patient/{w.other.id}"})
    await create(client, w.stranger, other)
    query = {"patient": str(w.other.id), "action": "E"}
    before = ok(await client.get("/fhir/AuditEvent", params=query, headers=w.admin))["total"]
    got = ok(await client.get("/fhir/_history", params={"_since": start}, headers=w.doctor))
    assert got["total"] == 0
    after = ok(
        await client.get("/fhir/AuditEvent", params={**query, "_count": "50"}, headers=w.admin)
    )
    assert after["total"] == before + 2  # this search's row and the refusal
    (denied,) = [e["resource"] for e in after["entry"] if e["resource"]["outcome"] != "0"]
    assert denied["entity"][1]["what"]["identifier"]["system"] == "urn:salomat:Observation"


async def test_a_patch_body_has_the_ordinary_limit(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    big = [{"op": "add", "path": "/note", "value": [{"text": "x" * (1024 * 1024)}]}]
    r = await patch(client, w.hospital, f"/fhir/Observation/{obs['id']}", big)
    assert outcome(r, 413)[0]["code"] == "too-costly"
    assert ok(await client.get(f"/fhir/Observation/{obs['id']}", headers=w.doctor)) == obs


@given(st.text(max_size=40))
def test_since_is_an_instant_with_its_zone_or_refused(raw: str) -> None:
    from salomat.core.errors import Invalid

    refused: Invalid | None = None
    got = None
    try:
        got = record_http.parse_since(raw)
    except Invalid as e:
        refused = e
    assert (refused is None) != (got is None)
    assert got is None or got.tzinfo is not None
    assert refused is None or [f.field for f in refused.errors] == ["_since"]
    assert record_http.parse_since("2026-11-01T00:00:00.5+05:00").utcoffset() == timedelta(hours=5)


@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH"]),
    st.lists(st.text(max_size=30), max_size=2),
    st.one_of(st.none(), st.text(max_size=60)),
    st.one_of(st.none(), st.text(max_size=60)),
)
def test_negotiation_answers_406_415_or_lets_through(method, formats, accept, content_type):
    from urllib.parse import urlencode

    from starlette.requests import Request

    headers = [(b"content-length", b"2")]
    for name, value in (("accept", accept), ("content-type", content_type)):
        if value is not None:
            headers.append((name.encode(), value.encode("utf-8", "surrogatepass")))
    scope = {
        "type": "http",
        "method": method,
        "path": "/fhir/Observation",
        "query_string": urlencode([("_format", f) for f in formats] + [("a", "1")]).encode(),
        "headers": headers,
    }
    request = Request(scope)
    refused = None
    try:
        asyncio.run(common.negotiate(request))
    except (common.NotAcceptable, common.UnsupportedMediaType) as e:
        refused = e
    if refused is None:
        # what is let through has no _format left, and the rest of the query kept
        assert [k for k, _ in request.query_params.multi_items()] == ["a"]


async def test_instance_history_since(client, world):
    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    changed = {**observation(w), "id": obs["id"], "status": "amended"}
    second = ok(await client.put(url, json=changed, headers={**w.hospital, "If-Match": 'W/"1"'}))
    since = {"_since": second["meta"]["lastUpdated"]}
    got = ok(await client.get(f"{url}/_history", params=since, headers=w.doctor))
    assert [e["resource"]["meta"]["versionId"] for e in got["entry"]] == ["2"]
    assert got["total"] == 1
    got = ok(
        await client.get(
            f"{url}/_history", params={"_since": obs["meta"]["lastUpdated"]}, headers=w.doctor
        )
    )
    assert got["total"] == 2
    # as a read: a stranger gets 404, a bad _since 422
    r = await client.get(f"{url}/_history", params=since, headers=w.stranger)
    assert r.status_code == 404
    assert issues(
        await client.get(f"{url}/_history", params={"_since": "yesterday"}, headers=w.doctor), 422
    ) == {"_since"}


async def test_a_patch_makes_nothing_a_put_could_not_send(client, world, monkeypatch):
    from types import SimpleNamespace

    w = world
    obs = await create(client, w.hospital, observation(w))
    url = f"/fhir/Observation/{obs['id']}"
    monkeypatch.setattr(
        record_http, "get_settings", lambda: SimpleNamespace(max_fhir_body_bytes=4000)
    )
    r = await patch(
        client, w.hospital, url, [{"op": "add", "path": "/note", "value": [{"text": "x" * 3000}]}]
    )
    assert outcome(r, 413)[0]["code"] == "too-costly"
    assert ok(await client.get(url, headers=w.doctor)) == obs
