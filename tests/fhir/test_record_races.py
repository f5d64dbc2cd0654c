"""Two conditional creates of the same identifier at once store one resource: the second
answers 200 with the first's, held by the database's unique identifier, not by a check in
Python (PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

import asyncio

import pytest

from salomat.fhir import record_api
from tests.fhir.test_record import encounter, ids, ok, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.anyio


async def test_the_same_conditional_create_twice_at_once_stores_one(
    client,
    world,  # noqa: F811
    backend,
    monkeypatch,
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    barrier = asyncio.Barrier(2)
    create = record_api.record.create_resource

    async def together(session, principal, resource, **kw):  # type: ignore[no-untyped-def]
        # both requests have been read and checked: they write now
        await asyncio.wait_for(barrier.wait(), 60)
        return await create(session, principal, resource, **kw)

    monkeypatch.setattr(record_api.record, "create_resource", together)
    body = encounter(world)
    ident = body["identifier"][0]
    headers = {
        **world.hospital,
        "If-None-Exist": f"identifier={ident['system']}|{ident['value']}",
    }
    answers = await asyncio.gather(
        *[client.post("/fhir/Encounter", json=body, headers=headers) for _ in range(2)]
    )
    assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    found = ok(
        await client.get(
            "/fhir/Encounter",
            params={"identifier": f"{ident['system']}|{ident['value']}"},
            headers=world.doctor,
        )
    )
    assert ids(found) == [answers[0].json()["id"]]
