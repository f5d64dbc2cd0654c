"""The sanatorium staff's pages: beds and arrival periods (published, refused beside each
field, withdrawn), expected arrivals with arrival, discharge (the summary the referring
doctor then reads) and no-show, stale versions refused; who may open what; the pages in
uz, ru and kk without raw codes. One Chromium test walks the whole way: a doctor refers
(a contraindication refused, then attested), the sanatorium publishes a period, the
doctor books it, the sanatorium records arrival and discharge, the doctor reads the
summary. A period may serve another region's queue (UZ keeps one per region)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from salomat.core import i18n
from salomat.domains.sanatorium.service.rules import local_today
from tests.domains.registry.test_web import field_error, web_login
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days
MANAGE = "/sanatorium/manage"
ARRIVALS = "/sanatorium/arrivals"
#: the test regions' name (tests.factories.make_place): data, not a word of the page
FIXTURE_NAMES = frozenset({"Region"})


def period_ids(html: str) -> list[str]:
    return re.findall(r'data-testid="period" data-id="(\d+)"', html)


def stay_version(html: str, stay_id: int, action: str) -> str:
    form = html.split(f'/sanatorium/stays/{stay_id}/{action}"', 1)[1]
    return re.search(r'name="version" value="(\d+)"', form).group(1)


async def booked_stay(client, world) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """An after-care referral booked by the doctor on a period starting today (API)."""
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 1}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    period = await client.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": TODAY.isoformat()},
        headers=world.admin,
    )
    assert period.status_code == 201, period.text
    p = await world.make_patient()
    ref = await client.post(
        f"/api/v1/persons/{p.id}/sanatorium-referrals",
        json={"indication": "I25.1", "category": "aftercare"},
        headers=world.doctor,
    )
    assert ref.status_code == 201, ref.text
    booked = await client.post(
        f"/api/v1/sanatorium-referrals/{ref.json()['id']}/book",
        json={"period_id": period.json()["id"]},
        headers=world.doctor,
    )
    assert booked.status_code == 200, booked.text
    return booked.json(), booked.json()["stay"]


async def test_beds_and_periods_published_refused_and_withdrawn(client, world):
    csrf = await web_login(client, world.admin_account)
    page = await client.get(MANAGE)
    assert page.status_code == 200
    assert 'data-testid="no-beds"' in page.text
    assert ">Cardiology<" in page.text

    # no beds yet: publishing is refused beside the profile
    start = (TODAY + timedelta(days=20)).isoformat()
    publish = {"csrf_token": csrf, "profile": "cardiology", "starts_on": start}
    r = await client.post(f"{MANAGE}/periods", data=publish)
    assert r.status_code == 422
    assert "has no beds" in field_error(r.text, "profile")

    r = await client.post(f"{MANAGE}/beds", data={"csrf_token": csrf, "profile": "", "beds": "x"})
    assert r.status_code == 422
    assert field_error(r.text, "profile")
    assert field_error(r.text, "beds")
    r = await client.post(
        f"{MANAGE}/beds", data={"csrf_token": csrf, "profile": "cardiology", "beds": "4"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    row = page.text.split('data-testid="bed-row" data-profile="cardiology"', 1)[1]
    assert 'data-testid="bed-count">4<' in row
    assert 'data-testid="places-per-year">120<' in row  # 4 × floor(365 / 12)

    # a day in the past, more places than beds: each refused beside its field
    past = (TODAY - timedelta(days=1)).isoformat()
    r = await client.post(f"{MANAGE}/periods", data={**publish, "starts_on": past})
    assert r.status_code == 422
    assert "in the past" in field_error(r.text, "starts_on")
    assert f'value="{past}"' in r.text
    r = await client.post(f"{MANAGE}/periods", data={**publish, "capacity": "5"})
    assert r.status_code == 422
    assert "4 of the profile" in field_error(r.text, "capacity")
    before = period_ids((await client.get(MANAGE)).text)

    r = await client.post(f"{MANAGE}/periods", data={**publish, "capacity": "3"})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    [new] = [i for i in period_ids(page.text) if i not in before]
    row = page.text.split(f'data-testid="period" data-id="{new}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="capacity">3<' in row
    assert 'data-testid="free">3<' in row
    assert "open for booking" in row

    r = await client.post(f"/sanatorium/periods/{new}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    row = page.text.split(f'data-testid="period" data-id="{new}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-status="cancelled"' in row
    assert "withdrawn" in row
    assert 'data-testid="withdraw-form"' not in row


def period_row(html: str, period_id: str) -> str:
    return html.split(f'data-testid="period" data-id="{period_id}"', 1)[1].split("</tr>", 1)[0]


async def test_a_period_for_another_regions_queue(client, world, db):
    """The queue select lists the territory registry's regions by their names, the
    sanatorium's own chosen; a district is refused beside the select; the periods table
    names the region whose queue a period serves, in the page's language."""
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import TerritoryIn
    from tests.factories import unique

    other = unique("R")
    names = {"uz": "Surxondaryo viloyati", "ru": "Сурхандарьинская область"}
    await registry.create_territory(
        db,
        TerritoryIn(code=other, level="region", name="Surxondaryo region", names=names),
    )
    await db.commit()
    own = (await registry.facility_regions(db, [world.sanatorium.id]))[world.sanatorium.id]
    assert own
    csrf = await web_login(client, world.admin_account)
    r = await client.post(
        f"{MANAGE}/beds", data={"csrf_token": csrf, "profile": "cardiology", "beds": "4"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(MANAGE)
    form = page.text.split('data-testid="publish-form"', 1)[1]
    assert 'name="region"' in form
    assert f'<option value="{own}" selected>' in form  # the sanatorium's own by default
    assert f'<option value="{other}">Surxondaryo region</option>' in form
    assert 'data-testid="region-hint"' in form

    start = (TODAY + timedelta(days=30)).isoformat()
    publish = {"csrf_token": csrf, "profile": "cardiology", "starts_on": start, "capacity": "1"}
    # a district, a code nobody has, a code too long: refused beside the select
    for wrong in (f"{own}-D", "NO-SUCH-REGION", "R" * 33):
        r = await client.post(f"{MANAGE}/periods", data={**publish, "region": wrong})
        assert r.status_code == 422, wrong
        assert field_error(r.text, "region"), wrong
        assert f'value="{start}"' in r.text  # what was typed stays
    r = await client.post(f"{MANAGE}/periods", data={**publish, "region": f"{own}-D"})
    assert "is not a region of the territory registry" in field_error(r.text, "region")
    before = period_ids((await client.get(MANAGE)).text)

    r = await client.post(f"{MANAGE}/periods", data={**publish, "region": other})
    assert r.status_code == 303, r.text
    r = await client.post(f"{MANAGE}/periods", data={**publish, "region": ""})
    assert r.status_code == 303, r.text
    page = await client.get(MANAGE)
    theirs, ours = [i for i in period_ids(page.text) if i not in before]
    row = period_row(page.text, theirs)
    assert f'data-region="{other}">Surxondaryo region<' in row
    assert f'data-region="{own}"' in period_row(page.text, ours)  # no choice: its own
    api = await client.get(
        "/api/v1/public/sanatorium/free-places", params={"region": other, "profile": "cardiology"}
    )
    assert int(theirs) in [p["period_id"] for p in api.json()]  # offered to that region

    client.cookies.set("salomat_lang", "ru")
    page = await client.get(MANAGE)
    assert f'data-region="{other}">Сурхандарьинская область<' in period_row(page.text, theirs)
    assert findings(page.text, "ru", data=FIXTURE_NAMES) == []


async def test_a_period_with_a_booking_is_not_withdrawn(client, world):
    _ref, stay = await booked_stay(client, world)
    csrf = await web_login(client, world.admin_account)
    r = await client.post(
        f"/sanatorium/periods/{stay['period_id']}/cancel", data={"csrf_token": csrf}
    )
    assert r.status_code == 409
    assert "has 1 bookings: it cannot be withdrawn" in r.text
    row = r.text.split(f'data-testid="period" data-id="{stay["period_id"]}"', 1)[1]
    assert 'data-status="open"' in row.split(">", 1)[0]


async def test_arrival_and_discharge_with_the_summary_back_to_the_doctor(client, world):
    ref, stay = await booked_stay(client, world)
    sid = stay["id"]
    csrf = await web_login(client, world.admin_account)
    page = await client.get(ARRIVALS)
    assert page.status_code == 200
    assert f'data-testid="stay" data-id="{sid}" data-status="booked"' in page.text
    assert ref["number"] in page.text
    assert "<code>I25.1</code>" in page.text  # the sanatorium treats it
    assert 'data-testid="noshow-from"' in page.text  # not before the grace has passed
    version = stay_version(page.text, sid, "arrive")

    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    data = {"csrf_token": csrf, "version": version}
    r = await client.post(f"/sanatorium/stays/{sid}/arrive", data={**data, "arrived_on": tomorrow})
    assert r.status_code == 422
    assert "in the future" in field_error(r.text, "arrived_on")
    assert re.search(r'data-testid="arrive-action" open', r.text)
    r = await client.post(f"/sanatorium/stays/{sid}/arrive", data={**data, "version": "0"})
    assert r.status_code == 412
    assert "changed by someone else" in r.text
    r = await client.post(f"/sanatorium/stays/{sid}/noshow", data={"csrf_token": csrf})
    assert r.status_code == 409
    assert "A no-show is recorded after" in r.text

    r = await client.post(f"/sanatorium/stays/{sid}/arrive", data={**data, "arrived_on": ""})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert f'data-id="{sid}" data-status="arrived"' in page.text
    # the page read before the arrival is stale now
    r = await client.post(f"/sanatorium/stays/{sid}/discharge", data={**data, "summary": "stale"})
    assert r.status_code == 412
    summary = "Course completed; BP 130/80; continue statins."
    fresh = stay_version(page.text, sid, "discharge")
    r = await client.post(
        f"/sanatorium/stays/{sid}/discharge",
        data={"csrf_token": csrf, "version": fresh, "summary": summary},
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    assert f'data-id="{sid}"' not in page.text  # discharged: no longer a guest

    await web_login(client, world.doctor_account)
    seen = await client.get(f"/sanatorium/referrals/{ref['id']}")
    assert 'data-status="discharged"' in seen.text
    assert f'data-testid="summary">{summary}<' in seen.text
    assert 'data-testid="stay" data-status="fulfilled"' in seen.text


async def test_who_may_open_what(client, world, make_user, make_facility):
    _ref, stay = await booked_stay(client, world)
    csrf = await web_login(client, world.doctor_account)
    assert (await client.get(MANAGE)).status_code == 403
    assert (await client.get(ARRIVALS)).status_code == 403
    r = await client.post(f"/sanatorium/stays/{stay['id']}/arrive", data={"csrf_token": csrf})
    assert r.status_code == 403
    # another sanatorium's admin: the stay is not found, her list does not show it
    other = await make_facility("sanatorium")
    csrf = await web_login(client, await make_user("sanatorium_admin", facility_code=other.code))
    page = await client.get(ARRIVALS)
    assert page.status_code == 200
    assert f'data-id="{stay["id"]}"' not in page.text
    r = await client.post(f"/sanatorium/stays/{stay['id']}/arrive", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert (await client.get(MANAGE)).status_code == 200
    r = await client.post(
        f"/sanatorium/periods/{stay['period_id']}/cancel", data={"csrf_token": csrf}
    )
    assert r.status_code == 404
    # an admin whose facility is not a sanatorium is told so
    csrf = await web_login(client, await make_user("sanatorium_admin"))
    r = await client.get(MANAGE)
    assert r.status_code == 403
    assert "not a sanatorium" in r.text


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_pages_speak_the_language_without_raw_codes(client, world, lang):
    await booked_stay(client, world)
    csrf = await web_login(client, world.admin_account)
    client.cookies.set("salomat_lang", lang)
    manage = await client.get(MANAGE)
    arrivals = await client.get(ARRIVALS)
    refused = await client.post(
        f"{MANAGE}/periods", data={"csrf_token": csrf, "profile": "", "starts_on": ""}
    )
    assert refused.status_code == 422
    for page in (manage, arrivals, refused):
        assert page.status_code in (200, 422)
        assert f'<html lang="{lang}"' in page.text
        assert findings(page.text, lang, data=FIXTURE_NAMES) == [], page.url
    tr = i18n.translations(lang).gettext
    assert tr("open for booking") in manage.text
    assert tr("booked") in arrivals.text


# ---- in Chromium -------------------------------------------------------------------------


async def _submit(page, form) -> None:  # type: ignore[no-untyped-def]
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').last.click()


@in_chromium
async def test_refer_publish_book_arrive_discharge_and_the_summary(live_server, world):
    patient = await world.make_patient()
    start = TODAY.isoformat()
    summary = "Course completed; BP 130/80; continue statins."

    async with open_browser(live_server) as browser:
        page = browser.page

        # the doctor refers; an acute infection is refused in words, then attested
        await browser.log_in(world.doctor_account.username)
        await page.goto(browser.url(f"/patients/{patient.id}/sanatorium"))
        form = page.get_by_test_id("refer-form")
        await form.locator('[name="indication"]').fill("I25.1")
        await form.locator('[name="category"]').select_option("aftercare")
        await form.locator('[name="conditions"]').fill("J06.9")
        await _submit(page, form)
        error = (await page.get_by_test_id("error-conditions").inner_text()).strip()
        assert "J06.9 is a contraindication (an acute disease)" in error
        field = page.get_by_test_id("refer-form").locator('[name="conditions"]')
        assert await field.get_attribute("aria-invalid") == "true"
        assert await field.input_value() == "J06.9"
        await browser.screenshot("sanatorium-refer-refused")
        form = page.get_by_test_id("refer-form")
        await form.locator('[name="category"]').select_option("aftercare")
        await form.locator('[name="attestation"]').fill("Afebrile for 5 days; fit for the course.")
        await _submit(page, form)
        assert await page.get_by_test_id("done").is_visible()
        assert await page.get_by_test_id("warning").get_attribute("data-kind") == "override"
        url = page.url.split("?")[0]

        # the sanatorium sets its beds and publishes a period starting today
        await browser.context.clear_cookies()
        await browser.log_in(world.admin_account.username)
        await page.goto(browser.url(MANAGE))
        await page.get_by_test_id("beds-action").locator("summary").click()
        form = page.get_by_test_id("beds-form")
        await form.locator('[name="profile"]').select_option("cardiology")
        await form.locator('[name="beds"]').fill("2")
        await _submit(page, form)
        form = page.get_by_test_id("publish-form")
        await form.locator('[name="profile"]').select_option("cardiology")
        await form.locator('[name="starts_on"]').fill(start)
        await _submit(page, form)
        assert (
            (await page.get_by_test_id("done").inner_text())
            .strip()
            .startswith("The arrival period is published")
        )
        await browser.screenshot("sanatorium-period-published")

        # the doctor books it
        await browser.context.clear_cookies()
        await browser.log_in(world.doctor_account.username)
        await page.goto(url)
        await page.get_by_test_id("book-action").locator("summary").click()
        await page.get_by_test_id("period-choice").first.check()
        await _submit(page, page.get_by_test_id("book-form"))
        assert await page.get_by_test_id("referral").get_attribute("data-status") == "booked"

        # the sanatorium records the arrival and the discharge with its summary
        await browser.context.clear_cookies()
        await browser.log_in(world.admin_account.username)
        await page.goto(browser.url(ARRIVALS))
        stay = page.get_by_test_id("stay")
        assert await stay.count() == 1
        await stay.get_by_test_id("arrive-action").locator("summary").click()
        await _submit(page, stay.get_by_test_id("arrive-form"))
        stay = page.get_by_test_id("stay")
        assert await stay.get_attribute("data-status") == "arrived"
        await stay.get_by_test_id("discharge-action").locator("summary").click()
        await stay.get_by_test_id("discharge-form").locator('[name="summary"]').fill(summary)
        await _submit(page, stay.get_by_test_id("discharge-form"))
        assert await page.get_by_test_id("no-stays").is_visible()

        # the doctor reads the summary on the referral
        await browser.context.clear_cookies()
        await browser.log_in(world.doctor_account.username)
        await page.goto(url)
        assert (await page.get_by_test_id("summary").inner_text()).strip() == summary
        assert await page.get_by_test_id("referral").get_attribute("data-status") == "discharged"
        await browser.screenshot("sanatorium-summary")
