"""The FHIR AuditEvent API: what an auditor sees of who opened which record."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.fhir.api import AUDIT_PARAMS

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
USER_SYSTEM = "urn:salomat:user"
REASON = "unconscious patient brought to the emergency room"


# ---- helpers ----------------------------------------------------------------


async def search(client, auth, **params) -> list[dict]:
    """The resources of one searchset page (validated as R4B on the way)."""
    return resources(await search_bundle(client, auth, **params))


async def search_bundle(client, auth, **params) -> dict:
    r = await client.get("/fhir/AuditEvent", params=params, headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


def resources(bundle: dict) -> list[dict]:
    out = [e["resource"] for e in bundle.get("entry", [])]
    for res in out:
        FhirAuditEvent.model_validate(res)
        assert res["resourceType"] == "AuditEvent"
    return out


def outcome(r, status: int) -> list[dict]:
    """Check an error answer is an R4B OperationOutcome; return its issues."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    OperationOutcome.model_validate(body)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def patient_of(res: dict) -> str | None:
    refs = [e["what"].get("reference") for e in res.get("entity", [])]
    return next((r for r in refs if r and r.startswith("Patient/")), None)


def purposes(res: dict) -> set[str]:
    agent = res["agent"][0]
    return {c["code"] for p in agent.get("purposeOfUse", []) for c in p.get("coding", [])}


def reads_by(res_list: list[dict], username: str) -> list[dict]:
    return [r for r in res_list if r["agent"][0]["altId"] == username and r["action"] == "R"]


@pytest.fixture
async def nurse_read(client, make_user, make_person, login):
    """A nurse opens a person attached to her facility through the REST API."""
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    r = await client.get(f"/api/v1/persons/{person.id}", headers=await login(nurse))
    assert r.status_code == 200, r.text
    return nurse, person


@pytest.fixture
async def auditor(make_user, login):
    return await login(await make_user("auditor"))


# ---- search -----------------------------------------------------------------


async def test_an_auditor_finds_every_access_to_a_patient(client, nurse_read, auditor):
    nurse, person = nurse_read
    by_id = await search(client, auditor, patient=str(person.id))
    by_ref = await search(client, auditor, patient=f"Patient/{person.id}")
    # the two forms find the same rows (bar the auditor's own first search)
    assert {r["id"] for r in by_id} <= {r["id"] for r in by_ref}
    assert all(patient_of(r) == f"Patient/{person.id}" for r in by_ref)

    (read,) = reads_by(by_ref, nurse.username)
    agent = read["agent"][0]
    assert agent["altId"] == nurse.username
    assert agent["role"][0]["coding"][0]["code"] == "nurse"
    assert agent["role"][0]["text"] == "nurse"
    assert agent["who"]["identifier"] == {"system": USER_SYSTEM, "value": str(nurse.id)}
    assert agent["location"]["identifier"]["value"] == nurse.facility_code
    assert agent["network"]["address"].startswith("10.")
    assert read["outcome"] == "0"
    assert read["subtype"][0]["code"] == "read"
    assert read["type"]["code"] == "110110"  # DICOM: Patient Record
    assert purposes(read) == set()  # an ordinary access, not break-the-glass
    assert any(e["what"] == {"reference": f"Patient/{person.id}"} for e in read["entity"])
    # the registration is there too (by the test fixture's registrar); newest first
    assert any(r["action"] == "C" and r["agent"][0]["altId"] == "fixture" for r in by_ref)
    recorded = [datetime.fromisoformat(r["recorded"]) for r in by_ref]
    assert recorded == sorted(recorded, reverse=True)


async def test_an_admin_may_search_too(client, nurse_read, make_user, login):
    nurse, person = nurse_read
    admin = await login(await make_user("admin"))
    found = await search(client, admin, patient=str(person.id))
    assert reads_by(found, nurse.username)


async def test_search_by_agent_or_altid_names_the_user(client, nurse_read, auditor):
    nurse, person = nurse_read
    by_agent = await search(client, auditor, agent=nurse.username)
    by_altid = await search(client, auditor, altid=nurse.username)
    assert [r["id"] for r in by_agent] == [r["id"] for r in by_altid]
    assert {r["agent"][0]["altId"] for r in by_agent} == {nurse.username}
    kinds = {(r["action"], r["type"]["code"]) for r in by_agent}
    assert ("R", "110110") in kinds  # the read
    assert ("E", "110114") in kinds  # her login
    assert [patient_of(r) for r in reads_by(by_agent, nurse.username)] == [f"Patient/{person.id}"]
    assert await search(client, auditor, agent="nobody-by-this-name") == []


async def test_search_by_action(client, nurse_read, auditor):
    _, person = nurse_read
    reads = await search(client, auditor, patient=str(person.id), action="R")
    creates = await search(client, auditor, patient=str(person.id), action="C")
    assert reads
    assert {r["action"] for r in reads} == {"R"}
    assert [r["action"] for r in creates] == ["C"]


async def test_an_unknown_action_code_is_refused_not_ignored(client, nurse_read, auditor):
    _, person = nurse_read
    r = await client.get(
        "/fhir/AuditEvent", params={"patient": person.id, "action": "X"}, headers=auditor
    )
    issues = outcome(r, 422)
    assert issues[0]["expression"] == ["action"]


async def test_search_by_date_uses_fhir_prefixes_and_precision(client, nurse_read, auditor):
    nurse, person = nurse_read
    (read,) = reads_by(await search(client, auditor, patient=person.id), nurse.username)
    recorded = datetime.fromisoformat(read["recorded"])
    day = recorded.date()
    tashkent = recorded.astimezone(timezone(timedelta(hours=5))).isoformat()

    async def ids(*dates: str) -> set[str]:
        r = await client.get(
            "/fhir/AuditEvent",
            params=[("patient", str(person.id)), *(("date", d) for d in dates)],
            headers=auditor,
        )
        assert r.status_code == 200, r.text
        return {res["id"] for res in resources(r.json())}

    hit = {read["id"]}
    next_day = (day + timedelta(days=1)).isoformat()
    assert hit <= await ids(f"ge{day.isoformat()}", f"lt{next_day}")
    assert hit <= await ids(day.isoformat())
    assert hit <= await ids(day.isoformat()[:7])  # the month
    assert hit <= await ids(read["recorded"])  # eq, to the microsecond
    assert hit <= await ids(f"ge{read['recorded']}", f"le{read['recorded']}")
    assert hit <= await ids(tashkent)  # the same instant written in UTC+05:00
    assert hit <= await ids(f"ge{(recorded - timedelta(minutes=5)).isoformat()}")
    assert not hit & await ids(f"gt{read['recorded']}")
    assert not hit & await ids(f"lt{read['recorded']}")
    assert not hit & await ids(f"lt{day.isoformat()}")
    assert not hit & await ids(f"ge{next_day}")
    assert not hit & await ids(f"ge{day.isoformat()}", f"lt{day.isoformat()}")
    # the end of the calendar is a bound, not a crash
    assert await ids("eq9999-12-31") == set()


async def test_a_malformed_date_is_refused_naming_the_parameter(client, auditor):
    for bad in ("2026-13-01", "yesterday", "2026-11-23T10:00", "ne2026-11-23"):
        r = await client.get("/fhir/AuditEvent", params={"date": bad}, headers=auditor)
        issues = outcome(r, 422)
        assert [i["expression"] for i in issues] == [["date"]], bad
        assert issues[0]["code"] == "invalid"


async def test_break_the_glass_accesses_carry_purpose_of_use_btg(
    client, make_user, make_person, login, auditor
):
    home = await make_user("nurse")
    person = await make_person(home.facility_code)
    assert (
        await client.get(f"/api/v1/persons/{person.id}", headers=await login(home))
    ).status_code == 200
    stranger = await make_user("nurse")  # a nurse of another facility
    auth = await login(stranger)
    r = await client.post(
        "/api/v1/break-glass", json={"person_id": person.id, "reason": REASON}, headers=auth
    )
    assert r.status_code == 201, r.text
    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 200

    found = await search(client, auditor, patient=f"Patient/{person.id}")
    (flagged_read,) = reads_by(found, stranger.username)
    assert purposes(flagged_read) == {"BTG"}
    coding = flagged_read["agent"][0]["purposeOfUse"][0]["coding"][0]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    assert REASON in flagged_read["purposeOfEvent"][0]["text"]
    grant = [r for r in found if r["agent"][0]["altId"] == stranger.username and r["action"] == "C"]
    assert [purposes(g) for g in grant] == [{"BTG"}]
    (ordinary,) = reads_by(found, home.username)
    assert purposes(ordinary) == set()


# ---- who may search ---------------------------------------------------------


async def test_a_nurse_is_refused_with_an_operation_outcome(client, make_user, login, auditor):
    nurse = await make_user("nurse")
    auth = await login(nurse)
    issues = outcome(await client.get("/fhir/AuditEvent", headers=auth), 403)
    assert issues[0]["code"] == "forbidden"
    assert "view the audit trail" in issues[0]["diagnostics"]  # what was refused, in words
    outcome(await client.get("/fhir/AuditEvent/1", headers=auth), 403)
    # the refusal is itself in the trail
    mine = await search(client, auditor, agent=nurse.username)
    denied = [r for r in mine if r["outcome"] == "4"]
    assert len(denied) == 2
    assert all("audit:read" in r["outcomeDesc"] for r in denied)


async def test_no_token_is_401_as_an_operation_outcome(client):
    r = await client.get("/fhir/AuditEvent")
    issues = outcome(r, 401)
    assert issues[0]["code"] == "login"
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_the_auditors_own_search_is_audited(client, nurse_read, make_user, login):
    _, person = nurse_read
    account = await make_user("auditor")
    auth = await login(account)
    await search(client, auth, patient=person.id, date="ge2020-01-01")
    async with session_factory()() as s:
        rows = (
            (
                await s.execute(
                    select(AuditEvent).where(
                        AuditEvent.username == account.username, AuditEvent.action == "search"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row.resource_type, row.role, row.patient_id) == ("AuditEvent", "auditor", person.id)
    assert "date=ge2020-01-01" in row.detail
    # ... and visible through the API like any other access
    mine = await search(client, auth, agent=account.username)
    (seen,) = [r for r in mine if r.get("subtype", [{}])[0].get("code") == "search-type"]
    assert seen["action"] == "E"
    assert seen["subtype"][0]["code"] == "search-type"
    assert seen["agent"][0]["role"][0]["coding"][0]["code"] == "auditor"
    assert patient_of(seen) == f"Patient/{person.id}"


# ---- bad requests -----------------------------------------------------------


async def test_an_unknown_search_parameter_is_422_naming_it(client, auditor):
    r = await client.get(
        "/fhir/AuditEvent", params={"subject": "Patient/1", "_sort": "date"}, headers=auditor
    )
    issues = outcome(r, 422)
    assert sorted(i["expression"][0] for i in issues) == ["_sort", "subject"]
    assert all(i["code"] == "invalid" for i in issues)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"_count": "100000"}, "_count"),
        ({"_count": "0"}, "_count"),
        ({"_count": "ten"}, "_count"),
        ({"_offset": "-1"}, "_offset"),
        ({"patient": "Practitioner/7"}, "patient"),
        ({"patient": "abc"}, "patient"),
    ],
)
async def test_bad_paging_and_reference_values_are_422(client, auditor, params, field):
    issues = outcome(await client.get("/fhir/AuditEvent", params=params, headers=auditor), 422)
    assert [i["expression"] for i in issues] == [[field]]


async def test_the_largest_page_is_allowed_and_one_more_is_not(client, auditor):
    top = get_settings().max_page_size
    await search_bundle(client, auditor, _count=top)
    r = await client.get("/fhir/AuditEvent", params={"_count": top + 1}, headers=auditor)
    (issue,) = outcome(r, 422)
    assert str(top) in issue["diagnostics"]


# ---- paging -----------------------------------------------------------------


async def follow(client, auth, bundle: dict, max_pages: int = 10) -> list[str]:
    """Ids of every page, from ``bundle`` on, by its ``next`` links."""
    seen: list[str] = []
    for _ in range(max_pages):
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if len(seen) > 1:
            assert "previous" in links
        if "next" not in links:
            return seen
        url = urlsplit(links["next"])
        assert url.path == "/fhir/AuditEvent"
        assert "_count=1" in url.query
        r = await client.get(f"{url.path}?{url.query}", headers=auth)
        assert r.status_code == 200, r.text
        bundle = r.json()
        Bundle.model_validate(bundle)
        assert len(bundle["entry"]) == 1
    raise AssertionError(f"still a next link after {max_pages} pages: {seen}")


async def test_count_pages_through_next_links(client, make_user, make_person, login, auditor):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    auth = await login(nurse)
    for _ in range(3):
        assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 200
    everything = await search_bundle(client, auditor, agent=nurse.username)
    assert everything["total"] == 4  # her login and three reads
    expected = [e["resource"]["id"] for e in everything["entry"]]

    first = await search_bundle(client, auditor, agent=nurse.username, _count=1)
    assert first["total"] == 4
    assert len(first["entry"]) == 1
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "next"}
    assert f"agent={nurse.username}" in links["next"]
    assert "_offset=1" in links["next"]
    assert await follow(client, auditor, first) == expected
    full_url = everything["entry"][0]["fullUrl"]
    assert full_url.endswith(f"/fhir/AuditEvent/{expected[0]}")


async def test_paging_a_patients_trail_is_stable_while_the_auditor_pages(
    client, make_user, make_person, login, auditor
):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    auth = await login(nurse)
    for _ in range(2):
        assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 200
    first = await search_bundle(client, auditor, patient=person.id, _count=1)
    seen = await follow(client, auditor, first)
    assert len(seen) == len(set(seen))
    assert len(seen) >= 3  # registration and two reads


# ---- read -------------------------------------------------------------------


async def test_read_one_audit_event_and_a_missing_one_is_404(client, nurse_read, auditor):
    nurse, person = nurse_read
    (row,) = reads_by(await search(client, auditor, patient=person.id), nurse.username)
    r = await client.get(f"/fhir/AuditEvent/{row['id']}", headers=auditor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    FhirAuditEvent.model_validate(r.json())
    assert r.json() == row
    issues = outcome(await client.get("/fhir/AuditEvent/987654321", headers=auditor), 404)
    assert issues[0]["code"] == "not-found"
    assert "987654321" in issues[0]["diagnostics"]
    outcome(await client.get("/fhir/AuditEvent/not-a-number", headers=auditor), 422)
    outcome(await client.get("/fhir/Basic", headers=auditor), 404)


# ---- capability statement ---------------------------------------------------


async def test_metadata_is_public_and_lists_exactly_what_the_server_accepts(client, auditor):
    r = await client.get("/fhir/metadata")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    cs = r.json()
    CapabilityStatement.model_validate(cs)
    assert cs["fhirVersion"].startswith("4.0")
    assert cs["format"] == ["json"]
    (rest,) = cs["rest"]
    assert rest["mode"] == "server"
    # the registry resources are checked in test_registry_resources.py
    audit_event = next(res for res in rest["resource"] if res["type"] == "AuditEvent")
    assert {i["code"] for i in audit_event["interaction"]} == {"read", "search-type"}
    listed = {p["name"] for p in audit_event["searchParam"]}
    # resource parameters exactly; of the result parameters _count is advertised and
    # _offset (which only the server's own next/previous links need) is not
    assert {p for p in listed if not p.startswith("_")} == {
        p for p in AUDIT_PARAMS if not p.startswith("_")
    }
    assert listed - AUDIT_PARAMS == set()
    assert AUDIT_PARAMS - listed == {"_offset"}  # _snapshot is listed: it appears in links
    # every advertised parameter is really accepted
    samples = {
        "patient": "Patient/1",
        "agent": "someone",
        "altid": "someone",
        "date": "ge2026-01-01",
        "action": "R",
        "_count": "5",
        "_snapshot": "1",
    }
    for name in listed:
        r = await client.get("/fhir/AuditEvent", params={name: samples[name]}, headers=auditor)
        assert r.status_code == 200, (name, r.text)
