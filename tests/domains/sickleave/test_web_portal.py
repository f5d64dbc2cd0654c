"""The citizen's, the employer's and the public pages without a browser: sharing, the
employer's view (never anything clinical, in the API, the page or the PDF), the check."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from salomat.core import i18n
from tests.domains.registry.test_web import field_error, web_login
from tests.ui.test_pdf import assert_pdf_response, pdf_text

pytestmark = pytest.mark.anyio

TODAY = date.today()
FLU = {"reason": "own_illness", "diagnosis": "J11.1", "days": 5}


@pytest.fixture
async def holder(clinic, make_user):  # type: ignore[no-untyped-def]
    """An account of the worker for the portal's pages (logged in through the form)."""
    return await make_user("citizen", person_id=clinic.worker.id)


async def open_flu(client, clinic):  # type: ignore[no-untyped-def]
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave", json=FLU, headers=clinic.doctor
    )
    assert r.status_code == 201, r.text
    return r.json()


def clinical(lang: str) -> list[bytes]:
    """What must never reach an employer: the code, its category, the reason (code and
    label in ``lang`` and English) and the illness's name."""
    label = i18n.translations(lang).gettext("Own illness")
    words = ["J11.1", "J11", "own_illness", "own illness", "Own illness", label, "nfluenza"]
    words += ["diagnosis", "Diagnosis", "reason", "Reason"]
    words += [i18n.translations(lang).gettext(m) for m in ("Diagnosis (ICD-10)", "Reason")]
    return [w.encode() for w in words]


#: the page's random CSRF token (base64: it may spell "J11" by chance, once in a few
#: thousand pages) is not what the page says
_CSRF = re.compile(rb'(csrf_token" value="|"X-CSRF-Token": ")[^"]*"')


def assert_nothing_clinical(raw: bytes, lang: str) -> None:
    said = _CSRF.sub(rb'\1"', raw)
    for needle in clinical(lang):
        assert needle not in said, needle


async def test_the_citizen_shares_with_her_employer_and_withdraws(client, clinic, holder):
    c = await open_flu(client, clinic)
    bid = clinic.employer_account.employer.business_id
    csrf = await web_login(client, holder)
    home = await client.get("/")
    assert 'href="/my/sick-leave"' in home.text  # in her navigation
    page = await client.get("/my/sick-leave")
    assert page.status_code == 200
    assert c["number"] in page.text
    assert 'data-testid="no-shares"' in page.text
    assert f'href="/my/sick-leave/{c["id"]}.pdf"' in page.text

    url = f"/my/sick-leave/{c['id']}"
    r = await client.post(f"{url}/share", data={"csrf_token": csrf, "employer_business_id": ""})
    assert r.status_code == 422
    assert field_error(r.text, "employer_business_id")
    r = await client.post(
        f"{url}/share", data={"csrf_token": csrf, "employer_business_id": "000000001"}
    )
    assert r.status_code == 422
    assert "no registered employer" in field_error(r.text, "employer_business_id")
    assert 'value="000000001"' in r.text

    r = await client.post(f"{url}/share", data={"csrf_token": csrf, "employer_business_id": bid})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert 'data-testid="done"' in page.text
    assert f'data-testid="share" data-business-id="{bid}"' in page.text
    assert clinic.employer_account.employer.name in page.text

    r = await client.post(f"{url}/withdraw", data={"csrf_token": csrf, "employer_business_id": bid})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert 'data-testid="share"' not in page.text
    assert 'data-testid="no-shares"' in page.text


async def test_only_her_own_certificates(client, clinic, make_person, make_user):
    c = await open_flu(client, clinic)
    neighbour = await make_user("citizen", person_id=(await make_person()).id)
    csrf = await web_login(client, neighbour)
    page = await client.get("/my/sick-leave")
    assert c["number"] not in page.text
    assert 'data-testid="no-certificates"' in page.text
    assert (await client.get(f"/my/sick-leave/{c['id']}.pdf")).status_code == 404
    r = await client.post(
        f"/my/sick-leave/{c['id']}/share",
        data={
            "csrf_token": csrf,
            "employer_business_id": clinic.employer_account.employer.business_id,
        },
    )
    assert r.status_code == 404
    await web_login(client, clinic.doctor_account)
    assert (await client.get("/my/sick-leave")).status_code == 403


@pytest.mark.parametrize("lang", ["uz", "en"])
async def test_nothing_clinical_reaches_the_employer(client, clinic, holder, lang):
    """Every byte an employer gets (the API's answers, the page, the check's result and
    both PDFs) is searched for the ICD-10 code, its category and the reason."""
    c = await open_flu(client, clinic)
    r = await client.post(
        f"/api/v1/me/sick-leave/{c['id']}/shares",
        json={"employer_business_id": clinic.employer_account.employer.business_id},
        headers=clinic.citizen,
    )
    assert r.status_code == 201, r.text
    answers = [
        await client.get("/api/v1/employer/sick-leave", headers=clinic.employer),
        await client.post(
            "/api/v1/employer/sick-leave/lookup",
            json={"number": c["number"], "national_id": clinic.worker.national_id},
            headers=clinic.employer,
        ),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert c["number"].encode() in r.content
        assert_nothing_clinical(r.content, lang)

    csrf = await web_login(client, clinic.employer_account)
    client.cookies.set("salomat_lang", lang)
    page = await client.get("/employer/sick-leave")
    assert page.status_code == 200
    assert f'<html lang="{lang}"' in page.text
    assert f'data-number="{c["number"]}"' in page.text
    assert clinic.facility.name in page.text
    assert_nothing_clinical(page.content, lang)

    found = await client.post(
        "/employer/sick-leave",
        data={"csrf_token": csrf, "number": c["number"], "national_id": clinic.worker.national_id},
    )
    assert found.status_code == 200
    assert 'data-testid="found"' in found.text
    assert_nothing_clinical(found.content, lang)

    for r in (
        await client.get(f"/employer/sick-leave/{c['number']}.pdf"),
        await client.post(
            "/employer/sick-leave/check.pdf",
            data={
                "csrf_token": csrf,
                "number": c["number"],
                "national_id": clinic.worker.national_id,
            },
        ),
    ):
        assert_pdf_response(r)
        text = pdf_text(r.content)
        assert c["number"] in text
        assert clinic.facility.name in text
        assert TODAY.strftime("%d.%m.%Y") in text
        assert_nothing_clinical(r.content, lang)
        assert_nothing_clinical(text.encode(), lang)

    # every look is in the worker's "who opened my record", under the employer's name
    await web_login(client, holder)
    log = await client.get("/access-log")
    assert log.status_code == 200
    assert clinic.employer_account.employer.name in log.text


async def test_another_employer_gets_404(client, clinic, make_user):
    c = await open_flu(client, clinic)
    await client.post(
        f"/api/v1/me/sick-leave/{c['id']}/shares",
        json={"employer_business_id": clinic.employer_account.employer.business_id},
        headers=clinic.citizen,
    )
    csrf = await web_login(client, await make_user("employer"))
    page = await client.get("/employer/sick-leave")
    assert c["number"] not in page.text
    assert 'data-testid="no-certificates"' in page.text
    r = await client.get(f"/employer/sick-leave/{c['number']}.pdf")
    assert r.status_code == 404
    assert not r.content.startswith(b"%PDF")
    # the number with someone else's national id: answered like a missing number
    r = await client.post(
        "/employer/sick-leave",
        data={"csrf_token": csrf, "number": c["number"], "national_id": "12345678901234"},
    )
    assert r.status_code == 404
    assert 'data-testid="form-error"' in r.text
    assert 'data-testid="found"' not in r.text
    r = await client.post(
        "/employer/sick-leave", data={"csrf_token": csrf, "number": "", "national_id": ""}
    )
    assert r.status_code == 422
    assert field_error(r.text, "number")
    assert field_error(r.text, "national_id")
    await web_login(client, clinic.doctor_account)
    assert (await client.get("/employer/sick-leave")).status_code == 403


async def test_the_public_check(client, clinic):
    c = await open_flu(client, clinic)
    r = await client.get("/verify/sick-leave")
    assert r.status_code == 200
    assert 'data-testid="verify-form"' in r.text
    assert 'data-testid="verify-result"' not in r.text

    def status(html: str) -> str:
        return re.search(r'data-testid="verify-result" data-status="(\w+)"', html).group(1)

    r = await client.get(
        "/verify/sick-leave", params={"number": c["number"], "code": c["check_code"].lower()}
    )
    assert status(r.text) == "valid"
    assert TODAY.strftime("%d.%m.%Y") in r.text
    assert (TODAY + timedelta(days=4)).strftime("%d.%m.%Y") in r.text
    for needle in ("J11", clinic.worker.family_name, clinic.worker.national_id, "Own illness"):
        assert needle not in r.text
    for params in (
        {"number": c["number"], "code": "AAAAAA"},
        {"number": "2600-0000-0000", "code": c["check_code"]},
        {"number": c["number"]},
        {"number": c["number"], "code": "X" * 40},
    ):
        r = await client.get("/verify/sick-leave", params=params)
        assert r.status_code == 200
        assert status(r.text) == "invalid", params
        assert TODAY.strftime("%d.%m.%Y") not in r.text

    r = await client.post(
        f"/api/v1/sick-leave/{c['id']}/cancel",
        json={"reason": "issued in error"},
        headers=clinic.doctor,
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        "/verify/sick-leave", params={"number": c["number"], "code": c["check_code"]}
    )
    assert status(r.text) == "cancelled"
    assert "issued in error" not in r.text


async def test_a_nul_character_in_a_form_is_refused_before_any_query(client, clinic, holder):
    """PostgreSQL text cannot hold NUL: a national id or business id with one answered 500."""
    c = await open_flu(client, clinic)
    csrf = await web_login(client, clinic.employer_account)
    r = await client.post(
        "/employer/sick-leave",
        data={"csrf_token": csrf, "number": c["number"], "national_id": "12\x0034"},
    )
    assert r.status_code == 422
    csrf = await web_login(client, holder)
    for action in ("share", "withdraw"):
        r = await client.post(
            f"/my/sick-leave/{c['id']}/{action}",
            data={"csrf_token": csrf, "employer_business_id": "30\x00512"},
        )
        assert r.status_code == 422, action
