"""The immunization coverage dashboard in headless Chromium: the analyst picks a region and
a birth cohort and sees the coverage bars with the 65 % revaccination target marked."""

from __future__ import annotations

from datetime import date, timedelta

from tests.domains.immunization.test_coverage import give
from tests.domains.maternal.test_referrals import facility
from tests.factories import national_id_for
from tests.own_database import own_browser_fixtures
from tests.ui.conftest import in_chromium

# the page lists the regions (the first 500 by code): a database and server of its own
own_database, app, own_server, browser = own_browser_fixtures("salomat_cov_pages")

COHORT = date.today().year - 2


@in_chromium
async def test_the_analyst_sees_the_coverage_and_the_65_percent_target(
    browser, client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    born = date(COHORT, 5, 2)
    # two children: both DTP3 by 12 months, one with the DTP revaccination (50 %: below 65 %)
    for revaccinated in (True, False):
        kid = await make_person(
            facility_code=poly.code,
            birth_date=born,
            sex="female",
            national_id=national_id_for(born, "female"),
            settlement_code=place.settlement,
        )
        for n, days in ((1, 62), (2, 93), (3, 124)):
            await give(client, nurse, kid.id, "penta", n, born + timedelta(days=days))
        if revaccinated:
            await give(client, nurse, kid.id, "dtp", 4, born + timedelta(days=500))
    analyst = await make_user("analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Immunization coverage").click()
    form = page.get_by_test_id("cov-form")
    await form.get_by_label("Area").select_option(place.region)
    await form.get_by_label("Birth cohort").fill(str(COHORT))
    async with page.expect_navigation():
        await form.get_by_role("button", name="Show").click()
    assert (
        (await page.get_by_test_id("kpi-dtp3").inner_text())
        .split("\n")[-1]
        .startswith("100.0 % (2/2)")
    )
    target = page.get_by_test_id("target-dtp4_revaccination")
    assert await target.inner_text() == "target ≥ 65 %"
    assert "warn" in (await target.get_attribute("class") or "")
    chart = page.get_by_test_id("chart-coverage")
    line = chart.get_by_test_id("target-line")
    assert await line.get_attribute("data-target") == "65.0"
    assert await chart.get_by_test_id("target-label").text_content() == "target 65 %"
    # the line stands at 65 % of the bars' scale (360 px for 100 %)
    assert float(await line.get_attribute("x1")) == 220 + 65 * 3.6
    bar = chart.locator(f'rect[data-unit="{place.district}"][data-key="dtp4_revaccination"]')
    assert await bar.get_attribute("data-v") == "50.0"
    assert await bar.get_attribute("fill") == "#a4161a"  # below the target
    await browser.screenshot("immunization-coverage")
