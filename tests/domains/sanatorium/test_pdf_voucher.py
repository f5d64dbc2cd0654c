"""The citizen's sanatorium voucher as a PDF: in the page's language, with the referral
number, the dates and the QR code of the public check (number and voucher code only),
and no diagnosis. The text is read back with pypdf; the QR image's modules are compared
with the QR code of the check's address, and that address says the voucher is valid."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pytest
import segno

from salomat.domains.sanatorium import service
from tests.domains.registry.test_web import web_login
from tests.domains.sanatorium.test_web_citizen import period, queued, sweep, text_of
from tests.factories import token_for
from tests.ui.test_pdf import assert_pdf_response, in_country, pdf_text, tr
from tests.ui.test_pdf_prescription import qr_modules

__all__ = ["in_country"]

pytestmark = pytest.mark.anyio


async def booked(client, world, make_user):  # type: ignore[no-untyped-def]
    """A voucher: a period, one patient in line, the sweep's offer, accepted."""
    await period(client, world, beds=1)
    [(ref, person, her)] = await queued(client, world, make_user, 1)
    await sweep()
    token = await token_for(client, her)
    mine = (await client.get("/api/v1/me/sanatorium-referrals", headers=token)).json()[0]
    r = await client.post(
        f"/api/v1/me/sanatorium-offers/{mine['offer']['id']}/accept", headers=token
    )
    assert r.status_code == 200, r.text
    return ref, person, her, r.json()["stay"]


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_voucher_pdf_in_the_pages_language(client, world, make_user, lang, in_country):
    ref, person, her, stay = await booked(client, world, make_user)
    await web_login(client, her)
    if lang == "kk":
        in_country("KZ")
    client.cookies.set("salomat_lang", lang)
    href = f"/my/sanatorium/vouchers/{stay['id']}.pdf"
    page = await client.get("/my/sanatorium")
    assert f'<html lang="{lang}"' in page.text
    assert f'href="{href}"' in page.text
    r = await client.get(href)
    assert_pdf_response(r)
    assert ref["number"] in r.headers["content-disposition"]
    text = pdf_text(r.content)
    assert ref["number"] in text
    assert stay["voucher_code"] in text
    assert stay["bed"] in text
    assert world.sanatorium.name in text
    assert f"{person.family_name} {person.given_name}" in text
    for day in (stay["starts_on"], stay["ends_on"]):
        assert date.fromisoformat(day).strftime("%d.%m.%Y") in text
    for msgid in ("Sanatorium voucher", "Referral number", "Voucher code", "Arrival"):
        assert tr(lang, msgid) != msgid, (lang, msgid)  # the catalog has it
        assert tr(lang, msgid) in text, (lang, msgid)
    assert "Sanatorium voucher" not in text
    assert service.sanatorium_rules().profile_name("cardiology", lang) in text  # the pack's
    # she shows it at the door: no indication, no category of entitlement
    for needle in ("I25.1", "I25", "disability_1_2"):
        assert needle not in text, needle
        assert needle.encode() not in r.content, needle
    if lang == "uz":
        url = "http://testserver/verify/sanatorium-voucher?" + urlencode(
            {"number": ref["number"], "code": stay["voucher_code"]}
        )
        assert "testserver/verify/sanatorium-voucher" in text.replace(" ", "")
        want = segno.make(url, error="m").matrix
        assert qr_modules(r.content) == [[bool(v) for v in row] for row in want]
        # the address the QR code holds, opened by anyone: valid, where and when, nobody
        client.cookies.clear()
        client.cookies.set("salomat_lang", "en")
        check = await client.get(url.removeprefix("http://testserver"))
        assert check.status_code == 200
        assert 'data-valid="true"' in check.text
        assert text_of(check.text, "verify-status") == "The voucher is valid."
        assert text_of(check.text, "verify-sanatorium") == world.sanatorium.name
        assert text_of(check.text, "verify-from") == (
            date.fromisoformat(stay["starts_on"]).strftime("%d.%m.%Y")
        )
        assert text_of(check.text, "verify-stay-status") == "booked"
        for needle in (person.family_name, person.given_name, "I25", her.username):
            assert needle not in check.text, needle


async def test_another_citizens_voucher_is_not_found(client, world, make_user):
    _ref, _person, _her, stay = await booked(client, world, make_user)
    neighbour = await make_user("citizen", person_id=(await world.make_patient()).id)
    await web_login(client, neighbour)
    r = await client.get(f"/my/sanatorium/vouchers/{stay['id']}.pdf")
    assert r.status_code == 404
    assert not r.content.startswith(b"%PDF")
    r = await client.get("/my/sanatorium/vouchers/99999999999.pdf")
    assert r.status_code == 404
    await web_login(client, world.admin_account)  # the sanatorium's staff: not theirs to print
    assert (await client.get(f"/my/sanatorium/vouchers/{stay['id']}.pdf")).status_code == 403
