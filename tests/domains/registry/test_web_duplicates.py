"""The registrar's duplicate review page (no browser): list, distinct, merge, undo."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.domains.registry.models import DuplicatePair, Person
from tests.domains.registry.test_merge import add_pair
from tests.domains.registry.test_web import web_login
from tests.factories import unique_name

pytestmark = pytest.mark.anyio
BORN = date(1986, 7, 9)
WHY = "same woman: same parents, same address, checked by phone"


@pytest.fixture
async def registrar(make_user, login):
    account = await make_user("registrar")
    return account, await login(account)


async def _twins(client, headers, *, other_script: bool = True) -> tuple[dict, dict]:
    """One woman registered twice: in Latin and (the duplicate) in Cyrillic."""
    family, given = unique_name("Ka"), unique_name("Di")
    latin = {"family_name": family, "given_name": given, "birth_date": BORN.isoformat()}
    r = await client.post(
        "/api/v1/persons",
        json=latin | {"sex": "female", "address": "Navoiy ko'chasi 3"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    first = r.json()
    second_names = (
        {"family_name": first["family_name_alt"], "given_name": first["given_name_alt"]}
        if other_script
        else {}
    )
    r = await client.post(
        "/api/v1/persons",
        json=latin
        | second_names
        | {"sex": "female", "phone": "+998901112233", "duplicate_reason": "test duplicate"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return first, r.json()


async def _section(client, pair_id: int, status: str = "open") -> str:
    """The pair's section of the list, walking the pages (other tests leave pairs too)."""
    return (await _find(client, pair_id, status))[0]


async def _find(client, pair_id: int, status: str = "open") -> tuple[str, str]:
    """(the pair's section, the offset of its page)."""
    url = f"/duplicates?status={status}"
    for _ in range(50):
        page = await client.get(url)
        assert page.status_code == 200, page.text
        m = re.search(rf'<section[^>]*data-pair="{pair_id}".*?</section>', page.text, re.S)
        if m:
            offset = re.search(r'name="offset" value="(\d+)"', m.group(0))
            return m.group(0), offset.group(1) if offset else "0"
        nxt = re.search(r'href="([^"]+)" data-testid="next"', page.text)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
    raise AssertionError(f"pair {pair_id} is not listed under {status}")


async def test_the_menu_and_the_list_show_both_people_side_by_side(client, registrar):
    account, headers = registrar
    a, b = await _twins(client, headers)
    pair_id = await add_pair(a["id"], b["id"], probability=0.999)
    await web_login(client, account)
    home = await client.get("/")
    assert 'href="/duplicates"' in home.text
    section = await _section(client, pair_id)
    assert a["family_name"] in section
    assert b["family_name"] in section  # the Cyrillic one
    assert "100%" in section  # a rounded percentage
    assert "Navoiy ko&#39;chasi 3" in section or "Navoiy ko'chasi 3" in section
    assert "+998901112233" in section
    assert "written in the other script" in section  # the reasons, as labels
    assert "same birth date" in section
    assert section.count(">female<") == 2
    async with session_factory()() as s:
        purposes = set(
            await s.scalars(
                select(AuditEvent.purpose).where(
                    AuditEvent.username == account.username,
                    AuditEvent.patient_id.in_([a["id"], b["id"]]),
                    AuditEvent.action == "read",
                )
            )
        )
    assert any(p and p.startswith("duplicate review") for p in purposes)


async def test_the_page_speaks_the_users_language(client, registrar):
    account, headers = registrar
    a, b = await _twins(client, headers)
    pair_id = await add_pair(a["id"], b["id"], probability=0.998)
    await web_login(client, account)
    client.cookies.set("salomat_lang", "ru")
    section = await _section(client, pair_id)
    assert "same birth date" not in section
    assert "female" not in section.replace('value="', "")


async def test_not_the_same_person(client, registrar):
    account, headers = registrar
    a, b = await _twins(client, headers)
    pair_id = await add_pair(a["id"], b["id"])
    csrf = await web_login(client, account)
    r = await client.post(f"/duplicates/{pair_id}/distinct", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert "done=distinct" in r.headers["location"]
    async with session_factory()() as s:
        assert (await s.get(DuplicatePair, pair_id)).status == "distinct"
    assert "Reviewed by" in await _section(client, pair_id, "distinct")
    # a second decision on the same pair is refused on the page, nothing changes
    r = await client.post(f"/duplicates/{pair_id}/distinct", data={"csrf_token": csrf})
    assert r.status_code == 409
    assert 'data-testid="action-error"' in r.text


async def test_merge_needs_a_survivor_and_a_reason_then_undo_needs_a_reason(client, registrar):
    account, headers = registrar
    a, b = await _twins(client, headers)
    pair_id = await add_pair(a["id"], b["id"])
    csrf = await web_login(client, account)
    _, offset = await _find(client, pair_id)
    base = {
        "csrf_token": csrf,
        "offset": offset,
        "person_a": str(min(a["id"], b["id"])),
        "person_b": str(max(a["id"], b["id"])),
        "version_a": "1",
        "version_b": "1",
    }
    url = f"/duplicates/{pair_id}/merge"
    r = await client.post(url, data=base | {"reason": WHY})
    assert r.status_code == 422
    assert 'data-testid="error-survivor"' in r.text
    r = await client.post(url, data=base | {"survivor": "a", "reason": "same"})
    assert r.status_code == 422
    assert 'data-testid="error-reason"' in r.text
    assert 'value="a" data-testid="survivor-a" checked' in r.text  # the choice comes back
    async with session_factory()() as s:
        assert (await s.get(Person, max(a["id"], b["id"]))).merged_into_id is None

    # a record changed since the page was read: refused, nothing merged
    r = await client.post(url, data=base | {"survivor": "a", "reason": WHY, "version_b": "7"})
    assert r.status_code == 412

    r = await client.post(url, data=base | {"survivor": "a", "reason": WHY})
    assert r.status_code == 303, r.text
    survivor, merged = min(a["id"], b["id"]), max(a["id"], b["id"])
    async with session_factory()() as s:
        assert (await s.get(Person, merged)).merged_into_id == survivor
        assert (await s.get(DuplicatePair, pair_id)).status == "merged"

    section, offset = await _find(client, pair_id, "merged")
    undo = re.search(r'action="(/merges/\d+/undo)"', section).group(1)
    r = await client.post(
        undo, data={"csrf_token": csrf, "pair_id": str(pair_id), "reason": "x", "offset": offset}
    )
    assert r.status_code == 422
    assert 'data-testid="error-reason"' in r.text
    r = await client.post(
        undo, data={"csrf_token": csrf, "pair_id": str(pair_id), "reason": "merged by mistake"}
    )
    assert r.status_code == 303
    async with session_factory()() as s:
        assert (await s.get(Person, merged)).merged_into_id is None
        assert (await s.get(DuplicatePair, pair_id)).status == "open"
        rows = list(
            await s.scalars(
                select(AuditEvent.purpose).where(
                    AuditEvent.patient_id == merged, AuditEvent.action == "update"
                )
            )
        )
    assert any(d and "merged by mistake" in d for d in rows)


async def test_only_the_merge_permission_opens_the_page(client, make_user):
    doctor = await make_user("family_doctor")
    csrf = await web_login(client, doctor)
    assert 'href="/duplicates"' not in (await client.get("/")).text
    assert (await client.get("/duplicates")).status_code == 403
    r = await client.post("/duplicates/1/distinct", data={"csrf_token": csrf})
    assert r.status_code == 403


async def _merge_form(client, registrar) -> tuple[str, dict, int, int, int]:
    """A pair on the page and its merge form as the page fills it (url, form, pair, a, b)."""
    account, headers = registrar
    a, b = await _twins(client, headers)
    pair_id = await add_pair(a["id"], b["id"])
    csrf = await web_login(client, account)
    _, offset = await _find(client, pair_id)
    low, high = min(a["id"], b["id"]), max(a["id"], b["id"])
    form = {
        "csrf_token": csrf,
        "offset": offset,
        "person_a": str(low),
        "person_b": str(high),
        "version_a": "1",
        "version_b": "1",
        "survivor": "a",
        "reason": WHY,
    }
    return f"/duplicates/{pair_id}/merge", form, pair_id, low, high


async def _untouched(pair_id: int, *people: int) -> None:
    async with session_factory()() as s:
        assert (await s.get(DuplicatePair, pair_id)).status == "open"
        for pid in people:
            assert (await s.get(Person, pid)).merged_into_id is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("person_b", "99999999999999999999999"),
        ("person_b", str(2**63)),
        ("person_a", "-1"),
        ("person_a", "x"),
        ("person_b", ""),
    ],
)
async def test_a_hostile_record_id_on_the_merge_form_is_refused_not_a_500(
    client, registrar, field, value
):
    url, form, pair_id, low, high = await _merge_form(client, registrar)
    for survivor in ("a", "b"):
        r = await client.post(url, data=form | {field: value, "survivor": survivor})
        assert r.status_code == 422, r.text
        assert "does not match the pair as it is stored now" in r.text
    await _untouched(pair_id, low, high)


def test_the_merge_schema_bounds_the_ids_and_versions():
    from salomat.core.errors import Invalid
    from salomat.domains.registry.schemas import MergeIn
    from salomat.ui import forms

    for raw, field in (
        ({"merged_id": 2**63}, "merged_id"),
        ({"merged_id": 5, "survivor_version": 2**31}, "survivor_version"),
        ({"merged_id": 5, "merged_version": 2**70}, "merged_version"),
    ):
        with pytest.raises(Invalid) as e:
            forms.validate(MergeIn, raw | {"reason": WHY})
        assert [x.field for x in e.value.errors] == [field]
    assert forms.validate(MergeIn, {"merged_id": 2**63 - 1, "reason": WHY}).merged_id == 2**63 - 1


@pytest.mark.parametrize("value", ["99999999999999999999", str(2**31), "", "x", "0", "1.5"])
async def test_a_version_that_cannot_be_one_refuses_the_merge(client, registrar, value):
    """The versions are the check for a record changed since: a bad one is not 'no check'."""
    url, form, pair_id, low, high = await _merge_form(client, registrar)
    for field in ("version_a", "version_b"):
        r = await client.post(url, data=form | {field: value})
        assert r.status_code == 422, r.text
        assert 'data-testid="pair-error"' in r.text
    missing = {k: v for k, v in form.items() if k != "version_b"}
    assert (await client.post(url, data=missing)).status_code == 422
    await _untouched(pair_id, low, high)
    # the page's own form still merges
    assert (await client.post(url, data=form)).status_code == 303


async def test_the_merge_form_must_name_the_two_records_of_its_pair(client, registrar):
    url, form, pair_id, low, high = await _merge_form(client, registrar)
    _, headers = registrar
    c, d = await _twins(client, headers)
    other_pair = await add_pair(c["id"], d["id"])
    others = {"person_a": str(min(c["id"], d["id"])), "person_b": str(max(c["id"], d["id"]))}
    for tampered in (
        others,  # two other records "from" this pair
        {"person_b": str(c["id"])},  # one of them swapped for another
        {"person_a": str(high), "person_b": str(high)},
    ):
        r = await client.post(url, data=form | tampered)
        assert r.status_code == 422, r.text
        assert "does not match the pair as it is stored now" in r.text
    await _untouched(pair_id, low, high)
    await _untouched(other_pair, c["id"], d["id"])
    # the records in the other order are still the pair's own two
    swapped = {"person_a": str(high), "person_b": str(low), "survivor": "b"}
    assert (await client.post(url, data=form | swapped)).status_code == 303
    async with session_factory()() as s:
        assert (await s.get(Person, high)).merged_into_id == low
    # a pair already reviewed takes no merge from an old page
    r = await client.post(url, data=form)
    assert r.status_code == 409
