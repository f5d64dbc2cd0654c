"""The referring doctor's and the registry clerk's sanatorium pages: the referral form and
its refusals beside each field (nothing stored), a contraindication explained then
attested, the referral page (place in line, wait, the queue's log), confirming a
self-application (with the category as her document shows it, which sets the tier),
booking an after-care place, cancelling; the clerk's correction of a
category; who may open what; the pages in uz, ru and kk without raw codes."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from salomat.core import i18n
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.service.rules import local_today
from tests.domains.registry.test_web import field_error, web_login
from tests.factories import national_id_for
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days


def page_of(person) -> str:  # type: ignore[no-untyped-def]
    return f"/patients/{person.id}/sanatorium"


def referral_ids(html: str) -> list[str]:
    return re.findall(r'data-testid="referral" data-id="(\d+)"', html)


async def referrals_of(client, world, person) -> list[dict]:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/v1/persons/{person.id}/sanatorium-referrals", headers=world.doctor)
    assert r.status_code == 200, r.text
    return r.json()


def refer_form(csrf: str, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "indication": "i25.1",
        "profile": "",
        "category": "disability_1_2",
        "conditions": "",
        "attestation": "",
        "last_stay_ended_on": "",
        **kw,
    }


async def test_refused_fields_then_a_contraindication_explained_then_attested(client, world):
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    empty = await client.get(page_of(p))
    assert empty.status_code == 200
    assert 'data-testid="no-referrals"' in empty.text
    assert 'data-testid="refer-form"' in empty.text
    # the pack's names, never the codes, in the selects
    assert ">Disability group I–II<" in empty.text
    assert ">Cardiology<" in empty.text

    # no indication and no category: each refused beside its field, nothing stored
    r = await client.post(page_of(p), data=refer_form(csrf, indication="", category=""))
    assert r.status_code == 422
    assert field_error(r.text, "indication")
    assert field_error(r.text, "category")
    assert await referrals_of(client, world, p) == []

    # an indication no profile treats, and a profile that does not treat it
    r = await client.post(page_of(p), data=refer_form(csrf, indication="S72.0"))
    assert r.status_code == 422
    assert "S72.0 is not an indication" in field_error(r.text, "indication")
    r = await client.post(page_of(p), data=refer_form(csrf, profile="digestive"))
    assert r.status_code == 422
    assert "does not treat I25.1" in field_error(r.text, "profile")

    # an acute respiratory infection now: refused, the contraindication named by its words
    r = await client.post(page_of(p), data=refer_form(csrf, conditions="E11.9, j06.9"))
    assert r.status_code == 422
    msg = field_error(r.text, "conditions")
    assert "J06.9 is a contraindication (an acute disease)" in msg
    assert "acute_disease" not in r.text
    assert 'value="E11.9, j06.9"' in r.text  # what was typed stays
    assert await referrals_of(client, world, p) == []

    # the doctor attests: referred, the override shown in words
    attested = "Resolved cold, afebrile for 5 days; fit for the course."
    r = await client.post(
        page_of(p), data=refer_form(csrf, conditions="E11.9, J06.9", attestation=attested)
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert 'data-testid="done"' in page.text
    [stored] = await referrals_of(client, world, p)
    assert stored["warnings"] == ["override:acute_disease:J06.9"]
    assert f'data-id="{stored["id"]}" data-status="queued"' in page.text
    assert "an acute disease" in page.text
    assert "overridden by the clinician" in page.text
    assert attested in page.text
    assert ">Cardiology<" in page.text
    assert 'data-testid="position" data-position="1"' in page.text
    assert 'data-testid="event" data-kind="joined"' in page.text
    assert "joined the queue" in page.text

    # the person's page lists it; no second referral while one is in progress
    again = await client.get(page_of(p))
    assert referral_ids(again.text) == [str(stored["id"])]
    assert 'data-testid="refer-form"' not in again.text
    assert 'data-testid="in-progress"' in again.text
    r = await client.post(page_of(p), data=refer_form(csrf))
    assert r.status_code == 409
    assert stored["number"] in r.text
    assert len(await referrals_of(client, world, p)) == 1


async def test_a_person_not_yet_entitled_is_told_from_when(client, world):
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    ended = date(TODAY.year - 1, 1, 15)
    r = await client.post(page_of(p), data=refer_form(csrf, last_stay_ended_on=ended.isoformat()))
    assert r.status_code == 422
    since = date(ended.year + 2, 1, 15)
    assert f"entitled again from {since:%d.%m.%Y}" in field_error(r.text, "category")
    assert f'value="{ended.isoformat()}"' in r.text
    assert await referrals_of(client, world, p) == []


async def test_cancel_with_a_reason_goes_to_the_log(client, world):
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    r = await client.post(page_of(p), data=refer_form(csrf))
    url = r.headers["location"].split("?")[0]
    r = await client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 422
    assert field_error(r.text, "reason")
    assert re.search(r'data-testid="cancel-action" open', r.text)
    r = await client.post(
        f"{url}/cancel", data={"csrf_token": csrf, "reason": "Moved to another country"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-status="cancelled"' in page.text
    assert 'data-testid="cancel-reason">Moved to another country<' in page.text
    assert 'data-testid="event" data-kind="cancelled"' in page.text
    assert 'data-testid="cancel-form"' not in page.text
    # cancelled twice (a stale page): refused in words, not a 500
    r = await client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "again"})
    assert r.status_code == 409
    assert "cannot be cancelled: it is cancelled" in r.text


async def test_a_self_application_confirmed_by_the_doctor(client, world, make_user, login):
    p = await world.make_patient()
    me = await login(await make_user("citizen", person_id=p.id))
    r = await client.post(
        "/api/v1/me/sanatorium-referrals",
        json={"profile": "cardiology", "category": "old_age_pensioner"},
        headers=me,
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    csrf = await web_login(client, world.doctor_account)
    page = await client.get(f"/sanatorium/referrals/{rid}")
    assert 'data-status="pending_indication"' in page.text
    assert "not yet confirmed by a doctor" in page.text
    assert 'data-testid="confirm-form"' in page.text
    base = f"/sanatorium/referrals/{rid}/confirm"
    r = await client.post(base, data={"csrf_token": csrf, "indication": "K29.5"})
    assert r.status_code == 422
    assert "does not treat K29.5" in r.text
    assert re.search(r'data-testid="confirm-action" open', r.text)
    r = await client.post(base, data={"csrf_token": csrf, "indication": "i20.8"})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-status="queued"' in page.text
    assert "<code>I20.8</code>" in page.text
    assert 'data-testid="event" data-kind="indication_confirmed"' in page.text


async def _self_applied(client, world, make_user, login, category: str) -> int:  # type: ignore[no-untyped-def]
    p = await world.make_patient()
    me = await login(await make_user("citizen", person_id=p.id))
    r = await client.post(
        "/api/v1/me/sanatorium-referrals",
        json={"profile": "cardiology", "category": category},
        headers=me,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_the_doctor_confirms_the_category_the_document_shows(client, world, make_user, login):
    """She declared an old-age pension (tier 3); her certificate shows disability group
    I–II: the doctor confirms that category and the entry stands in tier 2."""
    rid = await _self_applied(client, world, make_user, login, "old_age_pensioner")
    csrf = await web_login(client, world.doctor_account)
    page = await client.get(f"/sanatorium/referrals/{rid}")
    form = page.text.split('data-testid="confirm-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="category"' in form
    assert '<option value="old_age_pensioner" selected>' in form  # what she declared
    assert ">Disability group I–II<" in form  # the pack's names
    assert 'value="aftercare"' not in form  # referred by the hospital, never applied for
    assert 'data-testid="confirm-tier-hint"' in form
    assert 'data-tier="3"' in page.text

    base = f"/sanatorium/referrals/{rid}/confirm"
    confirm = {"csrf_token": csrf, "indication": "I20.8", "conditions": "E11.9"}
    for wrong, said in (
        ("aftercare", "is referred by the hospital's doctor, not applied for"),
        ("no_such_category", "is not an entitlement category of this country"),
        ("x" * 33, ""),
    ):
        r = await client.post(base, data={**confirm, "category": wrong})
        assert r.status_code == 422, wrong
        assert said in html.unescape(field_error(r.text, "category")), wrong
        assert re.search(r'data-testid="confirm-action" open', r.text)
        assert 'value="I20.8"' in r.text  # what was typed stays
        assert 'value="E11.9"' in r.text
        assert 'data-status="pending_indication"' in r.text  # nothing stored

    r = await client.post(base, data={**confirm, "category": "disability_1_2"})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-status="queued"' in page.text
    assert 'data-tier="2"' in page.text
    assert "Disability group I–II · priority tier 2" in page.text
    assert 'data-testid="event" data-kind="indication_confirmed"' in page.text


async def test_an_aftercare_referral_is_booked_on_a_free_place(client, world):
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 2}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    period = await client.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": TODAY.isoformat()},
        headers=world.admin,
    )
    assert period.status_code == 201, period.text
    pid = period.json()["id"]
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    r = await client.post(page_of(p), data=refer_form(csrf, category="aftercare"))
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("?")[0]
    page = await client.get(url)
    assert 'data-status="referred"' in page.text
    assert 'data-testid="direct"' in page.text
    assert 'data-testid="position"' not in page.text
    assert f'name="period_id" value="{pid}"' in page.text
    r = await client.post(f"{url}/book", data={"csrf_token": csrf})
    assert r.status_code == 422
    assert field_error(r.text, "period_id")
    r = await client.post(f"{url}/book", data={"csrf_token": csrf, "period_id": str(pid)})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-status="booked"' in page.text
    assert 'data-testid="stay" data-status="booked"' in page.text
    assert "Test sanatorium" in page.text


async def test_the_clerk_corrects_a_category_without_seeing_the_diagnosis(
    client, world, make_user, make_person
):
    born = date(1950, 3, 1)
    p = await make_person(
        facility_code=world.polyclinic.code,
        birth_date=born,
        sex="female",
        national_id=national_id_for(born, "female"),
    )
    doctor_csrf = await web_login(client, world.doctor_account)
    r = await client.post(
        page_of(p), data=refer_form(doctor_csrf, category="old_age_pensioner", indication="I20.8")
    )
    assert r.status_code == 303, r.text
    rid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]

    clerk = await make_user("registrar")
    csrf = await web_login(client, clerk)
    home = await client.get("/")
    assert 'href="/sanatorium/queue-entries"' in home.text
    r = await client.post(
        "/sanatorium/queue-entries", data={"csrf_token": csrf, "national_id": "00000000000000"}
    )
    assert r.status_code == 422
    assert field_error(r.text, "national_id")
    r = await client.post(
        "/sanatorium/queue-entries", data={"csrf_token": csrf, "national_id": p.national_id}
    )
    assert r.status_code == 200, r.text
    assert f'href="/sanatorium/queue-entries/{rid}"' in r.text
    assert "I20" not in r.text

    entry = f"/sanatorium/queue-entries/{rid}"
    page = await client.get(entry)
    assert page.status_code == 200
    assert 'data-testid="reorder-form"' in page.text
    assert "I20" not in page.text
    assert 'data-testid="indication"' not in page.text
    assert 'data-tier="3"' in page.text
    # the doctor's page and her forms are not the clerk's
    assert (await client.get(f"/sanatorium/referrals/{rid}")).status_code == 403
    assert (await client.get(page_of(p))).status_code == 403

    r = await client.post(
        f"{entry}/reorder", data={"csrf_token": csrf, "category": "disability_1_2", "reason": ""}
    )
    assert r.status_code == 422
    assert field_error(r.text, "reason")
    assert 'data-tier="3"' in r.text
    r = await client.post(
        f"{entry}/reorder",
        data={"csrf_token": csrf, "category": "aftercare", "reason": "Hospital letter"},
    )
    assert r.status_code == 422
    assert field_error(r.text, "category")
    why = "Disability certificate no. 4411 of the medical-social commission"
    r = await client.post(
        f"{entry}/reorder",
        data={"csrf_token": csrf, "category": "disability_1_2", "reason": why},
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-tier="2"' in page.text
    log = page.text.split('data-kind="reordered"', 1)[1].split("</tr>", 1)[0]
    assert "Old-age pensioners (if places are free) → Disability group I–II" in log
    assert why in log


async def test_who_may_open_what(client, world, make_user):
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    r = await client.post(page_of(p), data=refer_form(csrf))
    rid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]

    # a nurse of the polyclinic reads, but refers nothing
    nurse = await make_user("nurse", facility_code=world.polyclinic.code)
    csrf = await web_login(client, nurse)
    page = await client.get(page_of(p))
    assert page.status_code == 200
    assert 'data-testid="refer-form"' not in page.text
    page = await client.get(f"/sanatorium/referrals/{rid}")
    assert page.status_code == 200
    assert 'data-testid="cancel-form"' not in page.text
    r = await client.post(page_of(await world.make_patient()), data=refer_form(csrf))
    assert r.status_code == 403
    r = await client.post(f"/sanatorium/referrals/{rid}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 403

    # a doctor of another polyclinic: the person and the referral are not found
    stranger = await make_user("family_doctor")
    csrf = await web_login(client, stranger)
    assert (await client.get(page_of(p))).status_code == 404
    assert (await client.get(f"/sanatorium/referrals/{rid}")).status_code == 404
    r = await client.post(
        f"/sanatorium/referrals/{rid}/cancel", data={"csrf_token": csrf, "reason": "x"}
    )
    assert r.status_code == 404
    assert (await client.get("/sanatorium/referrals/999999999999")).status_code == 404

    # the sanatorium's admin and a citizen have no business here
    await web_login(client, world.admin_account)
    assert (await client.get(page_of(p))).status_code == 403
    assert (await client.get(f"/sanatorium/referrals/{rid}")).status_code == 403
    assert (await client.get("/sanatorium/queue-entries")).status_code == 403


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_pages_speak_the_language_without_raw_codes(client, world, lang):
    p = await world.make_patient()
    csrf = await web_login(client, world.doctor_account)
    r = await client.post(
        page_of(p),
        data=refer_form(csrf, category="old_age_pensioner", conditions="J06.9", attestation="ok"),
    )
    url = r.headers["location"].split("?")[0]
    refused = refer_form(csrf, indication="", category="")
    client.cookies.set("salomat_lang", lang)
    person = await client.get(page_of(p))
    referral = await client.get(url)
    form = await client.post(page_of(await world.make_patient()), data=refused)
    assert form.status_code == 422
    rules = service.sanatorium_rules()
    for page in (person, referral, form):
        assert f'<html lang="{lang}"' in page.text
        assert findings(page.text, lang) == [], page.url
    tr = i18n.translations(lang).gettext
    assert tr("in the queue") in referral.text
    assert tr("joined the queue") in referral.text
    assert tr("an acute disease") in referral.text
    name = rules.profile_name("cardiology", lang)
    assert name in referral.text


async def test_the_confirm_form_speaks_the_language_without_raw_codes(
    client, world, make_user, login
):
    rid = await _self_applied(client, world, make_user, login, "old_age_pensioner")
    csrf = await web_login(client, world.doctor_account)
    url = f"/sanatorium/referrals/{rid}"
    rules = service.sanatorium_rules()
    for lang in ("uz", "ru", "kk"):
        client.cookies.set("salomat_lang", lang)
        page = await client.get(url)
        refused = await client.post(
            f"{url}/confirm", data={"csrf_token": csrf, "indication": "I20.8", "category": "x"}
        )
        assert refused.status_code == 422
        for shown in (page, refused):
            assert f'<html lang="{lang}"' in shown.text
            assert 'data-testid="confirm-form"' in shown.text
            assert findings(shown.text, lang) == [], (lang, shown.url)
        named = rules.categories["old_age_pensioner"].names.get(lang)
        if named:
            assert f'<option value="old_age_pensioner" selected>{named}<' in page.text
