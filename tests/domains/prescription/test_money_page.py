"""The pharmacist types "1,500" in headless Chromium: 1500 on the English page, refused on
the Russian one (the comma is its decimal separator), and "1 500" taken there."""

from __future__ import annotations

from sqlalchemy import select

from salomat.domains.prescription.models import Dispensing
from tests.domains.prescription.dispensing_data import make_case, pharmacist
from tests.ui.conftest import in_chromium, open_browser

NBSP = "\u00a0"


async def _prices(db, case) -> list[int]:  # type: ignore[no-untyped-def]
    q = select(Dispensing.price).where(Dispensing.prescription_id == case.rx.id)
    return sorted((await db.execute(q)).scalars())


@in_chromium
async def test_1_500_typed_in_english_and_in_russian(
    live_server, db, make_facility, make_person, make_user
):
    case = await make_case(db, make_facility, make_person, quantity=90, pct=50)
    account = await pharmacist(make_facility, make_user)
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(account.username)
        await page.goto(browser.url("/pharmacy"))
        form = page.get_by_test_id("lookup-form")
        await form.get_by_test_id("lookup-code").fill(case.rx.code)
        await form.get_by_test_id("lookup-national-id").fill(case.national_id)
        async with page.expect_navigation():
            await form.get_by_test_id("lookup-submit").click()

        # English: the comma groups thousands
        price = page.get_by_test_id("dispense-price")
        assert await price.get_attribute("placeholder") == "1,500.00"
        await page.get_by_test_id("dispense-packages").fill("1")
        await price.fill("1,500")
        async with page.expect_navigation():
            await page.get_by_test_id("dispense-submit").click()
        assert await page.get_by_test_id("dispensed-price").inner_text() == "1,500.00"
        assert await _prices(db, case) == [150_000]

        # Russian: the comma is the decimal separator, three decimals are refused
        await browser.context.add_cookies(
            [{"name": "salomat_lang", "value": "ru", "url": browser.url("/")}]
        )
        await page.goto(browser.url(f"/pharmacy/prescriptions/{case.rx.id}"))
        assert await page.locator("html").get_attribute("lang") == "ru"
        price = page.get_by_test_id("dispense-price")
        assert await price.get_attribute("placeholder") == f"1{NBSP}500,00"
        await page.get_by_test_id("dispense-packages").fill("1")
        await price.fill("1,500")
        async with page.expect_navigation():
            await page.get_by_test_id("dispense-submit").click()
        error = await page.get_by_test_id("error-price").inner_text()
        assert "500,00" in error
        assert await page.get_by_test_id("dispense-price").get_attribute("aria-invalid") == "true"
        assert await page.get_by_test_id("dispense-price").input_value() == "1,500"
        assert await _prices(db, case) == [150_000]
        await browser.screenshot("pharmacy-price-refused-ru")

        # a plain space groups thousands on the Russian page
        await page.get_by_test_id("dispense-price").fill("1 500")
        async with page.expect_navigation():
            await page.get_by_test_id("dispense-submit").click()
        shown = await page.get_by_test_id("dispensed-price").inner_text()
        assert shown.replace(NBSP, " ") == "1 500,00"
        assert await _prices(db, case) == [150_000, 150_000]
