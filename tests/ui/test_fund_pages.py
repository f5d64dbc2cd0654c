"""The fund's reviewer and the pharmacist in headless Chromium: a flagged line shows its
reason and is rejected with a note (a rejection without one is refused beside its line);
the pharmacist sees her month's claim with its totals and submits it."""

from __future__ import annotations

from tests.domains.prescription.claim_rows import dispense, last_month, make_rx
from tests.ui.conftest import in_chromium


async def _flagged_line(db, make_facility, make_person):
    clinic = await make_facility()
    pharmacy = await make_facility("pharmacy")
    person = await make_person()
    rx = await make_rx(
        db,
        person.id,
        clinic.id,
        issued_on=last_month(day=1).date(),
        valid_until=last_month(day=3).date(),
    )
    await dispense(db, rx, pharmacy.id, amount=20000, units=10, at=last_month(day=2))
    late = await dispense(db, rx, pharmacy.id, amount=4500, units=10, at=last_month(day=9))
    return pharmacy, late


@in_chromium
async def test_the_reviewer_sees_the_reason_and_rejects_the_line(
    browser, db, make_facility, make_person, make_user
):
    pharmacy, _ = await _flagged_line(db, make_facility, make_person)
    analyst = await make_user("insurance_analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    await page.goto(browser.url("/fund/claims"))
    await page.get_by_label("Pharmacy code").fill(pharmacy.code)
    async with page.expect_navigation():
        await page.get_by_test_id("filter-submit").click()
    lines = page.get_by_test_id("claim-line")
    assert await lines.count() == 1
    line = lines.nth(0)
    assert await line.get_attribute("data-status") == "flagged"
    reason = await line.get_by_test_id("flag-reason").inner_text()
    assert "after the prescription's validity ended" in reason
    assert "dispensed outside the prescription's validity" in await line.inner_text()
    await browser.screenshot("fund-claims")

    # a rejection without its reason is refused beside the line
    async with page.expect_navigation():
        await line.get_by_test_id("reject").click()
    line = page.get_by_test_id("claim-line").nth(0)
    assert "give the reason" in await line.get_by_test_id("error-note").inner_text()
    assert await line.get_attribute("data-status") == "flagged"

    await line.get_by_test_id("review-note").fill("dispensed six days after the validity")
    async with page.expect_navigation():
        await line.get_by_test_id("reject").click()
    assert await page.get_by_test_id("review-saved").is_visible()
    assert await page.get_by_test_id("claim-line").count() == 0  # no longer flagged
    await page.get_by_label("Status").select_option("rejected")
    async with page.expect_navigation():
        await page.get_by_test_id("filter-submit").click()
    line = page.get_by_test_id("claim-line").nth(0)
    assert await line.get_attribute("data-status") == "rejected"
    assert await line.get_by_test_id("line-note").inner_text() == (
        "dispensed six days after the validity"
    )
    assert await line.get_by_test_id("review-form").count() == 0


@in_chromium
async def test_the_pharmacist_sees_her_months_claim_and_submits_it(
    browser, db, make_facility, make_person, make_user
):
    pharmacy, _ = await _flagged_line(db, make_facility, make_person)
    pharmacist = await make_user("pharmacist", facility_code=pharmacy.code)
    page = browser.page
    await browser.log_in(pharmacist.username)
    await page.goto(browser.url("/pharmacy/claims"))
    detail = page.get_by_test_id("claim-detail")
    assert await detail.get_attribute("data-status") == "open"
    assert await detail.get_by_test_id("claim-total").inner_text() == "245.00"
    assert await detail.get_by_test_id("claim-line").count() == 2
    async with page.expect_navigation():
        await page.get_by_test_id("submit-claim").click()
    assert await page.get_by_test_id("claim-submitted").is_visible()
    detail = page.get_by_test_id("claim-detail")
    assert await detail.get_attribute("data-status") == "submitted"
    assert await page.get_by_test_id("submit-claim").count() == 0
