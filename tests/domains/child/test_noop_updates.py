"""Sending the same values again answers 200 with the record as it is, never a 409 or 412
that asks for a retry that cannot succeed; different values at a stale version are still
refused."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.child.test_entered_in_error import clinic, listed, mark, measure

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
async def elsewhere(make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A child born outside the system and its nurse."""
    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=30))
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return {"url": f"/api/v1/persons/{child.id}/newborn-screening", "nurse": nurse}


SCREENING = {"birth_weight_g": 2900, "hearing": "pass", "phenylketonuria": "normal"}


async def test_the_same_newborn_screening_at_a_stale_version_answers_the_current_one(
    client, elsewhere
):
    url, nurse = elsewhere["url"], elsewhere["nurse"]
    first = await client.put(url, json=SCREENING, headers=nurse)
    assert first.status_code == 200, first.text
    changed = await client.put(
        url, json={**SCREENING, "hearing": "refer"}, headers={**nurse, "If-Match": 'W/"1"'}
    )
    assert changed.headers["etag"] == 'W/"2"'
    # a client still at version 1 sends what is now stored: nothing to refuse
    same = await client.put(
        url, json={**SCREENING, "hearing": "refer"}, headers={**nurse, "If-Match": 'W/"1"'}
    )
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == 'W/"2"'
    assert (same.json()["version"], same.json()["screening"]["hearing"]) == (2, "refer")
    # without If-Match too, and no new version either way
    again = await client.put(url, json={**SCREENING, "hearing": "refer"}, headers=nurse)
    assert (again.status_code, again.json()["version"]) == (200, 2)


async def test_different_newborn_values_at_a_stale_version_are_still_refused(client, elsewhere):
    url, nurse = elsewhere["url"], elsewhere["nurse"]
    assert (await client.put(url, json=SCREENING, headers=nurse)).status_code == 200
    await client.put(
        url, json={**SCREENING, "hearing": "refer"}, headers={**nurse, "If-Match": 'W/"1"'}
    )
    stale = await client.put(url, json=SCREENING, headers={**nurse, "If-Match": 'W/"1"'})
    assert stale.status_code == 412, stale.text
    stored = await client.put(
        url, json={**SCREENING, "hearing": "refer"}, headers={**nurse, "If-Match": 'W/"2"'}
    )
    assert stored.json()["screening"]["hearing"] == "refer"


async def test_marking_a_measurement_again_with_the_same_reason_answers_the_mark(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    first = await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=1)
    assert first.status_code == 200, first.text
    # the retry of a request whose answer was lost: it still carries version 1
    again = await mark(client, clinic, m["id"], {"reason": " wrong child "}, version=1)
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == 'W/"2"'
    assert (again.json()["version"], again.json()["error_reason"]) == (2, "wrong child")
    (row,) = await listed(client, clinic)
    assert row["version"] == 2


async def test_a_different_reason_is_still_refused(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=1)
    stale = await mark(client, clinic, m["id"], {"reason": "typed 76"}, version=1)
    assert stale.status_code == 412, stale.text
    current = await mark(client, clinic, m["id"], {"reason": "typed 76"}, version=2)
    assert current.status_code == 409, current.text
    assert (await listed(client, clinic))[0]["error_reason"] == "wrong child"
