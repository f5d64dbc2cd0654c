"""Break-the-glass: one person, a reason, a short expiry, flagged and shown to the person."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from salomat.core.audit import AuditEvent
from salomat.core.config import get_settings
from salomat.core.db import session_factory, utcnow

pytestmark = pytest.mark.anyio
REASON = "unconscious patient brought to the emergency room"


async def test_clinician_opens_one_person_outside_scope_and_every_access_is_flagged(
    client, make_user, make_person, login
):
    home = await make_user("family_doctor")
    person = await make_person(home.facility_code)
    bystander = await make_person(home.facility_code)
    er_doctor = await make_user("family_doctor")
    auth = await login(er_doctor)
    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 404

    r = await client.post(
        "/api/v1/break-glass", json={"person_id": person.id, "reason": REASON}, headers=auth
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    lifetime = datetime.fromisoformat(grant["expires_at"]) - datetime.fromisoformat(
        grant["created_at"]
    )
    minutes = lifetime.total_seconds() / 60
    assert minutes == get_settings().break_glass_minutes == 60

    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 200
    # the grant is for that one person only
    assert (await client.get(f"/api/v1/persons/{bystander.id}", headers=auth)).status_code == 404

    async with session_factory()() as s:
        rows = (
            (
                await s.execute(
                    select(AuditEvent).where(
                        AuditEvent.patient_id == person.id,
                        AuditEvent.username == er_doctor.username,
                        AuditEvent.outcome == "success",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert {r.action for r in rows} == {"create", "read"}
    assert all(r.break_glass and r.break_glass_grant_id == grant["id"] for r in rows)
    read = next(r for r in rows if r.action == "read")
    assert REASON in read.purpose

    citizen = await make_user("citizen", person_id=person.id)
    log = (await client.get("/api/v1/me/access-log", headers=await login(citizen))).json()["items"]
    flagged = [e for e in log if e["username"] == er_doctor.username and e["break_glass"]]
    assert {e["action"] for e in flagged} == {"create", "read"}


async def test_expired_grant_no_longer_opens_the_record(client, make_user, make_person, login):
    person = await make_person((await make_user("nurse")).facility_code)
    nurse = await make_user("nurse")
    auth = await login(nurse)
    r = await client.post(
        "/api/v1/break-glass", json={"person_id": person.id, "reason": REASON}, headers=auth
    )
    assert r.status_code == 201
    async with session_factory()() as s:
        from salomat.domains.accounts.models import BreakGlassGrant

        await s.execute(
            update(BreakGlassGrant)
            .where(BreakGlassGrant.id == r.json()["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await s.commit()
    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 404


async def test_break_glass_needs_a_real_reason_and_a_clinical_role(
    client, make_user, make_person, login
):
    person = await make_person()
    nurse = await make_user("nurse")
    r = await client.post(
        "/api/v1/break-glass",
        json={"person_id": person.id, "reason": "x"},
        headers=await login(nurse),
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["reason"]
    pharmacist = await make_user("pharmacist")
    r = await client.post(
        "/api/v1/break-glass",
        json={"person_id": person.id, "reason": REASON},
        headers=await login(pharmacist),
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/break-glass",
        json={"person_id": 99999999, "reason": REASON},
        headers=await login(nurse),
    )
    assert r.status_code == 404
