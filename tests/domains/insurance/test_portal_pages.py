"""The citizen's "My insurance" page: her status explained and her payments month by
month with who paid them and the month each covers (KZ, httpx); a child's status under
hers; in Chromium (UZ, the live server's country), a resident reads that she is covered."""

from __future__ import annotations

from datetime import date

import pytest

from salomat.core.security import Principal
from tests.domains.insurance.test_status import kz_person, list_in, month, new_payer, pay
from tests.domains.registry.test_web import web_login
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

PAGE = "/my/insurance"
CLERK = Principal(user_id=0, username="t", role="registrar", session_id="t")


async def test_her_page_shows_the_explanation_and_who_paid_each_month(
    kz, client, db, make_person, make_user
):
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import RelationIn

    me = await kz_person(make_person, born=date(1990, 7, 7))
    child = await kz_person(make_person, born=date(2020, 1, 1), sex="male")
    await registry.add_relation(
        db, CLERK, child.id, RelationIn(related_person_id=me.id, kind="mother", document="BC-9")
    )
    employer = await new_payer(db, "employer", name="Steppe Bank JSC")
    for m in (4, 5, 6):
        await pay(db, me.id, employer, "employer", month(2026, m), date(2026, m, 25), 1_275_000)
    await db.commit()
    await web_login(client, await make_user("citizen", person_id=me.id))
    r = await client.get(PAGE, params={"on": "2026-08-01"})
    assert r.status_code == 200, r.text
    assert "Insured until 30.09.2026: Steppe Bank JSC paid for June 2026." in r.text
    assert r.text.count('data-testid="payment"') == 3
    assert 'data-month="2026-06-01" data-covers="2026-06-01"' in r.text
    assert "12,750.00 KZT" in r.text
    assert f'data-person="{child.id}"' in r.text
    assert "by the state as Children under 18" in r.text
    r = await client.get(PAGE, params={"on": "2026-13-01"})
    assert r.status_code == 422


async def test_she_reads_her_own_protected_category(kz, client, db, make_person, make_user):
    me = await kz_person(make_person, born=date(1984, 4, 4))
    await list_in(db, me.id, "disability", date(2025, 3, 1))
    await db.commit()
    await web_login(client, await make_user("citizen", person_id=me.id))
    r = await client.get(PAGE, params={"on": "2026-05-01"})
    assert r.status_code == 200, r.text
    assert "Insured by the state as Persons with disabilities." in r.text
    assert 'data-testid="category">Persons with disabilities<' in r.text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_her_page_speaks_the_language_without_raw_codes(
    kz, client, db, make_person, make_user, lang
):
    me = await kz_person(make_person)
    employer = await new_payer(db, "employer")
    await pay(db, me.id, employer, "employer", month(2026, 1), date(2026, 1, 25))
    await db.commit()
    await web_login(client, await make_user("citizen", person_id=me.id))
    client.cookies.set("salomat_lang", lang)
    r = await client.get(PAGE, params={"on": "2026-07-01"})
    assert r.status_code == 200
    assert f'lang="{lang}"' in r.text
    assert findings(r.text, lang, country="KZ") == []


@in_chromium
async def test_in_chromium_a_resident_reads_that_she_is_covered(
    live_server, client, make_person, make_user
):
    me = await make_person()
    citizen = await make_user("citizen", person_id=me.id)
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(citizen.username)
        await page.goto(browser.url(PAGE))
        card = page.get_by_test_id("insurance-person")
        assert await card.get_attribute("data-insured") == "yes"
        said = await card.get_by_test_id("explanation").inner_text()
        assert said.strip() == "Covered by the State Health Insurance Fund like every resident."
        await browser.screenshot("insurance-portal")


@pytest.mark.parametrize(("lang", "word"), [("en", "The state"), ("kk", "Мемлекет")])
async def test_the_state_is_named_in_her_language_not_by_its_stored_english_name(
    kz, client, db, make_person, make_user, lang, word
):
    me = await kz_person(make_person, born=date(1984, 4, 4))
    await list_in(db, me.id, "disability", date(2025, 3, 1))
    state = await new_payer(db, "state", name="State")
    for m in (1, 2):
        await pay(db, me.id, state, "state", month(2026, m), date(2026, m + 1, 10))
    await db.commit()
    await web_login(client, await make_user("citizen", person_id=me.id))
    client.cookies.set("salomat_lang", lang)
    r = await client.get(PAGE, params={"on": "2026-03-01"})
    assert r.status_code == 200, r.text
    assert r.text.count(f'data-testid="payer">{word}</td>') == 2
    assert "State" not in r.text.replace("State Health", "")
