"""REST answers are serialised once (issue 24, lighter answers).

A route declares its ``response_model`` (the OpenAPI schema) and returns an instance of
it; FastAPI (0.115 and later) passes that instance through without validating it again
and writes it with pydantic's own JSON serialiser in one pass. These tests hold the
answer to exactly the model's JSON, so a change of FastAPI or of the app's response
class that validated twice or wrote other JSON shows here.
"""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from salomat.core.pagination import Page
from salomat.domains.registry.schemas import PersonOut
from tests.factories import unique_name

pytestmark = pytest.mark.anyio


class Small(BaseModel):
    n: int = Field(ge=0)
    when: date


async def test_a_returned_instance_of_the_response_model_is_not_validated_again():
    app = FastAPI()

    @app.get("/x", response_model=Small)
    async def x() -> Small:
        # what validation would refuse: only an answer passed through comes back 200
        return Small.model_construct(n=-1, when=date(2026, 1, 2))

    @app.get("/y", response_model=Small)
    async def y() -> dict:
        return {"n": -1, "when": "2026-01-02"}  # not an instance: validated, refused

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/x")
        assert r.status_code == 200, r.text
        assert r.content == b'{"n":-1,"when":"2026-01-02"}'
        assert (await c.get("/y")).status_code == 500


async def test_person_answers_are_the_models_json_byte_for_byte(
    client, make_user, login, make_person
):
    headers = await login(await make_user("registrar"))
    family = unique_name("Onceov")
    person = await make_person(family_name=family, birth_date=date(1990, 2, 3))
    await make_person(family_name=family)
    r = await client.get(f"/api/v1/persons/{person.id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    out = PersonOut.model_validate_json(r.content)
    assert r.content == out.model_dump_json().encode()
    body = json.loads(r.content)
    assert body == out.model_dump(mode="json")
    assert list(body) == list(PersonOut.model_fields)  # key order, None kept
    assert body["birth_date"] == "1990-02-03"
    assert body["patronymic"] is None
    assert body["created_at"].endswith("Z")
    r = await client.get("/api/v1/persons", params={"name": family}, headers=headers)
    assert r.status_code == 200, r.text
    page = Page[PersonOut].model_validate_json(r.content)
    assert page.total == 2
    assert r.content == page.model_dump_json().encode()


async def test_the_schema_still_names_the_response_models(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200, r.text
    op = r.json()["paths"]["/api/v1/persons/{person_id}"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PersonOut"}
