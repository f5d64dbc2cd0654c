"""The child passport in headless Chromium: the nurse records a measurement and sees its
z-scores and the point on the growth chart; an impossible weight is refused beside its
field; the print version renders without navigation; the mother (citizen) reads it."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_nurse_records_a_measurement_and_sees_the_z_scores_and_the_point(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="female", birth_date=date.today() - timedelta(days=366)
    )
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/children/{child.id}"))
    assert await page.get_by_test_id("child-passport").is_visible()
    # the WHO curves are drawn for both charts, no point yet
    assert await page.get_by_test_id("chart-wfa").get_by_test_id("curve").count() == 5
    assert await page.get_by_test_id("chart-lhfa").get_by_test_id("curve").count() == 5
    assert await page.get_by_test_id("growth-point").count() == 0

    form = page.get_by_test_id("measure-form")
    await form.get_by_label("Weight, kg").fill("0")
    await form.get_by_label("Length/height, cm").fill("64")
    await page.get_by_test_id("measure-save").click()
    error = page.get_by_test_id("error-weight_kg")
    await error.wait_for()
    assert "impossible" in await error.inner_text()
    assert await form.get_by_label("Weight, kg").get_attribute("aria-invalid") == "true"
    assert await form.get_by_label("Length/height, cm").input_value() == "64"
    assert await page.get_by_test_id("measurement-row").count() == 0

    await form.get_by_label("Weight, kg").fill("7,0")
    await form.get_by_label("Measured").select_option("lying")
    async with page.expect_navigation():
        await page.get_by_test_id("measure-save").click()
    assert await page.get_by_test_id("saved").is_visible()
    assert await page.get_by_test_id("saved-wfa").inner_text() == "-2.06"
    assert await page.get_by_test_id("saved-lhfa").inner_text() == "-3.90"
    assert await page.get_by_test_id("saved-wfl").inner_text() == "+0.24"
    assessment = await page.get_by_test_id("saved-assessment").inner_text()
    assert "severe stunting" in assessment
    assert "moderate underweight" in assessment
    # one point on each chart, inside the plot
    for chart in ("chart-wfa", "chart-lhfa"):
        point = page.get_by_test_id(chart).get_by_test_id("growth-point")
        assert await point.count() == 1
        cx = float(await point.get_attribute("cx"))
        assert 48 < cx < 600
    rows = page.get_by_test_id("measurement-row")
    assert await rows.count() == 1
    assert await rows.nth(0).get_by_test_id("lhfa-z").inner_text() == "-3.90"
    await browser.screenshot("child-passport")

    # the print version: no navigation, the sections and the chart
    async with page.expect_navigation():
        await page.get_by_test_id("print-link").click()
    assert page.url == browser.url(f"/children/{child.id}/passport/print")
    assert await page.get_by_test_id("passport-print").is_visible()
    assert await page.get_by_test_id("nav").count() == 0
    assert await page.get_by_test_id("measure-form").count() == 0
    assert await page.get_by_test_id("growth-point").count() == 2
    assert await page.get_by_test_id("vaccinations").is_visible()
    await browser.screenshot("child-passport-print")


@in_chromium
async def test_the_mother_reads_her_babys_passport_without_the_form(
    browser, client, make_facility, make_person, make_user, login
):
    from tests.domains.child.test_passport import born
    from tests.domains.maternal.test_pregnancy import Clinic

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    birth = await born(client, Clinic(fac, woman, doctor), days_ago=30)
    baby = birth["babies"][0]["person_id"]
    mother = await make_user("citizen", person_id=woman.id)
    page = browser.page
    await browser.log_in(mother.username)
    await page.goto(browser.url(f"/children/{baby}"))
    assert await page.get_by_test_id("child-passport").is_visible()
    assert woman.family_name in await page.get_by_test_id("mother").inner_text()
    assert await page.get_by_test_id("birth-weight").inner_text() == "3150 g"
    assert await page.get_by_test_id("measure-form").count() == 0
    # not her child: like a missing record
    stranger = await make_person(facility_code=fac.code, birth_date=date.today())
    r = await page.goto(browser.url(f"/children/{stranger.id}"))
    assert r is not None
    assert r.status == 404


@in_chromium
async def test_the_mother_finds_her_child_in_the_portal_with_passport_and_card(
    browser, client, make_facility, make_person, make_user, login
):
    from tests.domains.child.test_passport import born
    from tests.domains.maternal.test_pregnancy import Clinic

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    birth = await born(client, Clinic(fac, woman, doctor), days_ago=30)
    baby = birth["babies"][0]["person_id"]
    mother = await make_user("citizen", person_id=woman.id)
    stranger = await make_user("citizen", person_id=(await make_person()).id)
    page = browser.page

    await browser.log_in(mother.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="My children").click()
    child = page.locator(f'[data-testid="child"][data-person="{baby}"]')
    assert await child.count() == 1
    async with page.expect_navigation():
        await child.get_by_test_id("child-passport-link").click()
    assert await page.get_by_test_id("child-passport").is_visible()
    await page.goto(browser.url("/my/children"))
    async with page.expect_navigation():
        await child.get_by_test_id("child-card-link").click()
    assert page.url == browser.url(f"/patients/{baby}/immunizations")
    await browser.screenshot("portal-child-card")
    await page.get_by_test_id("logout").click()

    # another citizen: no child listed, and the child's pages answer like missing ones
    await browser.log_in(stranger.username)
    await page.goto(browser.url("/my/children"))
    assert await page.get_by_test_id("no-children").is_visible()
    for path in (f"/children/{baby}", f"/patients/{baby}/immunizations"):
        r = await page.goto(browser.url(path))
        assert r is not None
        assert r.status == 404, path


@in_chromium
async def test_the_nurse_records_a_well_child_visit_and_sees_it_listed(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="male", birth_date=date.today() - timedelta(days=45)
    )
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/children/{child.id}"))
    assert await page.get_by_test_id("visit-row").count() == 0
    form = page.get_by_test_id("visit-form")
    # a date in the future is refused beside its field, nothing is stored
    await form.get_by_label("Date of the visit").fill(
        (date.today() + timedelta(days=1)).isoformat()
    )
    await form.get_by_label("Notes").fill("Holds his head well.")
    await page.get_by_test_id("visit-save").click()
    error = page.get_by_test_id("error-on")
    await error.wait_for()
    assert "future" in await error.inner_text()
    assert await form.get_by_label("Notes").input_value() == "Holds his head well."
    assert await page.get_by_test_id("visit-row").count() == 0

    await form.get_by_label("Date of the visit").fill(date.today().isoformat())
    await form.get_by_label("Feeding").select_option("mixed")
    await form.get_by_label("Smiles when talked to or smiled at (by 2 months)").check()
    await form.get_by_label("Illnesses since the last visit").fill("common cold")
    async with page.expect_navigation():
        await page.get_by_test_id("visit-save").click()
    assert await page.get_by_test_id("visit-saved").is_visible()
    assert await page.get_by_test_id("visit-saved-slot").inner_text() == "6 weeks"
    rows = page.get_by_test_id("visit-row")
    assert await rows.count() == 1
    text = await rows.nth(0).inner_text()
    for shown in ("mixed feeding", "Smiles when talked to", "common cold", "Holds his head well."):
        assert shown in text, (shown, text)
    done = page.locator('[data-testid="schedule-row"][data-visit]')
    assert await done.count() == 1
    assert await done.get_by_test_id("visit-status").inner_text() == "done"
    await browser.screenshot("child-visit")
