"""Linking an account to the practitioner it is already linked to answers 200 with the link
as it is, changing and auditing nothing; a different link is still checked."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from tests.domains.registry.test_practitioners import _create, _role

pytestmark = pytest.mark.anyio


async def _link_updates(db, user_id: int) -> int:
    return await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.resource_type == "User",
            AuditEvent.resource_id == str(user_id),
            AuditEvent.action == "update",
        )
    )


async def test_the_same_link_again_answers_it_and_changes_nothing(
    client, admin_headers, make_user, make_facility, db
):
    poly = await make_facility()
    doctor = await make_user("family_doctor", facility_code=poly.code)
    p = await _create(client, admin_headers, specialty="general_practice")
    r = await _role(
        client, admin_headers, p["id"], facility_code=poly.code, position="family_doctor",
        start_on=str(date.today()),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    url = f"/api/v1/users/{doctor.id}/practitioner"
    first = await client.put(url, json={"practitioner_id": p["id"]}, headers=admin_headers)
    assert first.status_code == 200, first.text
    assert await _link_updates(db, doctor.id) == 1

    again = await client.put(url, json={"practitioner_id": p["id"]}, headers=admin_headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await _link_updates(db, doctor.id) == 1

    # a different link is checked as before
    wrong = await client.put(url, json={"practitioner_id": 10**9}, headers=admin_headers)
    assert wrong.status_code == 422
    unlinked = await client.put(url, json={"practitioner_id": None}, headers=admin_headers)
    assert (unlinked.status_code, unlinked.json()["practitioner_id"]) == (200, None)
    assert await _link_updates(db, doctor.id) == 2
    twice = await client.put(url, json={"practitioner_id": None}, headers=admin_headers)
    assert (twice.status_code, twice.json()["practitioner_id"]) == (200, None)
    assert await _link_updates(db, doctor.id) == 2
