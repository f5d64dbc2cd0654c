"""Two token requests at once with one client assertion: exactly one gets a token, held by
the database (the used jti's primary key), not by a check in Python (PostgreSQL; SQLite
has one writer)."""

from __future__ import annotations

import asyncio

import pytest

from salomat.domains.accounts.service import client_tokens
from tests.domains.accounts.client_systems_support import assertion, token_form
from tests.domains.accounts.client_systems_support import make_client as _make_client

make_client = _make_client  # the fixture
pytestmark = pytest.mark.anyio


async def test_one_assertion_sent_twice_at_once_gets_one_token(
    client, make_client, backend, monkeypatch
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    c = await make_client()
    barrier = asyncio.Barrier(2)
    remember = client_tokens._remember_jti

    async def together(session, client_system, jti, expires_at):  # type: ignore[no-untyped-def]
        # both requests have checked the signature and the claims: they store the jti now
        await asyncio.wait_for(barrier.wait(), 60)
        return await remember(session, client_system, jti, expires_at)

    monkeypatch.setattr(client_tokens, "_remember_jti", together)
    form = token_form(assertion(c.client_id, c.key))
    answers = await asyncio.gather(*[client.post("/auth/token", data=form) for _ in range(2)])
    assert sorted(r.status_code for r in answers) == [200, 401], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 401)
    assert refused.json()["error"] == "invalid_client"
