"""The migrations build exactly the models' schema, run both ways, and keep audit rows fixed.

``SALOMAT_TEST_DB`` picks the backend as for the rest of the suite; the
round trip and the append-only checks run on a scratch database of their own
(a temporary SQLite file, or a throw-away PostgreSQL database) so the shared
test database is left as the other tests expect it.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import salomat.main  # noqa: F401  (imports every domain: every model is on the metadata)
from salomat.core import migrate
from salomat.core.db import Base, get_engine, is_managed
from tests.conftest import BACKEND, PG_URL, scratch_database

# ---- helpers ----------------------------------------------------------------


def schema_diff(conn: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    """What ``alembic revision --autogenerate`` would write (as env.py configures it)."""
    ctx = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "compare_server_default": True, "include_name": is_managed},
    )
    return compare_metadata(ctx, metadata)


def sync_url(url: str) -> str:
    return url.replace("sqlite+aiosqlite://", "sqlite://")


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def raw(url: str) -> Iterator[Any]:
    """A DB-API connection straight from the driver: nothing of the application in between."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split("///", 1)[1])) as conn:
            yield conn
    else:
        import psycopg

        with psycopg.connect(libpq(url), connect_timeout=5) as conn:
            yield conn


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """An empty database on the backend under test, dropped afterwards."""
    if BACKEND != "postgresql":
        with tempfile.TemporaryDirectory(prefix="salomat-scratch-") as d:
            yield f"sqlite+aiosqlite:///{d}/scratch.sqlite3"
        return
    import psycopg

    name = f"salomat_scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(PG_URL), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(libpq(PG_URL), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def connect(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def objects(url: str) -> set[str]:
    """Every schema object a migration could leave behind: tables, indexes, triggers, functions."""
    with connect(url) as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("SELECT type, name FROM sqlite_master")
            return {f"{kind}:{name}" for kind, name in rows}
        rows = conn.exec_driver_sql(
            "SELECT 'relation:' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "UNION ALL SELECT 'function:' || p.proname FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "UNION ALL SELECT 'trigger:' || t.tgname FROM pg_trigger t WHERE NOT t.tgisinternal "
            "UNION ALL SELECT 'type:' || t.typname FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
            "AND t.typtype IN ('e', 'd')"
        )
        return {name for (name,) in rows}


def tables(url: str) -> set[str]:
    """The tables the models manage (not the FTS5 search tables of the migrations)."""
    with connect(url) as conn:
        names = sa.inspect(conn).get_table_names()
    return {n for n in names if is_managed(n, "table", None)}


def revision(url: str) -> str | None:
    with connect(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def revisions_base_to_head(url: str) -> list[tuple[str, str]]:
    """(revision, the one below it or "base"), oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    walk = list(script.walk_revisions("base", "heads"))
    out = []
    for rev in reversed(walk):
        down = rev.down_revision
        assert not isinstance(down, tuple | list), f"{rev.revision} merges branches"
        out.append((rev.revision, down or "base"))
    return out


# ---- (a) models == migrations ----------------------------------------------


@pytest.mark.anyio
async def test_the_models_and_the_migrations_do_not_differ():
    """Fails when a model changes without a migration (or a migration without its model)."""
    async with get_engine().connect() as conn:  # the test database, migrated to head
        diff = await conn.run_sync(schema_diff, Base.metadata)
    assert diff == [], (
        "The models differ from the schema the migrations build; write a migration "
        "(alembic revision --autogenerate) and review it:\n" + "\n".join(map(repr, diff))
    )


def _copy() -> sa.MetaData:
    copy = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def _add_column(md: sa.MetaData) -> None:
    md.tables["person"].append_column(sa.Column("shoe_size", sa.Integer, nullable=True))


def _widen_column(md: sa.MetaData) -> None:
    md.tables["audit_event"].c.username.type = sa.String(300)


def _make_nullable(md: sa.MetaData) -> None:
    md.tables["person"].c.sex.nullable = True


def _add_index(md: sa.MetaData) -> None:
    sa.Index("ix_person_family_name", md.tables["person"].c.family_name)


def _forget_table(md: sa.MetaData) -> None:
    md.remove(md.tables["login_failure"])


def _add_table(md: sa.MetaData) -> None:
    sa.Table("sick_leave", md, sa.Column("id", sa.Integer, primary_key=True))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (_add_column, "add_column"),
        (_widen_column, "modify_type"),
        (_make_nullable, "modify_nullable"),
        (_add_index, "add_index"),
        (_forget_table, "remove_table"),
        (_add_table, "add_table"),
    ],
)
async def test_the_comparison_catches_a_model_change_without_a_migration(
    change: Callable[[sa.MetaData], None], kind: str
):
    md = _copy()
    async with get_engine().connect() as conn:
        assert await conn.run_sync(schema_diff, md) == []
        change(md)
        diff = await conn.run_sync(schema_diff, md)
    kinds = {d[0][0] if isinstance(d, list) else d[0] for d in diff}
    assert kind in kinds  # (forgetting a table also forgets its indexes)


# ---- (b) down to base and up to head ---------------------------------------


def test_downgrade_to_base_and_upgrade_to_head_on_a_scratch_database(scratch_url):
    url = scratch_url
    steps = revisions_base_to_head(url)
    head = steps[-1][0]
    empty = objects(url)  # whatever a new database holds before any migration

    migrate.upgrade(url)
    assert revision(url) == head
    assert tables(url) == set(Base.metadata.tables) | {"alembic_version"}

    migrate.downgrade(url, "base")
    assert revision(url) is None
    assert tables(url) == {"alembic_version"}
    left = {o for o in objects(url) - empty if "alembic_version" not in o}
    assert left == set(), f"downgrade to base left {sorted(left)}"

    # every step on the way up also goes back down and up again (a "stairway")
    for rev, down in steps:
        migrate.upgrade(url, rev)
        migrate.downgrade(url, down)
        assert revision(url) == (None if down == "base" else down)
        migrate.upgrade(url, rev)
        assert revision(url) == rev

    with connect(url) as conn:
        assert schema_diff(conn, Base.metadata) == []


# ---- (c) audit rows are append-only in the database itself ------------------

PROBE = "raw-sql-probe"
INSERT = (
    "INSERT INTO audit_event (occurred_at, username, action, resource_type, patient_id, "
    f"outcome, break_glass) VALUES (CURRENT_TIMESTAMP, '{PROBE}', 'read', 'Patient', 42, "
    "'success', false)"
)
TAMPERING = {
    "update": f"UPDATE audit_event SET username = 'someone-else' WHERE username = '{PROBE}'",
    "update every row": "UPDATE audit_event SET outcome = 'success'",
    "delete": f"DELETE FROM audit_event WHERE username = '{PROBE}'",
    "delete every row": "DELETE FROM audit_event",
}
if BACKEND == "postgresql":
    TAMPERING["truncate"] = "TRUNCATE audit_event"  # SQLite has none: DELETE is its TRUNCATE


@pytest.fixture
def audited_scratch() -> Iterator[str]:
    """A scratch database at head (a copy of the run's migrated template) holding one
    audit row, inserted with raw SQL."""
    with scratch_database("salomat_audited") as url:
        with raw(url) as conn:
            conn.execute(INSERT)  # inserting is what the trail is for
            conn.commit()
        yield url


def _probe_rows(url: str) -> list[tuple[Any, ...]]:
    with raw(url) as conn:
        return list(
            conn.execute(
                "SELECT id, username, action, outcome, patient_id FROM audit_event ORDER BY id"
            ).fetchall()
        )


@pytest.mark.parametrize("statement", sorted(TAMPERING))
def test_the_database_refuses_to_change_or_remove_audit_rows(audited_scratch, statement):
    url = audited_scratch
    before = _probe_rows(url)
    assert [r[1] for r in before] == [PROBE]
    if BACKEND == "postgresql":
        import psycopg

        refused: type[Exception] = psycopg.errors.InsufficientPrivilege
    else:
        refused = sqlite3.IntegrityError
    with raw(url) as conn:
        with pytest.raises(refused, match="append-only"):
            conn.execute(TAMPERING[statement])
        conn.rollback()
    assert _probe_rows(url) == before
