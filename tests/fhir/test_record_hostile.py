"""Inputs a reviewer found answered 500, each now refused naming what is wrong (no 5xx on
any input): an instant with no UTC equivalent in ``_since``, a ``_count`` of thousands
of digits, a body holding an integer Python will not read, and (already refused) a batch
entry's url with a lone surrogate or a NUL."""

from __future__ import annotations

import pytest

from tests.fhir.test_record import World, create, observation, world

__all__ = ["world"]

pytestmark = pytest.mark.anyio


def named(r, status: int) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return {e for i in body["issue"] for e in i.get("expression", [])}


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
async def test_a_since_with_no_utc_instant_is_refused(client, world: World, since):
    w = world
    obs = await create(client, w.hospital, observation(w))
    for path in (
        "/fhir/_history",
        "/fhir/Observation/_history",
        f"/fhir/Observation/{obs['id']}/_history",
    ):
        r = await client.get(path, params={"_since": since}, headers=w.hospital)
        assert named(r, 422) == {"_since"}, path


async def test_a_count_of_thousands_of_digits_is_refused(client, world: World):
    r = await client.get(
        "/fhir/Observation/_history", params={"_count": "9" * 4400}, headers=world.hospital
    )
    assert named(r, 422) == {"_count"}


@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir/Observation/$validate"])
async def test_a_body_with_an_integer_too_long_to_read_is_refused(client, world: World, path):
    raw = b'{"resourceType": "Observation", "status": "final", "x": ' + b"1" * 5000 + b"}"
    r = await client.post(
        path, content=raw, headers={**world.hospital, "Content-Type": "application/fhir+json"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "url", ["Patient?identifier=\ud800", "Observation?code=\ud800x", "Patient/1\x00"]
)
async def test_a_batch_url_with_a_lone_surrogate_or_nul_is_refused_naming_it(client, world, url):
    # the Bundle's own check (R4B strings, no NUL) refuses it before any entry runs
    raw = (
        '{"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", '
        '"url": "'
        + url.encode("unicode_escape").decode().replace("\\x00", "\\u0000")
        + '"}}, {"request": {"method": "GET", "url": "Observation?patient=1"}}]}'
    )
    r = await client.post(
        "/fhir",
        content=raw.encode(),
        headers={**world.hospital, "Content-Type": "application/fhir+json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
