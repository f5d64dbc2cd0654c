"""The obstetric record's pages without a browser: permissions, CSRF, refusals, the advice."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from tests.domains.registry.test_web import field_error, web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
async def woman_and_doctor(make_facility, make_person, make_user):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await make_user("family_doctor", facility_code=fac.code)
    return woman, doctor


def registration(csrf: str, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "lmp": (TODAY - timedelta(weeks=10)).isoformat(),
        "gravida": "1",
        "parity": "0",
        **kw,
    }


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def contacts_stored(person_id: int) -> int:
    from salomat.domains.maternal.models import AntenatalContact

    async with session_factory()() as s:
        q = select(func.count()).where(AntenatalContact.person_id == person_id)
        return int((await s.execute(q)).scalar_one())


async def open_record(client, woman, csrf: str) -> str:
    url = f"/patients/{woman.id}/pregnancy"
    r = await client.post(url, data=registration(csrf))
    assert r.status_code == 303, r.text
    page = await client.get(url)
    assert page.status_code == 200
    return page.text


def contact_form(csrf: str, page: str, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "pregnancy_id": hidden(page, "pregnancy_id"),
        "version": hidden(page, "version"),
        "on": TODAY.isoformat(),
        **kw,
    }


async def test_open_at_ten_weeks_then_pressure_150_95_twice_shows_hypertension_and_high_risk(
    client, woman_and_doctor
):
    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    url = f"/patients/{woman.id}/pregnancy"
    empty = await client.get(url)
    assert empty.status_code == 200
    assert 'data-testid="pregnancy-form"' in empty.text

    page = await open_record(client, woman, csrf)
    assert 'data-testid="ga">10w0d<' in page
    edd = TODAY - timedelta(weeks=10) + timedelta(days=280)
    assert edd.strftime("%d.%m.%Y") in page
    assert "last menstrual period" in page
    assert 'data-testid="contact-form"' in page

    data = contact_form(
        csrf, page, systolic_1="150", diastolic_1="95", systolic_2="150", diastolic_2="95"
    )
    r = await client.post(f"{url}/contacts", data=data)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{url}?saved=1")
    after = await client.get(r.headers["location"])
    assert after.status_code == 200
    assert 'data-testid="saved"' in after.text
    item = re.search(
        r'<tr data-testid="advice-item" data-code="hypertension" data-rule="DT.17" class="new"'
        r' data-new="1">(.*?)</tr>',
        after.text,
        re.S,
    )
    assert item, after.text
    assert "WHO" in item.group(1)  # the source, named without the rule's id
    assert "DT.17" not in item.group(1)
    assert "Hypertension: counsel on diet, rest and danger signs" in item.group(1)
    assert re.search(r'data-testid="risk"><span class="badge warn">high<', after.text)
    assert "150/95, 150/95" in after.text
    assert await contacts_stored(woman.id) == 1

    # the same page's version again: someone else's contact came in between
    stale = await client.post(f"{url}/contacts", data=data)
    assert stale.status_code == 412
    assert await contacts_stored(woman.id) == 1


async def test_impossible_values_are_shown_beside_their_fields_and_nothing_is_stored(
    client, woman_and_doctor
):
    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    page = await open_record(client, woman, csrf)
    data = contact_form(
        csrf,
        page,
        systolic_1="400",
        diastolic_1="20",
        haemoglobin_g_l="5",
        danger_signs="convulsions",
    )
    r = await client.post(f"/patients/{woman.id}/pregnancy/contacts", data=data)
    assert r.status_code == 422
    assert "impossible" in field_error(r.text, "systolic_1")
    assert "impossible" in field_error(r.text, "haemoglobin_g_l")
    assert 'value="400"' in r.text  # what was typed stays
    assert 'value="convulsions" checked' in r.text
    assert await contacts_stored(woman.id) == 0

    r = await client.post(
        f"/patients/{woman.id}/pregnancy/contacts", data=contact_form(csrf, page, pulse_1="abc")
    )
    assert r.status_code == 422
    assert field_error(r.text, "pulse_1")
    assert await contacts_stored(woman.id) == 0


async def test_a_refused_registration_names_each_field(client, woman_and_doctor):
    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    future = (TODAY + timedelta(days=3)).isoformat()
    r = await client.post(
        f"/patients/{woman.id}/pregnancy",
        data=registration(csrf, lmp=future, gravida="1", parity="2"),
    )
    assert r.status_code == 422
    assert field_error(r.text, "lmp")
    assert field_error(r.text, "parity")
    assert 'data-testid="pregnancy-form"' in r.text
    page = await client.get(f"/patients/{woman.id}/pregnancy")
    assert 'data-testid="pregnancy-form"' in page.text  # still nothing registered


async def test_without_the_csrf_token_nothing_is_registered(client, woman_and_doctor):
    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    data = registration(csrf)
    del data["csrf_token"]
    r = await client.post(f"/patients/{woman.id}/pregnancy", data=data)
    assert r.status_code == 403
    r = await client.post(f"/patients/{woman.id}/pregnancy", data={**data, "csrf_token": "forged"})
    assert r.status_code == 403
    page = await client.get(f"/patients/{woman.id}/pregnancy")
    assert 'data-testid="pregnancy-form"' in page.text


async def test_a_pharmacist_cannot_reach_the_record(client, make_user, woman_and_doctor):
    woman, _ = woman_and_doctor
    pharmacist = await make_user("pharmacist")
    await web_login(client, pharmacist)
    r = await client.get(f"/patients/{woman.id}/pregnancy")
    assert r.status_code == 403
    assert "Obstetric record" not in r.text


async def test_a_nurse_reads_and_records_but_cannot_register(client, make_user, woman_and_doctor):
    woman, doctor = woman_and_doctor
    nurse = await make_user("nurse", facility_code=doctor.facility_code)
    await web_login(client, nurse)
    r = await client.get(f"/patients/{woman.id}/pregnancy")
    assert r.status_code == 200
    assert 'data-testid="pregnancy-form"' not in r.text
    assert 'data-testid="no-pregnancy"' in r.text


async def test_the_card_links_to_the_record_for_those_allowed(client, woman_and_doctor):
    woman, doctor = woman_and_doctor
    await web_login(client, doctor)
    card = await client.get(f"/patients/{woman.id}")
    assert f'href="/patients/{woman.id}/pregnancy"' in card.text


async def test_chronic_conditions_are_ticked_by_their_names_and_others_typed(
    client, woman_and_doctor
):
    """The form lists the conditions the rules read by name (no code to know); a refused
    form keeps what was ticked; a registered one stores the ticked and the typed codes."""
    from salomat.domains.maternal.models import Pregnancy

    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    client.cookies.set("salomat_lang", "ru")
    page = await client.get(f"/patients/{woman.id}/pregnancy")
    assert 'name="condition" value="chronic_hypertension"' in page.text
    assert "хроническая гипертензия" in page.text.lower()
    assert "chronic_hypertension)" not in page.text
    future = (TODAY + timedelta(days=3)).isoformat()
    body = {**registration(csrf, lmp=future), "condition": ["chronic_hypertension"]}
    refused = await client.post(f"/patients/{woman.id}/pregnancy", data=body)
    assert refused.status_code == 422
    assert 'value="chronic_hypertension" checked' in refused.text
    body = {
        **registration(csrf, conditions="thyroid_disease"),
        "condition": ["chronic_hypertension", "diabetes", "not_a_listed_one"],
    }
    r = await client.post(f"/patients/{woman.id}/pregnancy", data=body)
    assert r.status_code == 303, r.text
    async with session_factory()() as s:
        stored = await s.scalar(select(Pregnancy.conditions).where(Pregnancy.person_id == woman.id))
    assert sorted(stored) == ["chronic_hypertension", "diabetes", "thyroid_disease"]
