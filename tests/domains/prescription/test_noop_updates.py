"""Cancelling a cancelled prescription with the same reason (a retry whose answer was lost,
a form sent twice) answers 200 with the prescription as it is, at any version; another
reason is still refused."""

from __future__ import annotations

import pytest

from tests.domains.prescription.test_prescribing import clinic, post, rx

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio


async def _cancelled(client, clinic) -> tuple[str, dict, dict]:
    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    url = f"/api/v1/prescriptions/{p['id']}/cancel"
    read = {**clinic.doctor, "If-Match": f'W/"{p["version"]}"'}
    first = await client.post(url, json={"reason": "dose changed"}, headers=read)
    assert first.status_code == 200, first.text
    assert first.json()["version"] > p["version"]
    return url, read, first.json()


async def test_the_same_cancellation_again_answers_the_prescription_as_it_is(client, clinic):
    url, read, cancelled = await _cancelled(client, clinic)
    for headers in (read, clinic.doctor):  # the version read before, or none
        again = await client.post(url, json={"reason": " dose changed "}, headers=headers)
        assert again.status_code == 200, again.text
        assert again.headers["etag"] == f'W/"{cancelled["version"]}"'
        assert again.json() == cancelled


async def test_another_reason_is_still_refused(client, clinic):
    url, read, cancelled = await _cancelled(client, clinic)
    stale = await client.post(url, json={"reason": "patient asked"}, headers=read)
    assert stale.status_code == 412, stale.text
    current = {**clinic.doctor, "If-Match": f'W/"{cancelled["version"]}"'}
    r = await client.post(url, json={"reason": "patient asked"}, headers=current)
    assert r.status_code == 409, r.text
    got = await client.get(url.removesuffix("/cancel"), headers=clinic.doctor)
    assert got.json()["cancel_reason"] == "dose changed"
