"""Sick leave in headless Chromium, in the pack's language (uz): the doctor opens a
certificate for influenza (J11.1) for 5 days; the extension past her own limit is refused
with the VKK's message on the last day's field until the commission's decision is
recorded; she extends and closes it. The worker downloads the PDF and shares it with her
employer, who sees it without the diagnosis; another employer finds nothing; anyone checks
it on the public page the QR code opens."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from pypdf import PdfReader

from salomat.core import i18n
from salomat.domains.sickleave import service
from tests.ui.conftest import in_chromium, open_browser

TODAY = date.today()
LANG = "uz"


def tr(msgid: str, **params: object) -> str:
    text = i18n.translations(LANG).gettext(msgid)
    return text % params if params else text


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in reader.pages))


async def speak(browser, lang: str = LANG) -> None:  # type: ignore[no-untyped-def]
    await browser.context.add_cookies(
        [{"name": "salomat_lang", "value": lang, "url": browser.url("/")}]
    )


async def as_user(browser, username: str) -> None:  # type: ignore[no-untyped-def]
    """Log out (a fresh cookie jar), log in through the form, then speak the pack's language."""
    await browser.context.clear_cookies()
    await browser.log_in(username)
    await speak(browser)


async def submit(page, form) -> None:  # type: ignore[no-untyped-def]
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').last.click()


@in_chromium
async def test_doctor_citizen_employer_and_the_public_check(live_server, clinic, make_user):
    alone = service.sick_leave_rules().practitioners["doctor"].alone_days
    holder = await make_user("citizen", person_id=clinic.worker.id)
    stranger = await make_user("employer")
    bid = clinic.employer_account.employer.business_id
    past = TODAY + timedelta(days=alone)  # day alone + 1 of the certificate
    iso = date.isoformat

    async with open_browser(live_server) as browser:
        page = browser.page

        # ---- the doctor, from the patient card -------------------------------------------
        await as_user(browser, clinic.doctor_account.username)
        await page.goto(browser.url(f"/patients/{clinic.worker.id}"))
        async with page.expect_navigation():
            await page.get_by_test_id("sick-leave-link").click()
        assert await page.locator("html").get_attribute("lang") == LANG
        assert (await page.locator("h1").inner_text()).strip() == tr("Sick-leave certificates")
        assert await page.get_by_test_id("no-certificates").is_visible()

        form = page.get_by_test_id("open-form")
        await form.locator('[name="reason"]').select_option("own_illness")
        await form.locator('[name="diagnosis"]').fill("J11.1")
        await form.locator('[name="days"]').fill("5")
        await submit(page, form)
        assert (await page.get_by_test_id("done").inner_text()).strip() == tr(
            "The certificate is opened."
        )
        cert = page.get_by_test_id("certificate")
        assert await cert.count() == 1
        number = await cert.get_attribute("data-number")
        code = (await cert.get_by_test_id("cert-check-code").inner_text()).strip()
        assert (await cert.get_by_test_id("cert-diagnosis").inner_text()).strip() == "J11.1"
        assert (await cert.get_by_test_id("cert-reason").inner_text()).strip() == tr("Own illness")
        assert (await cert.get_by_test_id("cert-days").inner_text()).strip() == "5"
        await browser.screenshot("sick-leave-opened")

        # one day past her own limit: refused, the commission's message on the last day
        await cert.get_by_test_id("extend-action").locator("summary").click()
        form = cert.get_by_test_id("extend-form")
        await form.locator('[name="ends_on"]').fill(iso(past))
        await submit(page, form)
        cert = page.get_by_test_id("certificate")
        error = (await cert.get_by_test_id("error-ends_on").inner_text()).strip()
        assert error == tr(
            "a certificate of more than %(limit)s days needs a decision of the medical "
            "advisory commission (VKK) allowing it to this day: record the decision first",
            limit=alone,
        )
        field = cert.get_by_test_id("extend-form").locator('[name="ends_on"]')
        assert await field.get_attribute("aria-invalid") == "true"
        assert await field.input_value() == iso(past)
        assert await cert.get_by_test_id("period").count() == 1
        await browser.screenshot("sick-leave-extension-refused")

        # the commission's decision, then the extension, then back to work
        await cert.get_by_test_id("vkk-action").locator("summary").click()
        form = cert.get_by_test_id("vkk-form")
        await form.locator('[name="protocol_number"]').fill("VKK-17/2026")
        await form.locator('[name="decision"]').select_option("extend")
        await form.locator('[name="extend_until"]').fill(iso(past + timedelta(days=5)))
        await form.locator('[name="chair"]').fill("Karimov A.")
        await form.locator('[name="members"]').fill("Karimov A.\nYusupova D.\nRashidov B.")
        await submit(page, form)
        cert = page.get_by_test_id("certificate")
        assert await cert.get_by_test_id("vkk-decision").count() == 1

        await cert.get_by_test_id("extend-action").locator("summary").click()
        form = cert.get_by_test_id("extend-form")
        await form.locator('[name="ends_on"]').fill(iso(past))
        await submit(page, form)
        cert = page.get_by_test_id("certificate")
        granted = cert.get_by_test_id("period")
        assert [await granted.nth(i).get_attribute("data-granted-as") for i in range(2)] == [
            "doctor",
            "vkk",
        ]

        await cert.get_by_test_id("close-action").locator("summary").click()
        form = cert.get_by_test_id("close-form")
        assert await form.locator('[name="return_to_work_on"]').input_value() == iso(
            past + timedelta(days=1)
        )
        await submit(page, form)
        cert = page.get_by_test_id("certificate")
        assert await cert.get_attribute("data-status") == "closed"
        assert (await cert.get_by_test_id("cert-days").inner_text()).strip() == str(alone + 1)
        await browser.screenshot("sick-leave-closed")

        # ---- the worker: her page, the PDF, sharing with her employer ---------------------
        await as_user(browser, holder.username)
        await page.goto(browser.url("/"))
        async with page.expect_navigation():
            await page.get_by_test_id("nav").locator('a[href="/my/sick-leave"]').click()
        mine = page.get_by_test_id("certificate")
        assert await mine.get_attribute("data-number") == number
        assert await mine.get_by_test_id("period").count() == 2
        href = await mine.get_by_test_id("cert-pdf").get_attribute("href")
        r = await page.request.get(browser.url(href))
        assert r.status == 200
        assert r.headers["content-type"] == "application/pdf"
        text = pdf_text(await r.body())
        assert number in text
        assert code in text
        assert tr("Certificate of temporary incapacity for work") in text
        assert "J11" not in text

        form = mine.get_by_test_id("share-form")
        await form.locator('[name="employer_business_id"]').fill(bid)
        await submit(page, form)
        mine = page.get_by_test_id("certificate")
        share = mine.get_by_test_id("share")
        assert await share.get_attribute("data-business-id") == bid
        assert clinic.employer_account.employer.name in await share.inner_text()

        # ---- her employer: the start page leads to the certificates; nothing clinical -----
        await as_user(browser, clinic.employer_account.username)
        await page.goto(browser.url("/"))
        async with page.expect_navigation():
            await page.get_by_test_id("nav").locator('a[href="/employer/sick-leave"]').click()
        row = page.get_by_test_id("shared").get_by_test_id("certificate")
        assert await row.get_attribute("data-number") == number
        assert (await row.get_by_test_id("cert-kind").inner_text()).strip() == tr("Illness")
        html = await page.content()
        for needle in ("J11", "own_illness", tr("Own illness"), tr("Diagnosis (ICD-10)")):
            assert needle not in html, needle
        r = await page.request.get(browser.url(f"/employer/sick-leave/{number}.pdf"))
        assert r.status == 200
        body = await r.body()
        assert number in pdf_text(body)
        assert b"J11" not in body
        assert "J11" not in pdf_text(body)
        await browser.screenshot("sick-leave-employer")

        # ---- another employer: nothing shared, the number with a wrong id is not found ----
        await as_user(browser, stranger.username)
        await page.goto(browser.url("/employer/sick-leave"))
        assert await page.get_by_test_id("no-certificates").is_visible()
        form = page.get_by_test_id("lookup-form")
        await form.locator('[name="number"]').fill(number)
        await form.locator('[name="national_id"]').fill("12345678901234")
        await submit(page, form)
        assert await page.get_by_test_id("form-error").is_visible()
        assert await page.get_by_test_id("found").count() == 0
        r = await page.request.get(browser.url(f"/employer/sick-leave/{number}.pdf"))
        assert r.status == 404

        # ---- anyone: the address the QR code holds -----------------------------------------
        await browser.context.clear_cookies()
        await speak(browser)
        await page.goto(browser.url(f"/verify/sick-leave?number={number}&code={code}"))
        result = page.get_by_test_id("verify-result")
        assert await result.get_attribute("data-status") == "valid"
        assert (await result.get_by_test_id("verify-status").inner_text()).strip() == tr("valid")
        assert (await result.get_by_test_id("verify-from").inner_text()).strip() == (
            TODAY.strftime("%d.%m.%Y")
        )
        assert (await result.get_by_test_id("verify-closed").inner_text()).strip() == (
            past.strftime("%d.%m.%Y")
        )
        assert clinic.worker.family_name not in await page.content()
        await browser.screenshot("sick-leave-verified")
