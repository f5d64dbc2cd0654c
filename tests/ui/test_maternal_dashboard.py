"""The maternal monitoring dashboard in headless Chromium: the analyst picks a region,
reads the figures and the charts, drills down to a district and downloads the CSV."""

from __future__ import annotations

from datetime import date, timedelta

from tests.domains.maternal.test_dashboard import register
from tests.domains.maternal.test_referrals import facility
from tests.own_database import own_browser_fixtures
from tests.ui.conftest import in_chromium

# its pages list the regions and aggregate the country: a database (and server) of its own
own_database, app, own_server, browser = own_browser_fixtures("salomat_dash_pages")

TODAY = date.today()


@in_chromium
async def test_the_analyst_reads_the_region_and_drills_down(
    browser, client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    for weeks, registered_at in ((8, 6), (20, 14), (33, 27)):
        woman = await make_person(facility_code=poly.code)
        lmp = TODAY - timedelta(weeks=weeks)
        await register(
            client, doctor, woman, lmp=lmp, registered_on=lmp + timedelta(weeks=registered_at)
        )
    analyst = await make_user("analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Maternal monitoring").click()
    form = page.get_by_test_id("dash-form")
    await form.get_by_label("Area").select_option(place.region)
    async with page.expect_navigation():
        await form.get_by_role("button", name="Show").click()
    assert await page.get_by_test_id("kpi-current").inner_text() == "3"
    # registered at 6, 14 and 27 weeks: one early of three
    assert (await page.get_by_test_id("kpi-early").inner_text()).startswith("33.3 %")
    low = page.get_by_test_id("dash-risk").locator('tr[data-risk="low"] td')
    assert [await c.inner_text() for c in await low.all()] == ["1", "1", "1", "3"]
    bars = page.get_by_test_id("chart-risk").locator("rect[data-risk]")
    assert await bars.count() == 1
    assert await bars.first.get_attribute("data-n") == "3"
    await browser.screenshot("maternal-dashboard")

    async with page.expect_download() as download:
        await page.get_by_test_id("dash-csv").click()
    text = (await (await download.value).path()).read_text(encoding="utf-8")
    assert text.splitlines()[-1].split(",")[2] == place.region

    row = page.locator(f'[data-testid="dash-row"][data-code="{place.district}"]')
    async with page.expect_navigation():
        await row.get_by_role("link").click()
    assert await page.get_by_test_id("dash-title").inner_text() == "Maternal dashboard — District"
    settlement = page.locator(f'[data-testid="dash-row"][data-code="{place.settlement}"]')
    assert await settlement.locator('[data-key="current"]').inner_text() == "3"
