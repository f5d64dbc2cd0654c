"""The pages after the antenatal period without a browser: closing a pregnancy, the birth
form (twins, per-baby refusals), the birth summary and postnatal contacts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from tests.domains.maternal.test_web import hidden, registration
from tests.domains.registry.test_web import field_error, web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()
BORN = TODAY - timedelta(days=1)


@pytest.fixture
async def clinic(make_facility, make_person, make_user):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    obstetrician = await make_user("obstetrician", facility_code=fac.code)
    return woman, obstetrician


async def stored(person_id: int) -> tuple[int, int, int]:
    """Birth records, babies and postnatal contacts of the mother."""
    from salomat.domains.maternal.models import Baby, BirthRecord, PostnatalContact

    cols = (BirthRecord.person_id, Baby.mother_person_id, PostnatalContact.person_id)
    async with session_factory()() as s:
        births, babies, contacts = [
            int(await s.scalar(select(func.count()).where(col == person_id))) for col in cols
        ]
    return births, babies, contacts


async def pregnant(client, woman, csrf: str, weeks: int = 37, **kw: str) -> str:
    """Registers her pregnancy at ``weeks`` and returns the birth page."""
    lmp = (TODAY - timedelta(weeks=weeks)).isoformat()
    r = await client.post(f"/patients/{woman.id}/pregnancy", data=registration(csrf, lmp=lmp, **kw))
    assert r.status_code == 303, r.text
    page = await client.get(f"/patients/{woman.id}/pregnancy/birth")
    assert page.status_code == 200, page.text
    return page.text


def birth_form(csrf: str, page: str, **kw: str) -> dict[str, str]:
    """One live-born boy, as the form sends him; ``kw`` overrides or adds fields."""
    return {
        "csrf_token": csrf,
        "pregnancy_id": hidden(page, "pregnancy_id"),
        "version": hidden(page, "version"),
        "count": "1",
        "ga_dated": hidden(page, "ga_dated"),
        "born_on": BORN.isoformat(),
        "mode": "spontaneous_vaginal",
        "ga_w": input_value(page, "ga_w") or "",
        "ga_d": input_value(page, "ga_d") or "",
        "babies.0.outcome": "live",
        "babies.0.sex": "male",
        "babies.0.given_name": "Rustam",
        "babies.0.birth_weight_g": "3200",
        "babies.0.length_cm": "50",
        "babies.0.apgar_1": "8",
        "babies.0.apgar_5": "9",
        **kw,
    }


def input_value(html: str, name: str) -> str | None:
    m = re.search(rf'name="{re.escape(name)}" type="[a-z]+" value="([^"]*)"', html)
    return m.group(1) if m else None


async def test_twins_one_stillborn_are_recorded_and_summarised_with_the_babys_link(client, clinic):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf, multiple_pregnancy="1")
    record = await client.get(f"/patients/{woman.id}/pregnancy")
    assert f'href="/patients/{woman.id}/pregnancy/birth"' in record.text
    assert 'data-testid="close-form"' in record.text
    # a multiple pregnancy opens with two rows; the GA is prefilled from the dating
    assert page.count('data-testid="baby-row"') == 2
    assert input_value(page, "ga_w") == "37"
    assert input_value(page, "ga_d") == "0"

    data = birth_form(
        csrf,
        page,
        count="2",
        mode="caesarean_emergency",
        **{
            "ga_w": "37",
            "ga_d": "0",
            "babies.1.outcome": "stillbirth",
            "babies.1.stillbirth_type": "macerated",
            "babies.1.birth_weight_g": "2100",
        },
    )
    r = await client.post(f"/patients/{woman.id}/pregnancy/birth", data=data)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/patients/{woman.id}/pregnancy?born=1#birth"
    assert await stored(woman.id) == (1, 2, 0)

    after = await client.get(r.headers["location"])
    assert after.status_code == 200
    assert 'data-testid="born"' in after.text
    # the GA left as prefilled is computed for the birth date (one day before today)
    assert 'data-testid="birth-ga">36w6d<' in after.text
    assert "emergency caesarean section" in after.text
    links = re.findall(r'<a href="/patients/(\d+)" data-testid="baby-link">', after.text)
    assert len(links) == 1
    assert 'data-outcome="stillbirth"' in after.text
    assert "macerated" in after.text
    assert re.search(r'data-testid="last-outcome">live birth<', after.text)
    assert 'data-testid="postnatal-form"' in after.text
    assert f'href="/patients/{woman.id}/pregnancy/birth"' not in after.text

    card = await client.get(f"/patients/{links[0]}")
    assert card.status_code == 200
    assert "Rustam" in card.text

    # the birth page of a woman without a current pregnancy leads back to the record
    again = await client.get(f"/patients/{woman.id}/pregnancy/birth")
    assert again.status_code == 303
    assert again.headers["location"] == f"/patients/{woman.id}/pregnancy"


async def test_adding_a_baby_redraws_the_form_keeps_what_was_typed_and_stores_nothing(
    client, clinic
):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf)
    assert page.count('data-testid="baby-row"') == 1
    r = await client.post(
        f"/patients/{woman.id}/pregnancy/birth", data=birth_form(csrf, page, rows="2")
    )
    assert r.status_code == 200
    assert r.text.count('data-testid="baby-row"') == 2
    assert input_value(r.text, "babies.0.given_name") == "Rustam"
    assert 'name="count" value="2"' in r.text
    assert await stored(woman.id) == (0, 0, 0)


async def test_impossible_values_are_named_beside_their_fields_and_nothing_is_stored(
    client, clinic
):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf)
    url = f"/patients/{woman.id}/pregnancy/birth"
    data = birth_form(csrf, page, **{"babies.0.apgar_1": "11", "babies.0.birth_weight_g": "50"})
    r = await client.post(url, data=data)
    assert r.status_code == 422
    assert "impossible" in field_error(r.text, "babies.0.apgar_1")
    assert "impossible" in field_error(r.text, "babies.0.birth_weight_g")
    assert field_error(r.text, "babies.0.apgar_5") is None
    assert input_value(r.text, "babies.0.apgar_1") == "11"  # what was typed stays
    assert await stored(woman.id) == (0, 0, 0)

    # a live-born baby needs a name; a number that is not one is refused by the schema
    r = await client.post(url, data=birth_form(csrf, page, **{"babies.0.given_name": ""}))
    assert r.status_code == 422
    assert "required" in field_error(r.text, "babies.0.given_name")
    r = await client.post(url, data=birth_form(csrf, page, **{"babies.0.length_cm": "x"}))
    assert r.status_code == 422
    assert field_error(r.text, "babies.0.length_cm")
    # a gestational age changed by hand is sent and checked
    r = await client.post(url, data=birth_form(csrf, page, ga_w="50", ga_d="0"))
    assert r.status_code == 422
    assert "gestational age" in field_error(r.text, "ga_days")
    assert await stored(woman.id) == (0, 0, 0)


async def test_a_stale_version_is_refused(client, clinic):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf)
    r = await client.post(
        f"/patients/{woman.id}/pregnancy/birth", data=birth_form(csrf, page, version="99")
    )
    assert r.status_code == 412
    assert 'data-testid="birth-error"' in r.text
    r = await client.post(
        f"/patients/{woman.id}/pregnancy/birth", data=birth_form(csrf, page, csrf_token="x")
    )
    assert r.status_code == 403
    assert await stored(woman.id) == (0, 0, 0)


async def test_out_of_scope_is_404_and_a_nurse_may_not_record_the_birth(
    client, clinic, make_facility, make_user
):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf)
    data = birth_form(csrf, page)

    elsewhere = await make_user("obstetrician", facility_code=(await make_facility()).code)
    other_csrf = await web_login(client, elsewhere)
    url = f"/patients/{woman.id}/pregnancy/birth"
    assert (await client.get(url)).status_code == 404
    r = await client.post(url, data={**data, "csrf_token": other_csrf})
    assert r.status_code == 404
    assert await stored(woman.id) == (0, 0, 0)

    nurse = await make_user("nurse", facility_code=obstetrician.facility_code)
    nurse_csrf = await web_login(client, nurse)
    assert (await client.get(url)).status_code == 403
    r = await client.post(url, data={**data, "csrf_token": nurse_csrf})
    assert r.status_code == 403
    record = await client.get(f"/patients/{woman.id}/pregnancy")
    assert record.status_code == 200
    assert 'data-testid="birth-link"' not in record.text
    assert 'data-testid="close-form"' not in record.text
    assert await stored(woman.id) == (0, 0, 0)


async def test_closing_with_a_miscarriage_and_what_the_close_form_refuses(client, clinic):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    await pregnant(client, woman, csrf, weeks=12)
    url = f"/patients/{woman.id}/pregnancy"
    page = (await client.get(url)).text
    form = {
        "csrf_token": csrf,
        "pregnancy_id": hidden(page, "pregnancy_id"),
        "version": hidden(page, "version"),
        "outcome": "miscarriage",
        "closed_on": (TODAY + timedelta(days=2)).isoformat(),
    }
    r = await client.post(f"{url}/close", data=form)
    assert r.status_code == 422
    assert "future" in field_error(r.text, "closed_on")
    # a birth outcome belongs to the birth page
    r = await client.post(f"{url}/close", data={**form, "outcome": "live_birth"})
    assert r.status_code == 422
    assert field_error(r.text, "outcome")
    assert 'data-testid="ga"' in (await client.get(url)).text  # still current

    r = await client.post(f"{url}/close", data={**form, "closed_on": TODAY.isoformat()})
    assert r.status_code == 303, r.text
    after = await client.get(r.headers["location"])
    assert 'data-testid="closed"' in after.text
    assert re.search(r'data-testid="last-outcome">miscarriage<', after.text)
    assert 'data-testid="pregnancy-form"' in after.text  # a new one may be registered
    assert 'data-testid="birth"' not in after.text
    # the same page again: the pregnancy is no longer current
    r = await client.post(f"{url}/close", data={**form, "closed_on": TODAY.isoformat()})
    assert r.status_code == 422
    assert field_error(r.text, "pregnancy_id")


async def test_postnatal_contacts_after_the_birth(client, clinic, make_user):
    woman, obstetrician = clinic
    csrf = await web_login(client, obstetrician)
    page = await pregnant(client, woman, csrf)
    r = await client.post(f"/patients/{woman.id}/pregnancy/birth", data=birth_form(csrf, page))
    assert r.status_code == 303, r.text

    # the patronage nurse records it
    nurse = await make_user("nurse", facility_code=obstetrician.facility_code)
    csrf = await web_login(client, nurse)
    url = f"/patients/{woman.id}/pregnancy"
    record = (await client.get(url)).text
    assert 'data-testid="no-postnatal"' in record
    baby = re.search(r'<option value="(\d+)">Baby 1', record).group(1)
    form = {
        "csrf_token": csrf,
        "pregnancy_id": hidden(record, "pregnancy_id"),
        "on": TODAY.isoformat(),
        "systolic": "120",
        "temperature_c": "36.8",
        "bleeding": "normal",
        "baby_danger_signs": "jaundice",
    }
    r = await client.post(f"{url}/postnatal", data=form)
    assert r.status_code == 422
    assert "both" in field_error(r.text, "diastolic")
    assert "which baby" in field_error(r.text, "baby_person_id")
    assert 'value="jaundice" checked' in r.text
    assert await stored(woman.id) == (1, 1, 0)

    form.update(diastolic="80", baby_person_id=baby, baby_weight_g="3150", breastfeeding="yes")
    r = await client.post(f"{url}/postnatal", data=form)
    assert r.status_code == 303, r.text
    after = await client.get(r.headers["location"])
    assert 'data-testid="postnatal-saved"' in after.text
    row = re.search(r'<tr data-testid="postnatal-contact">(.*?)</tr>', after.text, re.S).group(1)
    assert "120/80" in row
    assert f'href="/patients/{baby}"' in row
    assert "jaundice" in row
    assert "Breastfeeding: yes" in row
    assert await stored(woman.id) == (1, 1, 1)
