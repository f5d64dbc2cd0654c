"""The public sanatorium pages, no login: the free places and the line by pseudonym hold
nothing that names a person (no name, national id, referral number or diagnosis), and
no input answers with a 5xx."""

from __future__ import annotations

import re

import pytest

from salomat.domains.sanatorium.web import public
from tests.domains.sanatorium.test_web_citizen import period, queued, sweep, text_of

pytestmark = pytest.mark.anyio


def anonymous(client) -> None:  # type: ignore[no-untyped-def]
    """No login (a fresh cookie jar), pages in English."""
    client.cookies.clear()
    client.cookies.set("salomat_lang", "en")


def private(refs) -> list[str]:  # type: ignore[no-untyped-def]
    """What would name a person or an illness: each one's referral number, names, national
    id, birth date, the indication and its category."""
    out = ["I25.1", "I25", "disability_1_2"]
    for ref, person, account in refs:
        out += [ref["number"], person.family_name, person.given_name, person.national_id]
        out += [person.birth_date.strftime("%d.%m.%Y"), account.username]
    return [x for x in out if x]


async def test_free_places_answer_without_login_and_name_nobody(client, world, make_user):
    p = await period(client, world, beds=3)
    refs = await queued(client, world, make_user, 2)
    await sweep()  # two of the three places are held by offers
    region = refs[0][0]["region"]
    assert region  # UZ keeps a line per region
    anonymous(client)
    r = await client.get(f"/sanatorium/free-places?profile=cardiology&region={region}")
    assert r.status_code == 200
    row = re.search(rf'<tr data-testid="period" data-period-id="{p["id"]}"[^>]*>', r.text)[0]
    assert 'data-free="1"' in row
    assert 'data-capacity="3"' in row
    assert world.sanatorium.name in r.text
    assert "Cardiology" in r.text
    assert f'<option value="{region}" selected>' in r.text  # the filter kept
    for needle in private(refs):
        assert needle not in r.text, needle
    # another profile: not listed
    r = await client.get(f"/sanatorium/free-places?profile=nervous&region={region}")
    assert f'data-period-id="{p["id"]}"' not in r.text
    # any input: an answer, never a 5xx
    for query in ("profile=nope", "region=%3Cscript%3E", "profile=" + "x" * 40, "region=a'b"):
        r = await client.get(f"/sanatorium/free-places?{query}")
        assert r.status_code in (200, 422), (query, r.status_code)
        assert "<script>" not in r.text


async def test_the_line_by_pseudonym_in_pages_without_login(client, world, make_user, monkeypatch):
    refs = await queued(client, world, make_user, 3)
    region = refs[0][0]["region"]
    monkeypatch.setattr(public, "QUEUE_PAGE", 2)
    anonymous(client)
    r = await client.get(f"/sanatorium/queue/cardiology?region={region}")
    assert r.status_code == 200
    assert 'data-testid="queue-total" data-total="3"' in r.text
    entries = re.findall(
        r'data-testid="entry" data-pseudonym="([0-9A-F]{10})" data-position="(\d)"', r.text
    )
    assert [int(n) for _, n in entries] == [1, 2]
    assert "in the queue" in r.text
    assert 'data-testid="how-to-find"' in r.text
    assert "priority group 2" in r.text
    for needle in private(refs):
        assert needle not in r.text, needle
    nxt = re.search(r'href="([^"]+)" rel="next"', r.text)[1].replace("&amp;", "&")
    r = await client.get(nxt)
    entries2 = re.findall(r'data-pseudonym="([0-9A-F]{10})" data-position="(\d)"', r.text)
    assert [int(n) for _, n in entries2] == [3]
    assert entries2[0][0] not in {p for p, _ in entries}
    assert 'rel="next"' not in r.text
    assert 'rel="prev"' in r.text

    # a line without a region (UZ keeps one per region): asked to choose
    r = await client.get("/sanatorium/queue/cardiology")
    assert r.status_code == 200
    assert 'data-testid="choose-region"' in r.text
    # no such line, a wrong region, a wrong page: answered, never a 5xx
    assert (await client.get("/sanatorium/queue/astrology")).status_code == 404
    assert (await client.get("/sanatorium/queue/cardiology?region=%22%3E")).status_code == 422
    for query in ("offset=-1", "offset=x", "offset=99999999999", "mark=" + "A" * 40):
        r = await client.get(f"/sanatorium/queue/cardiology?region={region}&{query}")
        assert r.status_code == 422, (query, r.status_code)
    r = await client.get(f"/sanatorium/queue/cardiology?region={region}&offset=500")
    assert r.status_code == 200
    assert 'data-testid="empty-queue"' in r.text


async def test_the_voucher_check_says_not_valid_and_names_nobody(client, world, make_user):
    [(ref, _p, _u)] = refs = await queued(client, world, make_user, 1)
    anonymous(client)
    r = await client.get("/verify/sanatorium-voucher")
    assert r.status_code == 200
    assert 'data-testid="verify-result"' not in r.text
    for query in (
        f"number={ref['number']}&code=AAAAAA",  # in line, no voucher yet
        "number=000-000-0000&code=ABCDEF",
        "number=&code=ABC",
        "number=" + "1" * 40 + "&code=ABCDEF",
        "number=%27%3B--&code=%3Cb%3E",
    ):
        r = await client.get(f"/verify/sanatorium-voucher?{query}")
        assert r.status_code == 200, query
        assert 'data-valid="false"' in r.text, query
        assert text_of(r.text, "verify-status") == "The voucher is not valid."
        for needle in private(refs):
            if needle != ref["number"]:  # typed into the form, shown back
                assert needle not in r.text, needle
