"""The birth in headless Chromium: the obstetrician records twins, one stillborn, from the
obstetric record, sees the summary and opens the live baby's card; an impossible Apgar
score is refused beside its field."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_obstetrician_records_twins_one_stillborn_and_opens_the_babys_card(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    obstetrician = await make_user("obstetrician", facility_code=fac.code)
    page = browser.page
    await browser.log_in(obstetrician.username)

    # a pregnancy at 37 weeks, registered on the record
    await page.goto(browser.url(f"/patients/{woman.id}/pregnancy"))
    form = page.get_by_test_id("pregnancy-form")
    await form.get_by_label("Last menstrual period").fill(
        (date.today() - timedelta(weeks=37)).isoformat()
    )
    async with page.expect_navigation():
        await form.get_by_test_id("pregnancy-submit").click()
    assert await page.get_by_test_id("close-form").is_visible()

    # "Record the birth", then a second row for the twin
    async with page.expect_navigation():
        await page.get_by_test_id("birth-link").click()
    assert page.url == browser.url(f"/patients/{woman.id}/pregnancy/birth")
    assert await page.get_by_label("weeks").input_value() == "37"
    rows = page.get_by_test_id("baby-row")
    assert await rows.count() == 1
    await page.get_by_label("Mode of birth").select_option("caesarean_emergency")
    first = rows.nth(0)
    await first.get_by_label("Sex").select_option("female")
    await first.get_by_label("Given name (live-born)").fill("Malika")
    await first.get_by_label("Birth weight, g").fill("2600")
    await first.get_by_label("Length, cm").fill("47")
    await first.get_by_label("Apgar at 1 minute").fill("11")
    await first.get_by_label("Apgar at 5 minutes").fill("9")
    async with page.expect_navigation():
        await page.get_by_test_id("add-baby").click()
    assert await rows.count() == 2
    assert await first.get_by_label("Given name (live-born)").input_value() == "Malika"
    second = rows.nth(1)
    await second.get_by_label("Outcome").select_option("stillbirth")
    await second.get_by_label("Stillbirth type").select_option("fresh")
    await second.get_by_label("Birth weight, g").fill("2200")

    # Apgar 11 is refused beside its field, and nothing is stored
    await page.get_by_test_id("birth-submit").click()
    error = page.get_by_test_id("error-babies.0.apgar_1")
    await error.wait_for()
    assert "impossible" in await error.inner_text()
    apgar = rows.nth(0).get_by_label("Apgar at 1 minute")
    assert await apgar.get_attribute("aria-invalid") == "true"
    assert await apgar.get_attribute("aria-describedby") == await error.get_attribute("id")
    assert await page.get_by_test_id("birth-error").is_visible()
    await browser.screenshot("birth-refused")

    await apgar.fill("7")
    async with page.expect_navigation():
        await page.get_by_test_id("birth-submit").click()
    assert page.url.startswith(browser.url(f"/patients/{woman.id}/pregnancy?born=1"))
    assert await page.get_by_test_id("born").is_visible()
    assert await page.get_by_test_id("birth-mode").inner_text() == "emergency caesarean section"
    babies = page.get_by_test_id("baby")
    assert await babies.count() == 2
    assert await babies.nth(1).get_by_test_id("baby-outcome").inner_text() == "stillborn · fresh"
    assert await page.get_by_test_id("baby-link").count() == 1
    assert await page.get_by_test_id("postnatal-form").is_visible()
    await browser.screenshot("birth-summary")

    async with page.expect_navigation():
        await page.get_by_test_id("baby-link").click()
    assert "Malika" in await page.locator("h1").inner_text()
