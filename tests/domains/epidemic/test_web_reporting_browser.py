"""The clinics' reporting forms in headless Chromium (issue 23, items 1 and 2): a family
doctor finds the patient, notifies a measles case (a refusal first, beside its field) and
lands on the saved notification; a nurse registers her hospital's beds, reports the day's
occupancy (above the beds refused, at the beds stored) and sees it in the last 14 days."""

from __future__ import annotations

from datetime import timedelta

from salomat.domains.epidemic.service.notifications import today
from tests.domains.epidemic.test_web_reporting import Clinic, clinic  # noqa: F401
from tests.ui.conftest import in_chromium, open_browser


async def submit(page, form) -> None:  # type: ignore[no-untyped-def]
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').click()


@in_chromium
async def test_a_doctor_notifies_a_case(live_server, clinic: Clinic) -> None:  # noqa: F811
    day = today() - timedelta(days=2)
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(clinic.doctor.username)
        # the menu's form: find the patient by name (htmx swaps the search in place)
        await page.get_by_role("link", name="Notify an infectious disease").first.click()
        search = page.get_by_test_id("epi-person-search")
        await search.locator('[name="name"]').fill(clinic.person.family_name)
        await search.locator('button[type="submit"]').click()
        found = page.locator(f'[data-testid="epi-found-person"][data-person="{clinic.person.id}"]')
        async with page.expect_navigation():
            await found.click()
        assert clinic.person.family_name in await page.get_by_test_id("epi-person").inner_text()

        form = page.get_by_test_id("epi-notify-form")
        await form.locator('[name="icd10"]').select_option("B05")
        assert await form.locator('[name="district"]').input_value() == clinic.place.district
        assert await form.locator('[name="report_date"]').input_value() == today().isoformat()
        await form.locator('[name="report_date"]').fill(day.isoformat())
        await form.locator('[name="onset_date"]').fill((day + timedelta(days=1)).isoformat())
        await form.locator('[name="hospitalised"]').check()
        await form.locator('[name="admission_date"]').fill(day.isoformat())
        await submit(page, form)
        # refused: the message beside the onset date, what was typed kept
        error = page.get_by_test_id("error-onset_date")
        assert await error.inner_text() == "The onset date may not be after the report date"
        onset = page.locator("#n-onset_date")
        assert await onset.get_attribute("aria-invalid") == "true"
        assert await page.locator('[name="icd10"]').input_value() == "B05"
        await browser.screenshot("epidemic-notify-refused")

        await onset.fill(day.isoformat())
        await submit(page, page.get_by_test_id("epi-notify-form"))
        assert await page.get_by_test_id("epi-saved").is_visible()
        assert "Measles" in await page.get_by_test_id("epi-n-disease").inner_text()
        assert "District" in await page.get_by_test_id("epi-n-district").inner_text()
        hosp = await page.get_by_test_id("epi-n-hospitalised").inner_text()
        assert day.strftime("%d.%m.%Y") in hosp
        await browser.screenshot("epidemic-notification")


@in_chromium
async def test_a_nurse_reports_her_hospital_beds(live_server, make_user) -> None:
    nurse = await make_user("nurse")
    day = today() - timedelta(days=1)
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(nurse.username)
        async with page.expect_navigation():
            await page.get_by_role("link", name="Hospital beds report").first.click()

        reg = page.get_by_test_id("epi-beds-form")
        await reg.locator('[name="profile"]').select_option("infectious")
        await reg.locator('[name="beds"]').fill("30")
        await reg.locator('[name="valid_from"]').fill((day - timedelta(days=5)).isoformat())
        await submit(page, reg)
        assert await page.get_by_test_id("epi-saved").is_visible()
        row = page.locator('[data-testid="occ-row"][data-profile="infectious"]')
        assert (await row.get_by_test_id("occ-beds").inner_text()).strip() == "30"

        await page.locator("#d-day").fill(day.isoformat())
        async with page.expect_navigation():
            await page.get_by_test_id("epi-beds-day").locator("button").click()
        form = page.get_by_test_id("epi-occupancy-form")
        await form.locator('[name="infectious.occupied"]').fill("31")
        await form.locator('[name="infectious.admitted"]').fill("4")
        await form.locator('[name="infectious.discharged"]').fill("2")
        await submit(page, form)
        error = page.get_by_test_id("error-infectious.occupied")
        assert await error.inner_text() == "31 occupied is more than the 30 beds registered"
        await browser.screenshot("epidemic-beds-refused")

        form = page.get_by_test_id("epi-occupancy-form")
        await form.locator('[name="infectious.occupied"]').fill("30")
        await submit(page, form)
        assert await page.get_by_test_id("epi-saved").is_visible()
        cell = page.locator(
            f'[data-testid="hist-row"][data-day="{day.isoformat()}"] [data-profile="infectious"]'
        )
        assert (await cell.inner_text()).strip() == "30 of 30"
        await browser.screenshot("epidemic-beds")
