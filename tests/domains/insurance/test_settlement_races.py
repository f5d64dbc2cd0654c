"""Closing a settlement races with closing it again and with recomputing it (PostgreSQL:
real concurrency; barriers and lock waits, never timing).

- Two reviewers close one draft at once, each having read it as a draft: one closes it,
  the other is told 409.
- A close arrives while the month is being recomputed, after the computation has read
  the settlement: what is closed is what is stored, the recomputed amounts (the close
  waits for the computation's row lock), never a closed settlement whose amounts changed
  under it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select, text

from salomat.core.db import session_factory
from salomat.core.errors import InvalidState
from salomat.core.security import Principal
from salomat.domains.insurance.models import Settlement
from salomat.domains.insurance.schemas.claims import DecisionIn
from salomat.domains.insurance.service import review, settlement
from tests.domains.insurance.claim_fixtures import line, register_death, submit

pytestmark = pytest.mark.anyio

#: KZ tariffs (insurance_services.csv), minor units
EMERG_CALL = 1_850_000
DIALYSIS = 4_120_000


async def _analyst(make_user: Any) -> Principal:
    acc = await make_user("insurance_analyst")
    return Principal(
        user_id=acc.id, username=acc.username, role="insurance_analyst", session_id="t"
    )


async def test_closing_a_closed_settlement_is_refused(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=2))])
    s = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    assert (await settlement.close_settlement(db, reviewer, s.id)).status == "closed"
    await db.commit()
    with pytest.raises(InvalidState) as e:
        await settlement.close_settlement(db, reviewer, s.id)
    assert e.value.status == 409
    await db.rollback()


async def test_two_closes_at_once_close_once(
    backend, kz, db, make_provider, make_insuree, make_user, fresh_month, monkeypatch
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=2))])
    first = await _analyst(make_user)
    s = await settlement.compute_settlement(db, first, p.facility.id, month)
    await db.commit()
    closers = [first, await _analyst(make_user)]

    barrier = asyncio.Barrier(2)
    load = settlement._load

    async def both_have_read(*args: Any, **kw: Any) -> Any:
        found = await load(*args, **kw)
        assert found.status == "draft"
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return found

    monkeypatch.setattr(settlement, "_load", both_have_read)

    async def close(who: Principal) -> object:
        async with session_factory()() as session:
            try:
                out = await settlement.close_settlement(session, who, s.id)
                await session.commit()
                return out
            except InvalidState as e:
                await session.rollback()
                return e

    answers = await asyncio.wait_for(asyncio.gather(*(close(w) for w in closers)), timeout=120)
    closed = [a for a in answers if not isinstance(a, Exception)]
    refused = [a for a in answers if isinstance(a, InvalidState)]
    assert len(closed) == 1, answers
    assert len(refused) == 1, answers
    assert refused[0].status == 409


async def _pid(session: Any) -> int:
    return int(await session.scalar(text("select pg_backend_pid()")))


async def _blocked_or_done(pid: int, task: asyncio.Task[Any]) -> None:
    """Until ``task`` ends or the backend ``pid`` waits for a lock another holds."""
    async with session_factory()() as watch:
        while not task.done():
            waiting = await watch.scalar(
                text("select wait_event_type from pg_stat_activity where pid = :pid"),
                {"pid": pid},
            )
            await watch.rollback()
            if waiting == "Lock":
                return
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("every_provider", [False, True], ids=["one", "month"])
async def test_a_close_while_the_month_is_recomputed_closes_what_is_stored(
    backend,
    kz,
    db,
    make_provider,
    make_insuree,
    reviewer,
    fresh_month,
    every_provider,
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", month + timedelta(days=3)),
            line(dead, "DIALYSIS", month + timedelta(days=4)),  # after death: waits
        ],
    )
    s = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    assert s.total == EMERG_CALL
    # the flagged line is accepted: the month's next computation pays both lines
    await review.decide_line(db, reviewer, out.lines[1].id, DecisionIn(decision="accept"))
    await db.commit()

    computing = session_factory()()
    closing = session_factory()()
    closer_pid = await _pid(closing)
    close_task: asyncio.Task[Any] | None = None
    run = computing.execute

    async def close() -> Any:
        try:
            answer = await settlement.close_settlement(closing, reviewer, s.id)
            await closing.commit()
            return answer
        except InvalidState as e:
            await closing.rollback()
            return e

    async def execute(statement: Any, *args: Any, **kw: Any) -> Any:
        """After the computation's first read of the settlement, a reviewer closes it:
        resume once the close has committed or waits for a lock this session holds."""
        nonlocal close_task
        result = await run(statement, *args, **kw)
        if (
            close_task is None
            and isinstance(statement, Select)
            and Settlement.__table__ in statement.get_final_froms()
        ):
            close_task = asyncio.create_task(close())
            await asyncio.wait_for(_blocked_or_done(closer_pid, close_task), timeout=60)
        return result

    computing.execute = execute  # type: ignore[method-assign]
    try:
        if every_provider:
            await settlement.compute_settlements(computing, reviewer, month)
        else:
            try:
                await settlement.compute_settlement(computing, reviewer, p.facility.id, month)
            except InvalidState:
                await computing.rollback()  # the close came first: it stays as it was
        await computing.commit()
        assert close_task is not None
        answer = await asyncio.wait_for(close_task, timeout=60)
    finally:
        await computing.close()
        await closing.close()

    assert not isinstance(answer, Exception), answer
    stored = await settlement.get_settlement(db, reviewer, s.id)
    assert stored.status == "closed"
    # what the close answered is what is stored and paid
    assert (stored.services, stored.total) == (answer.services, answer.total)
    # the close waited for the computation: both lines are paid
    assert stored.total == EMERG_CALL + DIALYSIS
