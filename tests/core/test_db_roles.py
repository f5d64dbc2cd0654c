"""``salomat db roles``: the app role cannot switch the audit protections off; the app
warns when it runs with rights that can.

On PostgreSQL each test makes its own database and its own uniquely named roles
(roles belong to the whole server) and drops them afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from salomat.core import audit, audit_chain, db_roles, migrate
from salomat.core.db import dispose_engines, session_factory
from salomat.core.errors import Forbidden, Invalid, InvalidState
from salomat.core.security import Principal
from tests.conftest import BACKEND, PG_URL

pytestmark = pytest.mark.anyio
postgres_only = pytest.mark.skipif(BACKEND != "postgresql", reason="needs PostgreSQL")
NURSE = Principal(user_id=7, username="nurse-7", role="nurse", session_id="s")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass(frozen=True)
class Cluster:
    url: str  # as the superuser of the test server
    roles: db_roles.Roles

    def as_role(self, role: str) -> str:
        return make_url(self.url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    import psycopg

    tag = uuid.uuid4().hex[:8]
    name = f"salomat_roles_{tag}"
    roles = db_roles.Roles(owner=f"t{tag}_owner", app=f"t{tag}_app", auditor=f"t{tag}_auditor")
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_URL.rpartition('/')[0]}/{name}"
    try:
        migrate.upgrade(url)  # as the superuser, as a first installation would
        yield Cluster(url, roles)
    finally:
        asyncio.run(dispose_engines())
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (roles.app, roles.auditor, roles.owner):
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


async def make_roles(url: str, roles: db_roles.Roles) -> list[str]:
    async with session_factory(url)() as s:
        done = await db_roles.create_roles(s, roles)
        await s.commit()
        return done


async def warning_for(url: str) -> str | None:
    async with session_factory(url)() as s:
        return await db_roles.bypass_warning(s)


def refused(url: str, statement: str) -> bool:
    """True when the server refuses ``statement`` to the role itself (a missing grant,
    not being the owner), before any append-only trigger would have a say."""
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as e:
            return "append-only" not in str(e)
        finally:
            conn.rollback()
    return False


TAMPERING = [
    "UPDATE audit_event SET username = 'mallory'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
    "UPDATE audit_seal SET hash = hash",
    "DELETE FROM audit_seal",
    "TRUNCATE audit_seal",
    # naming the time or the id of a new row: the database sets both
    "INSERT INTO audit_event (occurred_at, action, resource_type, outcome, break_glass) "
    "VALUES (now() - interval '1 day', 'read', 'Patient', 'success', false)",
    "INSERT INTO audit_event (id, action, resource_type, outcome, break_glass) "
    "VALUES (-1, 'read', 'Patient', 'success', false)",
    # switching the protections off
    "ALTER TABLE audit_event DISABLE TRIGGER USER",
    "DROP TRIGGER audit_event_no_change ON audit_event",
    "SET session_replication_role = replica",
]


@postgres_only
async def test_the_app_role_cannot_change_the_audit_trail_but_can_do_its_work(cluster):
    roles = cluster.roles
    done = await make_roles(cluster.url, roles)
    assert sum("created" in line for line in done) == 3
    app_url = cluster.as_role(roles.app)

    for statement in TAMPERING:
        assert refused(app_url, statement), statement

    # what the application does still works: audit rows, sealing, ordinary writes
    async with session_factory(app_url)() as s:
        await audit.record(s, NURSE, action="read", resource_type="Patient", patient_id=5)
        await s.commit()
    assert not refused(app_url, "UPDATE person SET family_name = family_name WHERE false")
    assert (await audit_chain.seal(app_url)).sealed == 1
    assert await warning_for(app_url) is None


@postgres_only
async def test_the_auditor_reads_the_audit_trail_only(cluster):
    roles = cluster.roles
    await make_roles(cluster.url, roles)
    auditor_url = cluster.as_role(roles.auditor)
    async with session_factory(cluster.url)() as s:
        await audit.record(s, NURSE, action="read", resource_type="Patient", patient_id=5)
        await s.commit()
    await audit_chain.seal(cluster.url)

    report = await audit_chain.verify(auditor_url)

    assert report.ok
    assert report.rows == 1
    assert refused(auditor_url, "SELECT * FROM person")
    assert refused(
        auditor_url,
        "INSERT INTO audit_event (action, resource_type, outcome, break_glass) "
        "VALUES ('read', 'Patient', 'success', false)",
    )


@postgres_only
async def test_running_the_app_as_a_superuser_or_the_owner_warns_naming_the_guide(cluster):
    roles = cluster.roles
    await make_roles(cluster.url, roles)

    as_superuser = await warning_for(cluster.url)
    as_owner = await warning_for(cluster.as_role(roles.owner))

    assert as_superuser is not None
    assert "superuser" in as_superuser
    assert as_owner is not None
    assert "owner of the audit_event table" in as_owner
    for warning in (as_superuser, as_owner):
        assert "docs/operations.md" in warning
        assert "salomat db roles" in warning
    # what the warnings are about: either can switch the protections off
    for url in (cluster.url, cluster.as_role(roles.owner)):
        assert not refused(url, "ALTER TABLE audit_event DISABLE TRIGGER USER")


@postgres_only
async def test_the_app_started_without_salomat_serve_logs_the_warning(cluster, caplog):
    """uvicorn or gunicorn on ``salomat.main:create_app`` skip ``salomat serve``'s console
    warning: the app's own start-up logs it, and says nothing as the app role."""
    from salomat.main import warn_if_audit_can_be_bypassed

    roles = cluster.roles
    await make_roles(cluster.url, roles)
    with caplog.at_level("WARNING", logger="salomat.startup"):
        as_superuser = await warn_if_audit_can_be_bypassed(cluster.url)
    assert as_superuser is not None
    assert any("salomat db roles" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="salomat.startup"):
        assert await warn_if_audit_can_be_bypassed(cluster.as_role(roles.app)) is None
    assert not caplog.records


async def test_the_app_start_up_check_never_stops_the_app_on_an_unreachable_database():
    from salomat.main import warn_if_audit_can_be_bypassed

    assert await warn_if_audit_can_be_bypassed("sqlite+aiosqlite:///nonexistent/dir/x.db") is None


@postgres_only
async def test_db_roles_is_idempotent_and_the_owner_runs_migrations(cluster):
    roles = cluster.roles
    await make_roles(cluster.url, roles)
    again = await make_roles(cluster.url, roles)
    assert not any("created" in line for line in again)
    assert sum("exists, an ordinary login role" in line for line in again) == 3

    owner_url = cluster.as_role(roles.owner)
    async with session_factory(cluster.url)() as s:
        owner = await s.scalar(
            text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_event'")
        )
    assert owner == roles.owner
    migrate.downgrade(owner_url, "0015")  # the owner migrates, down and up
    migrate.upgrade(owner_url)
    # a table a migration (re)creates gets the app's default grants; `db roles` run by
    # the owner after the upgrade takes the audit tables' UPDATE and DELETE away again
    refreshed = await make_roles(owner_url, roles)
    assert refreshed
    app_url = cluster.as_role(roles.app)
    for statement in TAMPERING:
        assert refused(app_url, statement), statement
    async with session_factory(app_url)() as s:  # and may name the re-added row_hash again
        await audit.record(s, NURSE, action="read", resource_type="Patient", patient_id=5)
        await s.commit()


@postgres_only
async def test_db_roles_refuses_a_role_that_is_neither_superuser_nor_owner(cluster):
    roles = cluster.roles
    await make_roles(cluster.url, roles)
    with pytest.raises(Forbidden, match="superuser"):
        await make_roles(cluster.as_role(roles.app), roles)


@postgres_only
async def test_an_existing_superuser_app_role_is_made_ordinary(cluster):
    import psycopg

    roles = cluster.roles
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{roles.app}" LOGIN SUPERUSER')
    done = await make_roles(cluster.url, roles)
    assert any(line.startswith(f"role {roles.app} (app): existed; made") for line in done)
    assert await warning_for(cluster.as_role(roles.app)) is None


@pytest.mark.parametrize(
    "roles",
    [
        db_roles.Roles(app='app"; DROP TABLE person; --'),
        db_roles.Roles(owner="Owner"),
        db_roles.Roles(auditor="a" * 64),
        db_roles.Roles(app="salomat_owner"),
    ],
)
async def test_role_names_must_be_plain_and_distinct(roles):
    async with session_factory()() as s:
        with pytest.raises(Invalid):
            await db_roles.create_roles(s, roles)


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite only")
async def test_sqlite_has_no_roles_and_no_start_up_warning():
    async with session_factory()() as s:
        with pytest.raises(InvalidState, match="SQLite has no database roles"):
            await db_roles.create_roles(s, db_roles.Roles())
        assert await db_roles.bypass_warning(s) is None
