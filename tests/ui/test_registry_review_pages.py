"""The registrar corrects a person and reviews a duplicate pair, in headless Chromium."""

from __future__ import annotations

from datetime import date

from tests.domains.registry.test_merge import add_pair
from tests.factories import unique_name
from tests.ui.conftest import Browser, in_chromium

WHY = "the same woman: same parents and address, confirmed by phone"


async def _pair_section(b: Browser, pair_id: int, tab: str = "open"):
    """Opens the duplicates tab and pages on until the pair is shown."""
    page = b.page
    await page.get_by_test_id("nav").get_by_role("link", name="Duplicates").click()
    await page.wait_for_url(b.url("/duplicates"))
    if tab != "open":
        async with page.expect_navigation():
            await page.get_by_test_id(f"tab-{tab}").click()
    section = page.locator(f'[data-pair="{pair_id}"]')
    for _ in range(50):
        if await section.count():
            return section
        async with page.expect_navigation():
            await page.get_by_test_id("next").click()
    raise AssertionError(f"pair {pair_id} not listed")


@in_chromium
async def test_the_registrar_edits_a_person_and_sees_the_new_version(
    browser, make_user, make_person
):
    registrar = await make_user("registrar")
    person = await make_person(registrar.facility_code)
    page = browser.page
    await browser.log_in(registrar.username)
    await page.goto(browser.url(f"/patients/{person.id}"))
    async with page.expect_navigation():
        await page.get_by_test_id("edit-link").click()
    form = page.get_by_test_id("edit-form")
    assert await form.get_by_label("Family name").input_value() == person.family_name

    # a wrong phone: the form comes back with the message beside the field
    await form.get_by_label("Phone").fill("12")
    async with page.expect_navigation():
        await form.get_by_test_id("edit-submit").click()
    assert await page.get_by_test_id("error-phone").is_visible()

    family = unique_name("Yu")
    form = page.get_by_test_id("edit-form")
    await form.get_by_label("Family name").fill(family)
    await form.get_by_label("Phone").fill("90 123 45 67")
    async with page.expect_navigation():
        await form.get_by_test_id("edit-submit").click()
    assert await page.get_by_test_id("saved").is_visible()
    assert await page.get_by_test_id("patient-name").inner_text() == (
        f"{family} {person.given_name}"
    )
    assert await page.get_by_test_id("version").inner_text() == "2"
    await page.get_by_test_id("show-versions").click()  # htmx loads the list
    versions = page.locator("#versions-list")
    await versions.get_by_text(family).first.wait_for()
    assert await versions.get_by_text(person.family_name).count() >= 1
    await browser.screenshot("patient-edited")


@in_chromium
async def test_the_registrar_merges_a_pair_and_undoes_it(browser, make_user, make_person):
    registrar = await make_user("registrar")
    born = date(1979, 2, 3)
    family, given = unique_name("Ka"), unique_name("Di")
    same = {"family_name": family, "given_name": given, "birth_date": born}
    a = await make_person(registrar.facility_code, **same)
    b = await make_person(None, **same, duplicate_reason="a test duplicate")
    pair_id = await add_pair(a.id, b.id, probability=0.99)
    page = browser.page
    await browser.log_in(registrar.username)

    section = await _pair_section(browser, pair_id)
    assert await section.get_by_text(family).count() == 2
    merge = section.get_by_test_id("merge-form")
    await merge.get_by_test_id("survivor-a").check()
    await merge.get_by_label("Why are they the same person?").fill(WHY)
    async with page.expect_navigation():
        await merge.get_by_test_id("merge-submit").click()
    assert await page.get_by_test_id("done").is_visible()
    await browser.screenshot("duplicates-merged")

    section = await _pair_section(browser, pair_id, "merged")
    undo = section.get_by_test_id("undo-form")
    await undo.get_by_label("Why undo the merge?").fill("merged by mistake: twins")
    async with page.expect_navigation():
        await undo.get_by_test_id("undo-submit").click()
    assert await page.get_by_test_id("done").is_visible()
    await page.goto(browser.url(f"/patients/{max(a.id, b.id)}"))
    assert await page.get_by_test_id("merged").count() == 0
