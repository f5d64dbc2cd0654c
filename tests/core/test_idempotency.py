"""A retried POST with the same Idempotency-Key creates one record."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.registry.models import Person

pytestmark = pytest.mark.anyio


def _person(name: str) -> dict:
    return {
        "family_name": name,
        "given_name": "Aziza",
        "birth_date": "2001-09-30",
        "sex": "female",
        # the same person on purpose: registering her again needs a reason
        "duplicate_reason": "test: a deliberate duplicate",
    }


async def _count(family_name: str) -> int:
    async with session_factory()() as s:
        q = select(func.count()).select_from(Person).where(Person.family_name == family_name)
        return (await s.execute(q)).scalar_one()


async def test_retry_with_the_same_key_returns_the_first_answer_and_creates_nothing(
    client, make_user, login
):
    auth = {**await login(await make_user("registrar")), "Idempotency-Key": "retry-0001"}
    first = await client.post("/api/v1/persons", json=_person("Idempotova"), headers=auth)
    again = await client.post("/api/v1/persons", json=_person("Idempotova"), headers=auth)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _count("Idempotova") == 1


async def test_same_key_with_a_different_body_is_refused(client, make_user, login):
    auth = {**await login(await make_user("registrar")), "Idempotency-Key": "retry-0002"}
    assert (
        await client.post("/api/v1/persons", json=_person("Keyone"), headers=auth)
    ).status_code == 201
    r = await client.post("/api/v1/persons", json=_person("Keytwo"), headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _count("Keytwo") == 0


async def test_keys_belong_to_their_user(client, make_user, login):
    one = {**await login(await make_user("registrar")), "Idempotency-Key": "shared-key"}
    two = {**await login(await make_user("registrar")), "Idempotency-Key": "shared-key"}
    assert (
        await client.post("/api/v1/persons", json=_person("Ownera"), headers=one)
    ).status_code == 201
    r = await client.post("/api/v1/persons", json=_person("Ownera"), headers=two)
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers
    assert await _count("Ownera") == 2


async def test_a_failed_request_stores_no_answer_so_a_corrected_retry_works(
    client, make_user, login
):
    auth = {**await login(await make_user("registrar")), "Idempotency-Key": "retry-0003"}
    bad = {**_person("Fixlater"), "attached_facility_code": "NO-SUCH-FACILITY"}
    assert (await client.post("/api/v1/persons", json=bad, headers=auth)).status_code == 422
    r = await client.post(
        "/api/v1/persons", json=bad | {"attached_facility_code": None}, headers=auth
    )
    assert r.status_code == 201


async def test_concurrent_retries_create_one_record(app, make_user, login):
    auth = {**await login(await make_user("registrar")), "Idempotency-Key": "race-0001"}
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[c.post("/api/v1/persons", json=_person("Racing"), headers=auth) for _ in range(6)]
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _count("Racing") == 1
