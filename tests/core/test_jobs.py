"""Background jobs survive a restart, retry, resume where they stopped, and end visibly.

Each test registers kinds of its own (``test.<name>``) and runs only those, so jobs other
tests leave in the shared database never run here.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from salomat.core import jobs
from salomat.core.db import session_factory, utcnow
from salomat.core.errors import Conflict, NotFound

pytestmark = pytest.mark.anyio

calls: dict[str, list[int]] = {}


def _kind(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


async def _enqueue(kind: str, payload: dict | None = None) -> int:
    async with session_factory()() as s:
        job_id = await jobs.enqueue(s, kind, payload or {}, created_by="tester")
        await s.commit()
    return job_id


async def _get(job_id: int) -> jobs.JobView:
    async with session_factory()() as s:
        return await jobs.get(s, job_id)


async def test_a_queued_job_runs_once_and_keeps_its_result_and_progress():
    kind = _kind("echo")

    @jobs.handler(kind)
    async def echo(ctx: jobs.JobContext) -> dict:
        calls.setdefault(kind, []).append(ctx.attempt)
        await ctx.progress(3, total=3)
        return {"echo": ctx.payload["say"]}

    job_id = await _enqueue(kind, {"say": "salom"})
    queued = await _get(job_id)
    assert (queued.status, queued.attempts, queued.created_by) == ("queued", 0, "tester")

    assert await jobs.run_until_idle(only=[kind]) == 1
    done = await _get(job_id)
    assert (done.status, done.result, done.attempts) == ("done", {"echo": "salom"}, 1)
    assert (done.progress_done, done.progress_total, done.percent) == (3, 3, 100)
    assert done.finished_at is not None
    assert done.started_at is not None
    # nothing is due any more: a second run finds nothing
    assert await jobs.run_until_idle(only=[kind]) == 0
    assert calls[kind] == [1]


async def test_a_failing_job_is_retried_after_its_backoff_then_fails_visibly():
    kind = _kind("flaky")

    @jobs.handler(kind, max_attempts=2, backoff=(30,))
    async def flaky(ctx: jobs.JobContext) -> None:
        raise RuntimeError(f"the laboratory did not answer (attempt {ctx.attempt})")

    job_id = await _enqueue(kind)
    before = utcnow()
    assert await jobs.run_until_idle(only=[kind]) == 1
    first = await _get(job_id)
    assert first.status == "queued"
    assert first.attempts == 1
    assert "attempt 1" in (first.error or "")
    # not due before its backoff: the retry waits 30 s
    assert first.run_at >= before + timedelta(seconds=29)
    assert await jobs.run_until_idle(only=[kind]) == 0

    async with session_factory()() as s:  # the backoff has passed
        await s.execute(update(jobs.Job).where(jobs.Job.id == job_id).values(run_at=utcnow()))
        await s.commit()
    assert await jobs.run_until_idle(only=[kind]) == 1
    last = await _get(job_id)
    assert (last.status, last.attempts) == ("failed", 2)
    assert "attempt 2" in (last.error or "")
    assert last.finished_at is not None


async def test_a_permanent_failure_is_not_retried():
    kind = _kind("bad")

    @jobs.handler(kind, max_attempts=5)
    async def bad(ctx: jobs.JobContext) -> None:
        raise jobs.Permanent("the group asked for does not exist")

    job_id = await _enqueue(kind)
    await jobs.run_until_idle(only=[kind])
    view = await _get(job_id)
    assert (view.status, view.attempts, view.error) == (
        "failed",
        1,
        "the group asked for does not exist",
    )


async def _kill_worker(job_id: int) -> None:
    """What a killed worker leaves: the job running, its lease run out."""
    async with session_factory()() as s:
        await s.execute(
            update(jobs.Job)
            .where(jobs.Job.id == job_id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        await s.commit()


async def test_a_job_whose_worker_was_killed_resumes_from_its_checkpoint():
    kind = _kind("resumable")
    seen: list[tuple[int, dict | None]] = []

    @jobs.handler(kind, max_attempts=3)
    async def resumable(ctx: jobs.JobContext) -> dict:
        seen.append((ctx.attempt, ctx.checkpoint))
        start = (ctx.checkpoint or {}).get("next", 0)
        for i in range(start, 4):
            await ctx.progress(i + 1, total=4, checkpoint={"next": i + 1})
        return {"from": start}

    job_id = await _enqueue(kind)
    # worker A claims the job, saves progress to 2 and is killed (never finishes)
    async with session_factory()() as s:
        claimed = await jobs.claim(s, "worker-a", only=[kind])
        await s.commit()
    assert claimed is not None
    assert claimed.id == job_id
    ctx = jobs.JobContext(job_id, kind, {}, 1, None, "worker-a")
    await ctx.progress(2, total=4, checkpoint={"next": 2})
    # while A's lease holds, nobody else takes the job
    assert await jobs.run_one(worker="worker-b", only=[kind]) is None
    await _kill_worker(job_id)

    assert await jobs.run_one(worker="worker-b", only=[kind]) == job_id
    assert seen == [(2, {"next": 2})]
    view = await _get(job_id)
    assert (view.status, view.result, view.attempts) == ("done", {"from": 2}, 2)
    # worker A, back from the dead, can no longer write to the job
    with pytest.raises(jobs.Cancelled):
        await ctx.progress(3)


async def test_a_job_whose_worker_dies_on_every_attempt_ends_failed_and_says_why():
    kind = _kind("doomed")

    @jobs.handler(kind, max_attempts=2)
    async def doomed(ctx: jobs.JobContext) -> None:  # never reached: the worker "dies"
        raise AssertionError

    job_id = await _enqueue(kind)
    for attempt in (1, 2):
        async with session_factory()() as s:
            claimed = await jobs.claim(s, f"worker-{attempt}", only=[kind])
            await s.commit()
        assert claimed is not None
        assert claimed.attempts == attempt
        await _kill_worker(job_id)
    assert await jobs.run_one(only=[kind]) is None
    view = await _get(job_id)
    assert view.status == "failed"
    assert "stopped" in (view.error or "")


async def test_only_one_of_two_workers_claims_a_job():
    kind = _kind("once")

    @jobs.handler(kind)
    async def once(ctx: jobs.JobContext) -> None:
        return None

    job_id = await _enqueue(kind)
    factory = session_factory()
    async with factory() as a, factory() as b:
        first = await jobs.claim(a, "worker-a", only=[kind])
        await a.commit()
        second = await jobs.claim(b, "worker-b", only=[kind])
        await b.commit()
    assert first is not None
    assert first.id == job_id
    assert second is None


async def test_cancelling_stops_a_queued_job_and_a_running_one_at_its_next_progress():
    kind = _kind("long")
    reached: list[int] = []

    @jobs.handler(kind)
    async def long(ctx: jobs.JobContext) -> None:
        await ctx.progress(1, total=10)
        reached.append(1)
        async with ctx.session() as s:  # cancelled by someone while it runs
            await jobs.cancel(s, ctx.id)
            await s.commit()
        await ctx.progress(2)
        reached.append(2)

    queued = await _enqueue(kind)
    async with session_factory()() as s:
        assert (await jobs.cancel(s, queued)).status == "cancelled"
        await s.commit()
    assert await jobs.run_until_idle(only=[kind]) == 0

    running = await _enqueue(kind)
    assert await jobs.run_until_idle(only=[kind]) == 1
    assert reached == [1]
    assert (await _get(running)).status == "cancelled"
    async with session_factory()() as s:
        with pytest.raises(Conflict):
            await jobs.retry(s, running)
        with pytest.raises(NotFound):
            await jobs.cancel(s, 10**12)


async def test_a_failed_job_can_be_run_again_and_keeps_its_checkpoint():
    kind = _kind("again")
    tries: list[dict | None] = []

    @jobs.handler(kind, max_attempts=1)
    async def again(ctx: jobs.JobContext) -> None:
        tries.append(ctx.checkpoint)
        if len(tries) == 1:
            await ctx.progress(5, total=10, checkpoint={"next": 5})
            raise RuntimeError("disk full")

    job_id = await _enqueue(kind)
    await jobs.run_until_idle(only=[kind])
    assert (await _get(job_id)).status == "failed"
    async with session_factory()() as s:
        view = await jobs.retry(s, job_id)
        await s.commit()
    assert (view.status, view.attempts, view.error) == ("queued", 0, None)
    await jobs.run_until_idle(only=[kind])
    assert tries == [None, {"next": 5}]
    assert (await _get(job_id)).status == "done"


async def test_enqueueing_an_unknown_kind_is_a_programming_error():
    async with session_factory()() as s:
        with pytest.raises(KeyError):
            await jobs.enqueue(s, "test.no-such-kind", {})


async def test_of_workers_claiming_at_the_same_time_exactly_one_gets_the_job():
    """Whatever the interleaving (PostgreSQL: four connections at once), one claim wins:
    the claim is one conditional UPDATE of the job's row."""
    import asyncio

    kind = _kind("contended")

    @jobs.handler(kind)
    async def contended(ctx: jobs.JobContext) -> None:
        return None

    job_id = await _enqueue(kind)

    async def claim(name: str) -> jobs.JobView | None:
        async with session_factory()() as s:
            got = await jobs.claim(s, name, only=[kind])
            await s.commit()
            return got

    got = await asyncio.gather(*(claim(f"worker-{i}") for i in range(4)))
    winners = [g for g in got if g is not None]
    assert [w.id for w in winners] == [job_id]
    assert (await _get(job_id)).attempts == 1
