"""Parents and guardians in headless Chromium: the registrar links a father on the child's
card (a wrong national id is refused beside its field); the father logs in and finds the
child under "My children", with the passport and the vaccination card."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import national_id_for
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_registrar_links_a_father_who_then_sees_the_child_in_the_portal(
    browser, make_person, make_user
):
    child = await make_person(sex="male", birth_date=date.today() - timedelta(days=800))
    born = date(1989, 10, 11)
    father = await make_person(
        sex="male", birth_date=born, national_id=national_id_for(born, "male")
    )
    registrar = await make_user("registrar")
    dad = await make_user("citizen", person_id=father.id)
    page = browser.page

    # the father has no child yet
    await browser.log_in(dad.username)
    await page.goto(browser.url("/my/children"))
    assert await page.get_by_test_id("no-children").is_visible()
    await page.get_by_test_id("logout").click()

    await browser.log_in(registrar.username)
    await page.goto(browser.url(f"/patients/{child.id}"))
    section = page.get_by_test_id("relations")
    assert await section.get_by_test_id("no-relations").is_visible()
    form = page.get_by_test_id("relate-form")
    await form.get_by_label("Relation").select_option("father")
    # a national id nobody has: refused beside its field, the rest kept
    await form.get_by_label("PINFL of the parent or guardian").fill(
        national_id_for(date(1960, 1, 1), "male")
    )
    await form.get_by_label("Document (birth certificate number, court decision)").fill(
        "birth certificate I-SM 0412345"
    )
    await page.get_by_test_id("relate-submit").click()
    error = page.get_by_test_id("error-national_id")
    await error.wait_for()
    assert "no person has this PINFL" in await error.inner_text()
    assert await page.get_by_test_id("relation").count() == 0
    doc = form.get_by_label("Document (birth certificate number, court decision)")
    assert await doc.input_value() == "birth certificate I-SM 0412345"

    await form.get_by_label("PINFL of the parent or guardian").fill(father.national_id)
    async with page.expect_navigation():
        await page.get_by_test_id("relate-submit").click()
    row = page.get_by_test_id("relation")
    assert await row.count() == 1
    assert await row.get_attribute("data-kind") == "father"
    assert await row.get_attribute("data-person") == str(father.id)
    assert father.family_name in await row.get_by_test_id("relation-person").inner_text()
    await browser.screenshot("card-relations")
    await page.get_by_test_id("logout").click()

    await browser.log_in(dad.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="My children").click()
    listed = page.locator(f'[data-testid="child"][data-person="{child.id}"]')
    assert await listed.count() == 1
    assert child.family_name in await listed.inner_text()
    async with page.expect_navigation():
        await listed.get_by_test_id("child-card-link").click()
    assert page.url == browser.url(f"/patients/{child.id}/immunizations")
    await page.goto(browser.url("/my/children"))
    async with page.expect_navigation():
        await listed.get_by_test_id("child-passport-link").click()
    assert await page.get_by_test_id("child-passport").is_visible()
