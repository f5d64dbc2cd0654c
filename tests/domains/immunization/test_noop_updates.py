"""Marking a dose entered in error again (a retry whose answer was lost) answers 200 with the
dose as it is, at any version, and writes nothing; an unmarked dose still needs the version."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from tests.domains.immunization.test_doses import clinic, dose, post

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio


async def _updates(db, dose_id: int) -> int:
    return await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.resource_type == "Immunization",
            AuditEvent.resource_id == str(dose_id),
            AuditEvent.action == "update",
            AuditEvent.detail.like("entered in error%"),
        )
    )


async def test_the_same_mark_again_answers_the_dose_as_it_is(client, clinic, db):
    d = (await post(client, clinic, dose())).json()
    url = f"/api/v1/immunizations/{d['id']}/entered-in-error"
    read = f'W/"{d["version"]}"'
    first = await client.post(
        url, json={"reason": "wrong child"}, headers={**clinic.nurse, "If-Match": read}
    )
    assert first.status_code == 200, first.text
    assert await _updates(db, d["id"]) == 1

    for body in ({"reason": "wrong child"}, {}):
        again = await client.post(url, json=body, headers={**clinic.nurse, "If-Match": read})
        assert again.status_code == 200, again.text
        assert again.headers["etag"] == first.headers["etag"]
        assert again.json() == first.json()
    assert await _updates(db, d["id"]) == 1


async def test_an_unmarked_dose_still_refuses_a_stale_version(client, clinic):
    d = (await post(client, clinic, dose())).json()
    url = f"/api/v1/immunizations/{d['id']}/entered-in-error"
    stale = await client.post(
        url, json={"reason": "wrong child"}, headers={**clinic.nurse, "If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412, stale.text
    read = await client.get(f"/api/v1/immunizations/{d['id']}", headers=clinic.nurse)
    assert read.json()["status"] != "entered_in_error"
