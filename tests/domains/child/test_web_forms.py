"""The passport's well-child visit and newborn screening forms without a browser: a visit
saved and listed against the schedule, refusals beside their field with nothing stored,
the screening at its version, and no form (403 on posting) for those who may only read."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from tests.domains.registry.test_web import field_error, web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def visits_stored(person_id: int) -> int:
    from salomat.domains.child.models import WellChildVisit

    async with session_factory()() as s:
        return int(
            await s.scalar(select(func.count()).where(WellChildVisit.person_id == person_id))
        )


async def newborn_stored(person_id: int) -> int:
    from salomat.domains.child.models import NewbornRecord

    async with session_factory()() as s:
        return int(await s.scalar(select(func.count()).where(NewbornRecord.person_id == person_id)))


def visit_form(csrf: str, **kw: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "csrf_token": csrf,
        "on": TODAY.isoformat(),
        # two boxes checked: the form posts one value for each
        "milestones": ["social_smile", "holds_head_up"],
        "feeding": "exclusive_breastfeeding",
        "illnesses": "common cold\n\nnappy rash",
        "notes": "Thriving.",
        **kw,
    }


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


@pytest.fixture
async def nursery(make_facility, make_person, make_user):
    """A girl of 45 days (the 6-week visit is due) attached to the nurse's polyclinic."""
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="female", birth_date=TODAY - timedelta(days=45)
    )
    nurse = await make_user("nurse", facility_code=fac.code)
    return fac, child, nurse


async def test_the_nurse_records_a_visit_and_sees_it_in_the_list_and_the_schedule(client, nursery):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    page = await client.get(f"/children/{child.id}")
    assert page.status_code == 200
    assert 'data-testid="visit-form"' in page.text
    assert 'data-testid="visit-row"' not in page.text

    r = await client.post(f"/children/{child.id}/visits", data=visit_form(csrf))
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    m = re.fullmatch(rf"/children/{child.id}\?visit=(\d+)#visit-saved", location)
    assert m, location
    visit_id = m.group(1)
    html = (await client.get(location)).text
    assert 'data-testid="visit-saved"' in html
    assert 'data-testid="visit-saved-slot">6 weeks<' in html
    row = re.search(rf'data-testid="visit-row" data-visit="{visit_id}">(.*?)</li>', html, re.S)
    assert row, html
    text = row.group(1)
    for shown in (
        "exclusive breastfeeding",
        "Holds head up when on tummy",
        "Smiles when talked to or smiled at",
        "common cold",
    ):
        assert shown in text, (shown, text)
    assert "nappy rash" in text
    assert "Thriving." in text
    slot = re.search(rf'data-visit="{visit_id}">.*?data-testid="visit-status">([^<]*)<', html, re.S)
    assert slot
    assert slot.group(1) == "done"
    assert await visits_stored(child.id) == 1


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"on": (TODAY + timedelta(days=1)).isoformat()}, "on", "future"),
        ({"on": (TODAY - timedelta(days=60)).isoformat()}, "on", "before the birth"),
        ({"on": "31.02.2026"}, "on", "date"),
        ({"milestones": ["social_smile", "walks-alone"]}, "milestones", "list of milestones"),
        ({"feeding": "milk"}, "feeding", "exclusive_breastfeeding"),
        ({"notes": "x" * 2001}, "notes", "2000"),
    ],
)
async def test_a_refused_visit_names_its_field_and_stores_nothing(
    client, nursery, changes, field, says
):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    r = await client.post(f"/children/{child.id}/visits", data=visit_form(csrf, **changes))
    assert r.status_code == 422, r.text
    message = field_error(r.text, field)
    assert message is not None
    assert says in message, (field, message)
    assert f'id="v-{field}"' in r.text
    assert re.search(rf'id="v-{field}"[^>]*aria-invalid="true"', r.text), field
    # what was typed comes back
    assert "common cold\n\nnappy rash</textarea>" in r.text
    assert await visits_stored(child.id) == 0


async def test_the_newborn_screening_is_saved_at_its_version_and_a_stale_one_is_refused(
    client, nursery
):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    page = (await client.get(f"/children/{child.id}")).text
    assert 'data-testid="newborn-form"' in page
    assert hidden(page, "version") == ""
    base = {"csrf_token": csrf, "version": "", "screened_on": TODAY.isoformat()}

    # born elsewhere: the birth values are entered here and checked
    r = await client.post(
        f"/children/{child.id}/newborn-screening",
        data={**base, "hearing": "pass", "apgar_1": "11", "birth_weight_g": "3100"},
    )
    assert r.status_code == 422, r.text
    assert "impossible" in field_error(r.text, "apgar_1")
    assert await newborn_stored(child.id) == 0

    r = await client.post(
        f"/children/{child.id}/newborn-screening",
        data={**base, "hearing": "pass", "hypothyroidism": "normal", "birth_weight_g": "3100"},
    )
    assert r.status_code == 303, r.text
    html = (await client.get(r.headers["location"])).text
    assert 'data-testid="newborn-saved"' in html
    assert 'data-testid="screening-hearing">pass<' in html
    assert 'data-testid="screening-hypothyroidism">normal<' in html
    assert 'data-testid="birth-weight">3100 g<' in html
    version = hidden(html, "version")
    assert version.isdigit()
    assert re.search(r'<option value="pass" selected>', html)

    r = await client.post(
        f"/children/{child.id}/newborn-screening",
        data={**base, "version": version, "hearing": "refer", "birth_weight_g": "3100"},
    )
    assert r.status_code == 303, r.text
    # the page read before that save is stale now
    r = await client.post(
        f"/children/{child.id}/newborn-screening",
        data={**base, "version": version, "hearing": "pass", "birth_weight_g": "3100"},
    )
    assert r.status_code == 412, r.text
    assert 'data-testid="newborn-error"' in r.text
    assert 'data-testid="screening-hearing">refer<' in r.text


async def test_no_screening_form_from_one_year(client, make_facility, make_person, make_user):
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, birth_date=TODAY.replace(year=TODAY.year - 1) - timedelta(days=1)
    )
    nurse = await make_user("family_doctor", facility_code=fac.code)
    await web_login(client, nurse)
    page = (await client.get(f"/children/{child.id}")).text
    assert 'data-testid="visit-form"' in page
    assert 'data-testid="newborn-form"' not in page


async def test_no_form_for_the_mother_reading_her_babys_passport(
    client, make_facility, make_person, make_user, login
):
    from tests.domains.child.test_passport import born
    from tests.domains.maternal.test_pregnancy import Clinic

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    baby = (await born(client, Clinic(fac, woman, doctor), days_ago=30))["babies"][0]["person_id"]
    csrf = await web_login(client, await make_user("citizen", person_id=woman.id))
    page = await client.get(f"/children/{baby}")
    assert page.status_code == 200
    assert 'data-testid="child-passport"' in page.text
    for form in ("visit-form", "newborn-form", "measure-form"):
        assert f'data-testid="{form}"' not in page.text, form
    r = await client.post(f"/children/{baby}/visits", data=visit_form(csrf))
    assert r.status_code == 403
    assert await visits_stored(baby) == 0


async def test_a_role_without_child_record_sees_no_form_and_gets_403_posting(
    client, nursery, make_user
):
    fac, child, _ = nursery
    obstetrician = await make_user("obstetrician", facility_code=fac.code)
    csrf = await web_login(client, obstetrician)
    page = await client.get(f"/children/{child.id}")
    assert page.status_code == 200
    assert 'data-testid="visit-form"' not in page.text
    assert 'data-testid="newborn-form"' not in page.text
    r = await client.post(f"/children/{child.id}/visits", data=visit_form(csrf))
    assert r.status_code == 403
    r = await client.post(
        f"/children/{child.id}/newborn-screening", data={"csrf_token": csrf, "hearing": "pass"}
    )
    assert r.status_code == 403
    assert (await visits_stored(child.id), await newborn_stored(child.id)) == (0, 0)


def checked_boxes(html: str) -> set[str]:
    box = r'<input type="checkbox" name="milestones" value="([a-z_]+)"[^>]* checked>'
    return set(re.findall(box, html))


async def test_the_form_offers_the_packs_milestones_by_age_with_their_labels(client, nursery):
    from salomat.domains.child.service import milestones

    _, child, nurse = nursery
    await web_login(client, nurse)
    html = (await client.get(f"/children/{child.id}")).text
    boxes = re.findall(r'name="milestones" value="([a-z_]+)"[^>]*> ([^<]*)</label>', html)
    listed = milestones()
    assert [code for code, _ in boxes] == [m.code for m in listed]
    ages = [m.by_months for m in listed]
    assert ages == sorted(ages)
    assert ("walks_alone", "Walks alone (by 18 months)") in boxes
    assert ("sits_without_support", "Sits without support (by 10 months)") in boxes
    assert checked_boxes(html) == set()
    # no codes to type any more
    assert 'placeholder="sits_without_support' not in html


async def test_the_form_in_russian_shows_russian_labels(client, nursery):
    _, child, nurse = nursery
    await web_login(client, nurse)
    client.cookies.set("salomat_lang", "ru")
    html = (await client.get(f"/children/{child.id}")).text
    assert '<html lang="ru">' in html
    assert "Ходит самостоятельно (к 18 мес.)" in html
    assert "Walks alone" not in html


async def test_a_refused_visit_keeps_the_checked_milestones(client, nursery):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    r = await client.post(f"/children/{child.id}/visits", data=visit_form(csrf, on=tomorrow))
    assert r.status_code == 422, r.text
    assert checked_boxes(r.text) == {"social_smile", "holds_head_up"}
    assert await visits_stored(child.id) == 0


async def test_an_unknown_code_is_named_and_the_known_ones_stay_checked(client, nursery):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    form = visit_form(csrf, milestones=["walks_alone", "flies"])
    r = await client.post(f"/children/{child.id}/visits", data=form)
    assert r.status_code == 422, r.text
    message = unescape(field_error(r.text, "milestones") or "")
    assert message == '"flies" is not in the list of milestones'
    assert checked_boxes(r.text) == {"walks_alone"}
    assert await visits_stored(child.id) == 0


async def test_a_visit_without_milestones_is_recorded(client, nursery):
    _, child, nurse = nursery
    csrf = await web_login(client, nurse)
    form = visit_form(csrf)
    del form["milestones"]
    r = await client.post(f"/children/{child.id}/visits", data=form)
    assert r.status_code == 303, r.text
    assert await visits_stored(child.id) == 1
