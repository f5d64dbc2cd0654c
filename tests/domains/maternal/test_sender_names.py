"""The referral inbox and the printed referral name the referring clinician by full name
(the maternal domain records a username; accounts provides the names through
``core.user_names``), the username kept as the tooltip; without a name, the username."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import update

from salomat.core.user_names import user_names
from salomat.domains.accounts.models import User
from tests.domains.maternal.test_referrals import refer, register_hypertensive
from tests.domains.maternal.test_web_coordination import people, session_client  # noqa: F401
from tests.domains.registry.test_web import web_login
from tests.ui.test_pdf import pdf_text

pytestmark = pytest.mark.anyio

#: the demo pack's family doctor (country/UZ/demo.yaml)
FULL_NAME = "Rasulov Farrux Abdullayevich"


async def _name(db, username: str, full_name: str | None) -> None:
    await db.execute(update(User).where(User.username == username).values(full_name=full_name))
    await db.commit()


def _sender(page: str) -> tuple[str, str]:
    m = re.search(r'data-testid="referral-sender-name"[^>]*title="([^"]*)"[^>]*>([^<]*)<', page)
    assert m, page
    return html.unescape(m.group(1)), html.unescape(m.group(2))


async def test_the_inbox_and_the_pdf_name_the_referring_doctor(
    client,
    db,
    people,  # noqa: F811
    session_client,  # noqa: F811
):
    n = people.net
    await _name(db, people.doctor.username, FULL_NAME)
    preg = await register_hypertensive(client, n)
    sent = await refer(client, n, preg)
    assert sent.status_code == 201, sent.text
    async with session_client() as ob:
        await web_login(ob, people.maternity_obstetrician)
        inbox = await ob.get("/referrals")
        assert inbox.status_code == 200
        assert _sender(inbox.text) == (people.doctor.username, FULL_NAME)
        pdf = await ob.get(f"/referrals/{sent.json()['id']}/referral.pdf")
        assert pdf.status_code == 200
        assert f"{FULL_NAME} ({people.doctor.username})" in " ".join(pdf_text(pdf.content).split())

    from salomat.domains.maternal import service as maternal

    # the document the PDF prints (the PDF itself is rendered by a browser engine)
    from tests.domains.maternal.test_worklist_batch import _principal

    principal = _principal(people.maternity_obstetrician, n.maternity)
    doc = await maternal.referral_document(db, principal, sent.json()["id"])
    await db.rollback()
    assert doc.sent_by_name == FULL_NAME


async def test_a_user_without_a_name_is_shown_by_username(
    client,
    db,
    people,  # noqa: F811
    session_client,  # noqa: F811
):
    n = people.net
    await _name(db, people.doctor.username, None)
    preg = await register_hypertensive(client, n)
    assert (await refer(client, n, preg)).status_code == 201
    async with session_client() as ob:
        await web_login(ob, people.maternity_obstetrician)
        inbox = await ob.get("/referrals")
        assert _sender(inbox.text) == (people.doctor.username, people.doctor.username)


async def test_names_by_username_and_unknown_users_left_out(app, db, make_user):
    a, b = await make_user("nurse"), await make_user("nurse")
    await _name(db, a.username, "Karimova Dilnoza")
    assert await user_names(db, [a.username, b.username, "nobody-here", None, a.username]) == {
        a.username: "Karimova Dilnoza"
    }
    assert await user_names(db, []) == {}


async def test_the_pregnancy_record_names_who_sent_each_referral(
    client,
    db,
    people,  # noqa: F811
    session_client,  # noqa: F811
):
    n = people.net
    await _name(db, people.doctor.username, FULL_NAME)
    preg = await register_hypertensive(client, n)
    sent = await refer(client, n, preg)
    assert sent.status_code == 201, sent.text
    async with session_client() as doctor:
        await web_login(doctor, people.doctor)
        page = await doctor.get(f"/patients/{preg['person_id']}/pregnancy")
        assert page.status_code == 200
        m = re.search(r'title="([^"]*)" data-testid="referral-sender">([^<]*)<', page.text)
        assert m, page.text
        assert (html.unescape(m.group(1)), html.unescape(m.group(2))) == (
            people.doctor.username,
            FULL_NAME,
        )
