"""The pharmacist's screen in headless Chromium: look up by code and national id, see the
co-payment, dispense part; too many units are refused beside the field; no diagnosis shown."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.domains.prescription.dispensing_data import make_case, make_medicine, pharmacist
from tests.domains.registry.test_web import web_login
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_pharmacist_looks_up_and_dispenses_part(
    browser, db, make_facility, make_person, make_user
):
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50, diagnosis="I10")
    generic = await make_medicine(db, inn=case.medicine.inn, reference_price=24_000)
    account = await pharmacist(make_facility, make_user)
    page = browser.page
    await browser.log_in(account.username)
    async with page.expect_navigation():
        await page.get_by_role("link", name="Dispense").first.click()
    assert page.url == browser.url("/pharmacy")

    # a wrong national id reads like a missing code
    form = page.get_by_test_id("lookup-form")
    await form.get_by_label("Prescription code").fill(case.rx.code.replace("-", "").lower())
    await form.get_by_label("National id").fill("12345678901234")
    async with page.expect_navigation():
        await form.get_by_test_id("lookup-submit").click()
    assert "No prescription matches" in await page.get_by_test_id("lookup-error").inner_text()

    form = page.get_by_test_id("lookup-form")
    await form.get_by_label("National id").fill(case.national_id)
    async with page.expect_navigation():
        await form.get_by_test_id("lookup-submit").click()
    found = page.get_by_test_id("pharmacy-prescription")
    assert await found.get_by_test_id("rx-remaining").inner_text() == "60"
    assert await found.get_by_test_id("patient-birth-year").inner_text() == "1961"
    assert "I10" not in await page.content()
    assert "Diagnosis" not in await page.content()

    # the co-payment before dispensing: 7 tablets of a 30-tablet package at 350.00
    form = page.get_by_test_id("dispense-form")
    await form.get_by_label("Units").fill("7")
    await form.get_by_label("Pharmacy price of one package").fill("350")
    async with page.expect_navigation():
        await form.get_by_test_id("quote-submit").click()
    assert await page.get_by_test_id("quote-price").inner_text() == "81.67"
    assert await page.get_by_test_id("quote-fund").inner_text() == "35.00"
    assert await page.get_by_test_id("quote-copayment").inner_text() == "46.67"
    assert await page.get_by_test_id("rx-remaining").inner_text() == "60"

    # more than remains is refused beside the units
    form = page.get_by_test_id("dispense-form")
    await form.get_by_label("Units").fill("61")
    async with page.expect_navigation():
        await form.get_by_test_id("dispense-submit").click()
    assert "Only 60 units remain" in await page.get_by_test_id("error-units").inner_text()

    # one package of the generic (same INN) instead
    form = page.get_by_test_id("dispense-form")
    await form.get_by_label("Units").fill("")
    await form.get_by_label("Packages").fill("1")
    await form.get_by_label("Package given").select_option(generic.code)
    await form.get_by_label("Pharmacy price of one package").fill("240")
    async with page.expect_navigation():
        await form.get_by_test_id("dispense-submit").click()
    assert await page.get_by_test_id("dispensed").is_visible()
    assert await page.get_by_test_id("dispensed-copayment").inner_text() == "120.00"
    assert await page.get_by_test_id("rx-remaining").inner_text() == "30"
    assert await page.get_by_test_id("dispensing").count() == 1
    await browser.screenshot("pharmacy-dispensed")


# ---- after a successful dispensing the page shows the success, never an error ---------------


async def _look_up(client, case, csrf: str) -> str:  # type: ignore[no-untyped-def]
    found = await client.post(
        "/pharmacy",
        data={"code": case.rx.code, "national_id": case.national_id, "csrf_token": csrf},
    )
    assert found.status_code == 200, found.text[:500]
    return re.search(r'name="csrf_token" value="([^"]+)"', found.text).group(1)


def _alerts(html: str) -> list[str]:
    return re.findall(r'<div class="alert error"[^>]*>', html)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("lang", "units", "note"), [("en", "60", "Fully dispensed"), ("ru", "20", None)]
)
async def test_the_page_after_a_dispensing_shows_no_error(
    client, db, make_facility, make_person, make_user, lang, units, note
):
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50)
    csrf = await web_login(client, await pharmacist(make_facility, make_user))
    client.cookies.set("salomat_lang", lang)
    csrf = await _look_up(client, case, csrf)
    r = await client.post(
        f"/pharmacy/prescriptions/{case.rx.id}/dispense",
        data={"units": units, "price": "300", "action": "dispense", "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text[:500]
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert 'data-testid="dispensed"' in page.text
    assert _alerts(page.text) == []
    assert 'data-testid="refusal"' not in page.text
    assert "already fully dispensed" not in page.text
    if note:
        assert note in page.text
        assert 'data-testid="dispense-form"' not in page.text  # nothing left to give
    else:
        assert 'data-testid="dispense-form"' in page.text


@pytest.mark.anyio
async def test_an_expired_prescription_is_refused_in_the_pages_language(
    client, db, make_facility, make_person, make_user
):
    old = date.today() - timedelta(days=40)
    case = await make_case(
        db, make_facility, make_person, issued_on=old, valid_until=old + timedelta(days=30)
    )
    csrf = await web_login(client, await pharmacist(make_facility, make_user))
    client.cookies.set("salomat_lang", "ru")
    found = await client.post(
        "/pharmacy",
        data={"code": case.rx.code, "national_id": case.national_id, "csrf_token": csrf},
    )
    assert found.status_code == 200
    refusal = re.search(r'data-testid="refusal">(.*?)</div>', found.text, re.S).group(1)
    assert f"{old + timedelta(days=30):%d.%m.%Y}" in refusal
    assert "expired" not in refusal  # the Russian sentence, not the service's English
    assert 'data-testid="dispense-form"' not in found.text
