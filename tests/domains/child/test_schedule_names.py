"""The well-child visit schedule in the reader's language: every visit and the schedule's
source named in each language of its pack (a missing name refuses the pack), the passport
page in uz, ru and kk without the English names, and the REST API carrying them all."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.country import pack
from salomat.domains.child.service import schedule as schedule_module
from salomat.domains.child.service import well_child_schedule
from tests.domains.child.test_web_forms import visit_form
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()
#: English words of the names the pack used to show on every page
ENGLISH = re.compile(r"\b(days?|weeks?|months?|years?|Schedule|WHO|UNVERIFIED)\b")


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_every_visit_and_the_source_are_named_in_each_language_of_the_pack(country):
    languages = pack.load(country)["languages"]
    data = pack.load(country, "child")["well_child_visits"]
    assert data["visits"]
    # the pack's languages, English, and the other national language (picked on purpose)
    for lang in dict.fromkeys([*languages, "en", "uz", "ru", "kk"]):
        for v in data["visits"]:
            assert v["names"].get(lang), (country, v["age_days"], lang)
        assert data["source_names"].get(lang), (country, "source_names", lang)
    for v in data["visits"]:
        names = v["names"]
        assert "'" not in names["uz"]  # oʻ/gʻ with ʻ (U+02BB), never an ASCII apostrophe
        assert re.search(r"[а-яёәғқңөұүһі]", names["kk"])  # Kazakh in Cyrillic
        assert re.search(r"[а-яё]", names["ru"])
        assert not ENGLISH.search(names["ru"] + names["uz"] + names["kk"])
    loaded = well_child_schedule(country)
    assert [v.age_days for v in loaded.visits] == [v["age_days"] for v in data["visits"]]
    token = i18n.set_language("ru")
    try:
        assert loaded.visits[3].name == "6 недель"
        assert loaded.source_name.startswith("Общий график ВОЗ/ЮНИСЕФ")
    finally:
        i18n.reset_language(token)


def test_a_visit_without_a_name_in_a_pack_language_refuses_the_pack(monkeypatch):
    real = pack.load

    def load(country: str, name: str = "pack"):  # type: ignore[no-untyped-def]
        data = real(country, name)
        if name != "child":
            return data
        visits = [dict(v) for v in data["well_child_visits"]["visits"]]
        visits[4] = {
            **visits[4],
            "names": {k: v for k, v in visits[4]["names"].items() if k != "ru"},
        }
        return {**data, "well_child_visits": {**data["well_child_visits"], "visits": visits}}

    monkeypatch.setattr(schedule_module.pack, "load", load)
    schedule_module._schedule.cache_clear()
    try:
        with pytest.raises(pack.PackError, match=r"visits\.4: no name in ru"):
            well_child_schedule("UZ")
    finally:
        monkeypatch.undo()
        schedule_module._schedule.cache_clear()


@pytest.fixture
async def toddler(make_facility, make_person, make_user):
    """A boy of 45 days (the 6-week visit is due) attached to the nurse's polyclinic."""
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="male", birth_date=TODAY - timedelta(days=45)
    )
    nurse = await make_user("nurse", facility_code=fac.code)
    return child, nurse


def section(html: str, testid: str) -> str:
    m = re.search(rf'data-testid="{testid}">(.*?)</section>', html, re.S)
    assert m, testid
    return unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


@pytest.mark.parametrize(
    ("country", "lang", "six_weeks", "two_years", "source"),
    [
        ("UZ", "uz", "6 hafta", "2 yosh", "Jadval manbasi: JSST/YUNISEF"),
        ("UZ", "ru", "6 недель", "2 года", "Источник графика: Общий график ВОЗ/ЮНИСЕФ"),
        ("KZ", "kk", "6 апта", "2 жас", "Кесте көзі: ДДСҰ/ЮНИСЕФ"),
        ("KZ", "ru", "6 недель", "2 года", "Источник графика: Общий график ВОЗ/ЮНИСЕФ"),
        ("UZ", "kk", "6 апта", "2 жас", "Кесте көзі: ДДСҰ/ЮНИСЕФ"),  # chosen on purpose
    ],
)
async def test_the_passport_names_the_visits_in_the_pages_language(
    client, toddler, monkeypatch, country, lang, six_weeks, two_years, source
):
    child, nurse = toddler
    csrf = await web_login(client, nurse)
    monkeypatch.setenv("SALOMAT_COUNTRY", country)
    get_settings.cache_clear()
    try:
        client.cookies.set("salomat_lang", lang)
        r = await client.post(f"/children/{child.id}/visits", data=visit_form(csrf))
        assert r.status_code == 303, r.text
        html = (await client.get(r.headers["location"])).text
        assert f'<html lang="{lang}"' in html
        names = [unescape(n) for n in re.findall(r'data-testid="visit-name">([^<]*)<', html)]
        assert len(names) == 15
        assert names[3] == six_weeks
        assert names[10] == two_years
        assert f'data-testid="visit-saved-slot">{six_weeks}<' in html
        visits = section(html, "visits")
        assert source in " ".join(visits.split())
        assert not ENGLISH.search(visits), ENGLISH.findall(visits)
        assert not ENGLISH.search(section(html, "visit-saved"))
        printed = (await client.get(f"/children/{child.id}/passport/print")).text
        assert f'data-testid="visit-name">{six_weeks}<' in printed
        assert not ENGLISH.search(section(printed, "visits"))
    finally:
        get_settings.cache_clear()


async def test_the_english_page_keeps_the_english_names(client, toddler):
    child, nurse = toddler
    await web_login(client, nurse)
    html = (await client.get(f"/children/{child.id}")).text
    names = re.findall(r'data-testid="visit-name">([^<]*)<', html)
    assert names[:4] == ["day 1", "day 3", "days 7–14", "6 weeks"]
    assert "Source of the schedule: WHO/UNICEF common schedule" in html


async def test_the_api_carries_every_name_and_the_english_label(client, toddler, login):
    child, nurse = toddler
    auth = await login(nurse)
    r = await client.get(
        f"/api/v1/persons/{child.id}/passport", headers={**auth, "Accept-Language": "ru"}
    )
    assert r.status_code == 200, r.text
    p = r.json()
    six = p["schedule"][3]
    assert six["label"] == "6 weeks"
    assert six["names"] == {"en": "6 weeks", "uz": "6 hafta", "ru": "6 недель", "kk": "6 апта"}
    assert p["schedule_source"].startswith("UNVERIFIED")
    assert p["schedule_source_names"]["ru"].startswith("Общий график ВОЗ/ЮНИСЕФ")
    assert set(p["schedule_source_names"]) == {"en", "uz", "ru", "kk"}
