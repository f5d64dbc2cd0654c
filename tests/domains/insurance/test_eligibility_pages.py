"""The provider's eligibility check page: the answer with its reason (KZ, httpx), a
wrong field named beside it, nothing of the payer shown; in Chromium (UZ, the live
server's country): a nurse checks an MRI for a resident, covered like every resident."""

from __future__ import annotations

from datetime import date

import pytest

from tests.domains.insurance.test_status import (
    PRISONER,
    kz_person,
    list_in,
    month,
    named,
    new_payer,
    pay,
)
from tests.domains.registry.test_web import field_error, web_login
from tests.factories import national_id_for
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

PAGE = "/insurance/eligibility"


async def test_the_page_answers_not_covered_with_the_reason_and_no_payer(
    kz, client, db, make_person, make_user
):
    p = await kz_person(make_person)
    employer = await new_payer(db, "employer", name="Hidden Payer LLP")
    await pay(db, p.id, employer, "employer", month(2026, 1), date(2026, 1, 25))
    await db.commit()
    await web_login(client, await make_user("family_doctor"))
    r = await client.get(
        PAGE, params={"national_id": p.national_id, "service": "MRI-BRAIN", "on": "2026-05-01"}
    )
    assert r.status_code == 200, r.text
    assert 'data-covered="no"' in r.text
    assert "the person is not insured since 01.05.2026" in r.text
    assert "Hidden Payer" not in r.text
    r = await client.get(
        PAGE, params={"national_id": p.national_id, "service": "MRI-BRAIN", "on": "2026-04-30"}
    )
    assert 'data-covered="yes"' in r.text
    r = await client.get(PAGE, params={"national_id": "12x"})
    assert r.status_code == 422
    assert field_error(r.text, "national_id") == "must be digits only"


async def test_the_fund_analyst_sees_the_payer_and_a_citizen_may_not_open_the_page(
    kz, client, db, make_person, make_user
):
    p = await kz_person(make_person)
    employer = await new_payer(db, "employer", name="Visible Payer LLP")
    await pay(db, p.id, employer, "employer", month(2026, 1), date(2026, 1, 25))
    await db.commit()
    await web_login(client, await make_user("insurance_analyst"))
    r = await client.get(PAGE, params={"national_id": p.national_id, "on": "2026-02-01"})
    assert r.status_code == 200
    assert "Visible Payer LLP" in r.text
    client.cookies.clear()
    await web_login(client, await make_user("citizen", person_id=p.id))
    r = await client.get(PAGE)
    assert r.status_code == 403


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
async def test_a_nurse_reads_insured_by_the_state_and_the_fund_reads_the_category(
    kz, client, db, make_person, make_user, lang
):
    inmate = await kz_person(make_person, born=date(1982, 2, 2), sex="male")
    await list_in(db, inmate.id, "prisoner", date(2026, 1, 1))
    await db.commit()
    await web_login(client, await make_user("nurse"))
    client.cookies.set("salomat_lang", lang)
    params = {"national_id": inmate.national_id, "service": "MRI-BRAIN", "on": "2026-05-01"}
    r = await client.get(PAGE, params=params)
    assert r.status_code == 200, r.text
    assert 'data-insured="yes"' in r.text
    assert named(r.text, PRISONER) == []
    assert 'data-testid="category"' not in r.text
    client.cookies.clear()
    await web_login(client, await make_user("insurance_analyst"))
    client.cookies.set("salomat_lang", lang)
    r = await client.get(PAGE, params=params)
    assert r.status_code == 200, r.text
    assert 'data-testid="category"' in r.text
    assert len(named(r.text, PRISONER)) == 1  # the category's name in the page's language


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_page_speaks_the_language_without_raw_codes(
    kz, client, db, make_person, make_user, lang
):
    p = await kz_person(make_person)
    await web_login(client, await make_user("family_doctor"))
    client.cookies.set("salomat_lang", lang)
    r = await client.get(
        PAGE, params={"national_id": p.national_id, "service": "CONS-CARDIO", "on": "2026-05-01"}
    )
    assert r.status_code == 200
    assert f'lang="{lang}"' in r.text
    assert findings(r.text, lang, country="KZ") == []


@in_chromium
async def test_in_chromium_a_nurse_checks_an_mri_for_a_resident(
    live_server, client, make_person, make_user
):
    born = date(1975, 3, 3)
    p = await make_person(birth_date=born, sex="male", national_id=national_id_for(born, "male"))
    nurse = await make_user("nurse")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(nurse.username)
        await page.goto(browser.url(PAGE))
        form = page.get_by_test_id("eligibility-form")
        await form.locator('[name="national_id"]').fill(p.national_id)
        await form.locator('[name="service"]').select_option("MRI-BRAIN")
        async with page.expect_navigation():
            await page.get_by_test_id("eligibility-submit").click()
        result = page.get_by_test_id("eligibility-result")
        assert await result.get_attribute("data-insured") == "yes"
        assert await result.get_attribute("data-covered") == "yes"
        said = await page.get_by_test_id("explanation").inner_text()
        assert said.strip() == "Covered by the State Health Insurance Fund like every resident."
        await browser.screenshot("insurance-eligibility")


@pytest.mark.parametrize(
    ("lang", "payer"), [("en", "Single aggregate payment"), ("kk", "Бірыңғай жиынтық төлем")]
)
async def test_the_fund_reads_the_aggregate_payer_by_its_kind_and_a_benefit_package(
    kz, client, db, make_person, make_user, lang, payer
):
    p = await kz_person(make_person)
    aggregate = await new_payer(db, "aggregate", name="Stored Aggregate Name")
    await pay(db, p.id, aggregate, "aggregate", month(2026, 1), date(2026, 1, 25))
    await db.commit()
    await web_login(client, await make_user("insurance_analyst"))
    client.cookies.set("salomat_lang", lang)
    params = {"national_id": p.national_id, "service": "CONS-CARDIO", "on": "2026-02-01"}
    r = await client.get(PAGE, params=params)
    assert r.status_code == 200, r.text
    assert f'data-testid="payer">{payer}</dd>' in r.text
    assert "Stored Aggregate Name" not in r.text
    # the package a service belongs to is a benefit package, never packaging
    assert "Қаптама" not in r.text
    if lang == "en":
        assert "<p>Benefit package: " in r.text
