"""20 reviewers deciding one claim line at once: exactly one decision is stored, the
other 19 are told 409 (PostgreSQL: real concurrency).

Every reviewer's session has read the line before any of them writes (a barrier holds
all 20 after the read), so the race happens every run; the conditional UPDATE on the
line's status decides it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.core.errors import Conflict
from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.schemas.claims import DecisionIn
from salomat.domains.insurance.service import review
from tests.domains.insurance.claim_fixtures import line, submit

pytestmark = pytest.mark.anyio

N = 20


async def test_twenty_concurrent_reviews_store_one_decision(
    backend, kz, db, make_provider, make_insuree, make_user, fresh_month, monkeypatch
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    out = await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=1))])
    line_id = out.lines[0].id
    reviewers = []
    for _ in range(N):
        acc = await make_user("insurance_analyst")
        reviewers.append(
            Principal(
                user_id=acc.id, username=acc.username, role="insurance_analyst", session_id="t"
            )
        )

    barrier = asyncio.Barrier(N)
    read = review._load_line

    async def all_have_read(*args, **kw):  # type: ignore[no-untyped-def]
        found = await read(*args, **kw)
        assert found.status == "entered"
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return found

    monkeypatch.setattr(review, "_load_line", all_have_read)

    async def decide(i: int) -> object:
        data = (
            DecisionIn(decision="accept")
            if i % 2 == 0
            else DecisionIn(decision="reject", reason=f"reviewer {i}")
        )
        async with session_factory()() as s:
            try:
                r = await review.decide_line(s, reviewers[i], line_id, data)
                await s.commit()
                return r
            except Conflict as e:
                await s.rollback()
                return e

    answers = await asyncio.wait_for(asyncio.gather(*(decide(i) for i in range(N))), timeout=120)
    won = [a for a in answers if not isinstance(a, Exception)]
    lost = [a for a in answers if isinstance(a, Conflict)]
    assert len(won) == 1, answers
    assert len(lost) == N - 1, answers
    assert all(e.status == 409 for e in lost)

    db.expire_all()
    stored = await db.get(ClaimLine, line_id)
    assert stored is not None
    assert stored.status == won[0].status  # type: ignore[attr-defined]
    assert stored.decided_by == won[0].decided_by  # type: ignore[attr-defined]
    assert stored.version == 2  # changed once
    decisions = (
        await db.execute(
            select(AuditEvent.username).where(
                AuditEvent.resource_id == f"line-{line_id}", AuditEvent.action == "update"
            )
        )
    ).scalars()
    assert list(decisions) == [stored.decided_by]
