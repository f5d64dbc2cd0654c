"""The vaccination card in headless Chromium shows the COVID-19 doses recorded through the
API (a series given on indication) as given, named in the page's language, and never as a
dose due; the nurse records one from the card's own form, and an early one is refused
beside its date."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import PASSWORD
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_card_shows_covid19_doses_as_given_and_never_due(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    adult = await make_person(facility_code=fac.code, birth_date=date(1971, 1, 31), sex="male")
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    token = await page.request.post(
        browser.url("/auth/token"), form={"username": nurse.username, "password": PASSWORD}
    )
    assert token.ok, await token.text()
    bearer = {"Authorization": f"Bearer {(await token.json())['access_token']}"}
    today = date.today()
    for n, on in ((1, today - timedelta(days=60)), (2, today - timedelta(days=30))):
        r = await page.request.post(
            browser.url(f"/api/v1/persons/{adult.id}/immunizations"),
            data={
                "antigen": "covid19",
                "dose_number": n,
                "given_on": on.isoformat(),
                "vaccine": "covid19",
                "lot": "CV-9",
                "site": "right_arm",
            },
            headers=bearer,
        )
        assert r.status == 201, await r.text()

    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/patients/{adult.id}/immunizations"))
    table = page.get_by_test_id("series-covid19")
    assert await table.is_visible()
    rows = page.locator('[data-testid="dose"][data-antigen="covid19"]')
    assert await rows.count() == 2
    assert await page.get_by_role("heading", name="COVID-19 (on indication)").is_visible()
    assert await page.locator('[data-testid="due-dose"][data-antigen="covid19"]').count() == 0
    # in Russian, the pack's name
    lang = {"name": "salomat_lang", "value": "ru", "url": browser.base}
    await browser.context.add_cookies([lang])
    await page.goto(browser.url(f"/patients/{adult.id}/immunizations"))
    assert await page.get_by_role("heading", name="COVID-19 (по показаниям)").is_visible()
    await browser.screenshot("vaccination-card-covid19")


@in_chromium
async def test_the_nurse_records_covid19_dose_1_on_the_card_and_an_early_dose_2_is_refused(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    adult = await make_person(facility_code=fac.code, birth_date=date(1968, 6, 30), sex="female")
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/patients/{adult.id}/immunizations"))
    assert await page.get_by_test_id("no-doses").is_visible()

    # the series by its name, dose 1 proposed, its one product chosen
    form = page.get_by_test_id("oi-form")
    series = form.get_by_label("Vaccine", exact=True)
    assert await series.input_value() == "covid19"
    assert await series.locator("option:checked").inner_text() == "COVID-19 (on indication)"
    assert await form.get_by_label("Dose", exact=True).input_value() == "1"
    assert await form.get_by_label("Vaccine product").input_value() == "covid19"
    first = date.today() - timedelta(days=10)
    await form.get_by_label("Lot", exact=True).fill("CV-2024")
    await form.get_by_label("Site").select_option("left_arm")
    await form.get_by_label("Date given").fill(first.isoformat())
    async with page.expect_navigation():
        await form.get_by_test_id("oi-submit").click()

    # the card shows the dose as given and counted; dose 2 is proposed next
    assert await page.get_by_test_id("saved").is_visible()
    row = page.locator('[data-testid="dose"][data-antigen="covid19"][data-dose="1"]')
    assert await row.get_attribute("data-valid") == "true"
    assert "CV-2024" in await row.inner_text()
    assert await page.get_by_role("heading", name="COVID-19 (on indication)").is_visible()
    assert await page.locator('[data-testid="due-dose"][data-antigen="covid19"]').count() == 0
    form = page.get_by_test_id("oi-form")
    assert await form.get_by_label("Dose", exact=True).input_value() == "2"
    await browser.screenshot("vaccination-card-covid19-recorded")

    # dose 2 the next day: refused beside the date, with the day it may be given
    await form.get_by_label("Date given").fill((first + timedelta(days=1)).isoformat())
    async with page.expect_navigation():
        await form.get_by_test_id("oi-submit").click()
    form = page.get_by_test_id("oi-form")
    assert await page.get_by_test_id("oi-error").is_visible()
    message = await form.get_by_test_id("error-given_on").inner_text()
    assert f"{first + timedelta(days=14):%d.%m.%Y}" in message
    assert await form.get_by_label("Date given").get_attribute("aria-invalid") == "true"
    assert await page.locator('[data-testid="dose"][data-antigen="covid19"]').count() == 1
    await browser.screenshot("vaccination-card-covid19-refused")
