"""After a database restart, with the production pool (no pre-ping round trip per
checkout): a request that meets a dead pooled connection answers 503 "retry" (never a
500), the pool drops it and its older siblings, and the next request succeeds. The
restart is played by ``pg_terminate_backend`` of the pool's own connections (named by
``application_name``), so the shared server is never restarted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.pool import NullPool

from salomat.core import db, security
from salomat.core.config import get_settings
from salomat.domains.accounts.service import principal_cache
from salomat.domains.accounts.service.principal_cache import PrincipalCache
from tests.conftest import BACKEND, TEST_URL, _pg_admin_dsn

pytestmark = pytest.mark.anyio
on_postgresql = pytest.mark.skipif(
    BACKEND != "postgresql", reason="a PostgreSQL server's connections"
)


class _Still:
    def __call__(self) -> float:
        return 1000.0


@pytest.fixture
def keep_principals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Principals kept (a clock that never moves): the request's first statement is then
    the endpoint's own, not the session read."""
    monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(seconds=5, clock=_Still()))


@asynccontextmanager
async def production_pool(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The app on an engine built as outside tests (QueuePool, the handlers of core.db),
    its connections named for this test; yields that name."""
    security._hasher()  # the test's cheap hasher stays chosen
    name = f"salomat-pool-{uuid.uuid4().hex[:8]}"
    url = f"{TEST_URL}?application_name={name}"
    with monkeypatch.context() as m:
        m.setenv("SALOMAT_ENV", "development")
        m.setenv("SALOMAT_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            assert not isinstance(db.get_engine().sync_engine.pool, NullPool)
            yield name
        finally:
            engine = db._engines.pop(url, None)
            db._factories.pop(url, None)
            if engine is not None:
                await engine.dispose()
    get_settings.cache_clear()


def restart(name: str) -> int:
    """Ends every server connection of the pool named ``name`` (as a restart would);
    how many there were."""
    import psycopg

    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (name,),
        ).fetchall()
    assert all(r[0] for r in rows)
    return len(rows)


async def _me(client: Any, headers: dict[str, str]) -> Any:
    return await client.get("/api/v1/me", headers=headers)


@on_postgresql
async def test_a_dead_connection_answers_503_and_the_next_request_succeeds(
    client, make_user, login, keep_principals, monkeypatch
):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 1e9)  # no ping: the optimistic path
    async with production_pool(monkeypatch) as name:
        assert (await _me(client, headers)).status_code == 200
        assert restart(name) >= 1
        failed = await _me(client, headers)
        assert failed.status_code == 503, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.json()["type"].endswith("/database-unavailable")
        assert failed.headers["retry-after"] == "1"
        again = await _me(client, headers)
        assert again.status_code == 200, again.text
        assert again.json()["username"] == doctor.username
        # the readiness probe alike: one 503, then ready
        assert restart(name) >= 1
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/readyz")).status_code == 200


@on_postgresql
async def test_the_session_read_is_retried_on_a_fresh_connection(
    client, make_user, login, monkeypatch
):
    """Not kept: the session read is the request's first statement, and nothing is lost
    by running it again on a new connection, so the request succeeds."""
    monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(seconds=0))
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 1e9)
    async with production_pool(monkeypatch) as name:
        assert (await _me(client, headers)).status_code == 200
        assert restart(name) >= 1
        r = await _me(client, headers)
        assert r.status_code == 200, r.text


@on_postgresql
async def test_an_idle_connection_is_pinged_before_use(
    client, make_user, login, keep_principals, monkeypatch
):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    async with production_pool(monkeypatch) as name:
        assert (await _me(client, headers)).status_code == 200
        assert restart(name) >= 1
        r = await _me(client, headers)
        assert r.status_code == 200, r.text


async def test_an_unreachable_database_is_503_for_a_logged_in_caller_too(
    client, make_user, login, monkeypatch
):
    """Not a 401 (which would send them to log in again) and not a 500: the session
    could not be read, which says nothing about the token."""
    monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(seconds=0))
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    security._hasher()
    with monkeypatch.context() as m:
        m.setenv("SALOMAT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        get_settings.cache_clear()
        try:
            r = await _me(client, headers)
        finally:
            await db.get_engine().dispose()
            db._engines.pop(get_settings().resolved_database_url(), None)
            db._factories.pop(get_settings().resolved_database_url(), None)
    get_settings.cache_clear()
    assert r.status_code == 503, r.text
    assert r.json()["type"].endswith("/database-unavailable")


async def test_an_unreachable_database_is_503_on_a_page_too_not_the_login_page(client, monkeypatch):
    """A person with a session cookie opening a page while the database is down gets the
    503 "try again", not a redirect to the login page (which would say their session
    ended): the caller's resolver raises a 5xx as it is (core.uow)."""
    from salomat.domains.accounts.api import SESSION_COOKIE

    monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(seconds=0))
    security._hasher()
    with monkeypatch.context() as m:
        m.setenv("SALOMAT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        get_settings.cache_clear()
        try:
            r = await client.get("/", cookies={SESSION_COOKIE: "a-cookie"}, follow_redirects=False)
        finally:
            await db.get_engine().dispose()
            db._engines.pop(get_settings().resolved_database_url(), None)
            db._factories.pop(get_settings().resolved_database_url(), None)
    get_settings.cache_clear()
    assert r.status_code == 503, (r.status_code, r.headers.get("location"))


async def test_a_connection_broken_during_commit_does_not_say_nothing_was_changed(
    client, make_user, login, monkeypatch
):
    """The server may have committed before the connection went: the 503 says the change
    may or may not have been saved, and how to repeat it safely."""
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncSession

    from tests.factories import national_id_for, unique_name

    clerk = await make_user("registrar")
    headers = await login(clerk)

    async def broken(self: AsyncSession) -> None:
        raise db.DatabaseUnavailable(
            "The database cannot be reached just now; nothing was changed. Try again."
        )

    monkeypatch.setattr(AsyncSession, "commit", broken)
    born = date(1990, 1, 2)
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": unique_name("Karimova"),
            "given_name": unique_name("Dilnoza"),
            "birth_date": born.isoformat(),
            "sex": "female",
            "national_id": national_id_for(born, "female"),
        },
        headers=headers,
    )
    monkeypatch.undo()
    assert r.status_code == 503, r.text
    assert "nothing was changed" not in r.json()["detail"]
    assert "Idempotency-Key" in r.json()["detail"]
