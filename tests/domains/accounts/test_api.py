"""Logging in, tokens, refresh, logout, disabling, throttling."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from salomat.core.config import get_settings

pytestmark = pytest.mark.anyio


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def _token(client, account) -> dict:
    r = await client.post(
        "/auth/token", data={"username": account.username, "password": account.password}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_password_login_returns_a_short_lived_signed_token(client, make_user):
    nurse = await make_user("nurse")
    body = await _token(client, nurse)
    claims = _claims(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    assert claims["aud"] == get_settings().jwt_audience
    assert claims["exp"] - claims["iat"] == get_settings().access_token_minutes * 60
    assert body["token_type"] == "bearer"
    assert body["refresh_token"]
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200
    assert r.json()["username"] == nurse.username
    assert r.json()["facility_code"] == nurse.facility_code


def _forge(claims: dict, *, key: str | None = None, alg: str = "HS256") -> str:
    return jwt.encode(claims, key or get_settings().resolved_secret_key(), algorithm=alg)


@pytest.mark.parametrize(
    "tamper",
    ["alg_none", "wrong_signature", "expired", "wrong_audience", "changed_role", "garbage"],
)
async def test_tampered_tokens_are_refused_with_401(client, make_user, tamper):
    user = await make_user("family_doctor")
    good = (await _token(client, user))["access_token"]
    claims = _claims(good)
    if tamper == "alg_none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    elif tamper == "wrong_signature":
        token = _forge(claims, key="not-the-secret-but-long-enough-for-hs256-32b")
    elif tamper == "expired":
        past = datetime.now(UTC) - timedelta(hours=1)
        token = _forge(
            {
                **claims,
                "iat": past - timedelta(minutes=15),
                "nbf": past - timedelta(minutes=15),
                "exp": past,
            }
        )
    elif tamper == "wrong_audience":
        token = _forge({**claims, "aud": "another-service"})
    elif tamper == "changed_role":
        # a validly signed token whose role no longer matches the account
        token = _forge({**claims, "role": "admin"})
    else:
        token = "not.a.token"
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"].startswith("Bearer")
    # the untampered token still works: the refusal was about the tampering
    ok = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200


async def test_no_credentials_is_401_and_wrong_role_is_403(client, make_user, login):
    r = await client.get("/api/v1/users")
    assert r.status_code == 401
    nurse = await make_user("nurse")
    r = await client.get("/api/v1/users", headers=await login(nurse))
    assert r.status_code == 403
    assert "nurse" in r.json()["detail"]


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(client, make_user):
    user = await make_user("pharmacist")
    first = await _token(client, user)
    r = await client.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status_code == 200
    again = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    third = await client.post("/auth/token", data=again)
    assert third.status_code == 200


async def test_a_replaced_refresh_token_presented_again_revokes_the_session(client, make_user):
    """Someone else holds a copy of the old token: end the whole login, theirs and ours."""
    user = await make_user("nurse")
    first = await _token(client, user)
    rotated = await client.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    current = rotated.json()
    stolen = await client.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert stolen.status_code == 401
    auth = {"Authorization": f"Bearer {current['access_token']}"}
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401
    again = await client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": current["refresh_token"]},
    )
    assert again.status_code == 401


async def test_logout_revokes_the_access_token_and_the_refresh_token(client, make_user):
    user = await make_user("obstetrician")
    tokens = await _token(client, user)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/auth/logout", headers=auth)).status_code == 204
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401
    r = await client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert r.status_code == 401


async def test_disabling_an_account_revokes_its_tokens_and_blocks_login(client, make_user, login):
    admin = await make_user("admin")
    victim = await make_user("nurse")
    victim_auth = await login(victim)
    r = await client.post(f"/api/v1/users/{victim.id}/disable", headers=await login(admin))
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert (await client.get("/api/v1/me", headers=victim_auth)).status_code == 401
    r = await client.post(
        "/auth/token", data={"username": victim.username, "password": victim.password}
    )
    assert r.status_code == 401


async def test_unknown_user_and_wrong_password_get_the_same_answer(client, make_user):
    user = await make_user("registrar")
    wrong = await client.post(
        "/auth/token", data={"username": user.username, "password": "wrong password!"}
    )
    unknown = await client.post(
        "/auth/token", data={"username": "nobody-here-at-all", "password": "wrong password!"}
    )
    assert wrong.status_code == unknown.status_code == 401

    def strip(r):
        body = r.json()
        body.pop("request_id", None)
        return body, r.headers["content-type"]

    assert strip(wrong) == strip(unknown)


async def test_repeated_failures_are_throttled_identically_for_unknown_and_known(client, make_user):
    limit = get_settings().login_max_failures
    user = await make_user("nurse")
    answers = {}
    for name in (user.username, "ghost-user-xyz"):
        for _ in range(limit):
            r = await client.post(
                "/auth/token", data={"username": name, "password": "bad password 1"}
            )
            assert r.status_code == 401
        r = await client.post("/auth/token", data={"username": name, "password": "bad password 1"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        body = r.json()
        body.pop("request_id", None)
        answers[name] = body
    assert answers[user.username] == answers["ghost-user-xyz"]
    # even the right password is refused while throttled
    r = await client.post(
        "/auth/token", data={"username": user.username, "password": user.password}
    )
    assert r.status_code == 429


async def test_login_form_errors_name_each_missing_field(client):
    r = await client.post("/auth/token", data={})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"username", "password"}


@pytest.mark.skipif(
    __import__("tests.conftest", fromlist=["BACKEND"]).BACKEND != "postgresql",
    reason="a real race needs concurrent transactions: run with SALOMAT_TEST_DB=postgresql",
)
async def test_two_refreshes_with_one_token_at_once_rotate_it_once(app, make_user, monkeypatch):
    """Both requests read the session before either rotates it (a barrier between the read
    and the rotation): exactly one gets a new refresh token, the other 401, so no copy of
    a token lives on beside the rotated one."""
    import asyncio

    import httpx

    from salomat.domains.accounts.service import sessions

    user = await make_user("pharmacist")
    barrier = asyncio.Barrier(2)
    rotate = sessions._rotate

    async def together(*args):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), 60)
        return await rotate(*args)

    transport = httpx.ASGITransport(app=app, client=("10.9.9.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        first = await _token(c, user)
        monkeypatch.setattr(sessions, "_rotate", together)
        body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        answers = await asyncio.gather(*[c.post("/auth/token", data=body) for _ in range(2)])
    assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
