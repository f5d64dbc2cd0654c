"""Tamper evidence for the audit trail: the sealed hash chain and its verification.

Each audit row carries ``row_hash``, the SHA-256 of what the application wrote,
computed as the row is built (``core.audit``). The chain that links each row to
the one before comes *after the fact*: ``seal`` appends to ``audit_seal``, in id
order, ``hash = SHA-256(previous hash + the row as stored)``. Computing it at
insert time would need the previous row, and on PostgreSQL many requests insert
at once and commit in any order: every request would queue on one lock until
its commit. Sealing later costs the request nothing.

"Previous row" is well defined because ``seal`` only chains rows that can no
longer be joined by a lower id: on PostgreSQL it notes the highest id, then
waits until every transaction that was writing ``audit_event`` at that moment
(``pg_locks``) has ended; ids are handed out in order (the sequence has no
per-session cache), so nothing at or below that id can appear afterwards. SQLite
has one writer at a time: whatever a reader sees has no gap still to fill.

``verify`` reads the chain and the rows side by side and names each row that
was altered (its content no longer matches ``row_hash``, or the row no longer
matches its seal), removed (sealed, but gone) or slipped in (not sealed though
later rows are). Rows written since the last seal are checked against their
own ``row_hash`` only; a deleted row that was never sealed leaves no trace (ids
have gaps anyway: a rolled-back insert also consumes one).

Whoever may rewrite both the rows and the chain (a superuser, the owner of the
tables) can forge a consistent history: ``core.db_roles`` makes the roles that
keep the application from doing so and says when the app runs with such rights;
the head hash that ``seal`` prints is worth keeping outside the database
(docs/operations.md, "Audit trail").
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.audit import CANONICAL, CONTENT, AuditEvent, AuditSeal, content_hash
from salomat.core.db import dialect_name, dispose_engines, session_factory
from salomat.core.errors import Conflict

EVENTS = AuditEvent.__table__
SEALS = AuditSeal.__table__
#: the hash the first sealed row is chained to
GENESIS = hashlib.sha256(b"salomat audit chain v1").digest()
#: pg_advisory_xact_lock key of ``seal``: one sealer at a time ("SALOMAT" in ASCII)
SEAL_LOCK = 0x53414C_4F4D4154
#: a ``Progress`` callback: rows done so far
Progress = Callable[[int], None]


# ---- the hash chain -----------------------------------------------------------------


def _utc_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sealed_form(row: Mapping[str, Any]) -> bytes:
    """Every column of a stored row as canonical JSON: what the chain hashes."""
    digest = row["row_hash"]
    values = [
        row["id"],
        _utc_text(row["occurred_at"]),
        None if digest is None else bytes(digest).hex(),
        *(row[c] for c in CONTENT),
    ]
    return CANONICAL.encode(values).encode()


def link(previous: bytes, row: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(bytes(previous) + sealed_form(row)).digest()


def content_altered(row: Mapping[str, Any]) -> bool:
    """The row's content no longer matches the hash written with it."""
    return row["row_hash"] is not None and bytes(row["row_hash"]) != content_hash(row)


@dataclass(frozen=True)
class Finding:
    """One audit row that is not as it was written."""

    event_id: int
    problem: str  # altered | changed-after-seal | removed | slipped-in
    row: str = ""

    def describe(self) -> str:
        what = {
            "altered": "altered: its content no longer matches the hash written with it",
            "changed-after-seal": "altered after it was sealed: it no longer matches its seal "
            "(its time, its hash, or its content and hash together were changed; or the seal "
            "entry before it was removed)",
            "removed": "missing: it was sealed, and it is no longer in the audit trail",
            "slipped-in": "not sealed although later rows are: it was inserted afterwards "
            "with an old id, or its seal entry was removed",
        }[self.problem]
        return f"audit row {self.event_id} {what}" + (f" [{self.row}]" if self.row else "")


def _summary(row: Mapping[str, Any]) -> str:
    target = row["resource_type"] + (f"/{row['resource_id']}" if row["resource_id"] else "")
    who = row["username"] or "-"
    return f"{_utc_text(row['occurred_at'])} {who} {row['action']} {target}"


# ---- sealing ------------------------------------------------------------------------


@dataclass
class SealReport:
    sealed: int = 0
    head_id: int | None = None
    head_hash: bytes | None = None
    #: rows whose content did not match their own hash when they were sealed
    altered: list[Finding] = field(default_factory=list)
    #: PostgreSQL backends whose transactions kept this run from sealing (timed out)
    waiting_for: list[int] = field(default_factory=list)


_WRITERS = """
SELECT DISTINCT l.virtualtransaction, l.pid FROM pg_locks l
WHERE l.locktype = 'relation' AND l.relation = 'audit_event'::regclass
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                 'AccessExclusiveLock')
  AND l.pid IS DISTINCT FROM pg_backend_pid()
"""


async def _settled_id(session: AsyncSession, wait_seconds: float) -> tuple[int | None, list[int]]:
    """The highest id at or below which no audit row can still appear (None: the
    transactions still writing did not end in ``wait_seconds``; their backends).

    Only reads: its transactions end at once (a long one would hold a lock that a
    migration's ALTER would queue behind, and every insert behind that).
    """
    highest = int((await session.execute(select(func.max(EVENTS.c.id)))).scalar() or 0)
    if dialect_name(session) != "postgresql":
        await session.rollback()
        return highest, []
    writers = (await session.execute(text(_WRITERS))).all()
    await session.rollback()
    pending = sorted({w.virtualtransaction for w in writers})
    deadline = time.monotonic() + wait_seconds
    pause = 0.01
    while pending:
        rows = (
            await session.execute(
                text(_WRITERS + " AND l.virtualtransaction = ANY(:pending)"),
                {"pending": pending},
            )
        ).all()
        await session.rollback()
        pending = sorted({r.virtualtransaction for r in rows})
        if not pending:
            break
        if time.monotonic() >= deadline:
            return None, sorted({r.pid for r in rows if r.pid is not None})
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    return highest, []


async def _seal_batch(
    session: AsyncSession, up_to: int | None, limit: int, report: SealReport
) -> int:
    """Chain the next ``limit`` rows up to ``up_to`` (None: none, only read the head)."""
    if dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK})
    last = (
        await session.execute(
            select(SEALS.c.event_id, SEALS.c.hash).order_by(SEALS.c.event_id.desc()).limit(1)
        )
    ).first()
    previous = bytes(last.hash) if last else GENESIS
    report.head_id, report.head_hash = (last.event_id, previous) if last else (None, None)
    if up_to is None:
        return 0
    stmt = select(EVENTS).where(EVENTS.c.id <= up_to).order_by(EVENTS.c.id).limit(limit)
    if last:
        stmt = stmt.where(EVENTS.c.id > last.event_id)
    rows = (await session.execute(stmt)).mappings().all()
    if not rows:
        return 0
    entries = []
    for row in rows:
        if content_altered(row):
            # sealed all the same (the chain must not stop); the row hash still gives it away
            report.altered.append(Finding(row["id"], "altered", _summary(row)))
        previous = link(previous, row)
        entries.append({"event_id": row["id"], "hash": previous})
    try:
        await session.execute(insert(SEALS), entries)
        await session.flush()
    except IntegrityError as e:  # SQLite: another `audit seal` got there first
        raise Conflict("Another `salomat audit seal` is running; try again later.") from e
    report.head_id, report.head_hash = rows[-1]["id"], previous
    return len(rows)


async def seal(
    url: str | None = None,
    *,
    batch: int = 5000,
    wait_seconds: float = 30.0,
    progress: Progress | None = None,
) -> SealReport:
    """Chain every settled row not sealed yet; one transaction per ``batch`` rows.

    A job, not a request: it commits each batch itself, so that a large first
    seal shows progress and an interrupted one keeps what it did.
    """
    factory = session_factory(url)
    report = SealReport()
    async with factory() as session:
        up_to, report.waiting_for = await _settled_id(session, wait_seconds)
    while True:
        async with factory() as session:
            done = await _seal_batch(session, up_to, batch, report)
            await session.commit()
        report.sealed += done
        if progress:
            progress(report.sealed)
        if done < batch:
            return report


# ---- verifying ----------------------------------------------------------------------


@dataclass
class VerifyReport:
    rows: int = 0
    sealed: int = 0
    head_id: int | None = None
    head_hash: bytes | None = None
    #: rows written since the last seal (checked against their own hash only)
    unsealed: int = 0
    #: rows without a hash of their own (before migration 0016, or written by hand)
    without_hash: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.event_id) if self.findings else None


async def _verify_batch(
    session: AsyncSession, after: int | None, limit: int
) -> tuple[list[Any], list[Any]]:
    # the seal first, then the rows: a row is committed before its seal entry, so
    # reading in this order never sees an entry without its (committed) row
    seal_stmt = select(SEALS.c.event_id, SEALS.c.hash).order_by(SEALS.c.event_id).limit(limit)
    stmt = select(EVENTS).order_by(EVENTS.c.id)
    if after is not None:  # the first batch has no lower bound: ids below 1 are rows too
        seal_stmt = seal_stmt.where(SEALS.c.event_id > after)
        stmt = stmt.where(EVENTS.c.id > after)
    seals = (await session.execute(seal_stmt)).all()
    stmt = stmt.where(EVENTS.c.id <= seals[-1].event_id) if seals else stmt.limit(limit)
    rows = (await session.execute(stmt)).mappings().all()
    return list(seals), list(rows)


async def verify(
    url: str | None = None, *, batch: int = 5000, progress: Progress | None = None
) -> VerifyReport:
    """Check every row against its own hash and the chain; read-only (an auditor may run it)."""
    factory = session_factory(url)
    report = VerifyReport()
    after: int | None = None
    previous = GENESIS
    while True:
        async with factory() as session:
            seals, rows = await _verify_batch(session, after, batch)
            await session.rollback()
        if not seals and not rows:
            return report
        by_id = {r["id"]: r for r in rows}
        for s in seals:
            row = by_id.pop(s.event_id, None)
            report.sealed += 1
            if row is None:
                report.findings.append(Finding(s.event_id, "removed"))
            else:
                _count(report, row)
                if content_altered(row):
                    report.findings.append(Finding(row["id"], "altered", _summary(row)))
                elif link(previous, row) != bytes(s.hash):
                    report.findings.append(Finding(row["id"], "changed-after-seal", _summary(row)))
            previous = bytes(s.hash)
            report.head_id, report.head_hash = s.event_id, previous
        for row in by_id.values():  # not sealed: inside the sealed range, or after it
            _count(report, row)
            if content_altered(row):
                report.findings.append(Finding(row["id"], "altered", _summary(row)))
            elif seals:
                report.findings.append(Finding(row["id"], "slipped-in", _summary(row)))
            if not seals:
                report.unsealed += 1
        after = seals[-1].event_id if seals else rows[-1]["id"]
        if progress:
            progress(report.rows)


def _count(report: VerifyReport, row: Mapping[str, Any]) -> None:
    report.rows += 1
    if row["row_hash"] is None:
        report.without_hash += 1


# ---- running the jobs from the command line -----------------------------------------

T = TypeVar("T")


def run_job(job: Callable[[], Awaitable[T]]) -> T:
    """Run a job (``seal``, ``verify``) in its own event loop, disposing the engines after."""

    async def main() -> T:
        try:
            return await job()
        finally:
            await dispose_engines()

    return asyncio.run(main())
