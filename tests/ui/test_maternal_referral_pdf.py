"""A referral as a PDF document (issue 13, item 9): what the receiving facility needs to read,
in the page's language; the receiving facility opens it while the referral is live, and a
clinician of a third facility gets the same 404 as for a missing one."""

from __future__ import annotations

import pytest

from salomat.core import i18n
from tests.domains.maternal.test_referrals import register_hypertensive
from tests.domains.maternal.test_web_coordination import People, people, session_client
from tests.domains.registry.test_web import web_login
from tests.ui.test_pdf import pdf_text

__all__ = ["people", "session_client"]

pytestmark = pytest.mark.anyio


def tr(lang: str, msgid: str) -> str:
    return i18n.translations(lang).gettext(msgid)


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_referral_prints_as_a_pdf_in_the_readers_language(
    client, people: People, session_client, make_user, lang
):
    n = people.net
    preg = await register_hypertensive(client, n)
    sent = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "BP 150/95 twice at 20 weeks"},
        headers=n.doctor,
    )
    assert sent.status_code == 201, sent.text
    rid = sent.json()["id"]
    url = f"/referrals/{rid}/referral.pdf"
    async with session_client() as ob, session_client() as doc, session_client() as other:
        await web_login(ob, people.maternity_obstetrician)
        ob.cookies.set("salomat_lang", lang)
        inbox = await ob.get("/referrals")
        assert f'href="{url}"' in inbox.text
        r = await ob.get(url)
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "no-store"
        text = pdf_text(r.content)
        assert f"{n.woman.family_name} {n.woman.given_name}" in text
        assert "BP 150/95 twice at 20 weeks" in text
        assert tr(lang, "Referral No. %(n)s") % {"n": rid} in text
        assert tr(lang, "hypertension") in text
        assert tr(lang, "high risk") in text
        assert tr(lang, "%(w)s weeks %(d)s days") % {"w": 20, "d": 0} in text
        assert "150/95" in text
        for english in ("Referral No.", "Reason for referral", "Receiving facility"):
            assert english not in text
        assert "hypertension" not in text.split()

        # the sender prints it from her record too
        await web_login(doc, people.doctor)
        record = await doc.get(f"/patients/{n.woman.id}/pregnancy")
        assert f'href="{url}"' in record.text
        assert (await doc.get(url)).status_code == 200
        # a clinician of another facility: as if it did not exist
        await web_login(other, await make_user("obstetrician"))
        assert (await other.get(url)).status_code == 404
        assert (await other.get("/referrals/999999999/referral.pdf")).status_code == 404
