"""A facility's staff page in headless Chromium: the administrator adds a new practitioner
on half a post and sees the role, then tries to give the same person a second role that
would take them over 1.5 posts and reads the refusal on the FTE field."""

from __future__ import annotations

from tests.factories import unique_name
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_administrator_adds_a_half_post_and_is_stopped_above_one_and_a_half(
    browser, make_facility, make_user
):
    fac = await make_facility()
    admin = await make_user("admin")
    page = browser.page
    given = unique_name("Nodira")
    await browser.log_in(admin.username)
    await page.goto(browser.url(f"/admin/facilities/{fac.code}/staff"))
    assert await page.get_by_test_id("staff-empty").is_visible()

    form = page.get_by_test_id("add-role")
    assert await form.get_by_label("Full-time equivalent").input_value() == "1.0"
    await form.get_by_label("Family name").fill("Karimova")
    await form.get_by_label("Given name").fill(given)
    await form.get_by_label("Specialty").select_option(label="General practice (family medicine)")
    await form.get_by_label("Position").select_option(label="Nurse")
    await form.get_by_label("Full-time equivalent").fill("0.5")
    async with page.expect_navigation():
        await form.get_by_test_id("add-role-submit").click()
    assert await page.get_by_test_id("role-added").is_visible()
    row = page.get_by_test_id("staff").locator("tbody tr").filter(has_text=given)
    assert await row.count() == 1
    assert await row.get_by_test_id("role-name").inner_text() == f"Karimova {given}"
    assert await row.get_by_test_id("role-position").inner_text() == "Nurse"
    assert await row.get_by_test_id("role-fte").inner_text() == "0.5"
    await browser.screenshot("staff-added")

    # the same person as a midwife on 1.1 posts more: 1.6 in all, refused on the FTE field
    form = page.get_by_test_id("add-role")
    choice = form.get_by_label("Practitioner")
    option = choice.locator("option").filter(has_text=given)
    await choice.select_option(await option.get_attribute("value"))
    await form.get_by_label("Position").select_option(label="Midwife")
    await form.get_by_label("Full-time equivalent").fill("1.1")
    async with page.expect_navigation():
        await form.get_by_test_id("add-role-submit").click()
    error = page.get_by_test_id("error-fte")
    assert await error.is_visible()
    text = await error.inner_text()
    assert "1.6" in text, text
    assert "1.5" in text, text
    fte = page.get_by_test_id("add-role").get_by_label("Full-time equivalent")
    assert await fte.get_attribute("aria-invalid") == "true"
    assert await fte.input_value() == "1.1"  # what was typed stays
    # nothing was stored: still the one role
    assert await page.get_by_test_id("staff").locator("tbody tr").count() == 1
    await browser.screenshot("staff-over-limit")
