"""The citizen reads her own pregnancy record in plain language (issue 13, item 8c)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.domains.maternal.test_pregnancy import add_contact, clinic, open_pregnancy
from tests.domains.registry.test_web import web_login

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def _hypertensive(client, clinic):
    """20 weeks today, two contacts; 150/95 twice at the second: hypertension stands."""
    lmp = TODAY - timedelta(weeks=20)
    preg = await open_pregnancy(
        client, clinic, lmp=lmp, registered_on=str(lmp + timedelta(weeks=10))
    )
    first = await add_contact(
        client, clinic, preg, on=str(lmp + timedelta(weeks=10)), haemoglobin_g_l=121, weight_kg=63.5
    )
    assert first.status_code == 201, first.text
    second = await add_contact(
        client,
        clinic,
        preg,
        on=str(lmp + timedelta(weeks=19, days=2)),
        systolic_1=150,
        diastolic_1=95,
        systolic_2=150,
        diastolic_2=95,
        urine_protein="none",
    )
    assert second.status_code == 201, second.text
    return preg


async def test_she_reads_her_own_pregnancy_and_another_citizen_reads_nothing_of_it(
    client, clinic, db, make_person, make_user, login
):
    from salomat.core.audit import AuditEvent

    preg = await _hypertensive(client, clinic)
    me = await login(await make_user("citizen", person_id=clinic.woman.id))
    other = await login(await make_user("citizen", person_id=(await make_person()).id))

    r = await client.get("/api/v1/me/pregnancies", headers=me)
    assert r.status_code == 200, r.text
    [mine] = r.json()
    assert mine["pregnancy"]["id"] == preg["id"]
    assert mine["pregnancy"]["person_id"] == clinic.woman.id
    assert mine["pregnancy"]["ga_days"] == 140 + (date.today() - TODAY).days  # past midnight too
    assert mine["pregnancy"]["edd"] == str(TODAY + timedelta(weeks=20))
    assert [c["haemoglobin_g_l"] for c in mine["contacts"]] == [121, None]
    # the schedule: after the 20-week contact (taken at 19w2d) the next is at 26 weeks
    assert mine["next_contact"]["ga_weeks"] == 26
    assert mine["next_contact"]["due_on"] == str(TODAY + timedelta(weeks=6))
    assert mine["next_contact"]["status"] == "upcoming"
    assert [d["code"] for d in mine["diagnoses"]] == ["hypertension"]
    assert mine["facility"]["code"] == clinic.facility.code
    assert mine["referrals"] == []
    assert mine["birth_place"] is None

    # another citizen, and an account linked to nobody, see none of it
    assert (await client.get("/api/v1/me/pregnancies", headers=other)).json() == []
    from salomat.core.security import Principal
    from salomat.domains.maternal import service

    nobody = Principal(user_id=0, username="c", role="citizen", session_id="s", person_id=None)
    assert await service.my_pregnancies(db, nobody) == []
    # staff have their own pages; this one is the citizen's (deny by default)
    assert (await client.get("/api/v1/me/pregnancies", headers=clinic.doctor)).status_code == 403

    rows = (
        await db.execute(
            select(AuditEvent.patient_id, AuditEvent.purpose, AuditEvent.role).where(
                AuditEvent.purpose == "citizen portal: pregnancy",
                AuditEvent.patient_id == clinic.woman.id,
            )
        )
    ).all()
    assert [(p, role) for p, _, role in rows] == [(clinic.woman.id, "citizen")]


@pytest.mark.parametrize("lang", ["uz", "ru", "kk", "en"])
async def test_her_page_explains_in_plain_words_in_her_language(client, clinic, make_user, lang):
    await _hypertensive(client, clinic)
    account = await make_user("citizen", person_id=clinic.woman.id)
    await web_login(client, account)
    client.cookies.set("salomat_lang", lang)
    home = await client.get("/")
    assert 'href="/my/pregnancy"' in home.text
    page = await client.get("/my/pregnancy")
    assert page.status_code == 200, page.text
    html = page.text
    weeks = re.search(r'data-testid="my-ga">(\d+)\D', html)
    assert weeks
    assert weeks.group(1) == "20"
    assert (TODAY + timedelta(weeks=20)).strftime("%d.%m.%Y") in html
    assert (TODAY + timedelta(weeks=6)).strftime("%d.%m.%Y") in html  # the next visit
    assert re.search(r'data-testid="my-bp">150/95<', html)
    assert re.search(r'data-testid="my-hb">121<', html)
    assert 'data-code="hypertension"' in html
    assert 'data-testid="emergency-phone"' in html
    text = re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1])
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), "a raw code on the page"
    if lang == "en":
        assert "Your blood pressure is higher than it should be in pregnancy." in text
        assert "bleeding from the vagina" in text
    else:
        assert "Your blood pressure is higher" not in text
        assert "bleeding from the vagina" not in text
        assert "What to do" not in text


async def test_a_clinician_cannot_open_the_citizen_page(client, clinic, make_user):
    account = await make_user("family_doctor", facility_code=clinic.facility.code)
    await web_login(client, account)
    assert (await client.get("/my/pregnancy")).status_code == 403
    assert 'href="/my/pregnancy"' not in (await client.get("/")).text


async def test_an_earlier_pregnancy_shows_its_outcome_and_babies_in_her_language(
    client, clinic, make_user
):
    from tests.domains.maternal.test_birth import post_birth, twins

    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=37))
    born = await post_birth(client, clinic, preg, twins())
    assert born.status_code == 201, born.text
    await web_login(client, await make_user("citizen", person_id=clinic.woman.id))
    client.cookies.set("salomat_lang", "ru")
    page = await client.get("/my/pregnancy")
    assert page.status_code == 200
    past = re.search(r'data-testid="past-pregnancy".*?</section>', page.text, re.S).group(0)
    assert "живорождение" in past  # the outcome's label, not live_birth
    assert "экстренное кесарево сечение" in past
    assert "2450" in past
    assert 'data-testid="current-pregnancy"' not in page.text
    assert "live_birth" not in page.text


def test_the_severe_diagnoses_tell_her_to_go_to_hospital_not_to_manage_at_home():
    """docs/maternal.md (WHO SMART ANC DT.17, DT.23): severe hypertension, severe
    pre-eclampsia and severe anaemia are urgent referrals; the plain words must say so,
    and severe pre-eclampsia does not need protein in the urine."""
    from salomat.domains.maternal.web.plain import PLAIN_DIAGNOSES

    for code in ("severe_hypertension", "severe_pre_eclampsia", "severe_anaemia"):
        _meaning, action = PLAIN_DIAGNOSES[code]
        assert "hospital" in action, code
        assert "tablets" not in action, code
    assert "protein" not in PLAIN_DIAGNOSES["severe_pre_eclampsia"][0]
