"""A closed settlement is paid as it stands: nothing changes what it counted afterwards.

- A decision on a line of a provider's closed month, and a new claim for that month, are
  refused (409, naming the month); the nightly controls leave that provider's lines as
  they were paid (another provider's line of the month is still flagged).
- PostgreSQL (real concurrency; lock waits seen through ``pg_blocking_pids``, never
  timing): a close that comes while a decision is being stored waits for it and pays it;
  a decision that comes while a close is being stored waits for it and is refused.
- The month's settlements are locked in facility order, and new ones inserted in that
  order, so two computations of a month wait for each other instead of deadlocking.

Amounts by hand from KZ/insurance_services.csv (minor units): EMERG-CALL 18 500.00 =
1 850 000; DIALYSIS 41 200.00 = 4 120 000.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from salomat.core.db import session_factory
from salomat.core.errors import InvalidState
from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.schemas.claims import ClaimIn, DecisionIn
from salomat.domains.insurance.service import claims, control, review, settlement
from tests.domains.insurance.claim_fixtures import line, register_death, submit
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio

EMERG_CALL = 1_850_000
DIALYSIS = 4_120_000


async def _closed(db: Any, reviewer: Any, facility_id: int, month: Any) -> Any:
    s = await settlement.compute_settlement(db, reviewer, facility_id, month)
    await db.commit()
    closed = await settlement.close_settlement(db, reviewer, s.id)
    await db.commit()
    return closed


async def test_a_closed_month_takes_no_decision_and_no_new_claim(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", month + timedelta(days=3)),
            line(dead, "DIALYSIS", month + timedelta(days=4)),  # after death: flagged
        ],
    )
    assert out.lines[1].status == "flagged"
    closed = await _closed(db, reviewer, p.facility.id, month)
    assert (closed.services, closed.pending_lines) == (EMERG_CALL, 1)

    with pytest.raises(InvalidState) as e:
        await review.decide_line(db, reviewer, out.lines[1].id, DecisionIn(decision="accept"))
    await db.rollback()
    assert e.value.status == 409
    assert e.value.detail == (f"The settlement of {month:%m.%Y} for this provider is closed.")
    assert (await db.get(ClaimLine, out.lines[1].id)).status == "flagged"  # type: ignore[union-attr]

    with pytest.raises(InvalidState) as e:
        await claims.submit_claim(
            db,
            p.principal,
            ClaimIn.model_validate(
                {"lines": [line(person, "DIALYSIS", month + timedelta(days=9))]}
            ),
        )
    await db.rollback()
    assert e.value.status == 409
    assert [c.id for c in await claims.list_claims(db, p.principal, month=month)] == [out.id]

    # another provider's month is still open: its claim is taken
    other = await submit(
        db, await make_provider(), [line(person, "DIALYSIS", month + timedelta(days=9))]
    )
    assert other.lines[0].status == "entered"


async def test_the_api_and_the_review_page_answer_409_for_a_closed_month(
    kz, client, db, make_provider, make_insuree, reviewer, make_user, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    dead = await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    out = await submit(db, p, [line(dead, "DIALYSIS", month + timedelta(days=4))])
    await _closed(db, reviewer, p.facility.id, month)
    csrf = await web_login(client, await make_user("insurance_analyst"))
    r = await client.post(
        f"/insurance/review/lines/{out.lines[0].id}",
        data={"csrf_token": csrf, "decision": "accept", "amount_approved": "", "reason": ""},
    )
    assert r.status_code == 409, r.text[:300]
    assert 'data-testid="review-error"' in r.text
    assert (await db.get(ClaimLine, out.lines[0].id)).status == "flagged"  # type: ignore[union-attr]


async def test_the_nightly_controls_leave_a_closed_month_as_it_was_paid(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    """Two providers claim services on the 6th for a person whose death on the 2nd is
    registered only afterwards; one provider's month is then closed. The nightly run
    flags the open provider's line (after_death) and leaves the paid one entered."""
    month = fresh_month()
    paid, still_open = await make_provider(), await make_provider()
    person = await make_insuree()
    a = await submit(db, paid, [line(person, "EMERG-CALL", month + timedelta(days=5))])
    b = await submit(db, still_open, [line(person, "DIALYSIS", month + timedelta(days=5))])
    await register_death(db, person, month + timedelta(days=1))
    closed = await _closed(db, reviewer, paid.facility.id, month)
    assert closed.services == EMERG_CALL

    run = await control.run_controls(db, month)
    await db.commit()
    assert (run.fired["after_death"], run.newly_flagged) == (1, 1)
    assert (await db.get(ClaimLine, a.lines[0].id)).status == "entered"  # type: ignore[union-attr]
    flagged = await db.get(ClaimLine, b.lines[0].id)
    assert flagged is not None
    assert flagged.status == "flagged"
    assert [f["rule"] for f in flagged.flags] == ["after_death"]


# ---- PostgreSQL: a decision and a close at once ----------------------------------------


async def _pid(session: Any) -> int:
    return int(await session.scalar(text("select pg_backend_pid()")))


async def _blocked_by(holder_pid: int, task: asyncio.Task[Any]) -> None:
    """Until another backend waits on a lock the holder's backend keeps; the second
    request ending without waiting is the defect, reported with what it gave."""
    async with session_factory()() as s:
        while True:
            if task.done():
                raise AssertionError(
                    "the second request ended without waiting on the first one's lock: "
                    f"{task.exception() or task.result()!r}"
                )
            waiting = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :holder = ANY(pg_blocking_pids(pid))"
                ),
                {"holder": holder_pid},
            )
            await s.rollback()
            if waiting:
                return
            await asyncio.sleep(0.01)


async def _second_waits_for_first(first: Any, second: Awaitable[Any]) -> Any:
    """``first`` (a session) holds its uncommitted write; ``second`` starts, is seen
    waiting on ``first``'s lock, then ``first`` commits; the second's outcome."""
    holder = await _pid(first)
    task = asyncio.ensure_future(second)
    try:
        await asyncio.wait_for(_blocked_by(holder, task), timeout=120)
        await asyncio.wait_for(first.commit(), timeout=60)
        return await asyncio.wait_for(task, timeout=120)
    finally:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(first.close(), timeout=30)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _month_with_a_flagged_line(db: Any, make_provider: Any, make_insuree: Any, month: Any):  # type: ignore[no-untyped-def]
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", month + timedelta(days=3)),
            line(dead, "DIALYSIS", month + timedelta(days=4)),
        ],
    )
    return p, out.lines[1].id


async def test_a_close_during_a_decision_waits_and_pays_it(
    backend, kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p, flagged = await _month_with_a_flagged_line(db, make_provider, make_insuree, month)
    draft = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    assert draft.services == EMERG_CALL  # the flagged line waits

    deciding = session_factory()()
    await review.decide_line(deciding, reviewer, flagged, DecisionIn(decision="accept"))

    async def close() -> Any:
        async with session_factory()() as s:
            out = await settlement.close_settlement(s, reviewer, draft.id)
            await s.commit()
            return out

    closed = await _second_waits_for_first(deciding, close())
    assert closed.status == "closed"
    # the close counted the decision that committed while it waited
    assert (closed.services, closed.total, closed.pending_lines) == (
        EMERG_CALL + DIALYSIS,
        EMERG_CALL + DIALYSIS,
        0,
    )
    stored = await settlement.get_settlement(db, reviewer, draft.id)
    assert (stored.status, stored.total) == ("closed", EMERG_CALL + DIALYSIS)


async def test_a_decision_during_a_close_waits_and_is_refused(
    backend, kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p, flagged = await _month_with_a_flagged_line(db, make_provider, make_insuree, month)
    draft = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()

    closing = session_factory()()
    await settlement.close_settlement(closing, reviewer, draft.id)

    async def decide() -> Any:
        async with session_factory()() as s:
            try:
                out = await review.decide_line(s, reviewer, flagged, DecisionIn(decision="accept"))
                await s.commit()
                return out
            except InvalidState as e:
                await s.rollback()
                return e

    answer = await _second_waits_for_first(closing, decide())
    assert isinstance(answer, InvalidState), answer
    assert answer.status == 409
    row = (await db.execute(select(ClaimLine.status).where(ClaimLine.id == flagged))).scalar()
    assert row == "flagged"
    stored = await settlement.get_settlement(db, reviewer, draft.id)
    assert (stored.status, stored.total, stored.pending_lines) == ("closed", EMERG_CALL, 1)


async def test_a_claim_during_a_close_waits_and_is_refused(
    backend, kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=3))])
    draft = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()

    closing = session_factory()()
    await settlement.close_settlement(closing, reviewer, draft.id)

    async def send() -> Any:
        async with session_factory()() as s:
            try:
                data = ClaimIn.model_validate(
                    {"lines": [line(person, "DIALYSIS", month + timedelta(days=8))]}
                )
                out = await claims.submit_claim(s, p.principal, data)
                await s.commit()
                return out
            except InvalidState as e:
                await s.rollback()
                return e

    answer = await _second_waits_for_first(closing, send())
    assert isinstance(answer, InvalidState), answer
    stored = await settlement.get_settlement(db, reviewer, draft.id)
    assert (stored.status, stored.total) == ("closed", EMERG_CALL)


# ---- two computations of a month ----------------------------------------------------------


async def test_a_month_is_locked_and_inserted_in_facility_order(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    """The lock statement orders its rows by facility (PostgreSQL takes row locks in the
    order it reads them), and the new rows go in by facility."""
    from sqlalchemy import event

    month = fresh_month()
    person = await make_insuree()
    providers = [await make_provider() for _ in range(3)]
    for p in reversed(providers):  # claims sent in the reverse order of the facilities
        await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=2))])
    engine = db.bind.sync_engine if hasattr(db.bind, "sync_engine") else db.bind
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "ins_settlement" in statement:
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        await settlement.compute_settlements(db, reviewer, month)
        await db.commit()
        await settlement.compute_settlements(db, reviewer, month)
        await db.commit()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    if db.bind.dialect.name == "postgresql":  # SQLite has no row locks to order
        locks = [s for s in seen if "FOR UPDATE" in s]
        assert len(locks) == 2, seen
        assert all("ORDER BY ins_settlement.facility_id" in s for s in locks), locks
    # the rows went in by facility: their ids ascend with the facility's
    mine = {p.facility.id for p in providers}
    rows = [x for x in await settlement.list_settlements(db, reviewer, month=month)]
    ours = sorted((x.facility_id, x.id) for x in rows if x.facility_id in mine)
    assert [i for _, i in ours] == sorted(i for _, i in ours)
