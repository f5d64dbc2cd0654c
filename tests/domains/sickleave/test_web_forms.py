"""The doctor's sick-leave page without a browser: the forms, their refusals beside each
field (nothing stored), stale versions, permissions and CSRF."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.sickleave import service
from tests.domains.registry.test_web import field_error, web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()


def page_url(clinic) -> str:  # type: ignore[no-untyped-def]
    return f"/patients/{clinic.worker.id}/sick-leave"


async def stored() -> tuple[int, int, int]:
    """Certificates, periods and commission decisions in the database."""
    from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod, VkkDecision

    async with session_factory()() as s:
        return tuple(  # type: ignore[return-value]
            [
                int((await s.execute(select(func.count()).select_from(m))).scalar_one())
                for m in (SickLeaveCertificate, SickLeavePeriod, VkkDecision)
            ]
        )


def certificate_ids(html: str) -> list[str]:
    return re.findall(r'data-testid="certificate" data-id="(\d+)"', html)


def hidden_version(html: str, cid: str, action: str) -> str:
    form = html.split(f'/sick-leave/{cid}/{action}"', 1)[1]
    return re.search(r'name="version" value="(\d+)"', form).group(1)


async def open_flu(client, clinic, csrf: str, **kw: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf, "reason": "own_illness", "diagnosis": "j11.1", "days": "5", **kw}
    return await client.post(page_url(clinic), data=data)


async def test_open_extend_past_the_limit_vkk_extend_close(client, clinic):
    rules = service.sick_leave_rules()
    alone = rules.practitioners["doctor"].alone_days
    csrf = await web_login(client, clinic.doctor_account)
    card = await client.get(f"/patients/{clinic.worker.id}")
    assert f'href="{page_url(clinic)}" data-testid="sick-leave-link"' in card.text
    empty = await client.get(page_url(clinic))
    assert empty.status_code == 200
    assert 'data-testid="no-certificates"' in empty.text
    assert 'data-testid="open-form"' in empty.text
    assert f"up to {alone} days" in empty.text

    r = await open_flu(client, clinic, csrf)
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    [cid] = certificate_ids(page.text)
    assert "<code>J11.1</code>" in page.text
    assert 'data-testid="cert-reason">Own illness<' in page.text
    assert 'data-testid="cert-days">5<' in page.text
    base = f"{page_url(clinic)}/{cid}"

    # one day past the doctor's own limit: refused beside the last day, nothing stored
    before = await stored()
    past = TODAY + timedelta(days=alone)
    data = {"csrf_token": csrf, "version": hidden_version(page.text, cid, "extend")}
    r = await client.post(f"{base}/extend", data={**data, "ends_on": past.isoformat()})
    assert r.status_code == 422
    assert "VKK" in field_error(r.text, "ends_on")
    assert f'value="{past.isoformat()}"' in r.text  # what was typed stays
    assert re.search(r'data-testid="extend-action" open', r.text)
    assert await stored() == before

    # the commission: too few members and a chair who is not one of them, then right
    vkk = {
        "csrf_token": csrf,
        "protocol_number": "VKK-17",
        "decided_on": TODAY.isoformat(),
        "decision": "extend",
        "extend_until": (past + timedelta(days=4)).isoformat(),
        "chair": "Karimov A.",
    }
    r = await client.post(f"{base}/vkk", data={**vkk, "members": "Yusupova D.\nRashidov B."})
    assert r.status_code == 422
    assert field_error(r.text, "chair")
    assert await stored() == before
    r = await client.post(
        f"{base}/vkk", data={**vkk, "members": "Karimov A.\n\nYusupova D.\r\nRashidov B.\n"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "Yusupova D., Rashidov B." in page.text
    assert 'data-testid="vkk-decision" data-decision="extend"' in page.text

    data["version"] = hidden_version(page.text, cid, "extend")
    r = await client.post(f"{base}/extend", data={**data, "ends_on": past.isoformat()})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert re.findall(r'data-testid="period" data-granted-as="(\w+)"', page.text) == [
        "doctor",
        "vkk",
    ]

    # a stale page (the version before the extension) is refused, named on the form
    r = await client.post(
        f"{base}/close",
        data={
            "csrf_token": csrf,
            "version": "1",
            "closure": "return_to_work",
            "return_to_work_on": (past + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 412
    assert 'data-testid="form-error"' in r.text
    assert re.search(r'data-testid="close-action" open', r.text)

    r = await client.post(
        f"{base}/close",
        data={
            "csrf_token": csrf,
            "version": hidden_version(page.text, cid, "close"),
            "closure": "return_to_work",
            "return_to_work_on": (past + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-status="closed"' in page.text
    assert "Back to work" in page.text
    assert re.findall(r'data-testid="version" data-change="(\w+)"', page.text) == [
        "opened",
        "vkk",
        "extended",
        "closed",
    ]
    assert 'data-testid="extend-form"' not in page.text  # closed: no more extensions


async def test_refused_opening_names_each_field_and_stores_nothing(client, clinic):
    csrf = await web_login(client, clinic.doctor_account)
    before = await stored()
    r = await open_flu(
        client,
        clinic,
        csrf,
        diagnosis="J99.99X",
        starts_on=(TODAY + timedelta(days=1)).isoformat(),
    )
    assert r.status_code == 422
    assert field_error(r.text, "diagnosis")
    assert field_error(r.text, "starts_on")
    assert 'value="J99.99X"' in r.text
    r = await open_flu(client, clinic, csrf, reason="care")
    assert r.status_code == 422
    assert "child" in field_error(r.text, "cared_person_id")
    r = await open_flu(client, clinic, csrf, reason="sanatorium_aftercare")
    assert r.status_code == 422
    assert "VKK" in field_error(r.text, "vkk")
    r = await open_flu(client, clinic, csrf, days="", ends_on="")
    assert r.status_code == 422
    assert field_error(r.text, "ends_on")
    r = await open_flu(client, clinic, csrf, days="abc")
    assert r.status_code == 422
    assert field_error(r.text, "days")
    assert await stored() == before

    # sanatorium after-care on the commission's decision, typed in the same form
    r = await open_flu(
        client,
        clinic,
        csrf,
        reason="sanatorium_aftercare",
        days="12",
        vkk_protocol_number="VKK-3",
        vkk_decided_on=TODAY.isoformat(),
        vkk_extend_until=(TODAY + timedelta(days=11)).isoformat(),
        vkk_chair="Karimov A.",
        vkk_members="Karimov A.\nYusupova D.",
    )
    assert r.status_code == 422
    assert field_error(r.text, "vkk_members")
    r = await open_flu(
        client,
        clinic,
        csrf,
        reason="sanatorium_aftercare",
        days="12",
        vkk_protocol_number="VKK-3",
        vkk_decided_on=TODAY.isoformat(),
        vkk_extend_until=(TODAY + timedelta(days=11)).isoformat(),
        vkk_chair="Karimov A.",
        vkk_members="Karimov A.\nYusupova D.\nRashidov B.",
    )
    assert r.status_code == 303, r.text
    page = await client.get(page_url(clinic))
    assert 'data-testid="cert-reason">Sanatorium after-care<' in page.text
    assert 'data-granted-as="vkk"' in page.text


async def test_care_of_a_child_from_the_registry_relations(
    client, clinic, make_person, make_user, db
):
    from salomat.core.security import Principal
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import RelationIn

    child = await make_person(
        facility_code=clinic.facility.code, birth_date=TODAY - timedelta(days=365 * 4)
    )
    registrar = Principal(user_id=0, username="fixture", role="registrar", session_id="x")
    await registry.add_relation(
        db,
        registrar,
        child.id,
        RelationIn(
            related_person_id=clinic.worker.id,
            kind="father",
            starts_on=child.birth_date,
            document="birth certificate I-SM 1234567",
        ),
    )
    await db.commit()
    csrf = await web_login(client, clinic.doctor_account)
    page = await client.get(page_url(clinic))
    assert f'<option value="{child.id}">{child.family_name} {child.given_name}' in page.text
    r = await open_flu(client, clinic, csrf, reason="care", cared_person_id=str(child.id), days="3")
    assert r.status_code == 303, r.text
    page = await client.get(page_url(clinic))
    assert 'data-testid="cert-reason">Care of a sick child<' in page.text
    assert f'href="/patients/{child.id}"' in page.text


async def test_who_may_open_the_page_and_csrf(client, clinic, make_user, make_facility):
    r = await client.get(page_url(clinic))
    assert r.status_code in (303, 401)  # not logged in: to the login page
    await web_login(client, await make_user("registrar"))
    assert (await client.get(page_url(clinic))).status_code == 403
    elsewhere = await make_user("family_doctor", facility_code=(await make_facility()).code)
    csrf = await web_login(client, elsewhere)
    assert (await client.get(page_url(clinic))).status_code == 404
    assert (await open_flu(client, clinic, csrf)).status_code == 404
    csrf = await web_login(client, clinic.doctor_account)
    before = await stored()
    r = await client.post(
        page_url(clinic), data={"reason": "own_illness", "diagnosis": "J11.1", "days": "5"}
    )
    assert r.status_code == 403
    assert await stored() == before
    # a nurse reads; the commission's form is not hers
    nurse = await make_user("nurse", facility_code=clinic.facility.code)
    csrf = await web_login(client, clinic.doctor_account)
    assert (await open_flu(client, clinic, csrf)).status_code == 303
    await web_login(client, nurse)
    page = await client.get(page_url(clinic))
    assert page.status_code == 200
    assert 'data-testid="extend-form"' in page.text
    assert 'data-testid="vkk-form"' not in page.text


async def test_a_certificate_under_another_person_is_not_found(client, clinic, make_person):
    csrf = await web_login(client, clinic.doctor_account)
    r = await open_flu(client, clinic, csrf)
    [cid] = certificate_ids((await client.get(r.headers["location"])).text)
    other = await make_person(facility_code=clinic.facility.code)
    r = await client.post(
        f"/patients/{other.id}/sick-leave/{cid}/cancel",
        data={"csrf_token": csrf, "reason": "issued in error"},
    )
    assert r.status_code == 404
    r = await client.get(f"/patients/{other.id}/sick-leave/{cid}.pdf")
    assert r.status_code == 404


async def test_correct_cancel_and_duplicate(client, clinic):
    csrf = await web_login(client, clinic.doctor_account)
    r = await open_flu(client, clinic, csrf)
    page = (await client.get(r.headers["location"])).text
    [cid] = certificate_ids(page)
    base = f"{page_url(clinic)}/{cid}"
    code = re.search(r'data-testid="cert-check-code">(\w+)<', page).group(1)

    r = await client.post(
        f"{base}/correct",
        data={"csrf_token": csrf, "version": hidden_version(page, cid, "correct"), "reason": ""},
    )
    assert r.status_code == 422
    assert field_error(r.text, "reason")
    r = await client.post(
        f"{base}/correct",
        data={
            "csrf_token": csrf,
            "version": hidden_version(page, cid, "correct"),
            "reason": "typing error",
            "diagnosis": "j10.1",
        },
    )
    assert r.status_code == 303, r.text
    page = (await client.get(page_url(clinic))).text
    assert "<code>J10.1</code>" in page
    r = await client.post(
        f"{base}/duplicate",
        data={
            "csrf_token": csrf,
            "version": hidden_version(page, cid, "duplicate"),
            "reason": "lost",
        },
    )
    assert r.status_code == 303, r.text
    page = (await client.get(page_url(clinic))).text
    assert "duplicate no. 1" in page
    assert re.search(r'data-testid="cert-check-code">(\w+)<', page).group(1) != code
    r = await client.post(
        f"{base}/cancel",
        data={
            "csrf_token": csrf,
            "version": hidden_version(page, cid, "cancel"),
            "reason": "issued in error",
        },
    )
    assert r.status_code == 303, r.text
    page = (await client.get(page_url(clinic))).text
    assert 'data-status="cancelled"' in page
    assert "issued in error" in page
    assert re.findall(r'data-testid="version" data-change="(\w+)"', page) == [
        "opened",
        "corrected",
        "duplicate",
        "cancelled",
    ]
    assert f"/sick-leave/{cid}/cancel" not in page


async def test_maternity_leave_from_the_register_at_the_packs_week(client, clinic, make_person):
    """The form is a woman's only; the day before the pack's week it is refused beside the
    first day, on the day of the week she gets the pack's days at once."""
    from tests.domains.sickleave.test_maternity import register

    rules = service.sick_leave_rules().maternity
    woman = await make_person(facility_code=clinic.facility.code, birth_date=date(1995, 2, 3))
    await register(client, clinic, {"person": woman}, rules.start_week * 7)
    csrf = await web_login(client, clinic.doctor_account)
    assert 'data-testid="maternity-form"' not in (await client.get(page_url(clinic))).text
    url = f"/patients/{woman.id}/sick-leave"
    assert 'data-testid="maternity-form"' in (await client.get(url)).text
    before = await stored()
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    r = await client.post(f"{url}/maternity", data={"csrf_token": csrf, "starts_on": yesterday})
    assert r.status_code == 422
    assert f"week {rules.start_week}" in field_error(r.text, "starts_on")
    assert f'value="{yesterday}"' in r.text
    assert await stored() == before

    r = await client.post(f"{url}/maternity", data={"csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    assert 'data-testid="cert-reason">Maternity leave<' in page
    assert f'data-testid="cert-days">{rules.days}<' in page
    assert "Complicated birth or two or more babies" in page  # its one extension
    assert 'data-testid="vkk-form"' not in page
