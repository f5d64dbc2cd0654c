"""Background jobs persisted in the database: bulk exports, subscription deliveries.

One mechanism for every kind of background work (DESIGN.md "Background work"): a job is a
row of ``job``, so it survives a restart of the server; ``salomat worker`` runs jobs, and
the server runs them in-process for the embedded default (``jobs_in_process``).

A worker *claims* a due job with one conditional UPDATE (``queued`` and due, or
``running`` with an expired lease): of two workers racing for a job, exactly one changes
the row, on SQLite and PostgreSQL alike. While it runs, the worker renews the lease; a
worker that is killed stops renewing, so after ``job_lease_seconds`` another worker takes
the job again and the handler resumes from the checkpoint it saved with
:meth:`JobContext.progress`. A job that failed ``max_attempts`` times, or whose worker died
that often, ends ``failed`` with the reason: visibly, never silently lost.

Why not procrastinate (DESIGN's first candidate): it runs on PostgreSQL only, and the
embedded default is SQLite; a second queue for SQLite would be two mechanisms to keep
right. The claim is the same single-statement idea procrastinate uses (a conditional
update of the job row), and the table is small enough to read in one screen
(docs/architecture.md "Background jobs").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.config import get_settings
from salomat.core.db import Base, UTCDateTime, session_factory, utcnow
from salomat.core.errors import N_, Conflict, NotFound

_log = logging.getLogger("salomat.jobs")

ID = BigInteger().with_variant(Integer, "sqlite")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
#: a job in one of these is over: nothing runs it again
FINISHED = frozenset({DONE, FAILED, CANCELLED})


class Job(Base):
    __tablename__ = "job"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    #: what the handler is asked to do (JSON)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    #: not before this instant (a retry's backoff, a scheduled run)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_done: Mapped[int] = mapped_column(ID, default=0)
    progress_total: Mapped[int | None] = mapped_column(ID)
    #: where a resumed run carries on (JSON, the handler's own)
    checkpoint: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    #: who asked for it (a username), for the operations page
    created_by: Mapped[str | None] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_job_status_run_at", "status", "run_at"),
        Index("ix_job_kind_created_at", "kind", "created_at"),
    )


# ---- what a handler sees -------------------------------------------------------------


class Permanent(Exception):
    """A handler's failure that no retry can mend (bad payload, a resource gone)."""


class Cancelled(Exception):
    """The job was cancelled while it ran (:meth:`JobContext.progress` raises it)."""


@dataclass
class JobContext:
    id: int
    kind: str
    payload: dict[str, Any]
    #: 1 on the first run; a resumed or retried run sees more
    attempt: int
    checkpoint: dict[str, Any] | None
    worker: str
    url: str | None = None

    def session(self) -> AsyncSession:
        """A new session on the job's database (``async with ctx.session() as s``)."""
        return session_factory(self.url)()

    async def progress(
        self, done: int, total: int | None = None, checkpoint: dict[str, Any] | None = None
    ) -> None:
        """Save how far the job got (and where a resumed run carries on); renew the lease.

        Raises :class:`Cancelled` when the job was cancelled meanwhile, or when another
        worker took it over (this one's lease had run out): the handler stops.
        """
        values: dict[str, Any] = {
            "progress_done": done,
            "locked_until": utcnow() + _lease(),
        }
        if total is not None:
            values["progress_total"] = total
        if checkpoint is not None:
            values["checkpoint"] = json.dumps(checkpoint)
            self.checkpoint = checkpoint
        async with self.session() as s:
            res = await s.execute(
                update(Job)
                .where(Job.id == self.id, Job.status == RUNNING, Job.locked_by == self.worker)
                .values(**values)
            )
            await s.commit()
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise Cancelled(f"job {self.id} was cancelled or taken over")


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Handler
    max_attempts: int
    #: seconds to wait before attempt n+1 (the last value repeats)
    backoff: tuple[float, ...]

    def delay(self, attempts: int) -> float:
        return self.backoff[min(attempts, len(self.backoff)) - 1] if attempts else 0.0


_kinds: dict[str, Kind] = {}


def handler(
    kind: str, *, max_attempts: int = 5, backoff: Sequence[float] = (5, 30, 120, 600, 3600)
) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind`` (at import of its module)."""

    def register(fn: Handler) -> Handler:
        _kinds[kind] = Kind(kind, fn, max_attempts, tuple(backoff))
        return fn

    return register


def kinds() -> frozenset[str]:
    return frozenset(_kinds)


# ---- enqueue and read ----------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    progress_done: int
    progress_total: int | None
    result: dict[str, Any] | None
    error: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_at: datetime
    checkpoint: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def percent(self) -> int | None:
        if self.status == DONE:
            return 100
        if not self.progress_total:
            return None
        return min(99, int(100 * self.progress_done / self.progress_total))


def _view(j: Job) -> JobView:
    return JobView(
        id=j.id,
        kind=j.kind,
        status=j.status,
        payload=json.loads(j.payload),
        attempts=j.attempts,
        max_attempts=j.max_attempts,
        progress_done=j.progress_done,
        progress_total=j.progress_total,
        result=json.loads(j.result) if j.result else None,
        error=j.error,
        created_by=j.created_by,
        created_at=j.created_at,
        started_at=j.started_at,
        finished_at=j.finished_at,
        run_at=j.run_at,
        checkpoint=json.loads(j.checkpoint) if j.checkpoint else None,
    )


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    created_by: str | None = None,
    run_at: datetime | None = None,
) -> int:
    """Queue a job in the caller's unit of work: it exists once that commits, not before."""
    spec = _kinds.get(kind)
    if spec is None:
        raise KeyError(f"no handler registered for job kind {kind!r}")
    now = utcnow()
    job = Job(
        kind=kind,
        payload=json.dumps(payload),
        status=QUEUED,
        attempts=0,
        max_attempts=spec.max_attempts,
        run_at=run_at or now,
        progress_done=0,
        created_by=created_by,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    return job.id


async def get(session: AsyncSession, job_id: int) -> JobView:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(N_("Job %(id)s not found."), params={"id": job_id})
    return _view(job)


async def get_many(session: AsyncSession, ids: Iterable[int]) -> dict[int, JobView]:
    ids = list(ids)
    if not ids:
        return {}
    rows = (await session.scalars(select(Job).where(Job.id.in_(ids)))).all()
    return {j.id: _view(j) for j in rows}


async def recent(
    session: AsyncSession,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[JobView], int]:
    """The newest jobs first, and how many there are (for the operations page)."""
    where = []
    if kind:
        where.append(Job.kind == kind)
    if status:
        where.append(Job.status == status)
    total = await session.scalar(select(func.count()).select_from(Job).where(*where))
    rows = await session.scalars(
        select(Job).where(*where).order_by(Job.id.desc()).limit(limit).offset(offset)
    )
    return [_view(j) for j in rows], int(total or 0)


async def counts(session: AsyncSession) -> dict[str, int]:
    """How many jobs are in each status."""
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    found = {status: int(n) for status, n in rows}
    return {s: found.get(s, 0) for s in STATUSES}


async def cancel(session: AsyncSession, job_id: int) -> JobView:
    """Stop a job: a queued one never runs; a running one stops at its next progress."""
    res = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_((QUEUED, RUNNING)))
        .values(status=CANCELLED, finished_at=utcnow(), locked_until=None)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        view = await get(session, job_id)  # NotFound if there is none
        if view.status != CANCELLED:
            raise Conflict(
                N_("Job %(id)s has ended (%(status)s); there is nothing to cancel."),
                params={"id": job_id, "status": view.status},
            )
    return await get(session, job_id)


async def retry(session: AsyncSession, job_id: int) -> JobView:
    """Run a failed job again from where it stopped (its checkpoint is kept)."""
    res = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == FAILED)
        .values(
            status=QUEUED,
            run_at=utcnow(),
            attempts=0,
            error=None,
            finished_at=None,
            locked_by=None,
            locked_until=None,
        )
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        view = await get(session, job_id)
        raise Conflict(
            N_("Only a failed job can be run again; job %(id)s is %(status)s."),
            params={"id": job_id, "status": view.status},
        )
    return await get(session, job_id)


# ---- running -------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=get_settings().job_lease_seconds)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.status == QUEUED, Job.run_at <= now),
        and_(Job.status == RUNNING, Job.locked_until < now),
    )


async def _give_up_on_dead(session: AsyncSession, now: datetime) -> None:
    """Jobs whose worker died while running them as often as they may be tried: failed."""
    await session.execute(
        update(Job)
        .where(Job.status == RUNNING, Job.locked_until < now, Job.attempts >= Job.max_attempts)
        .values(
            status=FAILED,
            finished_at=now,
            locked_until=None,
            error=func.coalesce(Job.error, "")
            + "The worker running it stopped (killed or restarted) on every attempt.",
        )
    )


async def claim(
    session: AsyncSession, worker: str, *, only: Iterable[str] | None = None
) -> JobView | None:
    """Take the next due job for ``worker``, or None. The caller commits."""
    now = utcnow()
    await _give_up_on_dead(session, now)
    known = set(only) if only is not None else set(_kinds)
    if not known:
        return None
    cond = and_(_claimable(now), Job.kind.in_(sorted(known)))
    ids = (
        await session.scalars(select(Job.id).where(cond).order_by(Job.run_at, Job.id).limit(8))
    ).all()
    for job_id in ids:
        res = await session.execute(
            update(Job)
            .where(Job.id == job_id, cond)
            .values(
                status=RUNNING,
                locked_by=worker,
                locked_until=now + _lease(),
                attempts=Job.attempts + 1,
                started_at=func.coalesce(Job.started_at, now),
            )
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            job = await session.get(Job, job_id, populate_existing=True)
            assert job is not None
            return _view(job)
    return None


async def _finish(url: str | None, job_id: int, worker: str, **values: Any) -> None:
    async with session_factory(url)() as s:
        await s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == RUNNING, Job.locked_by == worker)
            .values(locked_until=None, **values)
        )
        await s.commit()


async def _renew(url: str | None, job_id: int, worker: str) -> None:
    every = max(0.05, get_settings().job_lease_seconds / 3)
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # a missed renewal only shortens the lease
            async with session_factory(url)() as s:
                await s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == RUNNING, Job.locked_by == worker)
                    .values(locked_until=utcnow() + _lease())
                )
                await s.commit()


async def run_one(
    *, worker: str | None = None, only: Iterable[str] | None = None, url: str | None = None
) -> int | None:
    """Claim and run one due job; its id, or None when nothing was due."""
    worker = worker or worker_name()
    async with session_factory(url)() as s:
        job = await claim(s, worker, only=only)
        await s.commit()
    if job is None:
        return None
    spec = _kinds[job.kind]
    ctx = JobContext(
        id=job.id,
        kind=job.kind,
        payload=job.payload,
        attempt=job.attempts,
        checkpoint=job.checkpoint,
        worker=worker,
        url=url,
    )
    renewing = asyncio.create_task(_renew(url, job.id, worker))
    try:
        result = await spec.handler(ctx)
    except Cancelled:
        _log.info("job %s (%s) stopped: cancelled or taken over", job.id, job.kind)
    except Permanent as e:
        _log.warning("job %s (%s) failed for good: %s", job.id, job.kind, e)
        await _finish(url, job.id, worker, status=FAILED, error=str(e), finished_at=utcnow())
    except Exception as e:
        _log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
        reason = f"{type(e).__name__}: {e}"[:2000]
        if job.attempts >= spec.max_attempts:
            await _finish(url, job.id, worker, status=FAILED, error=reason, finished_at=utcnow())
        else:
            later = utcnow() + timedelta(seconds=spec.delay(job.attempts))
            await _finish(url, job.id, worker, status=QUEUED, error=reason, run_at=later)
    else:
        values: dict[str, Any] = {"status": DONE, "finished_at": utcnow(), "error": None}
        if result is not None:
            values["result"] = json.dumps(result)
        await _finish(url, job.id, worker, **values)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
    return job.id


async def run_until_idle(
    *, only: Iterable[str] | None = None, url: str | None = None, limit: int = 10_000
) -> int:
    """Run due jobs until none is left (a retry's later run is not waited for)."""
    ran = 0
    while ran < limit and await run_one(only=only, url=url) is not None:
        ran += 1
    return ran


#: the events of the workers running in this process (one event loop each)
_wakers: set[asyncio.Event] = set()


def wake() -> None:
    """Tell the in-process workers that a job was just committed (no wait for a poll)."""
    for event in list(_wakers):
        event.set()


async def work(
    stop: asyncio.Event | None = None,
    *,
    only: Iterable[str] | None = None,
    url: str | None = None,
    poll: float | None = None,
) -> None:
    """Run jobs until ``stop`` is set: ``salomat worker`` and the in-process runner."""
    stop = stop or asyncio.Event()
    poll = get_settings().job_poll_seconds if poll is None else poll
    worker = worker_name()
    woken = asyncio.Event()
    _wakers.add(woken)
    try:
        await _work(stop, woken, worker, only, url, poll)
    finally:
        _wakers.discard(woken)


async def _work(
    stop: asyncio.Event,
    woken: asyncio.Event,
    worker: str,
    only: Iterable[str] | None,
    url: str | None,
    poll: float,
) -> None:
    while not stop.is_set():
        # cleared before looking, not after: a wake() while this claim runs (a job committed
        # just after the claim's query) is not lost until the next poll
        woken.clear()
        try:
            ran = await run_one(worker=worker, only=only, url=url)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database away for a moment: try again at the next poll
            _log.exception("the job worker could not claim a job; retrying")
            ran = None
        if ran is not None:
            continue
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(woken.wait())]
        try:
            await asyncio.wait(waits, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waits:
                t.cancel()
