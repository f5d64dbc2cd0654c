"""Clear errors, in the caller's format, and a failed request changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.domains.registry.models import Person
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio


async def test_validation_error_names_every_wrong_field(client, make_user, login):
    auth = await login(await make_user("registrar"))
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": "",
            "given_name": "Ali",
            "birth_date": "2999-01-01",
            "sex": "x",
            "national_id": "12ab",
            "shoe_size": 44,
        },
        headers=auth,
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422
    assert body["title"] == "Invalid input"
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"family_name", "birth_date", "sex", "national_id", "shoe_size"}
    for f in fields:
        assert f in body["detail"]


async def test_a_failed_request_changes_nothing(client, make_user, login):
    auth = await login(await make_user("registrar"))
    before = await _counts()
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": "Rollback",
            "given_name": "Ali",
            "birth_date": "1990-01-01",
            "sex": "male",
            "attached_facility_code": "NOPE",
        },
        headers=auth,
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "attached_facility_code", "message": "no facility has code NOPE"}
    ]
    after = await _counts()
    assert after["people"] == before["people"]
    assert after["creates"] == before["creates"]


async def _counts() -> dict[str, int]:
    async with session_factory()() as s:
        people = (await s.execute(select(func.count()).select_from(Person))).scalar_one()
        creates = (
            await s.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "create")
            )
        ).scalar_one()
    return {"people": people, "creates": creates}


async def test_conflict_on_duplicate_national_id(client, make_user, login):
    auth = await login(await make_user("registrar"))
    person = {
        "family_name": "Dup",
        "given_name": "Ali",
        "birth_date": "1990-08-12",
        "sex": "male",
        "national_id": national_id_for(date(1990, 8, 12), "male"),
    }
    assert (await client.post("/api/v1/persons", json=person, headers=auth)).status_code == 201
    r = await client.post("/api/v1/persons", json=person, headers=auth)
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "national_id"


async def test_stale_if_match_is_refused_with_412(client, make_user, make_person, login):
    registrar = await make_user("registrar")
    auth = await login(registrar)
    person = await make_person()
    first = await client.get(f"/api/v1/persons/{person.id}", headers=auth)
    etag = first.headers["etag"]
    ok = await client.patch(
        f"/api/v1/persons/{person.id}",
        json={"given_name": "Once"},
        headers={**auth, "If-Match": etag},
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] != etag
    stale = await client.patch(
        f"/api/v1/persons/{person.id}",
        json={"given_name": "Twice"},
        headers={**auth, "If-Match": etag},
    )
    assert stale.status_code == 412
    missing = await client.patch(
        f"/api/v1/persons/{person.id}", json={"given_name": "Twice"}, headers=auth
    )
    assert missing.status_code == 412
    final = await client.get(f"/api/v1/persons/{person.id}", headers=auth)
    assert final.json()["given_name"] == "Once"


async def test_page_size_is_bounded(client, make_user, login):
    auth = await login(await make_user("registrar"))
    top = get_settings().max_page_size
    r = await client.get("/api/v1/persons", params={"name": "ab", "limit": top + 1}, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "limit"
    r = await client.get("/api/v1/persons", params={"name": "ab", "limit": top}, headers=auth)
    assert r.status_code == 200


async def test_body_over_the_limit_is_refused_with_413(client, make_user, login):
    auth = await login(await make_user("registrar"))
    big = b'{"family_name": "' + b"x" * (get_settings().max_body_bytes + 10) + b'"}'
    r = await client.post(
        "/api/v1/persons", content=big, headers={**auth, "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"

    async def chunks():
        for _ in range(get_settings().max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    r = await client.post(
        "/api/v1/persons", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_fhir_errors_are_operation_outcomes(client):
    r = await client.get("/fhir/AuditEvent")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"


async def test_unknown_routes_and_methods_answer_problem_json(client):
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = await client.delete("/api/v1/me")
    assert r.status_code == 405


async def test_pages_get_a_readable_html_error(client):
    r = await client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/login", "/fhir/metadata"])
async def test_security_headers_on_every_response(client, path):
    r = await client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


async def test_person_data_is_never_cached(client, make_user, make_person, login):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    r = await client.get(f"/api/v1/persons/{person.id}", headers=await login(nurse))
    assert r.headers["cache-control"] == "no-store"


# ---- messages in the reader's language ---------------------------------------------------


async def test_api_messages_follow_accept_language_and_codes_stay(client, make_user, login):
    """Machine-readable parts (type, status, field) never change; the words do."""
    auth = await login(await make_user("registrar"))
    bad = {"family_name": "Ali", "birth_date": "not a date", "sex": "female"}
    english = await client.post("/api/v1/persons", json=bad, headers=auth)
    russian = await client.post(
        "/api/v1/persons", json=bad, headers={**auth, "Accept-Language": "ru"}
    )
    assert english.status_code == russian.status_code == 422
    en, ru = english.json(), russian.json()
    assert en["type"] == ru["type"] == "https://salomat.example/problems/invalid"
    assert en["title"] == "Invalid input"
    assert ru["title"] != en["title"]
    by_field_en = {e["field"]: e["message"] for e in en["errors"]}
    by_field_ru = {e["field"]: e["message"] for e in ru["errors"]}
    assert set(by_field_en) == set(by_field_ru) == {"given_name", "birth_date"}
    assert by_field_en["given_name"] == "This field is required."
    assert by_field_ru["given_name"] == "Это поле обязательно."
    assert by_field_en["birth_date"] == "Enter a valid date (YYYY-MM-DD)."
    assert by_field_ru["birth_date"] == "Введите правильную дату (ГГГГ-ММ-ДД)."
    assert ru["detail"].startswith("Неверное значение")


async def test_a_language_the_pack_does_not_offer_leaves_the_api_in_english(
    client, make_user, login
):
    auth = await login(await make_user("registrar"))
    r = await client.post("/api/v1/persons", json={}, headers={**auth, "Accept-Language": "kk"})
    assert r.status_code == 422
    assert r.json()["title"] == "Invalid input"  # the test deployment is UZ: uz, ru, en


def test_the_frameworks_own_messages_by_type_with_their_values():
    from pydantic import BaseModel, Field, ValidationError

    from salomat.core import i18n
    from salomat.core.errors import field_errors_from_pydantic

    class Form(BaseModel):
        code: str = Field(pattern=r"^[0-9]{3}$", max_length=3)
        note: str = Field(max_length=5)
        count: int = Field(ge=1, le=9)

    try:
        Form(code="12a", note="too long text", count=0)
    except ValidationError as e:
        errors = field_errors_from_pydantic(list(e.errors()))
    token = i18n.set_language("uz")
    try:
        shown = {f.field: f.message for f in errors}
    finally:
        i18n.reset_language(token)
    assert shown == {
        "code": "Qiymat kutilgan shaklda emas.",
        "note": "Koʻpi bilan 5 ta belgi.",
        "count": "Kamida 1 boʻlishi kerak.",
    }
    assert {f.field: f.type for f in errors} == {
        "code": "string_pattern_mismatch",
        "note": "string_too_long",
        "count": "greater_than_equal",
    }
    assert [f.message for f in errors][1] == "At most 5 characters."  # English outside a page


async def test_pages_show_errors_in_the_page_language(client, make_user, login):
    from salomat.core import i18n

    client.cookies.set("salomat_lang", "ru")
    r = await client.get("/no-such-page")
    assert r.status_code == 404
    not_found = i18n.translations("ru").gettext("Not found")
    assert not_found != "Not found"
    assert not_found in r.text
    assert "Not found" not in r.text
    auth = await login(await make_user("registrar"))
    r = await client.get("/patients/2147483647", headers=auth)
    assert r.status_code == 404
    assert "Not found" not in r.text
    assert "<h1" in r.text


def test_our_messages_carry_their_values_into_every_language():
    from salomat.core import i18n
    from salomat.core.errors import N_, Invalid, NotFound

    err = NotFound(N_("Invalid value for: %(fields)s"), params={"fields": "a, b"})
    assert str(err) == err.detail == "Invalid value for: a, b"
    token = i18n.set_language("kk")
    try:
        assert err.detail == "Қате мән: a, b"
        assert Invalid.fields([]).detail == "Қате мән: "
    finally:
        i18n.reset_language(token)


async def test_a_message_without_a_translation_is_summarised_in_the_page_language(
    client, make_user, login
):
    """A service message still built with an f-string has no catalog entry: the page says
    what happened in its own words and keeps the English text as a marked detail."""
    from salomat.core import i18n

    auth = await login(await make_user("nurse"))
    client.cookies.set("salomat_lang", "uz")
    r = await client.get("/patients/2147483000/immunizations", headers=auth)
    assert r.status_code == 404
    summary = i18n.translations("uz").gettext(
        "The record was not found, or it is outside your area of work."
    )
    assert summary in r.text
    assert '<p lang="en" translate="no">Patient 2147483000 not found.</p>' in r.text
    client.cookies.set("salomat_lang", "en")
    r = await client.get("/patients/2147483000/immunizations", headers=auth)
    assert "<p>Patient 2147483000 not found.</p>" in r.text
    assert "<details>" not in r.text


def test_every_status_has_a_summary_in_the_catalog():
    from salomat.core import errors, i18n

    for status in (400, 401, 403, 404, 409, 412, 413, 422, 429, 500):
        msgid = errors._SUMMARIES[status]
        for lang in ("uz", "ru", "kk"):
            assert i18n.translations(lang).gettext(msgid) != msgid, (status, lang)
