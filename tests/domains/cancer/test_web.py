"""The cancer registry's pages: the clinician's notification form (refusals beside each
field, nothing stored; what became of the report), the registry's work queue (decisions
and confirmations), the tumour record with its forms (a stale stage refused), the
oncologist's worklist; who may open what; the pages in uz, ru and kk without English
messages or raw codes; and in Chromium, the paths a doctor, a registrar and an
oncologist take."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from salomat.core import i18n
from tests.domains.registry.test_web import field_error, web_login
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

API = "/api/v1/persons/{}/cancer-notifications"
TODAY = date.today()


def notify_url(person) -> str:  # type: ignore[no-untyped-def]
    return f"/cancer/persons/{person.id}/notify"


def notify_form(csrf: str, **kw: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "topography": "C18.2",
        "morphology": "8140/3",
        "basis": "7",
        "diagnosed_on": "2025-03-10",
        "date_kind": "microscopic",
        "grade": "",
        "laterality": "",
        "tnm_t": "",
        "tnm_n": "",
        "tnm_m": "",
        "stage_group": "",
        "note": "",
    }
    for kind in ("surgery", "radiotherapy", "systemic"):
        form[f"{kind}_started_on"] = form[f"{kind}_ended_on"] = ""
    form.update(kw)
    return form


def report(**kw):  # type: ignore[no-untyped-def]
    body = {
        "topography": "C18.2",
        "morphology": "8140/3",
        "basis": 7,
        "diagnosed_on": "2025-03-10",
        "date_kind": "microscopic",
    }
    body.update(kw)
    return body


async def tumours_of(client, headers, person_id) -> list[dict]:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/v1/persons/{person_id}/tumours", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def notified(client, headers, person, **kw) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(API.format(person.id), json=report(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


# ---- the notification form ------------------------------------------------------------


async def test_the_form_refuses_each_wrong_field_and_stores_nothing(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    csrf = await web_login(client, cancer.doctor_account)
    page = await client.get(notify_url(p))
    assert page.status_code == 200
    assert 'data-testid="notify-form"' in page.text
    assert 'data-testid="no-tumours"' in page.text
    # the basis by its IARC code and words; death certificate only is not the clinician's
    assert ">7 · histology of the primary tumour<" in page.text
    assert '<option value="0"' not in page.text

    r = await client.post(
        notify_url(p),
        data=notify_form(csrf, topography="C99.9", morphology="8140", basis="", diagnosed_on=""),
    )
    assert r.status_code == 422
    for name in ("topography", "morphology", "basis", "diagnosed_on"):
        assert field_error(r.text, name), name
    assert "C99.9 is not an ICD-O-3 topography code" in html.unescape(
        field_error(r.text, "topography")
    )
    assert 'value="C99.9"' in r.text  # what was typed stays

    # a metastasis, a TNM that is not one, a treatment ended before it began
    r = await client.post(
        notify_url(p),
        data=notify_form(
            csrf,
            morphology="8140/6",
            tnm_t="T2 a!",
            surgery_started_on="2025-04-01",
            surgery_ended_on="2025-03-01",
            radiotherapy_ended_on="2025-05-01",
        ),
    )
    assert r.status_code == 422
    assert field_error(r.text, "morphology")
    assert field_error(r.text, "tnm_t")
    assert field_error(r.text, "radiotherapy_started_on")
    # a date of diagnosis before the birth: named beside the date
    r = await client.post(notify_url(p), data=notify_form(csrf, diagnosed_on="1954-12-31"))
    assert r.status_code == 422
    assert field_error(r.text, "diagnosed_on")
    r = await client.post(
        notify_url(p),
        data=notify_form(csrf, surgery_started_on="2025-04-01", surgery_ended_on="2025-03-01"),
    )
    assert r.status_code == 422
    assert field_error(r.text, "surgery_ended_on")
    assert await tumours_of(client, cancer.doctor, p.id) == []


async def test_the_result_says_new_primary_then_joined_with_the_reason(client, cancer):
    p = await cancer.make_patient(born=date(1955, 1, 1))
    csrf = await web_login(client, cancer.doctor_account)
    r = await client.post(
        notify_url(p),
        data=notify_form(csrf, tnm_t="T2", tnm_n="N0", tnm_m="M0", stage_group="I",
                         surgery_started_on="2025-03-20"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert 'data-outcome="new_primary"' in r.text
    assert 'data-reason="first_tumour"' in r.text
    assert "the patient's first tumour" in html.unescape(r.text)
    # the codes with their names: the pack's site group, the histology group
    assert "Colorectum and anus" in r.text
    assert "adenocarcinoma" in r.text
    [t] = await tumours_of(client, cancer.doctor, p.id)
    assert t["stage_group"] == "I"
    assert t["tnm_t"] == "T2"

    again = await client.post(
        notify_url(p),
        data=notify_form(csrf, topography="C18.7", basis="5", diagnosed_on="2025-04-01"),
    )
    assert again.status_code == 200, again.text
    assert 'data-outcome="joined"' in again.text
    assert f'data-tumour="{t["id"]}"' in again.text
    assert 'data-reason="same_organ_same_group"' in again.text
    assert len(await tumours_of(client, cancer.doctor, p.id)) == 1
    # the form lists the patient's tumour
    page = await client.get(notify_url(p))
    assert f'data-testid="tumour" data-id="{t["id"]}"' in page.text

    record = await client.get(f"/cancer/tumours/{t['id']}")
    assert record.status_code == 200
    assert record.text.count('data-testid="notification"') == 2
    assert 'data-testid="treatment" data-kind="surgery"' in record.text
    assert 'data-level="1"' in record.text  # the microscopic confirmation dates it
    assert "first histological or cytological confirmation" in record.text


# ---- the tumour record's forms -----------------------------------------------------------


async def test_stage_treatment_and_a_stale_page(client, cancer):
    p = await cancer.make_patient(born=date(1950, 1, 1))
    tid = (await notified(client, cancer.registrar, p))["tumour"]["id"]
    csrf = await web_login(client, cancer.registrar_account)
    url = f"/cancer/tumours/{tid}"
    page = await client.get(url)
    version = re.search(r'data-version="(\d+)"', page.text).group(1)
    assert 'data-testid="stage-form"' in page.text

    r = await client.post(
        f"{url}/stage",
        data={"csrf_token": csrf, "tnm_t": "T3", "tnm_n": "N1", "tnm_m": "M0",
              "stage_group": "IIIB", "version": version},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    assert "T3 N1 M0" in page.text
    assert "IIIB" in page.text
    # the same page's old version: refused in words, nothing changed
    r = await client.post(
        f"{url}/stage",
        data={"csrf_token": csrf, "tnm_t": "T1", "tnm_n": "", "tnm_m": "",
              "stage_group": "I", "version": version},
    )  # fmt: skip
    assert r.status_code == 412
    assert "changed by someone else" in html.unescape(r.text)
    assert re.search(r'data-testid="stage-action" open', r.text)
    detail = (await client.get(f"/api/v1/tumours/{tid}", headers=cancer.registrar)).json()
    assert detail["stage_group"] == "IIIB"
    # a stage group that is not one
    fresh = re.search(r'data-version="(\d+)"', (await client.get(url)).text).group(1)
    r = await client.post(
        f"{url}/stage",
        data={"csrf_token": csrf, "tnm_t": "", "tnm_n": "", "tnm_m": "",
              "stage_group": "V", "version": fresh},
    )  # fmt: skip
    assert r.status_code == 422
    assert field_error(r.text, "stage_group")

    r = await client.post(
        f"{url}/treatments", data={"csrf_token": csrf, "kind": "", "started_on": ""}
    )
    assert r.status_code == 422
    assert field_error(r.text, "kind")
    assert field_error(r.text, "started_on")
    r = await client.post(
        f"{url}/treatments",
        data={"csrf_token": csrf, "kind": "radiotherapy", "started_on": "2025-04-01"},
    )
    assert r.status_code == 303, r.text
    page = await client.get(url)
    assert 'data-testid="treatment" data-kind="radiotherapy"' in page.text


# ---- who may open what --------------------------------------------------------------------


async def test_each_page_answers_its_roles_and_no_one_else(client, cancer, make_user):
    p = await cancer.make_patient(born=date(1950, 1, 1))
    tid = (await notified(client, cancer.doctor, p))["tumour"]["id"]

    await web_login(client, cancer.doctor_account)
    assert (await client.get(notify_url(p))).status_code == 200
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 200
    assert 'data-testid="stage-form"' not in (await client.get(f"/cancer/tumours/{tid}")).text
    assert (await client.get("/cancer/queue")).status_code == 403
    assert (await client.get("/cancer/worklist")).status_code == 403

    await web_login(client, cancer.registrar_account)
    home = await client.get("/")
    assert 'href="/cancer/queue"' in home.text
    assert (await client.get("/cancer/queue")).status_code == 200
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 200
    assert (await client.get(notify_url(p))).status_code == 200
    w = await client.get("/cancer/worklist")
    assert w.status_code == 200
    assert 'data-testid="no-facility"' in w.text

    # the oncologist sees the patient once the registry names her centre
    await web_login(client, cancer.oncologist_account)
    assert 'href="/cancer/worklist"' in (await client.get("/")).text
    assert (await client.get("/cancer/worklist")).status_code == 200
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 404
    assert (await client.get("/cancer/queue")).status_code == 403
    moved = await client.patch(
        f"/api/v1/tumours/{tid}", json={"followed_by_facility_code": cancer.centre.code},
        headers=cancer.registrar,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 200

    # a doctor of another polyclinic: the patient and the tumour are not found
    stranger = await make_user("family_doctor")
    csrf = await web_login(client, stranger)
    assert (await client.get(notify_url(p))).status_code == 404
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 404
    r = await client.post(notify_url(p), data=notify_form(csrf))
    assert r.status_code == 404
    assert (await client.get("/cancer/tumours/999999999999")).status_code == 404

    # no business here
    pharmacist = await make_user("pharmacist")
    csrf = await web_login(client, pharmacist)
    assert (await client.get(notify_url(p))).status_code == 403
    assert (await client.get(f"/cancer/tumours/{tid}")).status_code == 403
    r = await client.post(notify_url(p), data=notify_form(csrf))
    assert r.status_code == 403
    assert len(await tumours_of(client, cancer.doctor, p.id)) == 1


# ---- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_pages_speak_the_language_without_raw_codes(client, cancer, lang):
    colon = await cancer.make_patient(born=date(1950, 1, 1))
    first = await notified(client, cancer.doctor, colon)
    await notified(client, cancer.doctor, colon, topography="C80.9", basis=6)  # to place
    boy = await cancer.make_patient(born=date(2021, 1, 1), sex="male")
    await notified(client, cancer.doctor, boy, topography="C61.9", diagnosed_on="2024-06-01")
    tid = first["tumour"]["id"]
    moved = await client.patch(
        f"/api/v1/tumours/{tid}", json={"followed_by_facility_code": cancer.centre.code},
        headers=cancer.registrar,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text

    csrf = await web_login(client, cancer.doctor_account)
    client.cookies.set("salomat_lang", lang)
    shown = [await client.get(notify_url(colon))]
    refused = await client.post(
        notify_url(colon), data=notify_form(csrf, topography="C99.9", basis="", diagnosed_on="")
    )
    assert refused.status_code == 422
    result = await client.post(
        notify_url(colon), data=notify_form(csrf, topography="C50.9", morphology="8500/3")
    )
    assert 'data-outcome="new_primary"' in result.text
    shown += [refused, result, await client.get(f"/cancer/tumours/{tid}")]

    await web_login(client, cancer.registrar_account)
    client.cookies.set("salomat_lang", lang)
    queue = await client.get("/cancer/queue")
    assert 'data-testid="review-item"' in queue.text
    assert 'data-testid="confirm-item"' in queue.text
    shown += [queue, await client.get(f"/cancer/tumours/{tid}")]

    await web_login(client, cancer.oncologist_account)
    client.cookies.set("salomat_lang", lang)
    worklist = await client.get("/cancer/worklist")
    assert 'data-testid="worklist-item"' in worklist.text
    shown += [worklist, await client.get(f"/cancer/tumours/{tid}")]

    for page in shown:
        assert page.status_code in (200, 422), page.url
        assert f'<html lang="{lang}"' in page.text, page.url
        assert findings(page.text, lang) == [], page.url
    # the pack names the site group in the page's language where it has that language
    from salomat.domains.cancer.service import labels

    name = labels.site_group_name("C18.2", lang)
    assert name in shown[3].text
    tr = i18n.translations(lang).gettext
    assert tr("Notify a cancer") in shown[0].text


# ---- in Chromium ---------------------------------------------------------------------------


async def _submit(page, form) -> None:  # type: ignore[no-untyped-def]
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').last.click()


async def _fill_report(form, topography: str, morphology: str) -> None:  # type: ignore[no-untyped-def]
    await form.locator('[name="topography"]').fill(topography)
    await form.locator('[name="morphology"]').fill(morphology)
    await form.locator('[name="basis"]').select_option("7")
    await form.locator('[name="diagnosed_on"]').fill("2025-03-10")
    await form.locator('[name="date_kind"]').select_option("microscopic")


@in_chromium
async def test_in_chromium_a_doctor_notifies_and_a_male_cervix_is_refused_in_uzbek(
    live_server, client, cancer
):
    woman = await cancer.make_patient(born=date(1960, 3, 1))
    man = await cancer.make_patient(born=date(1960, 3, 1), sex="male")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(cancer.doctor_account.username)
        await page.goto(browser.url(notify_url(woman)))
        form = page.get_by_test_id("notify-form")
        await _fill_report(form, "C18.2", "8140/3")
        await _submit(page, form)
        result = page.get_by_test_id("notify-result")
        assert await result.get_attribute("data-outcome") == "new_primary"
        assert "new primary" in await page.get_by_test_id("outcome").inner_text()
        await browser.screenshot("cancer-notified")

        await page.goto(browser.url(notify_url(man)))
        async with page.expect_navigation():
            await page.get_by_test_id("language").select_option("uz")  # salomat.js submits
        assert await page.locator("html").get_attribute("lang") == "uz"
        form = page.get_by_test_id("notify-form")
        await _fill_report(form, "C53.9", "8070/3")
        await _submit(page, form)
        assert await page.locator("html").get_attribute("lang") == "uz"
        error = page.get_by_test_id("error-topography")
        assert await error.is_visible()
        # IARC Check: a female genital site (C51-C58) in a male is invalid; in Uzbek
        said = i18n.translations("uz").gettext(
            "%(topography)s is a female genital site and the patient is male"
        ) % {"topography": "C53.9"}
        assert (await error.inner_text()).strip() == said
        field = page.get_by_test_id("notify-form").locator('[name="topography"]')
        assert await field.get_attribute("aria-invalid") == "true"
        assert await field.input_value() == "C53.9"
        assert findings(await page.content(), "uz") == []
        await browser.screenshot("cancer-refused-uz")
    assert await tumours_of(client, cancer.doctor, man.id) == []
    assert len(await tumours_of(client, cancer.doctor, woman.id)) == 1


@in_chromium
async def test_in_chromium_the_registrar_confirms_and_attaches_from_the_queue(
    live_server, client, cancer
):
    boy = await cancer.make_patient(born=date(2021, 1, 1), sex="male")
    rare = await notified(client, cancer.doctor, boy, topography="C61.9", diagnosed_on="2024-06-01")
    tid = rare["tumour"]["id"]
    assert rare["tumour"]["pending_checks"] == ["age_site"]
    p = await cancer.make_patient(born=date(1950, 1, 1))
    colon = (await notified(client, cancer.doctor, p))["tumour"]["id"]
    unknown = await notified(client, cancer.doctor, p, topography="C80.9", basis=6)
    nid = unknown["notification"]["id"]
    assert unknown["tumour"] is None

    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(cancer.registrar_account.username)
        await page.get_by_role("link", name="Cancer registry queue").first.click()
        await page.wait_for_url(browser.url("/cancer/queue"))

        item = page.locator(f'[data-testid="confirm-item"][data-id="{tid}"]')
        assert await item.locator('[data-rule="age_site"]').is_checked()
        assert "rare site for the patient's age" in await item.inner_text()
        await item.locator('[name="note"]').fill("Histology reviewed: adenocarcinoma confirmed")
        await _submit(page, item.get_by_test_id("confirm-form"))
        assert await page.get_by_test_id("done").is_visible()
        assert await page.locator(f'[data-testid="confirm-item"][data-id="{tid}"]').count() == 0

        item = page.locator(f'[data-testid="review-item"][data-id="{nid}"]')
        assert await item.get_by_test_id("review-reason").get_attribute("data-reason") == (
            "unknown_primary_site"
        )
        await item.locator('[name="note"]').fill("metastasis of the colon cancer")
        async with page.expect_navigation():
            await item.locator(f'[data-testid="attach"][data-tumour="{colon}"]').click()
        assert await page.get_by_test_id("done").is_visible()
        assert await page.locator(f'[data-testid="review-item"][data-id="{nid}"]').count() == 0
        await browser.screenshot("cancer-queue-done")

    t = (await client.get(f"/api/v1/tumours/{tid}", headers=cancer.registrar)).json()
    assert t["status"] == "registered"
    assert t["pending_checks"] == []
    [c] = t["confirmations"]
    assert c["rule"] == "age_site"
    assert c["note"] == "Histology reviewed: adenocarcinoma confirmed"
    d = (await client.get(f"/api/v1/tumours/{colon}", headers=cancer.registrar)).json()
    assert nid in [n["id"] for n in d["notifications"]]
    assert len(await tumours_of(client, cancer.registrar, p.id)) == 1


@in_chromium
async def test_in_chromium_the_oncologist_records_a_follow_up_and_the_worklist_empties(
    live_server, client, cancer
):
    p = await cancer.make_patient(born=date(1950, 1, 1))
    tid = (await notified(client, cancer.registrar, p))["tumour"]["id"]
    moved = await client.patch(
        f"/api/v1/tumours/{tid}", json={"followed_by_facility_code": cancer.centre.code},
        headers=cancer.registrar,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text

    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(cancer.oncologist_account.username)
        await page.get_by_role("link", name="Cancer follow-up").first.click()
        await page.wait_for_url(browser.url("/cancer/worklist"))
        row = page.locator(f'[data-testid="worklist-item"][data-tumour="{tid}"]')
        assert await row.count() == 1
        assert int(await row.get_attribute("data-overdue")) > 0
        async with page.expect_navigation():
            await row.get_by_test_id("tumour-link").click()
        await page.get_by_test_id("follow_up-action").locator("summary").click()
        form = page.get_by_test_id("follow_up-form")
        await form.locator('[name="contact_on"]').fill(TODAY.isoformat())
        await form.locator('[name="disease_status"]').select_option("no_evidence")
        await _submit(page, form)
        assert await page.get_by_test_id("done").is_visible()
        assert await page.get_by_test_id("follow-up").get_attribute("data-status") == "no_evidence"
        assert (await page.get_by_test_id("last-contact").inner_text()).strip() == (
            f"{TODAY:%d.%m.%Y}"
        )
        await page.goto(browser.url("/cancer/worklist"))
        assert await page.get_by_test_id("no-items").is_visible()
        await browser.screenshot("cancer-worklist-empty")
