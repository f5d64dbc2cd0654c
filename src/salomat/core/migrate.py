"""Run Alembic from code (CLI, tests, `make run`) against a given database URL."""

from __future__ import annotations

import asyncio
import threading

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from salomat.core.config import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().resolved_database_url())
    return cfg


def upgrade(url: str | None = None, revision: str = "head", *, analyze: bool = False) -> list[str]:
    """Migrate to ``revision``; with ``analyze`` (``salomat db upgrade``) also refresh the
    planner's statistics on PostgreSQL (``refresh_statistics``). Returns the tables
    analyzed."""
    before = _revision(url) if analyze else None
    _off_loop(lambda: command.upgrade(alembic_config(url), revision))
    if not analyze:
        return []
    return refresh_statistics(url, everything=_revision(url) != before)


def _sync_url(url: str | None) -> str:
    url = url or get_settings().resolved_database_url()
    return url.replace("+aiosqlite", "").replace("+psycopg_async", "+psycopg")


def _revision(url: str | None) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(_sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


#: the tables PostgreSQL has no statistics of: never analyzed, by hand or by autovacuum
_UNANALYZED = text(
    "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables "
    "WHERE last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY 1"
)


def refresh_statistics(url: str | None = None, *, everything: bool = False) -> list[str]:
    """ANALYZE on PostgreSQL: every table when ``everything`` (a migration ran: it may have
    rewritten a table or added an index), else those without statistics (a database
    restored from a dump has none, and autovacuum analyzes a table only after enough of
    it changed). Returns the tables analyzed (``["*"]`` for all); nothing on SQLite.

    Without statistics the planner guesses every condition selective, and a query can
    walk a whole index (docs/operations.md, "Upgrading"). ANALYZE reads a sample of each
    table (30,000 rows by default): seconds on a national database, and it takes no lock
    that stops reads or writes.
    """
    sync_url = _sync_url(url)
    if not sync_url.startswith("postgresql"):
        return []
    engine = create_engine(sync_url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if everything:
                conn.execute(text("ANALYZE"))
                return ["*"]
            tables = list(conn.execute(_UNANALYZED).scalars())
            for table in tables:
                conn.execute(text(f"ANALYZE {table}"))
            return tables
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    _off_loop(lambda: command.downgrade(alembic_config(url), revision))


def _off_loop(fn: object) -> None:
    """env.py runs its own event loop; never nest it inside a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()  # type: ignore[operator]
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]
