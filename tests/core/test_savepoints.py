"""A savepoint is part of the request's transaction on both backends: what a service
wrote inside one is undone when the request is rolled back later, even when the
savepoint was the request's first write (SQLite's driver begins a transaction only
before INSERT/UPDATE/DELETE, so a SAVEPOINT outside one used to start its own, and its
RELEASE committed the write: core/db.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from salomat.core.db import get_engine

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("commit", [False, True])
async def test_a_released_savepoint_follows_the_request(commit: bool) -> None:
    async with get_engine().connect() as c:
        await c.execute(text("CREATE TEMPORARY TABLE savepoint_probe (x integer)"))
        await c.commit()
        await c.execute(text("SELECT 1"))  # a read first: no write has begun anything
        async with c.begin_nested():
            await c.execute(text("INSERT INTO savepoint_probe (x) VALUES (1)"))
        # the request goes on after the savepoint was released, and is refused or kept
        await (c.commit() if commit else c.rollback())
        kept = (await c.execute(text("SELECT count(*) FROM savepoint_probe"))).scalar_one()
        await c.execute(text("DROP TABLE savepoint_probe"))
        await c.commit()
    assert kept == (1 if commit else 0)
