"""The registrar's workflow in headless Chromium: search, register, duplicates, the card,
the facility list; and a clinician of another facility breaking the glass."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

from tests.factories import national_id_for, unique_name
from tests.ui.conftest import Browser, in_chromium

REASON = "brought in unconscious to the emergency room"


def some_birth_date() -> date:
    return date(1950, 1, 1) + timedelta(days=secrets.randbelow(365 * 55))


async def _register(b: Browser, **fields: str) -> None:
    """Fills the registration form (only the fields given) and submits it."""
    page = b.page
    form = page.get_by_test_id("register-form")
    labels = {
        "national_id": "PINFL",
        "family_name": "Family name",
        "given_name": "Given name",
        "patronymic": "Patronymic",
        "birth_date": "Birth date",
        "phone": "Phone",
    }
    for name, label in labels.items():
        if name in fields:
            await form.get_by_label(label, exact=True).fill(fields[name])
    if "sex" in fields:
        await form.get_by_test_id(f"sex-{fields['sex']}").check()
    async with page.expect_navigation():
        await form.get_by_test_id("register-submit").click()


def _card_id(url: str) -> int:
    m = re.search(r"/patients/(\d+)", url)
    assert m, url
    return int(m.group(1))


@in_chromium
async def test_the_registrar_finds_registers_and_catches_a_latin_duplicate(browser, make_user):
    registrar = await make_user("registrar")
    page = browser.page
    born = some_birth_date()
    await browser.log_in(registrar.username)
    nav = page.get_by_test_id("nav")
    assert await nav.get_by_role("link", name="Patients").count() == 1
    assert await nav.get_by_role("link", name="Facilities").count() == 1

    # nobody by that name yet: the search offers to register
    await nav.get_by_role("link", name="Patients").click()
    await page.wait_for_url(browser.url("/patients"))
    search = page.get_by_test_id("patient-search")
    await search.get_by_label("Name").fill("Юсупова Дилноза")
    await search.get_by_label("Birth date").fill(born.isoformat())
    await search.get_by_test_id("search-submit").click()  # htmx swaps the section
    await page.get_by_test_id("result-count").wait_for()
    assert "name=" in page.url  # the search is in the address bar (history)
    assert await page.get_by_test_id("no-results").is_visible()
    await browser.screenshot("patients-nobody")
    async with page.expect_navigation():
        await page.get_by_test_id("register-new").click()
    assert page.url.startswith(browser.url("/patients/new"))
    form = page.get_by_test_id("register-form")
    assert await form.get_by_label("Family name").input_value() == "Юсупова"
    assert await form.get_by_label("Given name").input_value() == "Дилноза"
    assert await form.get_by_label("Birth date").input_value() == born.isoformat()
    facility = form.get_by_label("Attach to facility (code)")
    assert await facility.input_value() == registrar.facility_code

    pinfl = national_id_for(born, "female")
    await _register(browser, national_id=pinfl, patronymic="Азизовна", sex="female")
    if await page.get_by_test_id("candidates").count():  # a namesake from another test
        await page.get_by_label("Why is this a different person?").fill("another person entirely")
        async with page.expect_navigation():
            await page.get_by_test_id("register-anyway-submit").click()
    first = _card_id(page.url)
    assert await page.get_by_test_id("registered").is_visible()
    assert await page.get_by_test_id("patient-name").inner_text() == "Юсупова Дилноза Азизовна"
    assert (await page.get_by_test_id("patient-name-alt").inner_text()).startswith(
        "Yusupova Dilnoza"
    )
    assert await page.get_by_test_id("national-id").inner_text() == pinfl
    expected_age = (
        date.today().year
        - born.year
        - ((date.today().month, date.today().day) < (born.month, born.day))
    )
    assert await page.get_by_test_id("age").inner_text() == str(expected_age)
    assert registrar.facility_code in await page.get_by_test_id("attached").inner_text()
    assert await page.get_by_test_id("attachments").locator("tbody tr").count() == 1
    await page.get_by_test_id("show-versions").click()  # htmx loads them into the card
    await page.get_by_test_id("versions").wait_for()
    assert await page.get_by_test_id("versions").locator("tbody tr").count() == 1
    assert page.url == browser.url(f"/patients/{first}?registered=1")
    await browser.screenshot("patient-card")

    # the same woman typed in Latin letters, without her PINFL: caught as a candidate
    await page.goto(browser.url("/patients/new"))
    await _register(
        browser,
        family_name="Yusupova",
        given_name="Dilnoza",
        birth_date=born.isoformat(),
        sex="female",
    )
    candidates = page.get_by_test_id("candidates")
    assert await candidates.is_visible()
    row = candidates.get_by_test_id("candidate").filter(
        has=page.locator(f'a[href="/patients/{first}"]')
    )
    assert await row.count() == 1
    reasons = await row.get_by_test_id("candidate-reasons").inner_text()
    assert "written in the other script" in reasons
    assert "same birth date" in reasons
    score = int((await row.get_by_test_id("candidate-score").inner_text()).rstrip("%"))
    assert score >= 60
    await browser.screenshot("register-candidates")

    # registering anyway needs a reason
    await page.get_by_label("Why is this a different person?").fill("namesake, other mother")
    async with page.expect_navigation():
        await page.get_by_test_id("register-anyway-submit").click()
    second = _card_id(page.url)
    assert second != first
    assert await page.get_by_test_id("patient-name").inner_text() == "Yusupova Dilnoza"

    # the search finds both, whatever the script typed
    await page.get_by_test_id("nav").get_by_role("link", name="Patients").click()
    await page.wait_for_url(browser.url("/patients"))
    search = page.get_by_test_id("patient-search")
    await search.get_by_label("Name").fill("Yusupova Dilnoza")
    await search.get_by_label("Birth date").fill(born.isoformat())
    await search.get_by_test_id("search-submit").click()
    table = page.get_by_test_id("patients")
    await table.wait_for()
    for pid in (first, second):
        assert await table.locator(f'a[href="/patients/{pid}"]').count() == 1
    async with page.expect_navigation():
        await table.locator(f'a[href="/patients/{first}"]').click()
    assert page.url == browser.url(f"/patients/{first}")
    assert await page.get_by_test_id("patient-name").inner_text() == "Юсупова Дилноза Азизовна"


@in_chromium
async def test_a_wrong_check_digit_is_refused_next_to_the_field_and_nothing_is_stored(
    browser, make_user, make_place
):
    registrar = await make_user("registrar")
    place = await make_place()
    page = browser.page
    born = some_birth_date()
    good = national_id_for(born, "male")
    wrong = good[:-1] + str((int(good[-1]) + 3) % 10)
    await browser.log_in(registrar.username)
    await page.goto(browser.url("/patients/new"))
    # the settlement field suggests settlements as one types (htmx fills its datalist)
    async with page.expect_response("**/patients/new/settlements?*") as answer:
        await page.get_by_label("Settlement code").press_sequentially(place.settlement)
    assert (await answer.value).status == 200
    option = page.locator(f'#settlements option[value="{place.settlement}"]')
    await option.wait_for(state="attached")
    await _register(
        browser,
        national_id=wrong,
        family_name=unique_name("To"),
        given_name="Bobur",
        birth_date=born.isoformat(),
        sex="male",
    )
    assert page.url == browser.url("/patients/new")
    assert await page.get_by_test_id("form-error").is_visible()
    error = page.get_by_test_id("register-form").get_by_test_id("error-national_id")
    assert "check digit" in await error.inner_text()
    field = page.get_by_label("PINFL", exact=True)
    assert await field.get_attribute("aria-invalid") == "true"
    assert await field.get_attribute("aria-describedby") == await error.get_attribute("id")
    assert await field.input_value() == wrong  # kept for correcting
    assert await page.get_by_label("Settlement code").input_value() == place.settlement
    await browser.screenshot("register-wrong-check-digit")

    await page.goto(browser.url(f"/patients?national_id={wrong}"))
    assert await page.get_by_test_id("no-results").is_visible()


@in_chromium
async def test_the_facility_list_shows_the_network(browser, make_user, make_facility):
    fac = await make_facility("perinatal_centre")
    analyst = await make_user("analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    await page.get_by_test_id("nav").get_by_role("link", name="Facilities").click()
    await page.wait_for_url(browser.url("/facilities"))
    table = page.get_by_test_id("facilities")
    assert await table.locator("tbody tr").count() >= 1
    row = table.get_by_test_id(f"facility-{fac.code}")
    while not await row.count():
        async with page.expect_navigation():
            await page.get_by_role("link", name="Next page").click()
        table = page.get_by_test_id("facilities")
        row = table.get_by_test_id(f"facility-{fac.code}")
    cells = [c.strip() for c in await row.locator("td").all_inner_texts()]
    assert cells[0] == fac.code
    assert cells[2] == "Perinatal centre"
    assert cells[-1] == "open"
    await browser.screenshot("facilities")


@in_chromium
async def test_a_clinician_elsewhere_gets_404_and_breaks_the_glass(browser, make_user, make_person):
    home = await make_user("family_doctor")
    born = some_birth_date()
    person = await make_person(
        home.facility_code, birth_date=born, national_id=national_id_for(born, "female")
    )
    doctor = await make_user("family_doctor")
    page = browser.page
    await browser.log_in(doctor.username)

    response = await page.goto(browser.url(f"/patients/{person.id}"))
    assert response.status == 404
    assert await page.get_by_test_id("error").is_visible()
    assert await page.get_by_role("heading", level=1).inner_text() == "Not found"
    await browser.screenshot("card-out-of-scope")

    await page.get_by_test_id("nav").get_by_role("link", name="Patients").click()
    await page.wait_for_url(browser.url("/patients"))
    await page.get_by_label("PINFL").fill(person.national_id)
    await page.get_by_test_id("search-submit").click()
    await page.get_by_test_id("no-results").wait_for()
    async with page.expect_navigation():
        await page.get_by_test_id("break-glass-link").click()
    assert page.url.startswith(browser.url("/break-glass"))
    form = page.get_by_test_id("break-glass-form")
    assert await form.get_by_label("PINFL").input_value() == person.national_id
    await form.get_by_label("Reason (at least 10 characters)").fill(REASON)
    await browser.screenshot("break-glass")
    async with page.expect_navigation():
        await form.get_by_test_id("break-glass-submit").click()
    assert page.url == browser.url(f"/patients/{person.id}")
    assert person.family_name in await page.get_by_test_id("patient-name").inner_text()
    # a family doctor records deaths, but does not attach people
    assert await page.get_by_test_id("attach-form").count() == 0
