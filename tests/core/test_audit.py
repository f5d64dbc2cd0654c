"""Every access to person data leaves an audit row, committed before the response."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory

pytestmark = pytest.mark.anyio


async def _rows(**where) -> list[AuditEvent]:
    # a separate session: only what was committed is visible here
    async with session_factory()() as s:
        stmt = select(AuditEvent)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEvent, k) == v)
        return list((await s.execute(stmt.order_by(AuditEvent.id))).scalars())


async def test_reading_a_person_is_audited_with_who_role_facility_and_address(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    r = await client.get(
        f"/api/v1/persons/{person.id}?purpose=home+visit", headers=await login(nurse)
    )
    assert r.status_code == 200
    # the response has arrived: the row must already be committed
    rows = await _rows(patient_id=person.id, action="read")
    assert len(rows) == 1
    row = rows[0]
    assert (row.username, row.role, row.facility_code) == (
        nurse.username,
        "nurse",
        nurse.facility_code,
    )
    assert row.outcome == "success"
    assert row.purpose == "home visit"
    assert row.client_address
    assert row.client_address.startswith("10.")
    assert row.request_id == r.headers["x-request-id"]
    assert row.occurred_at.tzinfo is not None
    assert row.break_glass is False


async def test_create_search_and_update_of_person_data_are_audited(client, make_user, login):
    registrar = await make_user("registrar")
    auth = await login(registrar)
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": "Toshmatov",
            "given_name": "Jasur",
            "birth_date": "1988-03-02",
            "sex": "male",
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    pid, etag = r.json()["id"], r.headers["etag"]
    r = await client.get(
        "/api/v1/persons", params={"name": "toshmatov", "birth_date": "1988-03-02"}, headers=auth
    )
    assert r.status_code == 200
    assert pid in [p["id"] for p in r.json()["items"]]
    r = await client.patch(
        f"/api/v1/persons/{pid}",
        json={"given_name": "Jasurbek"},
        headers={**auth, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    actions = [row.action for row in await _rows(patient_id=pid)]
    assert actions == ["create", "search", "update"]


async def test_out_of_scope_read_is_a_404_like_a_missing_record_and_is_audited_as_denied(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    other_place = await make_user("nurse")
    person = await make_person(other_place.facility_code)
    auth = await login(nurse)
    hidden = await client.get(f"/api/v1/persons/{person.id}", headers=auth)
    missing = await client.get("/api/v1/persons/987654321", headers=auth)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]
    assert "987654321" in missing.json()["detail"]
    assert str(person.id) in hidden.json()["detail"]
    denied = await _rows(patient_id=person.id, action="denied")
    assert len(denied) == 1
    assert denied[0].username == nurse.username
    assert denied[0].outcome == "failure"
    assert await _rows(patient_id=person.id, action="read") == []


async def test_a_role_without_the_permission_is_refused_and_the_refusal_is_audited(
    client, make_user, make_person, login
):
    pharmacist = await make_user("pharmacist")
    person = await make_person(pharmacist.facility_code)
    r = await client.get(f"/api/v1/persons/{person.id}", headers=await login(pharmacist))
    assert r.status_code == 403
    rows = await _rows(username=pharmacist.username, action="denied")
    assert rows
    assert rows[-1].detail == "role pharmacist lacks person:read"


async def test_search_shows_only_people_in_scope(client, make_user, make_person, login):
    nurse = await make_user("nurse")
    mine = await make_person(nurse.facility_code, family_name="Scopetest")
    theirs = await make_person((await make_user("nurse")).facility_code, family_name="Scopetest")
    r = await client.get(
        "/api/v1/persons", params={"name": "scopetest"}, headers=await login(nurse)
    )
    ids = [p["id"] for p in r.json()["items"]]
    assert mine.id in ids
    assert theirs.id not in ids


async def test_citizen_sees_own_record_only_and_who_opened_it(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    me = await make_person(nurse.facility_code)
    someone = await make_person(nurse.facility_code)
    citizen = await make_user("citizen", person_id=me.id)
    c_auth = await login(citizen)
    assert (await client.get(f"/api/v1/persons/{me.id}", headers=c_auth)).status_code == 200
    assert (await client.get(f"/api/v1/persons/{someone.id}", headers=c_auth)).status_code == 404
    await client.get(f"/api/v1/persons/{me.id}", headers=await login(nurse))
    log = (await client.get("/api/v1/me/access-log", headers=c_auth)).json()
    who = {e["username"] for e in log["items"]}
    assert nurse.username in who
    assert all(e["patient_id"] == me.id for e in log["items"])


async def test_a_refused_form_shown_again_with_the_record_keeps_its_read_audit(
    client, make_facility, make_person, make_user
):
    """The 422 page shows her record again: that read is kept though the write rolls back."""
    from datetime import date, timedelta

    from sqlalchemy import func, select

    from salomat.core.audit import AuditEvent
    from salomat.core.db import session_factory
    from tests.domains.registry.test_web import web_login

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await make_user("family_doctor", facility_code=fac.code)
    csrf = await web_login(client, doctor)

    async def reads() -> int:
        async with session_factory()() as s:
            return await s.scalar(
                select(func.count()).where(
                    AuditEvent.patient_id == woman.id,
                    AuditEvent.username == doctor.username,
                    AuditEvent.action == "read",
                )
            )

    before = await reads()
    future = (date.today() + timedelta(days=30)).isoformat()
    r = await client.post(
        f"/patients/{woman.id}/pregnancy",
        data={"csrf_token": csrf, "lmp": future, "gravida": "1", "parity": "0"},
    )
    assert r.status_code == 422
    assert woman.family_name in r.text  # the record was shown again
    assert await reads() > before


async def test_where_narrows_by_each_filter_and_pages_by_id(make_user):
    """The read side's filters (core.audit.where), on rows of one user only."""
    from datetime import UTC, datetime

    from salomat.core.audit import AuditQuery, search
    from tests.domains.accounts.audit_support import audit_row

    nurse = await make_user("nurse")
    t = datetime(2018, 5, 1, 8, tzinfo=UTC)
    read = await audit_row(t, nurse, patient_id=77001)
    refused = await audit_row(
        t.replace(hour=9), nurse, action="denied", patient_id=77002, outcome="failure"
    )
    flagged = await audit_row(t.replace(hour=10), nurse, patient_id=77001, break_glass=True)
    mine = AuditQuery(username=nurse.username)

    async def ids(**kw) -> list[int]:
        async with session_factory()() as s:
            items, total = await search(s, AuditQuery(**{**mine.__dict__, **kw}))
        assert total == len(items)
        return [e.id for e in items]

    assert await ids() == [flagged, refused, read]
    assert await ids(patient_id=77001) == [flagged, read]
    assert await ids(outcome="failure") == [refused]
    assert await ids(action="denied") == [refused]
    assert await ids(break_glass=True) == [flagged]
    assert await ids(facility_code=nurse.facility_code) == [flagged, refused, read]
    assert await ids(facility_code="elsewhere") == []
    assert await ids(resource_type="Patient") == [flagged, refused, read]
    assert await ids(since=t.replace(hour=9), until=t.replace(hour=10)) == [refused]
    assert await ids(before_id=flagged) == [refused, read]


async def test_chain_head_reads_the_last_seal_and_the_latest_row():
    from datetime import UTC, datetime

    from salomat.core import audit_chain
    from salomat.core.audit import chain_head
    from salomat.core.config import get_settings
    from tests.domains.accounts.audit_support import audit_row

    # a row to seal, so that the test alone on a fresh database seals something too
    await audit_row(datetime.now(UTC), None, action="login", resource_type="Session")
    report = await audit_chain.seal(get_settings().database_url)
    assert report.head_id is not None
    later = await audit_row(datetime.now(UTC), None, action="login", resource_type="Session")
    async with session_factory()() as s:
        head = await chain_head(s)
    assert head.sealed_up_to == report.head_id
    assert head.head_hash == report.head_hash
    assert head.latest_id >= later
    assert head.unsealed == head.latest_id - report.head_id >= 1  # the row after the seal
