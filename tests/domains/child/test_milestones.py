"""Developmental milestones: the country pack's list (sourced, named in every language of
its pack), the service accepting only its codes, and the pages showing names, never codes
(a stored code the list no longer has is shown as a code, marked, and breaks nothing)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from salomat.core import i18n
from salomat.core.db import session_factory, utcnow
from salomat.core.errors import SalomatError
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.child import service
from salomat.domains.child.models import WellChildVisit
from salomat.domains.child.schemas import VisitIn
from tests.domains.registry.test_web import web_login

TODAY = date.today()
WHO_SIX = {
    # the WHO Motor Development Study's windows (1st, 99th percentile, months)
    "sits_without_support": (3.8, 9.2),
    "stands_with_assistance": (4.8, 11.4),
    "crawls_on_hands_and_knees": (5.2, 13.5),
    "walks_with_assistance": (5.9, 13.7),
    "stands_alone": (6.9, 16.9),
    "walks_alone": (8.2, 17.6),
}


# ---- the pack's list -------------------------------------------------------------------------


@pytest.mark.parametrize("country", pack.countries())
def test_every_milestone_is_named_in_every_language_of_its_pack(country):
    languages = pack.load(country, "pack")["languages"]
    assert "en" in languages
    data = pack.load(country, "child")["milestones"]
    assert "WHO Motor Development Study" in data["source"]
    codes = [m["code"] for m in data["items"]]
    assert len(codes) == len(set(codes))
    for m in data["items"]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", m["code"]), m
        assert isinstance(m["by_months"], int), m
        assert 0 < m["by_months"] <= 72, m
        # the pack's languages, and all of the platform's (both packs carry uz, ru, kk, en)
        for lang in sorted({*languages, "uz", "ru", "kk", "en"}):
            name = m["names"].get(lang, "")
            assert name.strip(), (country, m["code"], lang)
        uz = m["names"].get("uz", "")
        assert "'" not in uz, uz  # oʻ with U+02BB, never an ASCII apostrophe
        kk = m["names"].get("kk", "")
        assert re.search(r"[А-Яа-яӘәҒғҚқҢңӨөҰұҮүҺһІі]", kk), kk  # Kazakh in Cyrillic


@pytest.mark.parametrize("country", pack.countries())
def test_the_who_six_keep_their_windows_and_come_by_age(country):
    listed = service.milestones(country)
    items = {m["code"]: m for m in pack.load(country, "child")["milestones"]["items"]}
    for code, window in WHO_SIX.items():
        assert tuple(items[code]["window"]) == window, code
        # by the end of the window, to the month
        assert items[code]["by_months"] == -int(-window[1] // 1), code
    ages = [m.by_months for m in listed]
    assert ages == sorted(ages)
    assert listed[-1].code == "walks_alone"
    assert {"social_smile", "holds_head_up"} <= {m.code for m in listed}


def test_a_milestone_is_named_in_the_language_being_rendered():
    walks = next(m for m in service.milestones("UZ") if m.code == "walks_alone")
    assert walks.label == "Walks alone (by 18 months)"
    token = i18n.set_language("ru")
    try:
        assert walks.name == "Ходит самостоятельно"
        assert walks.label == "Ходит самостоятельно (к 18 мес.)"
    finally:
        i18n.reset_language(token)


def test_stored_codes_are_named_in_the_packs_order_and_unknown_ones_kept():
    labels = service.milestone_labels(["walks_alone", "old_code", "social_smile"], "UZ")
    assert [(m.code, m.known) for m in labels] == [
        ("social_smile", True),
        ("walks_alone", True),
        ("old_code", False),
    ]
    assert str(labels[-1]) == "old_code"


# ---- the service -----------------------------------------------------------------------------


@pytest.fixture
async def child_and_nurse(make_facility, make_person, make_user):
    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=400))
    nurse = await make_user("nurse", facility_code=fac.code)
    nurse.facility_id = fac.id  # type: ignore[attr-defined]
    return child, nurse


def _principal(user) -> Principal:  # type: ignore[no-untyped-def]
    return Principal(
        user_id=user.id,
        username=user.username,
        role="nurse",
        session_id="test",
        facility_id=user.facility_id,
        facility_code=user.facility_code,
    )


async def _record(child, nurse, codes: list[str]):  # type: ignore[no-untyped-def]
    async with session_factory()() as s:
        v = await service.record_visit(
            s, _principal(nurse), child.id, VisitIn(on=TODAY, milestones=codes)
        )
        await s.commit()
        return v


@pytest.mark.anyio
async def test_the_service_stores_the_packs_codes_sorted_once(child_and_nurse):
    child, nurse = child_and_nurse
    every = [m.code for m in service.milestones()]
    # the whole list, the first and the last of it, given backwards and one twice
    v = await _record(child, nurse, [*reversed(every), every[0]])
    assert v.milestones == sorted(every)
    assert (await _record(child, nurse, [])).milestones == []
    assert (await _record(child, nurse, [every[-1]])).milestones == [every[-1]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "wrong", ["Walks_alone", "walks_alone_", "walks-alone", "", "x" * 100, "sits without support"]
)
async def test_the_service_refuses_a_code_not_in_the_list(child_and_nurse, wrong):
    child, nurse = child_and_nurse
    with pytest.raises(SalomatError) as e:
        await _record(child, nurse, ["social_smile", wrong])
    assert e.value.status == 422
    assert [f.field for f in e.value.errors] == ["milestones.1"]
    assert e.value.errors[0].msgid == '"%(code)s" is not in the list of milestones'
    assert "is not in the list of milestones" in e.value.errors[0].english
    assert len(e.value.errors[0].english) < 120


# ---- the pages -------------------------------------------------------------------------------


async def _old_visit(child_id: int) -> int:
    """A visit stored before the list, with a code the list does not have."""
    async with session_factory()() as s:
        v = WellChildVisit(
            person_id=child_id,
            on=TODAY,
            age_days=400,
            milestones=["retired_code", "walks_alone"],
            illnesses=[],
            recorded_by="test",
            recorded_at=utcnow(),
        )
        s.add(v)
        await s.commit()
        return v.id


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("lang", "walks"), [("en", "Walks alone"), ("ru", "Ходит самостоятельно"), ("uz", None)]
)
async def test_the_visit_list_and_print_show_names_and_mark_an_unknown_code(
    client, child_and_nurse, lang, walks
):
    child, nurse = child_and_nurse
    visit_id = await _old_visit(child.id)
    await web_login(client, nurse)
    client.cookies.set("salomat_lang", lang)
    walks = walks or next(m for m in service.milestones() if m.code == "walks_alone").names["uz"]
    for url in (f"/children/{child.id}", f"/children/{child.id}/passport/print"):
        r = await client.get(url)
        assert r.status_code == 200, (url, r.text)
        row = re.search(
            rf'data-testid="visit-row" data-visit="{visit_id}">(.*?)</li>', r.text, re.S
        )
        assert row, url
        text = row.group(1)
        assert walks in text, (url, text)
        assert "walks_alone" not in text
        assert "walks alone" not in text
        assert re.search(r"<code[^>]*>retired_code</code>", text), text


@pytest.mark.anyio
async def test_the_passport_pdf_names_the_milestones_in_the_pages_language(client, child_and_nurse):
    from tests.ui.test_pdf import assert_pdf_response, pdf_text

    child, nurse = child_and_nurse
    await _old_visit(child.id)
    await web_login(client, nurse)
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(f"/children/{child.id}/passport.pdf")
    assert_pdf_response(r)
    text = pdf_text(r.content)
    assert "Ходит самостоятельно" in text
    assert "retired_code" in text  # an old code, shown as it is
    assert "walks_alone" not in text
