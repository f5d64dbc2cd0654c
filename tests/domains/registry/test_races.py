"""Invariants two requests race on are database constraints (DESIGN rule 9).

The requests run concurrently through the app on the suite's backend; on
PostgreSQL they truly interleave, each in its own transaction.
"""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.registry.models import Attachment, Person
from tests.conftest import BACKEND
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio


async def test_one_national_id_is_registered_once_however_many_clerks_try(app, make_user, login):
    clerks = [await login(await make_user("registrar")) for _ in range(4)]
    born = date(1983, 6, 21)
    nid = national_id_for(born, "female")
    transport = httpx.ASGITransport(app=app, client=("10.9.9.8", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(
                    "/api/v1/persons",
                    json={
                        "national_id": nid,
                        "family_name": unique_name("Ab"),
                        "given_name": unique_name("Ni"),
                        "birth_date": born.isoformat(),
                        "sex": "female",
                    },
                    headers=auth,
                )
                for auth in clerks
            ]
        )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    async with session_factory()() as s:
        assert await s.scalar(select(func.count()).where(Person.national_id == nid)) == 1


async def test_two_transfers_at_once_leave_one_current_attachment(
    app, make_user, make_person, make_facility, login
):
    auth = await login(await make_user("registrar"))
    p = await make_person()
    targets = [await make_facility() for _ in range(3)]
    transport = httpx.ASGITransport(app=app, client=("10.9.9.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        etag = (await c.get(f"/api/v1/persons/{p.id}", headers=auth)).headers["etag"]
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/persons/{p.id}/attachment",
                    json={"facility_code": f.code},
                    headers={**auth, "If-Match": etag},
                )
                for f in targets
            ]
        )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 1, [a.text for a in answers]
    # the others are refused: a stale version (412), a conflict (409) or, once the
    # winner is visible, a start that is not after the current attachment (422)
    assert set(codes) <= {200, 409, 412, 422}
    async with session_factory()() as s:
        current = await s.scalar(
            select(func.count()).where(Attachment.person_id == p.id, Attachment.end_on.is_(None))
        )
    assert current == 1


@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
)
async def test_a_into_b_and_b_into_a_at_once_merge_once(
    app, make_user, make_person, login, monkeypatch
):
    """Both merges pass the barrier before either locks a record, so they truly meet at
    the row locks: one merges, the other finds its records changed since it read them
    (412: the merged one now points at the survivor), none deadlocks
    (the records are locked in id order) or answers 5xx."""
    from salomat.domains.registry.service import merge as merge_module

    auth = await login(await make_user("registrar"))
    a, b = await make_person(), await make_person()
    barrier = asyncio.Barrier(2)
    locking = merge_module._load_for_update

    async def together(session, ids):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), 60)
        return await locking(session, ids)

    monkeypatch.setattr(merge_module, "_load_for_update", together)
    transport = httpx.ASGITransport(app=app, client=("10.9.9.6", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/persons/{stay.id}/merge",
                    json={
                        "merged_id": go.id,
                        "reason": "the same woman registered twice",
                        "survivor_version": 1,
                        "merged_version": 1,
                    },
                    headers=auth,
                )
                for stay, go in ((a, b), (b, a))
            ]
        )
    assert sorted(r.status_code for r in answers) == [200, 412], [r.text for r in answers]
    async with session_factory()() as s:
        merged = await s.scalars(
            select(Person.id).where(Person.id.in_([a.id, b.id]), Person.merged_into_id.is_not(None))
        )
        assert len(list(merged)) == 1
