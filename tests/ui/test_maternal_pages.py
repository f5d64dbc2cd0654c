"""The obstetric record in headless Chromium: the family doctor registers a pregnancy,
records a contact and sees the advice panel update."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_family_doctor_registers_a_pregnancy_and_sees_the_advice_update(
    browser, make_facility, make_person, make_user
):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await make_user("family_doctor", facility_code=fac.code)
    page = browser.page
    await browser.log_in(doctor.username)

    # from the patient card to the (empty) obstetric record
    await page.goto(browser.url(f"/patients/{woman.id}"))
    async with page.expect_navigation():
        await page.get_by_test_id("pregnancy-link").click()
    assert page.url == browser.url(f"/patients/{woman.id}/pregnancy")
    form = page.get_by_test_id("pregnancy-form")
    lmp = date.today() - timedelta(weeks=10)
    await form.get_by_label("Last menstrual period").fill(lmp.isoformat())
    await form.get_by_label("Gravida").fill("2")
    await form.get_by_label("Parity").fill("1")
    async with page.expect_navigation():
        await form.get_by_test_id("pregnancy-submit").click()
    assert await page.get_by_test_id("ga").inner_text() == "10w0d"
    assert await page.get_by_test_id("no-contacts").is_visible()
    codes = await page.get_by_test_id("advice-item").evaluate_all(
        "rows => rows.map(r => r.dataset.code)"
    )
    assert "hypertension" not in codes
    await browser.screenshot("obstetric-record-registered")

    # a contact with raised pressure twice
    contact = page.get_by_test_id("contact-form")
    await contact.get_by_label("Systolic, 1st reading").fill("150")
    await contact.get_by_label("Diastolic, 1st reading").fill("95")
    await contact.get_by_label("Systolic, 2nd reading").fill("150")
    await contact.get_by_label("Diastolic, 2nd reading").fill("95")
    await contact.get_by_label("Hb, g/L").fill("120")
    async with page.expect_navigation():
        await contact.get_by_test_id("contact-submit").click()
    assert await page.get_by_test_id("saved").is_visible()
    item = page.locator('[data-testid="advice-item"][data-code="hypertension"]')
    assert await item.count() == 1
    assert await item.get_attribute("data-new") == "1"
    assert "WHO" in await item.get_by_test_id("advice-source").inner_text()
    assert await page.get_by_test_id("risk").inner_text() == "high"
    assert await page.get_by_test_id("contact-bp").inner_text() == "150/95, 150/95"
    await browser.screenshot("obstetric-record-advice")

    # an impossible value: shown beside its field, nothing stored
    contact = page.get_by_test_id("contact-form")
    await contact.get_by_label("Pulse, /min").fill("400")
    await contact.get_by_test_id("contact-submit").click()
    await page.get_by_test_id("error-pulse_1").wait_for()
    assert await page.get_by_test_id("contact").count() == 1
