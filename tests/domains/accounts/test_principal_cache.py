"""The principal of a login session, kept a few seconds per process (principal_cache):
revocation through this process takes effect at once, a change another process makes
(here: SQL straight into the database) within the cache's seconds, never later; the
token itself is checked every time. The cache's clock is the test's: nothing sleeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from salomat.core.config import get_settings
from salomat.core.db import get_engine, utcnow
from salomat.core.errors import Unauthorized
from salomat.core.security import Principal
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.models import AuthSession, User
from salomat.domains.accounts.service import principal_cache
from salomat.domains.accounts.service.principal_cache import PrincipalCache
from tests.domains.accounts.client_systems_support import client_token
from tests.domains.accounts.client_systems_support import make_client as _make_client
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio
make_client = _make_client  # the fixture

SECONDS = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A cache of its own for the test, keeping answers SECONDS on a clock that only the
    test moves."""
    c = Clock()
    monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(seconds=SECONDS, clock=c))
    return c


async def _me(client: Any, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=headers)).status_code


async def test_logout_refuses_the_same_token_at_once(client, make_user, login, clock):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    assert await _me(client, headers) == 200
    assert len(principal_cache.CACHE) == 1  # kept: the next request would not read it
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    assert await _me(client, headers) == 401


async def test_disabling_an_account_refuses_its_token_and_page_at_once(
    client, make_user, login, clock
):
    admin = await make_user("admin")
    admin_headers = await login(admin)
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    await web_login(client, doctor)  # a page's session beside the API token
    assert await _me(client, headers) == 200
    assert (await client.get("/")).status_code == 200
    r = await client.post(f"/api/v1/users/{doctor.id}/disable", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert await _me(client, headers) == 401
    # the page's cookie (kept too, by the page above) no longer names a principal
    cookie = client.cookies["salomat_session"]
    async with _session() as s:
        with pytest.raises(Unauthorized):
            await accounts.principal_from_cookie(s, cookie)


def _session() -> Any:
    from salomat.core.db import session_factory

    return session_factory()()


async def test_a_change_made_by_another_process_takes_effect_within_the_delay(
    client, db, make_user, login, clock
):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    assert await _me(client, headers) == 200
    # another process (or SQL by hand) disables the account: this process's cache does
    # not hear of it
    await db.execute(update(User).where(User.id == doctor.id).values(is_active=False))
    await db.commit()
    clock.now += SECONDS - 0.5
    assert await _me(client, headers) == 200  # still kept: the delay is real, and bounded
    clock.now += 0.5
    assert await _me(client, headers) == 401


async def test_a_session_revoked_by_another_process_ends_within_the_delay(
    client, db, make_user, login, clock
):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    assert await _me(client, headers) == 200
    await db.execute(
        update(AuthSession).where(AuthSession.user_id == doctor.id).values(revoked_at=utcnow())
    )
    await db.commit()
    clock.now += SECONDS
    assert await _me(client, headers) == 401


async def test_an_expired_session_is_not_answered_from_the_cache(clock):
    cache = principal_cache.CACHE
    p = Principal(user_id=1, username="u", role="nurse", session_id="s")
    cache.put(("k",), p, "api", utcnow() - timedelta(milliseconds=1), cache.generation)
    assert cache.get(("k",)) is None
    cache.put(("k",), p, "api", utcnow() + timedelta(hours=1), cache.generation)
    got = cache.get(("k",))
    assert got is not None
    assert got.principal == p
    assert got.principal is not p  # each request gets its own object


async def test_the_token_is_checked_on_every_request(client, make_user, login, clock):
    doctor = await make_user("family_doctor")
    headers = await login(doctor)
    assert await _me(client, headers) == 200
    # the same session id in a token signed with another key: refused though kept
    token = headers["Authorization"].removeprefix("Bearer ")
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    assert await _me(client, {"Authorization": f"Bearer {forged}"}) == 401


async def test_a_kept_principal_costs_no_statement_and_a_system_keeps_its_scopes(
    client, db, make_client, clock
):
    c = await make_client(scopes=("system/Patient.read", "system/Immunization.rs"))
    token = await client_token(client, c, "system/Patient.read")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    first = await accounts.principal_from_bearer(db, token)
    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        again = await accounts.principal_from_bearer(db, token)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    await db.rollback()
    assert statements == []
    assert first.scopes == again.scopes == frozenset({"system/Patient.read"})
    assert again is not first


async def test_changing_a_clients_scopes_refuses_its_kept_token(client, make_client, clock):
    from salomat.domains.accounts.schemas import ClientSystemChange
    from tests.domains.accounts.client_systems_support import ADMIN

    c = await make_client(scopes=("system/Patient.read", "system/Immunization.rs"))
    token = await client_token(client, c, "system/Patient.read")
    async with _session() as s:
        assert (await accounts.principal_from_bearer(s, token)).scopes is not None
        await accounts.change_client(
            s, ADMIN, c.client_id, ClientSystemChange(scopes=["system/Patient.read"])
        )
        await s.commit()
    async with _session() as s:
        with pytest.raises(Unauthorized):
            await accounts.principal_from_bearer(s, token)


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    cache = PrincipalCache(seconds=SECONDS, size=2, clock=clock)
    until = utcnow() + timedelta(hours=1)

    def p(n: int) -> Principal:
        return Principal(user_id=n, username=f"u{n}", role="nurse", session_id=f"s{n}")

    for n in (1, 2):
        cache.put((n,), p(n), "api", until, cache.generation)
    assert cache.get((1,)) is not None  # 1 used last: 2 is the least recently used
    cache.put((3,), p(3), "api", until, cache.generation)
    assert len(cache) == 2
    assert cache.get((2,)) is None
    assert cache.get((1,)) is not None
    assert cache.get((3,)) is not None


def test_a_read_that_raced_with_a_revocation_is_not_kept() -> None:
    cache = PrincipalCache(seconds=SECONDS, clock=Clock())
    until = utcnow() + timedelta(hours=1)
    began = cache.generation  # a request starts reading the session...
    cache.forget(session_ids=["s1"])  # ...another one logs it out meanwhile
    cache.put(("k",), Principal(1, "u", "nurse", "s1"), "api", until, began)
    assert cache.get(("k",)) is None


async def test_zero_seconds_turns_the_cache_off(client, db, make_user, login, monkeypatch):
    monkeypatch.setenv("SALOMAT_AUTH_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    try:
        monkeypatch.setattr(principal_cache, "CACHE", PrincipalCache(clock=Clock()))
        doctor = await make_user("family_doctor")
        headers = await login(doctor)
        assert await _me(client, headers) == 200
        assert len(principal_cache.CACHE) == 0
        await db.execute(update(User).where(User.id == doctor.id).values(is_active=False))
        await db.commit()
        assert await _me(client, headers) == 401  # no delay at all
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_default_delay_is_five_seconds() -> None:
    assert get_settings().auth_cache_seconds == 5
    assert PrincipalCache().seconds == 5
