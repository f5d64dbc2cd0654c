"""The same transaction sent twice at once stores one Encounter: the conditional create on
the hospital's identifier is held by the database's unique identifier, not by a check in
Python (PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

import asyncio

import pytest

from salomat.fhir import bundle as bundle_module
from tests.factories import unique
from tests.fhir.test_bundle import answer, search, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.anyio


async def test_the_same_transaction_twice_at_once_stores_one_encounter(
    client,
    world,  # noqa: F811
    backend,
    monkeypatch,
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    value = unique("ENC-")
    barrier = asyncio.Barrier(2)
    create = bundle_module.record.create_resource

    async def together(session, principal, resource, **kw):  # type: ignore[no-untyped-def]
        if resource["resourceType"] == "Encounter":
            # both have matched nobody and write the Encounter now
            await asyncio.wait_for(barrier.wait(), 60)
        return await create(session, principal, resource, **kw)

    monkeypatch.setattr(bundle_module.record, "create_resource", together)
    sent = world.scenario(value)
    answers = await asyncio.gather(
        *[client.post("/fhir", json=sent, headers=world.hospital) for _ in range(2)]
    )
    encounters = [answer(r, "transaction-response")[1]["response"] for r in answers]
    assert sorted(e["status"] for e in encounters) == ["200 OK", "201 Created"]
    assert encounters[0]["location"] == encounters[1]["location"]
    found = await search(client, world.hospital, f"Encounter?identifier={world.system}|{value}")
    assert len(found) == 1
