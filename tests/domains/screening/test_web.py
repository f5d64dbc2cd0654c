"""The screening pages: the programme card's screening form (refusals beside each field,
nothing stored), the enrolment and follow-up forms, the BP trend chart, the facility's
worklists; in Chromium, the form and the worklist a family doctor uses."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.domains.registry.test_web import field_error, web_login
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio

TODAY = date.today()


def screen_form(csrf: str, **kw: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "programme": "address_screening",
        "performed_on": TODAY.isoformat(),
        "result": "normal",
        "next_step": "none",
        "notes": "",
        "bp_systolic": "128",
        "bp_diastolic": "82",
        "glucose_value": "",
        "glucose_unit": "mmol/L",
        "hba1c_value": "",
        "hba1c_unit": "%",
        "cholesterol_value": "",
        "cholesterol_unit": "mmol/L",
        "bmi_value": "",
        "smoking_code": "",
    }
    form.update(kw)
    return form


async def _visits(client, scr, person_id):  # type: ignore[no-untyped-def]
    from tests.factories import token_for

    auth = await token_for(client, scr.doctor_account)
    r = await client.get(f"/api/v1/persons/{person_id}/screening-card", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_form_refuses_impossible_values_beside_their_fields(client, scr):
    p = await scr.make_patient(date(TODAY.year - 50, 1, 1))
    csrf = await web_login(client, scr.doctor_account)
    url = f"/patients/{p.id}/screening"
    page = await client.get(url)
    assert page.status_code == 200
    assert 'data-testid="screening-form"' in page.text
    r = await client.post(
        url, data=screen_form(csrf, bp_systolic="400", hba1c_value="40", glucose_value="7",
                              glucose_unit="mmol/L", result="abnormal"),
    )  # fmt: skip
    assert r.status_code == 422
    assert "400" in (field_error(r.text, "bp_systolic") or "")
    assert field_error(r.text, "hba1c_value")
    assert field_error(r.text, "next_step")
    assert 'value="400"' in r.text  # what was typed is shown again
    card = await _visits(client, scr, p.id)
    assert card["visits"] == []


async def test_a_screening_an_enrolment_and_a_visit_from_the_card(client, scr):
    p = await scr.make_patient(date(TODAY.year - 50, 1, 1))
    csrf = await web_login(client, scr.doctor_account)
    url = f"/patients/{p.id}/screening"
    r = await client.post(
        url, data=screen_form(csrf, bp_systolic="165", bp_diastolic="100", result="abnormal",
                              next_step="enrol", glucose_value="120", glucose_unit="mg/dL",
                              performed_on=(TODAY - timedelta(days=90)).isoformat()),
    )  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{url}?done=screened"
    bad = await client.post(
        f"{url}/enrol",
        data={"csrf_token": csrf, "programme": "hypertension", "diagnosis_code": "J45",
              "enrolled_on": TODAY.isoformat(), "prior_mi_stroke": ""},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "I10-I15" in (field_error(bad.text, "diagnosis_code") or "")
    ok = await client.post(
        f"{url}/enrol",
        data={"csrf_token": csrf, "programme": "hypertension", "diagnosis_code": "I10",
              "enrolled_on": (TODAY - timedelta(days=60)).isoformat(), "prior_mi_stroke": "no"},
    )  # fmt: skip
    assert ok.status_code == 303, ok.text
    card = await _visits(client, scr, p.id)
    [e] = card["enrolments"]
    for days, sys_ in ((30, "150"), (1, "132")):
        v = await client.post(
            f"{url}/enrolments/{e['id']}/visits",
            data={**screen_form(csrf, bp_systolic=sys_, bp_diastolic="85"),
                  "visited_on": (TODAY - timedelta(days=days)).isoformat(), "next_visit_due": ""},
        )  # fmt: skip
        assert v.status_code == 303, v.text
    page = await client.get(url)
    assert page.text.count('data-testid="bp-point"') == 3
    assert re.search(r'data-testid="control-bp" data-controlled="true"', page.text)
    # the latest reading (yesterday's 132/85) is controlled; the screening's 165/100 not
    assert 'data-controlled="false"' in page.text
    r = await client.post(url, data=screen_form(csrf))
    assert r.status_code == 303
    assert "opportunistic=1" in r.headers["location"]


async def test_worklist_pages(client, scr):
    young = await scr.make_patient(date(TODAY.year - 25, 1, 1))
    csrf = await web_login(client, scr.nurse_account)
    assert csrf
    r = await client.get("/screening/worklist")
    assert r.status_code == 200
    assert f'data-person="{young.id}" data-programme="health_profile"' in r.text
    for kind in ("overdue", "uncontrolled", "high_risk"):
        r = await client.get(f"/screening/worklist?kind={kind}")
        assert r.status_code == 200, kind
    r = await client.get("/screening/worklist?kind=nobody")
    assert r.status_code == 422
    r = await client.get("/screening/worklist?on=yesterday")
    assert r.status_code == 422


async def test_other_facilities_and_citizens_do_not_see_the_card(client, scr, make_user):
    p = await scr.make_patient()
    await web_login(client, scr.other_doctor_account)
    r = await client.get(f"/patients/{p.id}/screening")
    assert r.status_code == 404


@in_chromium
async def test_in_chromium_a_doctor_invites_screens_and_is_refused_a_wrong_unit(
    live_server, client, scr
):
    p = await scr.make_patient(date(TODAY.year - 30, 2, 1))
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(scr.doctor_account.username)
        await page.goto(browser.url("/screening/worklist"))
        row = page.locator(f'[data-testid="invitation"][data-person="{p.id}"]')
        assert await row.count() == 1
        async with page.expect_navigation():
            await row.get_by_role("link").click()
        form = page.get_by_test_id("screening-form")
        await form.locator('[name="programme"]').select_option("health_profile")
        await form.locator('[name="bp_systolic"]').fill("400")
        await form.locator('[name="bp_diastolic"]').fill("80")
        async with page.expect_navigation():
            await page.get_by_test_id("screening-submit").click()
        error = page.get_by_test_id("error-bp_systolic")
        assert await error.is_visible()
        assert "400" in await error.inner_text()
        field = page.get_by_test_id("screening-form").locator('[name="bp_systolic"]')
        assert await field.get_attribute("aria-invalid") == "true"
        await browser.screenshot("screening-refused")
        await field.fill("135")
        form = page.get_by_test_id("screening-form")
        await form.locator('[name="glucose_value"]').fill("99")
        await form.locator('[name="glucose_unit"]').select_option("mg/dL")
        async with page.expect_navigation():
            await page.get_by_test_id("screening-submit").click()
        assert await page.get_by_test_id("saved").is_visible()
        visit = page.get_by_test_id("visit")
        assert await visit.count() == 1
        assert await visit.get_attribute("data-opportunistic") == "false"
        await browser.screenshot("screening-saved")
        await page.goto(browser.url("/screening/worklist"))
        gone = page.locator(f'[data-testid="invitation"][data-person="{p.id}"]')
        assert await gone.count() == 0
    card = await _visits(client, scr, p.id)
    [v] = card["visits"]
    glucose = next(m for m in v["measurements"] if m["kind"] == "glucose_fasting")
    assert glucose["unit"] == "mmol/L"
    assert glucose["value"] == pytest.approx(99 / 18.016)


async def test_the_citizen_sees_her_screenings_page(client, scr, make_user):
    p = await scr.make_patient(date(TODAY.year - 45, 1, 1))
    citizen = await make_user("citizen", person_id=p.id)
    await web_login(client, citizen)
    r = await client.get("/my/screenings")
    assert r.status_code == 200, r.text
    assert 'data-programme="address_screening" data-now="true"' in r.text
    assert 'href="/my/screenings"' in r.text  # in her menu


@pytest.mark.parametrize("typed", ["nan", "inf", "-inf", "1e400", "12a"])
async def test_a_number_that_is_not_finite_is_refused_beside_its_field(client, scr, typed):
    p = await scr.make_patient(date(TODAY.year - 50, 1, 1))
    csrf = await web_login(client, scr.doctor_account)
    r = await client.post(
        f"/patients/{p.id}/screening",
        data=screen_form(csrf, bp_systolic=typed, bp_diastolic="80", result="normal"),
    )
    assert r.status_code == 422
    assert field_error(r.text, "bp_systolic")
