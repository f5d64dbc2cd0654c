"""The ministry's indicator pages in headless Chromium: the analyst opens the dashboard of
a computed year, sees a small region's infant mortality suppressed and a large one's
value, opens the region, then the infant mortality trend with the target's line for
each region. A nurse has no link to them and is refused."""

from __future__ import annotations

import pytest

from tests.own_database import own_browser_fixtures
from tests.ui.conftest import in_chromium
from tests.ui.statistics_data import Y, computed_regions

# its pages list the regions and aggregate the country: a database (and server) of its own
own_database, app, own_server, browser = own_browser_fixtures("salomat_st_pages")


@pytest.fixture
async def regions(db, make_place, make_person):
    return await computed_regions(db, make_place, make_person)


@in_chromium
async def test_the_analyst_reads_the_dashboard_the_region_and_the_trend(
    browser, make_user, regions
):
    small, large = regions
    analyst = await make_user("analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Health indicators").click()
    # the last computed closed year is shown by default
    assert await page.get_by_label("Year", exact=True).first.input_value() == str(Y)
    infant = page.locator('[data-testid="st-line"][data-indicator="infant_mortality"]')
    assert "Infant mortality rate" in await infant.inner_text()
    assert await infant.locator('[data-key="value"]').inner_text() != "—"
    # the small region: 3 infant deaths, shown as suppressed with its explanation
    row = page.locator(f'[data-testid="st-unit"][data-area="{small.region}"]')
    cell = row.locator('td[data-indicator="infant_mortality"]')
    assert (await cell.inner_text()).strip() == "<5"
    badge = cell.get_by_test_id("suppressed-unit")
    assert "fewer than 5" in (await badge.get_attribute("title") or "")
    big = page.locator(f'[data-testid="st-unit"][data-area="{large.region}"]')
    assert (await big.locator('td[data-indicator="infant_mortality"]').inner_text()) == "200.0"
    await browser.screenshot("statistics-dashboard")
    # the large region's page: its value and fraction, its district
    async with page.expect_navigation():
        await big.get_by_test_id("st-region-link").click()
    line = page.locator('[data-testid="st-line"][data-indicator="infant_mortality"]')
    assert await line.locator('[data-key="value"]').inner_text() == "200.0"
    assert await line.locator('[data-key="fraction"]').inner_text() == "6 / 30"
    assert await page.locator(f'[data-testid="st-unit"][data-area="{large.district}"]').count()
    # the trend: every region has its chart with the target line and a table
    async with page.expect_navigation():
        await line.get_by_test_id("st-trend-link").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Infant mortality rate"
    sections = page.get_by_test_id("trend-area")
    assert await sections.count() >= 3  # the country and at least our two regions
    for reg in (small, large):
        section = page.locator(f'[data-testid="trend-area"][data-area="{reg.region}"]')
        target = section.get_by_test_id("target-line")
        assert await target.count() == 1
        assert len((await target.get_attribute("points") or "").split()) >= 2
        assert (await section.get_by_test_id("tr-status").inner_text()).strip()
        table = section.get_by_test_id("tr-table")
        assert await table.locator(f'tr[data-year="{Y}"]').count() == 1
    # the small region's year: a gap in the chart, "<5" in the table
    small_section = page.locator(f'[data-testid="trend-area"][data-area="{small.region}"]')
    assert await small_section.locator(f'[data-testid="suppressed-year"][data-year="{Y}"]').count()
    assert (
        await small_section.locator(
            f'tr[data-year="{Y}"][data-suppressed="1"] td'
        ).first.inner_text()
    ).strip() == "<5"
    # the large region's year: a point with its interval whisker
    large_section = page.locator(f'[data-testid="trend-area"][data-area="{large.region}"]')
    assert await large_section.locator(f'[data-testid="value-point"][data-year="{Y}"]').count()
    assert await large_section.get_by_test_id("ci-whisker").count() >= 1
    await browser.screenshot("statistics-trend")


@in_chromium
async def test_a_nurse_has_no_link_and_is_refused(browser, make_user, make_place):
    nurse = await make_user("nurse")
    page = browser.page
    await browser.log_in(nurse.username)
    assert (
        await page.get_by_test_id("nav").get_by_role("link", name="Health indicators").count() == 0
    )
    response = await page.goto(browser.url("/statistics"))
    assert response.status == 403
    response = await page.goto(browser.url("/statistics/trend/infant_mortality"))
    assert response.status == 403
