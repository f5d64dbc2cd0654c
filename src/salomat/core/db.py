"""Engine, sessions and the declarative base shared by every domain.

One unit of work per request: the session is opened by ``core.uow`` and only
it commits. Services receive an ``AsyncSession`` and ``flush()``.

A dead connection (the database restarted, a proxy dropped it) is handled optimistically,
with no round trip per checkout: the statement that meets it fails with
``DatabaseUnavailable`` (503, "retry"), SQLAlchemy discards that connection and every
pooled one older than the failure, and the next request connects afresh. Only a
connection idle for ``IDLE_PING_SECONDS`` is pinged before use, and none is kept longer
than ``RECYCLE_SECONDS`` (docs/operations.md, "After a database restart").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from salomat.core.config import get_settings
from salomat.core.errors import SalomatError
from salomat.core.i18n import N_

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DatabaseUnavailable(SalomatError):
    """The database could not be reached, or the connection to it broke (a restart): the
    request changed nothing and may be retried (503 with ``Retry-After``)."""

    status, code, fhir_code = 503, "database-unavailable", "transient"
    title = N_("Service unavailable")


#: a pooled connection unused for this long is pinged before it is handed out (one round
#: trip after a quiet spell, none under load); a restart during a quiet night costs no
#: failed request
IDLE_PING_SECONDS = 10.0
#: no connection is kept longer than this (a firewall or proxy that silently drops long
#: connections then never hands a dead one to a request)
RECYCLE_SECONDS = 1800
_IDLE_SINCE = "salomat_idle_since"


#: what PostgreSQL says when the connection settings are wrong (not a transient failure)
_MISCONFIGURED = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "invalid dsn",
)


def _unavailable_on_disconnect(ctx: ExceptionContext) -> None:
    """A broken connection, or none to be had: ``DatabaseUnavailable`` instead of a 500.
    SQLAlchemy still invalidates the connection and the pool's older ones (its cleanup
    runs whatever this raises)."""
    if ctx.is_pre_ping:
        return
    refused = (
        ctx.connection is None
        and isinstance(ctx.sqlalchemy_exception, exc.OperationalError | exc.InterfaceError)
        # a wrong password, role or database name is a misconfiguration, not a moment's
        # outage: left a 500 (and logged), never a "try again"
        and not any(words in str(ctx.original_exception).lower() for words in _MISCONFIGURED)
    )
    if ctx.is_disconnect or refused:
        raise DatabaseUnavailable(
            N_("The database cannot be reached just now; nothing was changed. Try again."),
            headers={"Retry-After": "1"},
        )


def _checked_in(_dbapi_conn: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Any:
    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as e:  # the pool replaces it (and retries) on DisconnectionError
            raise exc.DisconnectionError(f"idle connection found dead: {e}") from e

    return checkout


_engines: dict[str, AsyncEngine] = {}
_factories: dict[str, async_sessionmaker[AsyncSession]] = {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_savepoint_in_a_transaction(conn: Any, _name: Any) -> None:
    """SQLite: a SAVEPOINT outside a transaction starts one of its own, which its RELEASE
    commits. The driver (pysqlite, under aiosqlite) begins a transaction only before
    INSERT/UPDATE/DELETE, so a service's savepoint that is the request's first write was
    committed on release, and a later refusal of the same request (a FHIR transaction's
    next entry) could not undo it. Begin the request's transaction first, as PostgreSQL
    has it (tests/fhir/test_epidemic_bundle.py, tests/core/test_db.py)."""
    dbapi = conn.connection.dbapi_connection
    raw = getattr(dbapi, "_connection", dbapi)  # aiosqlite's connection under the adapter
    if getattr(raw, "in_transaction", True):
        return
    cur = dbapi.cursor()
    try:
        cur.execute("BEGIN")
    finally:
        cur.close()


def get_engine(url: str | None = None) -> AsyncEngine:
    url = url or get_settings().resolved_database_url()
    engine = _engines.get(url)
    if engine is None:
        settings = get_settings()
        kwargs: dict[str, Any] = {}
        if not url.startswith("sqlite"):
            # a request holds one connection from its first statement to its commit;
            # connections beyond pool_size are closed when handed back, and a new
            # PostgreSQL connection (a forked backend) costs more than a whole request.
            # LIFO: a quiet process keeps reusing its few warm connections
            kwargs.update(
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_recycle=RECYCLE_SECONDS,
                pool_use_lifo=True,
            )
        if settings.env == "test":
            # each test runs in its own event loop; pooled connections would outlive theirs
            kwargs = {"poolclass": NullPool}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                from pathlib import Path

                Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "handle_error", _unavailable_on_disconnect)
        if "poolclass" not in kwargs and engine.dialect.name != "sqlite":
            event.listen(engine.sync_engine.pool, "checkin", _checked_in)
            event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle(engine.dialect))
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "savepoint", _sqlite_savepoint_in_a_transaction)
        _engines[url] = engine
    return engine


def session_factory(url: str | None = None) -> async_sessionmaker[AsyncSession]:
    url = url or get_settings().resolved_database_url()
    factory = _factories.get(url)
    if factory is None:
        factory = async_sessionmaker(get_engine(url), expire_on_commit=False, autoflush=True)
        _factories[url] = factory
    return factory


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()
    _factories.clear()


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for(session: AsyncSession, table: Any) -> Any:
    """The session's dialect's ``INSERT`` of ``table`` (PostgreSQL's or SQLite's), the one
    with ``on_conflict_do_update`` / ``on_conflict_do_nothing``: an upsert in one statement,
    no read-then-insert race on a unique key."""
    from sqlalchemy.dialects import postgresql, sqlite

    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


#: Search structures the models cannot express (SQLite FTS5 tables, PostgreSQL
#: trigram indexes): created by migrations, skipped when comparing the models
#: with the database.
UNMANAGED_PREFIXES = ("search_", "ix_trgm_")


def is_managed(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: False for what ``UNMANAGED_PREFIXES`` names."""
    return not (name or "").startswith(UNMANAGED_PREFIXES)
