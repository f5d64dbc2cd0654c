"""The vaccination card in headless Chromium shows the COVID-19 doses recorded through the
API (a series given on indication) as given, named in the page's language, and never as a
dose due."""

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
