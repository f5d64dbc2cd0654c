"""Append-only audit trail of every access to person data.

Rows are inserted in the request's own transaction, so an action and its
audit row commit together, before the response leaves. Denials and failed
logins must outlive the rollback of their failed request: they are queued in
``session.info`` and written by the unit of work after it rolls back.
Nothing here updates or deletes; database triggers refuse it (migration 0001).

The database sets each row's time (``occurred_at`` defaults to its own clock;
the app role may not even name the column, docs/operations.md), and each row
carries ``row_hash``, the SHA-256 of what the application wrote, computed here
as the row is built: no extra statement, a few microseconds. ``audit_seal``
chains the rows after the fact (``core.audit_chain``: ``salomat audit seal``
and ``salomat audit verify``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from salomat.core import context
from salomat.core.db import Base, UTCDateTime
from salomat.core.security import Principal

ACTIONS = frozenset({"create", "read", "update", "delete", "search", "login", "logout", "denied"})
ID = BigInteger().with_variant(Integer, "sqlite")
AFTER_ROLLBACK = "salomat_after_rollback"
#: SQLite's clock in SQLAlchemy's text format (%f is seconds with milliseconds)
SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


class DatabaseNow(FunctionElement[datetime]):
    """The database's own clock, as a column default.

    PostgreSQL: ``clock_timestamp()``, the time of the insert itself (``now()``
    would be the transaction's start). SQLite: UTC with milliseconds, written
    as SQLAlchemy writes a datetime (``YYYY-MM-DD HH:MM:SS.ffffff``), so that
    rows compare and sort as text with the times the app binds;
    ``CURRENT_TIMESTAMP`` would keep whole seconds in another format.
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(DatabaseNow)
def _now_default(element: DatabaseNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(DatabaseNow, "postgresql")
def _now_postgresql(element: DatabaseNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "clock_timestamp()"


@compiles(DatabaseNow, "sqlite")
def _now_sqlite(element: DatabaseNow, compiler: SQLCompiler, **kw: Any) -> str:
    return SQLITE_NOW


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(
        UTCDateTime, index=True, server_default=DatabaseNow()
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(150), index=True)
    role: Mapped[str | None] = mapped_column(String(32))
    facility_id: Mapped[int | None] = mapped_column(Integer)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    purpose: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    break_glass_grant_id: Mapped[int | None] = mapped_column(Integer)
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
    #: SHA-256 of the CONTENT columns as the application wrote them (``content_hash``)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_audit_event_user_time", "user_id", "occurred_at"),
        # the auditor's "emergency access" filter, newest first: a few rows among millions
        Index(
            "ix_audit_event_break_glass",
            "id",
            postgresql_where=text("break_glass"),
            sqlite_where=text("break_glass"),
        ),
    )


class AuditSeal(Base):
    """The hash chain over the audit rows, in id order, written by ``salomat audit seal``.

    ``hash`` = SHA-256(the previous entry's hash + the sealed row as stored, every
    column). Append-only like ``audit_event`` (migration 0016).
    """

    __tablename__ = "audit_seal"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


#: the columns the application writes, in the order ``content_hash`` reads them
CONTENT = (
    "user_id",
    "username",
    "role",
    "facility_id",
    "facility_code",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "purpose",
    "outcome",
    "break_glass",
    "break_glass_grant_id",
    "client_address",
    "request_id",
    "detail",
)


def content_hash(row: Any) -> bytes:
    """SHA-256 of a row's CONTENT as canonical JSON (a list: no key can be confused).

    ``row`` is a mapping (what ``build`` builds, or a row read back): the values
    read back from either database are the ones written, as ``build`` writes
    ints, strings and booleans only.
    """
    return hashlib.sha256(CANONICAL.encode([row[c] for c in CONTENT]).encode()).digest()


#: compact JSON, UTF-8 as is (one encoder: ``json.dumps`` with options builds one per call)
CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def build(
    principal: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: int | None = None,
    purpose: str | None = None,
    outcome: str = "success",
    break_glass_grant: int | None = None,
    detail: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """One audit row as ``record`` writes it (hashed), for a caller that writes it
    together with other rows in one statement (``write``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    ctx = context.current()
    if resource_id is not None and not isinstance(resource_id, str):
        resource_id = str(resource_id)  # stored as text: hashed as text
    row = {
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else username,
        "role": principal.role if principal else None,
        "facility_id": principal.facility_id if principal else None,
        "facility_code": principal.facility_code if principal else None,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "patient_id": patient_id,
        "purpose": (purpose or None) and purpose[:500],
        "outcome": outcome,
        "break_glass": break_glass_grant is not None,
        "break_glass_grant_id": break_glass_grant,
        "client_address": ctx.client_address if ctx else None,
        "request_id": ctx.request_id if ctx else None,
        "detail": detail and detail[:500],
    }
    row["row_hash"] = content_hash(row)
    return row


async def record(
    session: AsyncSession,
    principal: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: int | None = None,
    purpose: str | None = None,
    outcome: str = "success",
    break_glass_grant: int | None = None,
    detail: str | None = None,
    username: str | None = None,
) -> None:
    """Write one audit row in the current transaction (a Core insert on the table, not
    the ORM's bulk path: every read passes here).

    A read or search is also queued to survive a rollback: a request that then
    fails (a refused form shown again with the record, a 409 naming what
    exists) has still shown the person's data, and the person's list of who
    opened her record must say so. Writes roll back with what they recorded.
    """
    row = build(
        principal,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        purpose=purpose,
        outcome=outcome,
        break_glass_grant=break_glass_grant,
        detail=detail,
        username=username,
    )
    await write(session, [row])


async def write(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rows made by ``build`` or ``listing_rows``, in one insert in the current transaction;
    the reads and searches among them are also kept after a rollback (``keep``)."""
    if not rows:
        return
    await session.execute(insert(AuditEvent.__table__), rows)
    keep(session, rows)


def insert_rows(rows: list[dict[str, Any]]) -> Any:
    """The insert of ``rows`` (one multi-row ``VALUES``), for a caller that sends it in one
    statement with its own writes; that caller queues the reads among them (``keep``)."""
    return insert(AuditEvent.__table__).values(rows)


def keep(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Queue the reads and searches of ``rows`` to be written should the request fail.

    For a caller that writes the rows later in the request, with others in one
    statement (a registration's candidate listing, written with its create row):
    what was read stays audited whatever fails in between.
    """
    for row in rows:
        if row["action"] in KEPT_ACTIONS:
            keep_after_rollback(session, AuditEvent.__table__, row)


#: actions whose audit rows outlive a failed request (what was shown stays shown)
KEPT_ACTIONS = frozenset({"read", "search"})


@dataclass(frozen=True)
class Access:
    """One person shown in a listing, and why the user may see them."""

    patient_id: int
    purpose: str | None = None
    break_glass_grant: int | None = None
    #: what was shown of the person, when not the person herself (an encounter's id)
    resource_id: str | None = None


def listing_rows(
    principal: Principal | None,
    shown: list[Access],
    *,
    action: str = "search",
    resource_type: str = "Patient",
) -> list[dict[str, Any]]:
    """The rows ``record_listing`` writes: one per person shown, or one ``no result`` row."""
    if not shown:
        return [
            build(
                principal,
                action=action,
                resource_type=resource_type,
                resource_id=None,
                patient_id=None,
                purpose=None,
                outcome="success",
                break_glass_grant=None,
                detail="no result",
                username=None,
            )
        ]
    return [
        build(
            principal,
            action=action,
            resource_type=resource_type,
            resource_id=a.resource_id if a.resource_id is not None else str(a.patient_id),
            patient_id=a.patient_id,
            purpose=a.purpose,
            outcome="success",
            break_glass_grant=a.break_glass_grant,
            detail=None,
            username=None,
        )
        for a in shown
    ]


async def record_listing(
    session: AsyncSession,
    principal: Principal | None,
    shown: list[Access],
    *,
    action: str = "search",
    resource_type: str = "Patient",
) -> None:
    """One row per person shown, written in one batched insert; each row names the
    person (``resource_id`` her id) or what ``Access.resource_id`` says was shown of her.

    A search page shows up to a hundred people; one cached statement run over
    all rows (the drivers' executemany / SQLAlchemy's insertmanyvalues)
    instead of one round trip per row keeps the audit from dominating the
    search's time. An empty listing is audited too (``detail='no result'``).
    """
    await write(session, listing_rows(principal, shown, action=action, resource_type=resource_type))


def keep_after_rollback(session: AsyncSession, table: Any, row: dict[str, Any]) -> None:
    """Queue a row that must be written even though the request fails; a row already
    queued (the same row, as ``write`` and ``keep`` both queue what they are given) is
    queued once, so a failed request never audits one read twice."""
    pending = session.info.setdefault(AFTER_ROLLBACK, [])
    if any(queued is row for _, queued in pending):
        return
    pending.append((table, row))


async def denied(
    session: AsyncSession,
    principal: Principal | None,
    *,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: int | None = None,
    detail: str | None = None,
    action: str = "denied",
    username: str | None = None,
) -> None:
    row = build(
        principal,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        purpose=None,
        outcome="failure",
        break_glass_grant=None,
        detail=detail,
        username=username,
    )
    keep_after_rollback(session, AuditEvent.__table__, row)


def keep_statement_after_rollback(session: AsyncSession, statement: Any) -> None:
    """Queue a statement (a security reaction such as revoking a session) that must
    take effect even though the request that triggered it fails."""
    session.info.setdefault(AFTER_ROLLBACK, []).append((None, statement))


async def write_after_rollback(session: AsyncSession) -> bool:
    pending = session.info.pop(AFTER_ROLLBACK, [])
    for table, row in pending:
        if table is None:
            await session.execute(row)
        else:
            await session.execute(insert(table), [row])
    return bool(pending)


class AuditEntry(BaseModel):
    """What an auditor or the person sees of one audit row."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    occurred_at: datetime
    user_id: int | None
    username: str | None
    role: str | None
    facility_id: int | None
    facility_code: str | None
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: int | None
    purpose: str | None
    outcome: str
    break_glass: bool
    client_address: str | None
    request_id: str | None
    detail: str | None


@dataclass(frozen=True)
class AuditQuery:
    """Filters over the audit trail; each one given narrows it (``where``)."""

    patient_id: int | None = None
    username: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    actions: frozenset[str] | None = None
    resource_type: str | None = None
    outcome: str | None = None
    #: the acting user's facility, as the row recorded it
    facility_code: str | None = None
    break_glass: bool | None = None
    max_id: int | None = None
    #: keyset paging, newest first: only rows older than this id
    before_id: int | None = None
    limit: int = 50
    offset: int = 0


def where(q: AuditQuery) -> list[Any]:
    """The conditions of ``q`` on ``AuditEvent``, for a caller that joins more to the rows
    (the accounts domain adds who the user is)."""
    e = AuditEvent
    conditions: list[Any] = []
    for column, value in (
        (e.patient_id, q.patient_id),
        (e.username, q.username),
        (e.action, q.action),
        (e.resource_type, q.resource_type),
        (e.outcome, q.outcome),
        (e.facility_code, q.facility_code),
        (e.break_glass, q.break_glass),
    ):
        if value is not None:
            conditions.append(column == value)
    if q.since is not None:
        conditions.append(e.occurred_at >= q.since)
    if q.until is not None:
        conditions.append(e.occurred_at < q.until)
    if q.actions is not None:
        conditions.append(e.action.in_(sorted(q.actions)))
    if q.max_id is not None:
        conditions.append(e.id <= q.max_id)
    if q.before_id is not None:
        conditions.append(e.id < q.before_id)
    return conditions


async def search(session: AsyncSession, q: AuditQuery) -> tuple[list[AuditEntry], int]:
    stmt = select(AuditEvent).where(*where(q))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(AuditEvent.id.desc()).limit(q.limit).offset(q.offset)
    )
    return [AuditEntry.model_validate(r) for r in rows.scalars()], int(total)


async def latest_id(session: AsyncSession) -> int:
    """Highest id now: pins a paged listing so rows written meanwhile do not shift it."""
    return int((await session.execute(select(func.max(AuditEvent.id)))).scalar() or 0)


async def get_entry(session: AsyncSession, event_id: int) -> AuditEntry | None:
    row = await session.get(AuditEvent, event_id)
    return AuditEntry.model_validate(row) if row else None


@dataclass(frozen=True)
class ChainHead:
    """How far ``salomat audit seal`` has chained the trail (two indexed reads).

    Not a verification: ``salomat audit verify`` reads every row and is a job, not
    something a page runs on each view (docs/operations.md, "Audit trail").
    """

    sealed_up_to: int | None
    head_hash: bytes | None
    latest_id: int

    @property
    def unsealed(self) -> int:
        """Ids handed out after the last sealed row (an upper bound: ids have gaps)."""
        return max(0, self.latest_id - (self.sealed_up_to or 0))


async def chain_head(session: AsyncSession) -> ChainHead:
    seal = AuditSeal.__table__
    last = (
        await session.execute(
            select(seal.c.event_id, seal.c.hash).order_by(seal.c.event_id.desc()).limit(1)
        )
    ).first()
    return ChainHead(
        sealed_up_to=int(last.event_id) if last else None,
        head_hash=bytes(last.hash) if last else None,
        latest_id=await latest_id(session),
    )
