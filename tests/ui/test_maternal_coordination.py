"""The acceptance path of issue 4 in headless Chromium: the family doctor sees the
high-risk woman on the worklist and refers her; the obstetrician of the receiving
facility accepts the referral from the inbox and can then open her obstetric record;
she leaves the doctor's worklist."""

from __future__ import annotations

from tests.domains.maternal.test_referrals import (
    Network,
    facility,
    register_hypertensive,
    settlement,
)
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_doctor_refers_the_high_risk_woman_and_the_centre_accepts(
    browser, client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    far = await settlement(db, place.district, 41.3, 69.2)
    poly = await facility(db, "family_polyclinic", place.settlement)
    maternity = await facility(db, "maternity_complex", place.settlement, 2)
    centre = await facility(db, "perinatal_centre", far, 3)
    woman = await make_person(facility_code=poly.code)
    doctor = await make_user("family_doctor", facility_code=poly.code)
    obstetrician = await make_user("obstetrician", facility_code=centre.code)
    net = Network(poly, woman, await login(doctor), maternity, centre, None, {}, {})
    await register_hypertensive(client, net)  # high risk, level 2 care
    page = browser.page
    record_url = browser.url(f"/patients/{woman.id}/pregnancy")

    # the family doctor: the worklist says why she is there and leads to her record
    await browser.log_in(doctor.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Antenatal worklist").click()
    row = page.locator(f'[data-testid="worklist-row"][data-person="{woman.id}"]')
    reason = row.get_by_test_id("worklist-reason")
    assert await reason.get_attribute("data-code") == "high_risk_no_referral"
    assert "no referral" in await reason.inner_text()
    await browser.screenshot("worklist")
    async with page.expect_navigation():
        await row.get_by_test_id("worklist-record").click()
    assert page.url == record_url
    assert await page.get_by_test_id("no-referrals").is_visible()

    # refers her to the perinatal centre by code
    form = page.get_by_test_id("refer-form")
    await form.get_by_label("Refer to").select_option("perinatal")
    await form.get_by_label("Reason").fill("Hypertension 150/95 twice")
    await form.get_by_label("Facility code").fill(centre.code)
    async with page.expect_navigation():
        await form.get_by_test_id("refer-submit").click()
    assert await page.get_by_test_id("referred").is_visible()
    referral = page.get_by_test_id("referrals").get_by_test_id("referral")
    assert await referral.get_by_test_id("referral-to").inner_text() == centre.code
    assert await referral.get_by_test_id("referral-status").inner_text() == "sent"
    await browser.screenshot("record-referred")
    await page.get_by_test_id("logout").click()
    await page.wait_for_url(browser.url("/login"))

    # the perinatal centre's obstetrician: not her record yet; the referral is in the inbox
    await browser.log_in(obstetrician.username)
    response = await page.goto(record_url)
    assert response.status == 404
    await page.goto(browser.url("/"))
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Referrals").click()
    item = page.get_by_test_id("referral")
    assert await item.count() == 1
    assert await item.get_attribute("data-status") == "sent"
    assert "Hypertension" in await item.inner_text()
    await browser.screenshot("inbox")
    async with page.expect_navigation():
        await item.get_by_test_id("accept").click()
    assert await item.get_attribute("data-status") == "accepted"
    async with page.expect_navigation():
        await item.get_by_test_id("referral-record").click()
    assert page.url == record_url
    assert await page.get_by_test_id("risk").inner_text() == "high"
    await page.get_by_test_id("logout").click()
    await page.wait_for_url(browser.url("/login"))

    # she has left the doctor's worklist; her record shows the referral accepted
    await browser.log_in(doctor.username)
    await page.goto(browser.url("/worklist"))
    assert await page.locator(f'[data-person="{woman.id}"]').count() == 0
    await page.goto(record_url)
    status = page.get_by_test_id("referrals").get_by_test_id("referral-status")
    assert await status.inner_text() == "accepted"
