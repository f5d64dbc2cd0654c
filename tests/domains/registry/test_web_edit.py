"""The registrar corrects a person's data on a page (no browser)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from tests.domains.registry.test_web import field_error, web_login
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio
BORN = date(1988, 4, 17)


async def _registered(client, headers) -> dict:
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": unique_name("Ka"),
            "given_name": unique_name("Ma"),
            "birth_date": BORN.isoformat(),
            "sex": "female",
            "national_id": national_id_for(BORN, "female"),
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _form(csrf: str, person: dict, version: int | None = None, **kw: str) -> dict[str, str]:
    data = {
        f: "" if person.get(f) is None else str(person[f])
        for f in (
            "national_id",
            "family_name",
            "given_name",
            "patronymic",
            "birth_date",
            "sex",
            "phone",
            "settlement_code",
            "address",
        )
    }
    return {
        "csrf_token": csrf,
        "version": str(person["version"] if version is None else version),
        **data,
        **kw,
    }


@pytest.fixture
async def registrar(make_user, login, client):
    account = await make_user("registrar")
    headers = await login(account)
    return account, headers


async def test_the_card_links_to_the_form_which_shows_the_stored_values(client, registrar):
    account, headers = registrar
    person = await _registered(client, headers)
    await web_login(client, account)
    card = await client.get(f"/patients/{person['id']}")
    assert f'href="/patients/{person["id"]}/edit"' in card.text
    page = await client.get(f"/patients/{person['id']}/edit")
    assert page.status_code == 200
    assert f'value="{person["family_name"]}"' in page.text
    assert 'name="version" value="1"' in page.text


async def test_a_correction_is_stored_as_a_new_version_seen_on_the_versions_page(client, registrar):
    account, headers = registrar
    person = await _registered(client, headers)
    csrf = await web_login(client, account)
    new_family = unique_name("Yu")
    r = await client.post(
        f"/patients/{person['id']}/edit",
        data=_form(
            csrf, person, family_name=new_family, phone="90 123 45 67", address="Bog' ko'chasi 5"
        ),
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/patients/{person['id']}?saved=1"
    stored = (await client.get(f"/api/v1/persons/{person['id']}", headers=headers)).json()
    assert (stored["family_name"], stored["phone"], stored["version"]) == (
        new_family,
        "+998901234567",
        2,
    )
    assert stored["family_name_alt"]  # the other script follows the corrected name
    card = await client.get(r.headers["location"])
    assert 'data-testid="saved"' in card.text
    versions = await client.get(f"/patients/{person['id']}/versions")
    assert new_family in versions.text
    assert person["family_name"] in versions.text  # the first version stays
    async with session_factory()() as s:
        actions = set(
            await s.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.patient_id == person["id"], AuditEvent.username == account.username
                )
            )
        )
    assert "update" in actions


async def test_wrong_fields_are_named_and_nothing_is_stored(client, registrar):
    account, headers = registrar
    person = await _registered(client, headers)
    csrf = await web_login(client, account)
    url = f"/patients/{person['id']}/edit"
    r = await client.post(url, data=_form(csrf, person, family_name="", phone="90 123 45 67"))
    assert r.status_code == 422
    assert field_error(r.text, "family_name")
    assert 'aria-invalid="true" aria-describedby="f-family_name-error"' in r.text
    assert 'value="90 123 45 67"' in r.text  # what was typed comes back
    for field, value in (("given_name", "Ali4"), ("phone", "12"), ("settlement_code", "NOPE")):
        r = await client.post(url, data=_form(csrf, person, **{field: value}))
        assert r.status_code == 422, field
        assert field_error(r.text, field), field
    stored = (await client.get(f"/api/v1/persons/{person['id']}", headers=headers)).json()
    assert stored["version"] == 1
    # the national id encodes the sex: changing only the sex names both
    r = await client.post(f"/patients/{person['id']}/edit", data=_form(csrf, person, sex="male"))
    assert r.status_code == 422
    assert field_error(r.text, "sex")
    assert field_error(r.text, "national_id")


async def test_messages_come_in_the_page_language(client, registrar):
    account, headers = registrar
    person = await _registered(client, headers)
    csrf = await web_login(client, account)
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        f"/patients/{person['id']}/edit", data=_form(csrf, person, given_name="Ali4")
    )
    assert r.status_code == 422
    message = field_error(r.text, "given_name")
    assert message
    assert re.search("[а-яА-Я]", message), message


async def test_a_stale_form_is_refused_unless_it_changes_nothing(client, registrar):
    account, headers = registrar
    person = await _registered(client, headers)
    csrf = await web_login(client, account)
    url = f"/patients/{person['id']}/edit"
    first = unique_name("Na")
    assert (await client.post(url, data=_form(csrf, person, family_name=first))).status_code == 303
    # the same values sent from the form read at version 1: already stored, nothing to refuse
    r = await client.post(url, data=_form(csrf, person, family_name=first))
    assert r.status_code == 303
    # other values from version 1: someone changed it since
    r = await client.post(url, data=_form(csrf, person, family_name=unique_name("Zo")))
    assert r.status_code == 412
    assert 'data-testid="stored-family_name"' in r.text
    assert first in r.text  # what is stored now is shown
    assert 'name="version" value="2"' in r.text  # saving again writes over what was seen
    stored = (await client.get(f"/api/v1/persons/{person['id']}", headers=headers)).json()
    assert (stored["family_name"], stored["version"]) == (first, 2)


async def test_only_roles_with_person_update_see_the_form(client, make_user, make_person, login):
    doctor = await make_user("family_doctor")
    person = await make_person(doctor.facility_code)
    await web_login(client, doctor)
    card = await client.get(f"/patients/{person.id}")
    assert card.status_code == 200
    assert "/edit" not in card.text
    assert (await client.get(f"/patients/{person.id}/edit")).status_code == 403
