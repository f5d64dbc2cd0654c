"""Client systems log in as themselves: the token endpoint's checks of the signed
assertion (SMART Backend Services, RFC 7523), each refusal and its boundaries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.domains.accounts.service import client_tokens
from tests.domains.accounts.client_systems_support import (
    ADMIN,
    TOKEN_URL,
    Key,
    assertion,
    es384_key,
    rs384_key,
    token_form,
)
from tests.domains.accounts.client_systems_support import make_client as _make_client

make_client = _make_client  # the fixture
pytestmark = pytest.mark.anyio


def refused(r, status: int = 401, error: str = "invalid_client") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str)
    return body


async def test_es384_and_rs384_assertions_get_a_bearer_token(client, make_client):
    for key in (es384_key(), rs384_key()):
        c = await make_client(key=key)
        r = await client.post("/auth/token", data=token_form(assertion(c.client_id, key)))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer"
        assert body["scope"] == "system/Patient.read"
        assert 0 < body["expires_in"] <= 3600
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200, me.text
        assert me.json()["username"] == c.client_id
        assert me.json()["role"] == "family_doctor"


async def test_an_unregistered_key_is_refused(client, make_client):
    c = await make_client()
    other = es384_key()
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, other))))
    # the registered kid, signed by another key: the signature fails
    forged = es384_key(kid=c.key.kid)
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, forged))))


async def test_unknown_client_wrong_aud_iss_sub_and_missing_claims(client, make_client):
    c = await make_client()
    key = c.key
    refused(await client.post("/auth/token", data=token_form(assertion("nobody-here", key))))
    refused(
        await client.post(
            "/auth/token",
            data=token_form(assertion(c.client_id, key, aud="http://testserver/fhir")),
        )
    )
    refused(
        await client.post(
            "/auth/token", data=token_form(assertion(c.client_id, key, sub="someone-else"))
        )
    )
    for claim in ("jti", "exp", "aud"):
        refused(
            await client.post(
                "/auth/token", data=token_form(assertion(c.client_id, key, drop=(claim,)))
            )
        )


async def test_expiry_at_most_five_minutes_ahead(client, make_client, monkeypatch):
    c = await make_client()
    now = int(time.time())
    monkeypatch.setattr(client_tokens, "_now", lambda: float(now))
    at_limit = assertion(c.client_id, c.key, exp=now + 300)
    r = await client.post("/auth/token", data=token_form(at_limit))
    assert r.status_code == 200, r.text
    over = assertion(c.client_id, c.key, exp=now + 301)
    refused(await client.post("/auth/token", data=token_form(over)))
    below = assertion(c.client_id, c.key, exp=now + 299)
    assert (await client.post("/auth/token", data=token_form(below))).status_code == 200


async def test_an_expired_assertion_is_refused(client, make_client):
    c = await make_client()
    old = assertion(c.client_id, c.key, exp=int(time.time()) - 5)
    refused(await client.post("/auth/token", data=token_form(old)))


async def test_a_replayed_jti_is_refused(client, make_client):
    c = await make_client()
    a = assertion(c.client_id, c.key, jti="once-only")
    assert (await client.post("/auth/token", data=token_form(a))).status_code == 200
    refused(await client.post("/auth/token", data=token_form(a)))
    # another assertion with the same jti is the same replay
    b = assertion(c.client_id, c.key, jti="once-only")
    refused(await client.post("/auth/token", data=token_form(b)))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def part(d: dict) -> str:
    return _b64(json.dumps(d).encode())


def _hs256(claims: dict, kid: str, secret: bytes) -> str:
    """Signed by hand: pyjwt itself refuses a key that looks like a public key as an HMAC
    secret, but an attacker's library need not."""
    head = f"{part({'alg': 'HS256', 'kid': kid})}.{part(claims)}"
    return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def _unsigned(client_id: str, kid: str) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 120,
        "jti": "x" + str(time.time_ns()),
    }
    return f"{part({'alg': 'none', 'kid': kid})}.{part(claims)}."


async def test_wrong_algorithms_none_hs256_and_another_family(client, make_client):
    c = await make_client()
    refused(await client.post("/auth/token", data=token_form(_unsigned(c.client_id, c.key.kid))))
    # HS256 with the public key (its JWK text, its PEM) as the shared secret: the classic
    # confusion
    pem = c.key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        "iss": c.client_id,
        "sub": c.client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 120,
        "jti": "hs" + str(time.time_ns()),
    }
    for secret in (json.dumps(c.key.public_jwk()).encode(), pem):
        claims["jti"] += "x"
        hs = _hs256(claims, c.key.kid, secret)
        refused(await client.post("/auth/token", data=token_form(hs)))
    # ES256 (not allowed by SMART Backend Services) and RS384 claimed for an ES384 key
    p256 = Key(c.key.kid, "ES256", ec.generate_private_key(ec.SECP256R1()))
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, p256))))
    rsa = rs384_key(kid=c.key.kid)
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, rsa))))


async def test_a_disabled_client_gets_no_token_and_loses_its_tokens(client, make_client, db):
    from salomat.domains.accounts import service

    c = await make_client()
    r = await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    token = r.json()["access_token"]
    await service.set_client_active(db, ADMIN, c.client_id, False)
    await db.commit()
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key))))
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


async def test_request_errors(client, make_client):
    c = await make_client()
    good = assertion(c.client_id, c.key)
    r = await client.post("/auth/token", data={"grant_type": "authorization_code"})
    refused(r, 400, "unsupported_grant_type")
    form = token_form(good)
    refused(
        await client.post("/auth/token", data={**form, "client_assertion_type": "x"}),
        400,
        "invalid_request",
    )
    refused(
        await client.post("/auth/token", data={**form, "client_assertion": ""}),
        400,
        "invalid_request",
    )
    # no scope asked: the registered ones are granted (RFC 6749 section 3.3's default)
    form = token_form(assertion(c.client_id, c.key))
    del form["scope"]
    r = await client.post("/auth/token", data=form)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Patient.read"


async def test_scopes_beyond_the_grant_or_the_role_are_refused(client, make_client):
    c = await make_client(scopes=("system/Patient.read", "system/Immunization.rs"))
    for scope in ("system/Observation.read", "system/Patient.write", "patient/Patient.read"):
        body = refused(
            await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key), scope)),
            400,
            "invalid_scope",
        )
        assert scope in body["error_description"]
    r = await client.post(
        "/auth/token",
        data=token_form(assertion(c.client_id, c.key), "system/Patient.read system/Immunization.r"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Patient.read system/Immunization.r"


async def test_failures_are_audited_under_the_client_and_throttled_by_address(
    app, client, make_client, db
):
    """Refusals are audited under the client they name and counted against the address
    they came from: that address is stopped, the client itself is not (its id is no
    secret: counting under the name would let anyone lock a hospital's system out)."""
    import httpx
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent
    from salomat.core.config import get_settings
    from salomat.domains.accounts.service.sessions import CLIENT_FACTOR

    c = await make_client()
    wrong = es384_key()
    limit = get_settings().login_max_failures * CLIENT_FACTOR
    for _ in range(limit - 1):
        refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, wrong))))
    # one below the limit: the address still gets its token
    r = await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    assert r.status_code == 200, r.text
    refused(await client.post("/auth/token", data=token_form(assertion(c.client_id, wrong))))
    # at the limit: this address waits, whatever it sends
    r = await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    assert r.status_code == 429
    assert r.json()["error"] == "invalid_client"
    assert int(r.headers["retry-after"]) >= 1
    # the hospital's system, from its own address, is not locked out
    transport = httpx.ASGITransport(app=app, client=("10.251.0.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as own:
        r = await own.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    assert r.status_code == 200, r.text
    rows = (
        await db.scalars(
            select(AuditEvent).where(AuditEvent.username == c.client_id).order_by(AuditEvent.id)
        )
    ).all()
    details = [r.detail for r in rows if r.outcome == "failure"]
    assert details.count(f"client_credentials: unregistered key {wrong.kid}") == limit
    assert details[-1] == "client_credentials: throttled"


async def test_success_is_audited_under_the_client(client, make_client, db):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    c = await make_client()
    r = await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    assert r.status_code == 200
    row = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.username == c.client_id, AuditEvent.action == "login"
            )
        )
    ).one()
    assert row.outcome == "success"
    assert row.role == "family_doctor"
    assert row.detail == "client_credentials: system/Patient.read"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    junk=st.one_of(
        st.text(max_size=300),
        st.binary(max_size=200).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.lists(
            st.text(
                alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                max_size=60,
            ),
            min_size=3,
            max_size=3,
        ).map(".".join),
        st.dictionaries(
            st.sampled_from(["alg", "kid", "typ", "crit", "jku"]), st.text(max_size=20)
        ).map(
            lambda h: (
                base64.urlsafe_b64encode(json.dumps(h).encode()).rstrip(b"=").decode() + ".e30."
            )
        ),
    ),
    scope=st.text(max_size=80),
)
async def test_garbage_assertions_never_5xx(client, junk, scope):
    r = await client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": client_tokens.ASSERTION_TYPE,
            "client_assertion": junk,
            "scope": scope or "system/Patient.read",
        },
    )
    assert r.status_code in (400, 401, 422, 429), r.text


async def test_hostile_claims_and_headers_are_refused_not_5xx(client, make_client, db):
    """What an attacker controls never reaches a column as is: a NUL in iss, kid or jti
    (PostgreSQL text cannot hold one), an infinite exp, a header alg with a NUL."""
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    c = await make_client()
    signed = [
        assertion("his\x00evil", c.key, sub="his\x00evil"),
        assertion(c.client_id, c.key, kid="k\x00"),
        assertion(c.client_id, c.key, jti="j\x00"),
        assertion(c.client_id, c.key, exp=float("inf")),
        assertion(c.client_id, c.key, exp=-float("inf")),
        assertion("x" * 5000, c.key, sub="x" * 5000),
    ]
    for a in signed:
        refused(await client.post("/auth/token", data=token_form(a)))
    head = _b64(json.dumps({"alg": "ES384\x00", "kid": c.key.kid}).encode())
    refused(await client.post("/auth/token", data=token_form(f"{head}.e30.")))
    refused(
        await client.post(
            "/auth/token", data=token_form(assertion(c.client_id, c.key), "system/\x01.read")
        ),
        400,
        "invalid_scope",
    )
    # (a NUL in any form field is refused before: 422, core.params)
    # a refused scope is audited under the client, the scope as written escaped
    row = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.username == c.client_id,
                AuditEvent.detail.like("client_credentials: scope refused%"),
            )
        )
    ).one()
    assert "\\x01" in row.detail
