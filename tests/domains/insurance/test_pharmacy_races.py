"""Two of the fund's analysts approve different lines of one pharmacy claim at once
(PostgreSQL: real concurrency; the second seen waiting on the first's lock through
``pg_blocking_pids``, never timing): the fund's pharmacy claim then counts both lines.

Each review sums the claim's lines for the fund; summed in each one's own snapshot, the
later writer used to store a total without the other's decision.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import select, text, update

from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.insurance.models import PharmacyClaim
from salomat.domains.prescription.models import ClaimLine as PharmacyLine
from salomat.domains.prescription.schemas import ClaimReviewIn

pytestmark = pytest.mark.anyio


async def _pid(session: Any) -> int:
    return int(await session.scalar(text("select pg_backend_pid()")))


async def _blocked_by(holder_pid: int, task: asyncio.Task[Any]) -> None:
    async with session_factory()() as s:
        while True:
            if task.done():
                raise AssertionError(
                    "the second review ended without waiting on the first one's lock: "
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


async def test_two_reviews_of_one_pharmacy_claim_at_once_both_count(
    backend, db, make_facility, make_person, reviewer
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    from salomat.domains.prescription import service as prescription
    from tests.domains.prescription.claim_rows import dispense, last_month, make_rx

    clinic = await make_facility()
    pharmacy = await make_facility("pharmacy")
    person = await make_person()
    rx = await make_rx(db, person.id, clinic.id)
    await dispense(db, rx, pharmacy.id, amount=25_000)
    await dispense(db, rx, pharmacy.id, amount=40_000, at=last_month(day=12))
    pharmacist = Principal(
        user_id=0, username="ph", role="pharmacist", session_id="t", facility_id=pharmacy.id
    )
    (claim,) = await prescription.list_claims(db, pharmacist)
    # both lines wait for the fund's analyst (as a rule would have flagged them)
    await db.execute(
        update(PharmacyLine).where(PharmacyLine.claim_id == claim.id).values(status="flagged")
    )
    await prescription.submit_claim(db, pharmacist, claim.id)
    await db.commit()
    fund = (
        await db.execute(select(PharmacyClaim).where(PharmacyClaim.source_claim_id == claim.id))
    ).scalar_one()
    assert (fund.claimed, fund.approved) == (65_000, 0)
    first, second = (await prescription.get_claim(db, reviewer, claim.id)).lines

    holding = session_factory()()
    holder = await _pid(holding)
    await prescription.review_claim_line(
        holding, reviewer, first.id, ClaimReviewIn(decision="approve")
    )

    async def review_second() -> Any:
        async with session_factory()() as s:
            out = await prescription.review_claim_line(
                s, reviewer, second.id, ClaimReviewIn(decision="approve")
            )
            await s.commit()
            return out

    task = asyncio.ensure_future(review_second())
    try:
        await asyncio.wait_for(_blocked_by(holder, task), timeout=120)
        await asyncio.wait_for(holding.commit(), timeout=60)
        assert (await asyncio.wait_for(task, timeout=120)).status == "approved"
    finally:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(holding.close(), timeout=30)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    await db.rollback()
    fund = (
        await db.execute(
            select(PharmacyClaim)
            .where(PharmacyClaim.source_claim_id == claim.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert (fund.claimed, fund.approved) == (65_000, 65_000)
