"""The holder's copy of a certificate as a PDF: in the page's language, with the QR code of
the public check (its number and check code, nothing else) and nothing clinical on it.

The text is read back with pypdf; the QR image is taken out of the file and its modules
compared with the QR code of the check's address.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
import segno

from tests.domains.registry.test_web import web_login
from tests.domains.sickleave.test_web_portal import open_flu
from tests.ui.test_pdf import assert_pdf_response, in_country, pdf_text, tr
from tests.ui.test_pdf_prescription import qr_modules

__all__ = ["in_country"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_certificate_pdf_in_the_pages_language(client, clinic, lang, in_country):
    c = await open_flu(client, clinic)
    if lang == "kk":
        in_country("KZ")
    await web_login(client, clinic.doctor_account)
    client.cookies.set("salomat_lang", lang)
    page = await client.get(f"/patients/{clinic.worker.id}/sick-leave")
    assert f'<html lang="{lang}"' in page.text
    href = f"/patients/{clinic.worker.id}/sick-leave/{c['id']}.pdf"
    assert f'href="{href}"' in page.text
    r = await client.get(href)
    assert_pdf_response(r)
    assert c["number"] in r.headers["content-disposition"]
    text = pdf_text(r.content)
    assert c["number"] in text
    assert c["check_code"] in text
    assert f"{clinic.worker.family_name} {clinic.worker.given_name}" in text
    assert clinic.worker.national_id in text
    assert clinic.facility.name in text
    assert TODAY.strftime("%d.%m.%Y") in text
    assert (TODAY + timedelta(days=4)).strftime("%d.%m.%Y") in text
    for msgid in ("Certificate of temporary incapacity for work", "Holder", "Illness", "Open"):
        assert tr(lang, msgid) != msgid, (lang, msgid)  # the catalog has it
        assert tr(lang, msgid) in text, (lang, msgid)
    assert "Certificate of temporary incapacity for work" not in text
    # she hands it to her employer: no diagnosis, no reason
    for needle in ("J11", "Own illness", tr(lang, "Own illness"), "own_illness"):
        assert needle not in text, needle
        assert needle.encode() not in r.content, needle
    if lang == "uz":
        url = "http://testserver/verify/sick-leave?" + urlencode(
            {"number": c["number"], "code": c["check_code"]}
        )
        assert "testserver/verify/sick-leave" in text.replace(" ", "")
        want = segno.make(url, error="m").matrix
        assert qr_modules(r.content) == [[bool(v) for v in row] for row in want]


async def test_the_citizen_downloads_her_own_and_nobody_elses(
    client, clinic, make_person, make_user
):
    c = await open_flu(client, clinic)
    her = await make_user("citizen", person_id=clinic.worker.id)
    await web_login(client, her)
    r = await client.get(f"/my/sick-leave/{c['id']}.pdf")
    assert_pdf_response(r)
    assert c["number"] in pdf_text(r.content)

    neighbour = await make_user("citizen", person_id=(await make_person()).id)
    await web_login(client, neighbour)
    for path in (
        f"/my/sick-leave/{c['id']}.pdf",
        f"/patients/{clinic.worker.id}/sick-leave/{c['id']}.pdf",
    ):
        r = await client.get(path)
        assert r.status_code in (403, 404), path
        assert not r.content.startswith(b"%PDF")
    await web_login(client, clinic.employer_account)
    r = await client.get(f"/patients/{clinic.worker.id}/sick-leave/{c['id']}.pdf")
    assert r.status_code == 403
