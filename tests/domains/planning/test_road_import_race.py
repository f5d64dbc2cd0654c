"""Two road imports of one region at once store one file's network: each import deletes
the region's roads and inserts its own, and the second takes its turn (a transaction lock
on the region) until the first has committed, then replaces it, instead of both deleting
the old network and both inserting (the two files mixed into one graph).

Both imports are held together just before the lock (a barrier), so they meet there every
time. SQLite serialises writers on one file lock (the barrier would wait on it), so this
runs on PostgreSQL only (pattern: tests/domains/planning/test_calendar_race.py).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from salomat.core.db import session_factory
from salomat.domains.planning.models_roads import RoadNode
from salomat.domains.planning.service import roads
from tests.conftest import BACKEND
from tests.domains.planning.test_roads import NODES, ONEWAY, PRIMARY, osm

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        BACKEND != "postgresql",
        reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
    ),
]

#: two extracts of the region without a node in common: the fixture's roads (nodes 1-4),
#: and the same roads with their node ids (and way ids) moved by 100
FIRST = osm(PRIMARY + ONEWAY)
SECOND = osm(
    PRIMARY.replace('ref="', 'ref="10').replace('id="1', 'id="21')
    + ONEWAY.replace('ref="', 'ref="10').replace('id="1', 'id="21'),
    {n + 100: p for n, p in NODES.items()},
)


async def test_two_imports_of_one_region_at_once_store_one_file(
    app, plan, kz, make_user, login, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    auth = [await login(await make_user("planner")) for _ in range(2)]
    barrier = asyncio.Barrier(2)
    turn = roads.take_turn

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), 60)
        return await turn(*args, **kwargs)

    monkeypatch.setattr(roads, "take_turn", held)
    url = f"/api/v1/planning/regions/{plan.region}/roads"
    transport = httpx.ASGITransport(app=app, client=("10.9.8.6", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        async with asyncio.timeout(60):  # a safety net against a hang, not a timing bet
            answers = await asyncio.gather(
                *(
                    c.put(url, content=body, headers={**a, "Content-Type": "application/xml"})
                    for body, a in zip((FIRST, SECOND), auth, strict=True)
                )
            )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert all(a.json()["nodes"] == 4 for a in answers)
    async with session_factory()() as s:
        stored = set(
            await s.scalars(select(RoadNode.osm_id).where(RoadNode.region_code == plan.region))
        )
    assert stored in ({1, 2, 3, 4}, {101, 102, 103, 104}), sorted(stored)
