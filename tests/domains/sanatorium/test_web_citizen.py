"""The citizen's page "My sanatorium referrals": her place in line in plain words, the
offer (accepted or declined), the voucher, the log, withdrawing and applying herself or
for her child (each referral says whose it is).
The pages are driven through their forms (httpx); one test drives them in Chromium."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from salomat.core import i18n
from salomat.core.db import session_factory
from salomat.country import pack
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import PositionOut
from salomat.domains.sanatorium.service.rules import local_today
from salomat.domains.sanatorium.web.citizen import wait_words
from tests.domains.registry.test_web import field_error, web_login
from tests.domains.sanatorium.conftest import set_applied_at
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings
from tests.ui.test_pdf import pdf_text

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days
NOW = datetime.now(UTC)


# ---- set-up through the API and the sweep (shared with the public and PDF tests) ------


async def sweep() -> None:
    async with session_factory()() as s:
        await service.sweep(s)
        await s.commit()


async def period(client, world, *, beds: int, starts_in: int = 10) -> dict:  # type: ignore[no-untyped-def]
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": beds}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/sanatorium/periods",
        json={
            "profile": "cardiology",
            "starts_on": (TODAY + timedelta(days=starts_in)).isoformat(),
        },
        headers=world.admin,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def queued(client, world, make_user, n: int) -> list[tuple[dict, object, object]]:  # type: ignore[no-untyped-def]
    """n patients referred for I25.1 in order (a minute apart, a month ago): (referral,
    person, citizen account)."""
    out = []
    for i in range(n):
        p = await world.make_patient()
        r = await client.post(
            f"/api/v1/persons/{p.id}/sanatorium-referrals",
            json={"indication": "I25.1", "category": "disability_1_2"},
            headers=world.doctor,
        )
        assert r.status_code == 201, r.text
        await set_applied_at(r.json()["id"], NOW - timedelta(days=30, minutes=-i))
        out.append((r.json(), p, await make_user("citizen", person_id=p.id)))
    return out


def text_of(page: str, name: str) -> str | None:
    """The text of the first element with ``data-testid=name`` (tags stripped)."""
    m = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(dd|span|p|div|a|td|strong)>', page, re.S)
    if m is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def local(at: str) -> str:
    moment = datetime.fromisoformat(at)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(pack.time_zone('UZ')):%d.%m.%Y %H:%M}"


# ---- the waiting range in words -------------------------------------------------------


def _position(position: int, releases: list[int]) -> PositionOut:
    w = service.wait_range(position, releases)
    return PositionOut(
        profile="cardiology",
        region="",
        position=position,
        ahead=position - 1,
        monthly_releases=releases,
        wait_days_expected=w.expected_days,
        wait_days_shortest=w.shortest_days,
        wait_days_longest=w.longest_days,
        pseudonym="0123456789",
    )


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_wait_in_words_from_the_notes_vector(lang):
    """Position 37, places given 10, 12 and 14 a month: about 3 months, 80 to 113 days."""
    token = i18n.set_language(lang)
    try:
        text = wait_words(_position(37, [10, 12, 14]))
        assert "3" in text
        assert "80" in text
        assert "113" in text
        if lang == "en":
            assert text == "about 3 months, between 80 and 113 days"
            assert wait_words(_position(2, [10, 12, 14])) == "about 5 days, between 4 and 7 days"
            assert wait_words(_position(37, [0, 12, 14])) == (
                "about 4 months, at least 80 days (in one of the last three months no place "
                "was given, so there is no upper limit)"
            )
        else:
            assert "months" not in text  # said in Russian
        none = wait_words(_position(3, [0, 0, 0]))
        assert none == i18n.gettext(
            "The wait cannot be estimated yet: no place in this line was given in the last "
            "three months."
        )
    finally:
        i18n.reset_language(token)


# ---- the page --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_she_sees_her_place_in_line_and_finds_it_on_the_public_list(client, world, make_user):
    (first, _p1, _u1), (second, _p2, her) = await queued(client, world, make_user, 2)
    await web_login(client, her)
    home = await client.get("/")
    assert 'href="/my/sanatorium"' in home.text  # in her navigation
    page = await client.get("/my/sanatorium")
    assert page.status_code == 200
    assert f'data-number="{second["number"]}"' in page.text
    assert first["number"] not in page.text  # only her own
    assert 'data-testid="position" data-position="2" data-ahead="1"' in page.text
    assert text_of(page.text, "ref-status") == "in the queue"
    assert text_of(page.text, "ref-profile") == "Cardiology"
    # nothing was given in this (new) line: said plainly
    assert text_of(page.text, "wait") == (
        "The wait cannot be estimated yet: no place in this line was given in the last "
        "three months."
    )
    assert ">disability_1_2<" not in page.text
    assert "Disability group I–II" in page.text
    pseudonym = text_of(page.text, "pseudonym")
    assert pseudonym
    assert re.fullmatch(r"[0-9A-F]{10}", pseudonym)
    assert 'data-kind="joined"' in page.text
    assert "joined the queue" in page.text

    link = html.unescape(re.search(r'href="([^"]+)" data-testid="queue-link"', page.text)[1])
    assert link.startswith("/sanatorium/queue/cardiology?region=")
    client.cookies.clear()  # the public list needs no login
    public = await client.get(link.split("#")[0])
    assert public.status_code == 200
    mine = re.search(rf'<tr id="q-{pseudonym}"[^>]*>', public.text).group(0)
    assert 'data-position="2"' in mine
    assert 'data-marked="true"' in mine
    assert second["number"] not in public.text


@pytest.mark.anyio
async def test_the_offer_with_its_deadline_accepted_and_declined(client, world, make_user):
    p = await period(client, world, beds=2)
    (first, _p1, u1), (second, _p2, u2), (_third, _p3, u3) = await queued(
        client, world, make_user, 3
    )
    await sweep()  # two places: the first two are offered

    csrf = await web_login(client, u1)
    page = await client.get("/my/sanatorium")
    assert text_of(page.text, "ref-status") == "a place is offered"
    offer_id = re.search(r'data-testid="offer" data-offer-id="(\d+)"', page.text).group(1)
    assert text_of(page.text, "offer-sanatorium") == world.sanatorium.name
    starts = date.fromisoformat(p["starts_on"])
    assert text_of(page.text, "offer-from") == starts.strftime("%d.%m.%Y")
    mine = await client.get("/api/v1/me/sanatorium-referrals", headers=await _token(client, u1))
    expires = mine.json()[0]["offer"]["expires_at"]
    assert text_of(page.text, "offer-deadline").startswith(local(expires))  # Tashkent time
    assert "you keep your place in line" in page.text  # UZ: a decline keeps the place
    r = await client.post(f"/my/sanatorium/offers/{offer_id}/accept", data={"csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    assert text_of(page.text, "ref-status") == "place booked"
    stay_id = re.search(r'data-testid="voucher" data-stay-id="(\d+)"', page.text).group(1)
    assert f'href="/my/sanatorium/vouchers/{stay_id}.pdf"' in page.text
    assert re.fullmatch(r"[A-Z0-9]{6}", text_of(page.text, "voucher-code"))
    # accepting twice: refused beside the offer, nothing changes (the offer is gone)
    r = await client.post(f"/my/sanatorium/offers/{offer_id}/accept", data={"csrf_token": csrf})
    assert r.status_code == 409
    assert "This offer is no longer open (accepted)." in text_of(r.text, "form-error")
    assert text_of(r.text, "ref-status") == "place booked"

    # the third may not answer the second's offer
    csrf = await web_login(client, u3)
    offer2 = (
        await client.get("/api/v1/me/sanatorium-referrals", headers=await _token(client, u2))
    ).json()[0]["offer"]["id"]
    r = await client.post(f"/my/sanatorium/offers/{offer2}/decline", data={"csrf_token": csrf})
    assert r.status_code == 404

    csrf = await web_login(client, u2)
    r = await client.post(
        f"/my/sanatorium/offers/{offer2}/decline", data={"csrf_token": csrf, "reason": "June"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert text_of(page.text, "ref-status") == "in the queue"  # UZ: she keeps her place
    assert 'data-testid="offer"' not in page.text
    assert 'data-kind="declined"' in page.text
    assert "offer declined" in page.text
    assert second["number"] in page.text
    assert first["number"] not in page.text


async def _token(client, account):  # type: ignore[no-untyped-def]
    from tests.factories import token_for

    return await token_for(client, account)


@pytest.mark.anyio
async def test_withdrawing_needs_a_reason(client, world, make_user):
    [(ref, _p, her)] = await queued(client, world, make_user, 1)
    csrf = await web_login(client, her)
    url = f"/my/sanatorium/{ref['id']}/withdraw"
    r = await client.post(url, data={"csrf_token": csrf, "reason": "  "})
    assert r.status_code == 422
    assert field_error(r.text, "reason") == "is required"
    assert text_of(r.text, "ref-status") == "in the queue"  # nothing changed
    r = await client.post(url, data={"csrf_token": csrf, "reason": "I feel better"})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert text_of(page.text, "ref-status") == "cancelled"
    assert text_of(page.text, "ref-reason") == "I feel better"
    assert 'data-testid="withdraw-form"' not in page.text
    assert 'data-testid="apply-form"' in page.text  # she may apply again (UZ)
    # someone else's referral: as if it did not exist
    other = await make_user("citizen", person_id=(await world.make_patient()).id)
    csrf = await web_login(client, other)
    r = await client.post(url, data={"csrf_token": csrf, "reason": "not mine"})
    assert r.status_code == 404


@pytest.mark.anyio
async def test_her_own_application_refused_then_made(client, world, make_user):
    person = await world.make_patient()
    her = await make_user("citizen", person_id=person.id)
    csrf = await web_login(client, her)
    page = await client.get("/my/sanatorium")
    assert 'data-testid="no-referrals"' in page.text
    assert 'data-testid="apply-form"' in page.text
    assert 'value="aftercare"' not in page.text  # the hospital's doctor refers, nobody applies
    ended = TODAY - timedelta(days=200)
    again = ended.replace(year=ended.year + 2)
    form = {
        "csrf_token": csrf,
        "profile": "cardiology",
        "category": "disability_1_2",
        "last_stay_ended_on": ended.isoformat(),
    }
    r = await client.post("/my/sanatorium/apply", data=form)
    assert r.status_code == 422
    message = field_error(r.text, "category")
    assert f"entitled again from {again:%d.%m.%Y}" in message
    # what she typed is still there
    assert '<option value="cardiology" selected>' in r.text
    assert '<option value="disability_1_2" selected>' in r.text
    assert f'value="{ended.isoformat()}"' in r.text
    r = await client.post(
        "/my/sanatorium/apply", data={**form, "profile": "", "last_stay_ended_on": "yesterday"}
    )
    assert r.status_code == 422
    assert field_error(r.text, "profile")
    assert field_error(r.text, "last_stay_ended_on")
    assert 'value="yesterday"' in r.text
    assert 'data-testid="referral"' not in (await client.get("/my/sanatorium")).text

    r = await client.post("/my/sanatorium/apply", data={**form, "last_stay_ended_on": ""})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert text_of(page.text, "ref-status") == "waiting for a doctor's confirmation"
    assert 'data-testid="pending"' in page.text
    assert 'data-testid="apply-form"' not in page.text  # one referral at a time


async def _mother_and_child(world, db):  # type: ignore[no-untyped-def]
    """A mother and her daughter of nine, related in the registry (a birth certificate)."""
    from salomat.core.security import Principal
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import RelationIn

    mother = await world.make_patient(born=date(1985, 1, 1))
    child = await world.make_patient(born=TODAY - timedelta(days=9 * 365))
    system = Principal(user_id=0, username="fixture", role="registrar", session_id="t")
    await registry.add_relation(
        db,
        system,
        child.id,
        RelationIn(kind="mother", related_person_id=mother.id, document="birth certificate"),
    )
    await db.commit()
    return mother, child


def _name(person) -> str:  # type: ignore[no-untyped-def]
    return f"{person.family_name} {person.given_name}"


@pytest.mark.anyio
async def test_a_mother_applies_for_her_child_and_each_referral_says_whose(
    client, world, make_user, db
):
    mother, child = await _mother_and_child(world, db)
    stranger = await world.make_patient(born=TODAY - timedelta(days=8 * 365))
    csrf = await web_login(client, await make_user("citizen", person_id=mother.id))
    page = await client.get("/my/sanatorium")
    form = page.text.split('data-testid="apply-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="person_id"' in form
    assert f'<option value="{mother.id}" selected>Myself</option>' in form
    assert f'<option value="{child.id}">{_name(child)}</option>' in form
    assert 'data-testid="whom-hint"' in form

    apply = {
        "csrf_token": csrf,
        "profile": "paediatric",
        "category": "disability_1_2",
        "last_stay_ended_on": "",
    }
    # a child not hers, not a number: refused beside "for whom", what she chose stays
    for wrong in (str(stranger.id), "my daughter"):
        r = await client.post("/my/sanatorium/apply", data={**apply, "person_id": wrong})
        assert r.status_code == 422, wrong
        assert field_error(r.text, "person_id") == "choose yourself or a child of yours"
        assert '<option value="paediatric" selected>' in r.text
        assert '<option value="disability_1_2" selected>' in r.text
    # the children's profile for herself: refused beside the profile
    r = await client.post("/my/sanatorium/apply", data={**apply, "person_id": str(mother.id)})
    assert r.status_code == 422
    assert "is for children under 18" in field_error(r.text, "profile")
    assert f'<option value="{mother.id}" selected>' in r.text
    assert 'data-testid="referral"' not in (await client.get("/my/sanatorium")).text

    r = await client.post("/my/sanatorium/apply", data={**apply, "person_id": str(child.id)})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert text_of(page.text, "ref-whom") == _name(child)
    assert f'data-testid="ref-whom" data-person-id="{child.id}"' in page.text
    assert text_of(page.text, "ref-status") == "waiting for a doctor's confirmation"
    # she may still apply for herself (her daughter's is in progress)
    form = page.text.split('data-testid="apply-form"', 1)[1].split("</form>", 1)[0]
    assert f'<option value="{mother.id}" selected>Myself</option>' in form
    assert f'value="{child.id}"' not in form

    r = await client.post(
        "/my/sanatorium/apply",
        data={**apply, "profile": "cardiology", "person_id": str(mother.id)},
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    whose = dict(re.findall(r'data-testid="ref-whom" data-person-id="(\d+)">([^<]*)<', page.text))
    assert whose == {str(mother.id): "Myself", str(child.id): _name(child)}
    assert 'data-testid="apply-form"' not in page.text  # both have one in progress

    # the child's own referral is hers to answer, not a stranger's
    other = await make_user("citizen", person_id=stranger.id)
    await web_login(client, other)
    page = await client.get("/my/sanatorium")
    assert _name(child) not in page.text


@pytest.mark.anyio
async def test_a_mothers_page_speaks_the_language_without_raw_codes(client, world, make_user, db):
    mother, child = await _mother_and_child(world, db)
    csrf = await web_login(client, await make_user("citizen", person_id=mother.id))
    r = await client.post(
        "/my/sanatorium/apply",
        data={
            "csrf_token": csrf,
            "person_id": str(child.id),
            "profile": "paediatric",
            "category": "disability_1_2",
        },
    )
    assert r.status_code == 303, r.text
    for lang in ("uz", "ru", "kk"):
        client.cookies.set("salomat_lang", lang)
        page = await client.get("/my/sanatorium")
        refused = await client.post(
            "/my/sanatorium/apply",
            data={"csrf_token": csrf, "person_id": "0", "profile": "", "category": ""},
        )
        assert refused.status_code == 422
        assert field_error(refused.text, "person_id")
        tr = i18n.translations(lang).gettext
        for shown in (page, refused):
            assert f'<html lang="{lang}"' in shown.text
            assert findings(shown.text, lang) == [], (lang, shown.url)
            assert text_of(shown.text, "ref-whom") == _name(child)
            mine = rf'<option value="{mother.id}"( selected)?>{re.escape(tr("Myself"))}<'
            assert re.search(mine, shown.text)
        assert tr("waiting for a doctor's confirmation") in html.unescape(page.text)


@pytest.mark.anyio
async def test_only_citizens_open_the_portal_page(client, world):
    await web_login(client, world.doctor_account)
    assert (await client.get("/my/sanatorium")).status_code == 403


# ---- in Chromium -------------------------------------------------------------------------


@in_chromium
async def test_in_chromium_one_accepts_and_downloads_the_voucher_another_declines(
    live_server, client, world, make_user
):
    await period(client, world, beds=2)
    (first, _p1, u1), (second, _p2, u2), (_third, _p3, _u3) = await queued(
        client, world, make_user, 3
    )
    await sweep()
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(u1.username)
        await page.goto(browser.url("/"))
        async with page.expect_navigation():
            await page.get_by_test_id("nav").locator('a[href="/my/sanatorium"]').click()
        ref = page.get_by_test_id("referral")
        assert await ref.get_attribute("data-number") == first["number"]
        position = ref.get_by_test_id("position")
        assert await position.get_attribute("data-position") == "1"
        assert await position.get_attribute("data-ahead") == "0"
        offer = ref.get_by_test_id("offer")
        assert (await offer.get_by_test_id("offer-sanatorium").inner_text()) == (
            world.sanatorium.name
        )
        await browser.screenshot("sanatorium-offer")
        async with page.expect_navigation():
            await offer.get_by_test_id("accept-submit").click()
        assert await page.get_by_test_id("done").is_visible()
        ref = page.get_by_test_id("referral")
        assert await ref.get_attribute("data-status") == "booked"
        href = await ref.get_by_test_id("voucher-pdf").get_attribute("href")
        r = await page.request.get(browser.url(href))
        assert r.status == 200
        assert r.headers["content-type"] == "application/pdf"
        text = pdf_text(await r.body())
        assert first["number"] in text
        assert "I25" not in text
        await browser.screenshot("sanatorium-booked")

        await browser.context.clear_cookies()
        await browser.log_in(u2.username)
        await page.goto(browser.url("/my/sanatorium"))
        ref = page.get_by_test_id("referral")
        assert await ref.get_attribute("data-status") == "offered"
        form = ref.get_by_test_id("decline-form")
        await form.locator('[name="reason"]').fill("Not in June")
        async with page.expect_navigation():
            await form.get_by_test_id("decline-submit").click()
        ref = page.get_by_test_id("referral")
        assert await ref.get_attribute("data-number") == second["number"]
        assert await ref.get_attribute("data-status") == "queued"
        assert await ref.get_by_test_id("offer").count() == 0
