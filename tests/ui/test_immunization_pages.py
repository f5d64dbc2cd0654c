"""The vaccination card in headless Chromium: the nurse records a due dose from the card,
and an early dose is refused with the message beside the date."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_nurse_records_a_due_dose_and_an_early_one_is_refused(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    born = date.today() - timedelta(days=70)  # 10 weeks: the 2-month doses are due
    baby = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)

    # from the patient card to the vaccination card
    await page.goto(browser.url(f"/patients/{baby.id}"))
    async with page.expect_navigation():
        await page.get_by_test_id("immunizations-link").click()
    assert page.url == browser.url(f"/patients/{baby.id}/immunizations")
    assert await page.get_by_test_id("no-doses").is_visible()
    penta = page.locator('[data-testid="due-dose"][data-antigen="penta"][data-dose="1"]')
    assert await penta.get_attribute("data-status") == "due"

    # "Record" on the due list preselects the dose in the form
    async with page.expect_navigation():
        await penta.get_by_test_id("record-due").click()
    form = page.get_by_test_id("dose-form")
    assert await form.get_by_label("Vaccine and dose").input_value() == "penta/1"
    await form.get_by_label("Vaccine product").select_option("penta")
    await form.get_by_label("Lot", exact=True).fill("PX-2291")
    await form.get_by_label("Site").select_option("left_thigh")
    async with page.expect_navigation():
        await form.get_by_test_id("dose-submit").click()
    assert await page.get_by_test_id("saved").is_visible()
    row = page.locator('[data-testid="dose"][data-antigen="penta"][data-dose="1"]')
    assert await row.get_attribute("data-valid") == "true"
    assert await page.locator('[data-testid="due-dose"][data-antigen="penta"]').count() == 0
    await browser.screenshot("vaccination-card-recorded")

    # PCV 2 a week after PCV 1 is refused: the message names the interval
    form = page.get_by_test_id("dose-form")
    await form.get_by_label("Vaccine and dose").select_option("pcv/1")
    await form.get_by_label("Vaccine product").select_option("pcv13")
    async with page.expect_navigation():
        await form.get_by_test_id("dose-submit").click()
    form = page.get_by_test_id("dose-form")
    await form.get_by_label("Vaccine and dose").select_option("pcv/2")
    await form.get_by_label("Vaccine product").select_option("pcv13")
    async with page.expect_navigation():
        await form.get_by_test_id("dose-submit").click()
    assert await page.get_by_test_id("entry-error").is_visible()
    message = await page.get_by_test_id("error-given_on").inner_text()
    assert "minimum interval" in message
    assert await page.locator('[data-testid="dose"][data-antigen="pcv"]').count() == 1
    await browser.screenshot("vaccination-card-refused")


@in_chromium
async def test_the_nurse_records_a_contraindication_and_sees_the_antigen_exempt(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    born = date.today() - timedelta(days=70)
    baby = await make_person(facility_code=fac.code, birth_date=born, sex="female")
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/patients/{baby.id}/immunizations"))
    pcv = page.locator('[data-testid="due-dose"][data-antigen="pcv"][data-dose="1"]')
    assert await pcv.get_attribute("data-status") == "due"

    form = page.get_by_test_id("exemption-form")
    await form.get_by_label("Kind").select_option("contraindication")
    await form.get_by_label("Against").select_option("pcv")
    await form.get_by_label("Reason").fill("severe reaction to the previous vaccine")
    async with page.expect_navigation():
        await form.get_by_test_id("exemption-submit").click()
    assert await page.get_by_test_id("exempted").is_visible()
    assert await pcv.get_attribute("data-status") == "exempt"
    assert await pcv.get_by_test_id("exemption-kind").inner_text() == "contraindication"
    assert await pcv.get_by_test_id("record-due").count() == 0
    penta = page.locator('[data-testid="due-dose"][data-antigen="penta"][data-dose="1"]')
    assert await penta.get_attribute("data-status") == "due"
    item = page.locator('[data-testid="exemption"][data-antigen="pcv"]')
    assert await item.get_attribute("data-active") == "true"
    await browser.screenshot("vaccination-card-contraindication")


@in_chromium
async def test_the_product_list_narrows_as_the_nurse_picks_the_vaccine(
    browser, make_facility, make_person, make_user
):
    from salomat.core.config import get_settings
    from salomat.country import pack

    series = {
        s["antigen"]: s["vaccines"] for s in pack.immunization(get_settings().country)["series"]
    }
    fac = await make_facility()
    baby = await make_person(
        facility_code=fac.code, birth_date=date.today() - timedelta(days=70), sex="female"
    )
    nurse = await make_user("nurse", facility_code=fac.code)
    page = browser.page
    await browser.log_in(nurse.username)
    await page.goto(browser.url(f"/patients/{baby.id}/immunizations"))
    form = page.get_by_test_id("dose-form")
    product = form.get_by_label("Vaccine product")

    async def offered() -> set[str]:
        return set(
            await product.locator("option:not([hidden]):not([value=''])").evaluate_all(
                "options => options.map(o => o.value)"
            )
        )

    for dose, antigen in (("pcv/1", "pcv"), ("penta/1", "penta"), ("rota/1", "rota")):
        await form.get_by_label("Vaccine and dose").select_option(dose)
        assert await offered() == set(series[antigen]), dose
    # one product: chosen for the nurse; a product of another vaccine cannot be picked
    if len(series["rota"]) == 1:
        assert await product.input_value() == series["rota"][0]
    assert await product.locator(f'option[value="{series["penta"][0]}"]').is_disabled()
