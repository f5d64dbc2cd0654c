"""Two conditional creates of one resource at once (PostgreSQL: real concurrency,
barriers, never timing): both have found no match when they insert; the database's
unique identifier keeps one, and both answers name it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.record import service as record
from salomat.domains.record.models import RecordIdentifier, RecordResource, RecordVersion
from salomat.domains.record.service import writes
from tests.domains.record.helpers import observation
from tests.factories import unique

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("conditional", [True, False])
async def test_two_creates_with_one_identifier_at_once_store_one(
    backend, db, shr, monkeypatch, conditional: bool
) -> None:
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    p = await shr.make_patient()
    value = unique("enc")
    body = observation(p.id, identifier=[{"system": shr.system, "value": value}])
    cond = [("identifier", f"{shr.system}|{value}")] if conditional else None

    barrier = asyncio.Barrier(2)
    owners = writes._identifier_owners

    async def both_have_looked(*args: Any, **kw: Any) -> Any:
        # each has looked for a resource with this identifier and found none
        out = await owners(*args, **kw)
        if not out and barrier.n_waiting < 2 and not barrier.broken:
            await asyncio.wait_for(barrier.wait(), timeout=60)
        return out

    monkeypatch.setattr(writes, "_identifier_owners", both_have_looked)

    async def send() -> Any:
        async with session_factory()() as session:
            try:
                out = await record.create_resource(
                    session, shr.hospital_doctor, body, if_none_exist=cond
                )
                await session.commit()
                return out
            except Exception as e:  # what the route would have turned into an answer
                await session.rollback()
                return e

    answers = await asyncio.wait_for(asyncio.gather(send(), send()), timeout=120)
    async with session_factory()() as s:
        stored = (
            await s.scalars(
                select(RecordIdentifier.resource_id).where(
                    RecordIdentifier.system == shr.system, RecordIdentifier.value == value
                )
            )
        ).all()
        rows = await s.scalar(
            select(func.count()).select_from(RecordResource).where(RecordResource.person_id == p.id)
        )
    assert len(stored) == 1
    assert rows == 1
    if conditional:
        assert not [a for a in answers if isinstance(a, Exception)], answers
        assert sorted(created for _, created in answers) == [False, True]
        assert {out.id for out, _ in answers} == {stored[0]}
    else:
        from salomat.core.errors import Conflict

        made = [a for a in answers if not isinstance(a, Exception)]
        refused = [a for a in answers if isinstance(a, Exception)]
        assert [out.id for out, _ in made] == [stored[0]]
        assert len(refused) == 1
        assert isinstance(refused[0], Conflict), refused
        assert f"shr-{stored[0]}" in str(refused[0])


@pytest.mark.parametrize("if_match", [1, None])
async def test_two_updates_of_one_resource_at_once_keep_one(
    backend, db, shr, monkeypatch, if_match: int | None
) -> None:
    """Both senders read version 1 and both pass the version check before either writes
    (barrier): the conditional ``UPDATE … WHERE version = 1`` lets one through, the
    other is refused 409 — never two version 2s, never a lost change written over."""
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    p = await shr.make_patient()
    async with session_factory()() as session:
        made, _ = await record.create_resource(session, shr.hospital_doctor, observation(p.id))
        await session.commit()

    barrier = asyncio.Barrier(2)
    owners = writes._identifier_owners
    calls = 0

    async def both_have_checked(*args: Any, **kw: Any) -> Any:
        # each has passed the version check and looked for identifier owners
        nonlocal calls
        calls += 1
        out = await owners(*args, **kw)
        if calls <= 2:
            await asyncio.wait_for(barrier.wait(), timeout=60)
        return out

    monkeypatch.setattr(writes, "_identifier_owners", both_have_checked)

    async def send(rate: int) -> Any:
        body = {
            **observation(p.id),
            "id": made.fhir_id,
            "valueQuantity": {"value": rate, "unit": "/min"},
        }
        async with session_factory()() as session:
            try:
                out = await record.update_resource(
                    session,
                    shr.hospital_doctor,
                    "Observation",
                    made.fhir_id,
                    body,
                    if_match=if_match,
                )
                await session.commit()
                return out
            except Exception as e:  # what the route would have turned into an answer
                await session.rollback()
                return e

    answers = await asyncio.wait_for(asyncio.gather(send(80), send(90)), timeout=120)
    from salomat.core.errors import Conflict

    done = [a for a in answers if not isinstance(a, Exception)]
    refused = [a for a in answers if isinstance(a, Exception)]
    assert len(done) == 1, answers
    assert len(refused) == 1, answers
    assert isinstance(refused[0], Conflict), refused
    assert done[0].version == 2
    async with session_factory()() as s:
        row = await s.get(RecordResource, made.id)
        versions = (
            await s.scalars(
                select(RecordVersion.version).where(RecordVersion.resource_id == made.id)
            )
        ).all()
    assert row.version == 2
    assert sorted(versions) == [1, 2]
    # the stored body is the change that was answered, not the refused one
    stored_rate = json.loads(row.body)["valueQuantity"]["value"]
    assert stored_rate == done[0].resource["valueQuantity"]["value"]
