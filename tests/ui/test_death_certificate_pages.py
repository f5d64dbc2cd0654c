"""The death certificate in headless Chromium: the family doctor certifies from the
worklist (a refused form keeps what was typed and names the field), the coder reviews
from the queue, and the registry's person follows the selected cause."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from salomat.core.db import session_factory
from salomat.domains.registry.models import Person
from tests.ui.conftest import Browser, in_chromium

DIED = date.today() - timedelta(days=2)


async def _register_death(client, make_user, login, person_id: int, cause: str) -> None:
    registrar = await login(await make_user("registrar"))
    etag = (await client.get(f"/api/v1/persons/{person_id}", headers=registrar)).headers["etag"]
    r = await client.post(
        f"/api/v1/persons/{person_id}/death",
        json={"deceased_on": DIED.isoformat(), "cause": cause},
        headers={**registrar, "If-Match": etag},
    )
    assert r.status_code == 200, r.text


async def _death_cause(person_id: int) -> str | None:
    async with session_factory()() as s:
        return await s.scalar(select(Person.death_cause).where(Person.id == person_id))


async def _fill_line(b: Browser, letter: str, text: str, code: str, value: str, unit: str) -> None:
    row = b.page.get_by_test_id(f"line-{letter}")
    await row.get_by_label(f"Condition, as written {letter}").fill(text)
    await row.get_by_label(f"ICD-10 code {letter}").fill(code)
    await row.get_by_label(f"Interval between onset and death {letter}").fill(value)
    await row.get_by_label(f"Unit {letter}").select_option(unit)


@in_chromium
async def test_the_doctor_certifies_from_the_worklist_and_the_coder_reviews(
    browser, client, make_user, make_person, login
):
    doctor = await make_user("family_doctor")
    man = await make_person(doctor.facility_code, birth_date=date(1950, 4, 1), sex="male")
    await _register_death(client, make_user, login, man.id, "I46.9")
    page = browser.page
    await browser.log_in(doctor.username)
    await (
        page.get_by_test_id("nav").get_by_role("link", name="Deaths without a certificate").click()
    )
    await page.wait_for_url(browser.url("/deaths/uncertified"))
    row = page.get_by_test_id(f"uncertified-{man.id}")
    async with page.expect_navigation():
        await row.get_by_role("link", name="Certify").click()
    form = page.get_by_test_id("death-certificate-form")
    # a man: no pregnancy question; an adult: no fetal or infant block
    assert await page.get_by_test_id("pregnancy-block").count() == 0
    assert await page.get_by_test_id("infant-block").count() == 0
    assert await form.get_by_label("Date of death").input_value() == DIED.isoformat()
    await _fill_line(browser, "a", "cardiac arrest", "Z99.9", "10", "minutes")
    await _fill_line(browser, "b", "acute myocardial infarction", "I21.9", "6", "hours")
    async with page.expect_navigation():
        await page.get_by_test_id("dc-submit").click()
    # refused: the Z code is named beside line a, what was typed stays
    assert await page.get_by_test_id("dc-error").is_visible()
    assert "Z code" in await page.get_by_test_id("error-l0_code").inner_text()
    assert await page.get_by_label("Condition, as written b").input_value() == (
        "acute myocardial infarction"
    )
    await page.get_by_label("ICD-10 code a").fill("I46.9")
    async with page.expect_navigation():
        await page.get_by_test_id("dc-submit").click()
    await page.get_by_test_id("dc-saved").wait_for()
    cause = await page.get_by_test_id("underlying-cause").inner_text()
    assert "I21.9" in cause
    assert "myocardial infarction" in cause.lower()
    assert await page.get_by_test_id("review-state").inner_text() == "Selected by the rules"
    assert await _death_cause(man.id) == "I21.9"
    await browser.screenshot("death-certificate")

    # a second death certified with only R99 goes to the coders' queue
    woman = await make_person(doctor.facility_code, birth_date=date(1990, 4, 1), sex="female")
    await _register_death(client, make_user, login, woman.id, "R99")
    await page.goto(browser.url(f"/patients/{woman.id}/death-certificate"))
    await page.wait_for_url(browser.url(f"/patients/{woman.id}/death-certificate/edit"))
    assert await page.get_by_test_id("pregnancy-block").is_visible()
    await _fill_line(browser, "a", "cause unknown", "R99", "", "")
    await page.get_by_label("Pregnancy status").select_option("not_pregnant")
    async with page.expect_navigation():
        await page.get_by_test_id("dc-submit").click()
    assert await page.get_by_test_id("review-state").inner_text() == "Waiting for a coder"
    assert "Only ill-defined" in await page.get_by_test_id("review-reasons").inner_text()

    coder = await make_user("mortality_coder")
    await browser.log_in(coder.username)
    await page.get_by_test_id("nav").get_by_role("link", name="Causes of death to review").click()
    await page.wait_for_url(browser.url("/deaths/review"))
    queued = page.get_by_test_id(f"to-review-{woman.id}")
    assert "R99" in await queued.inner_text()
    async with page.expect_navigation():
        await queued.get_by_role("link", name="Review").click()
    review = page.get_by_test_id("review-form")
    await review.get_by_label("Underlying cause (ICD-10)").fill("S06.9")
    await review.get_by_label("Reason").fill("autopsy: head injury")
    async with page.expect_navigation():
        await page.get_by_test_id("review-submit").click()
    assert "injury" in await page.get_by_test_id("error-underlying_cause").inner_text()
    review = page.get_by_test_id("review-form")
    await review.get_by_label("Underlying cause (ICD-10)").fill("I42.9")
    async with page.expect_navigation():
        await page.get_by_test_id("review-submit").click()
    await page.get_by_test_id("reviewed").wait_for()
    assert await page.get_by_test_id(f"to-review-{woman.id}").count() == 0
    await browser.screenshot("death-review-queue")
    assert await _death_cause(woman.id) == "I42.9"
