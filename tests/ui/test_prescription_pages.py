"""The doctor's prescriptions page in headless Chromium: she prescribes from the patient card
and sees the code and the QR code; a diagnosis that does not qualify is refused beside its field;
she cancels with a reason."""

from __future__ import annotations

import re
from datetime import date

from salomat.domains.prescription import service
from tests.factories import unique
from tests.ui.conftest import in_chromium

HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{2}$")


@in_chromium
async def test_the_doctor_prescribes_sees_the_code_and_a_refused_diagnosis(
    browser, db, make_facility, make_person, make_user
):
    fac = await make_facility()
    patient = await make_person(facility_code=fac.code, birth_date=date(1961, 4, 2))
    doctor = await make_user("family_doctor", facility_code=fac.code)
    code = unique("AML")
    report = await service.import_formulary(
        db, f"{HEADER}\n{code},amlodipine,C08CA01,Amlo UI,tablet,5 mg,tablet,30,1500000\n"
    )
    assert not report.errors
    await db.commit()
    page = browser.page
    await browser.log_in(doctor.username)

    await page.goto(browser.url(f"/patients/{patient.id}"))
    async with page.expect_navigation():
        await page.get_by_test_id("prescriptions-link").click()
    assert page.url == browser.url(f"/patients/{patient.id}/prescriptions")
    assert await page.get_by_test_id("no-prescriptions").is_visible()

    # a reimbursed amlodipine for diabetes: refused, the message beside the diagnosis
    form = page.get_by_test_id("prescription-form")
    await form.get_by_label("Medicine").select_option(code)
    await form.get_by_label("Prescription type").select_option("reimbursed")
    await form.get_by_label("Diagnosis (ICD-10)").fill("E11.9")
    await form.get_by_label("Dose (units)").fill("1")
    await form.get_by_label("Times a day").fill("1")
    await form.get_by_label("Days", exact=True).fill("30")
    async with page.expect_navigation():
        await form.get_by_test_id("prescribe-submit").click()
    assert await page.get_by_test_id("form-error").is_visible()
    message = await page.get_by_test_id("error-diagnosis").inner_text()
    assert "does not qualify" in message
    assert "I10-I15" in message
    assert await page.get_by_test_id("prescription").count() == 0
    # what was typed is kept
    form = page.get_by_test_id("prescription-form")
    assert await form.get_by_label("Medicine").input_value() == code
    await browser.screenshot("prescription-refused")

    # hypertension qualifies: issued with its code and QR code
    await form.get_by_label("Diagnosis (ICD-10)").fill("I10")
    async with page.expect_navigation():
        await form.get_by_test_id("prescribe-submit").click()
    assert await page.get_by_test_id("saved").is_visible()
    row = page.get_by_test_id("prescription")
    assert await row.count() == 1
    shown = (await row.get_by_test_id("rx-code").inner_text()).strip()
    assert CODE.match(shown), shown
    assert (await row.get_by_test_id("rx-quantity").inner_text()).startswith("30")
    assert await row.get_by_test_id("reimbursed").is_visible()
    assert await row.get_by_test_id("rx-qr").locator("svg").count() == 1
    await browser.screenshot("prescription-issued")

    # cancelled with a reason
    await row.get_by_test_id("cancel-reason").fill("dose changed")
    async with page.expect_navigation():
        await row.get_by_test_id("cancel-submit").click()
    assert await page.get_by_test_id("cancelled").is_visible()
    assert await page.get_by_test_id("prescription").get_attribute("data-status") == "cancelled"
