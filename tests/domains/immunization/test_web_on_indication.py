"""The vaccination card's form for a dose of a series given on indication (COVID-19), no
browser: the nurse chooses the series by its name and the dose proposed as the next one
(1, 2, then revaccinations), the service's refusals are shown beside their field, nothing
is stored when refused, and the page is in its language.

The boundaries are written by hand from the packs' rules (dose 2 at least 2 weeks after
dose 1; a revaccination at least 6 calendar months after the previous dose, 31 August
plus 6 months being 28 February), not computed with the engine."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.i18n import translations
from tests.domains.registry.test_web import field_error, web_login
from tests.ui.test_languages import findings, visible_text

pytestmark = pytest.mark.anyio

TODAY = date.today()
BORN = date(1970, 4, 2)
D1 = date(2021, 3, 1)  # dose 2 counts from 15 March 2021
D2 = date(2021, 8, 31)  # a revaccination counts from 28 February 2022

#: the on-indication form's words that are new to the catalogue
NEW_MSGIDS = (
    "Record a dose given on indication",
    "Vaccines given on indication or by campaign are never due by age: record their doses "
    "here. The next dose of the series is proposed.",
)


@pytest.fixture
async def adult(make_facility, make_person, make_user):
    fac = await make_facility()
    person = await make_person(facility_code=fac.code, birth_date=BORN, sex="female")
    nurse = await make_user("nurse", facility_code=fac.code)
    return person, nurse


def dose(csrf: str, n: int, on: date, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "antigen": "covid19",
        "dose_number": str(n),
        "given_on": on.isoformat(),
        "vaccine": "covid19",
        "lot": "CV-7",
        "expires_on": "",
        "site": "left_arm",
        "place": "",
        **kw,
    }


def section(html: str) -> str:
    """The on-indication form's section of the card."""
    return html.split('id="on-indication"', 1)[1].split("</section>", 1)[0]


def options(html: str, select_id: str) -> list[tuple[str, bool, str]]:
    """(value, selected, text) of one <select>'s options."""
    block = html.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return [
        (m.group(1), " selected" in m.group(2), m.group(3))
        for m in re.finditer(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', block)
    ]


def card_doses(html: str) -> list[tuple[str, str, str]]:
    """(dose number, valid, date) of each COVID-19 row of the card."""
    return re.findall(
        r'data-testid="dose" data-antigen="covid19" data-dose="(\d+)" data-counted="\d*" '
        r'data-valid="(true|false)".*?<time datetime="([\d-]+)"',
        html,
        flags=re.S,
    )


async def stored(person_id: int) -> int:
    from salomat.domains.immunization.models import Dose

    async with session_factory()() as s:
        q = select(func.count()).where(Dose.person_id == person_id)
        return int((await s.execute(q)).scalar_one())


async def test_the_nurse_records_covid19_doses_from_the_card_each_next_one_proposed(client, adult):
    person, nurse = adult
    csrf = await web_login(client, nurse)
    url = f"/patients/{person.id}/immunizations"
    page = (await client.get(url)).text
    form = section(page)
    assert 'data-testid="oi-form"' in form
    assert f'action="{url}/on-indication"' in form
    assert f'name="csrf_token" value="{csrf}"' in form
    # the series by its name, dose 1 proposed, the one product chosen, today's date
    assert options(form, "oi-antigen") == [("covid19", True, "COVID-19 (on indication)")]
    assert options(form, "oi-dose_number") == [("1", True, "dose 1")]
    chosen = [o for o in options(form, "oi-vaccine") if o[1]]
    assert chosen == [("covid19", True, "COVID-19 vaccine (product not specified)")]
    assert f'name="given_on" type="date" value="{TODAY.isoformat()}"' in form
    # the due form still never offers it
    assert "covid19/" not in page

    r = await client.post(f"{url}/on-indication", data=dose(csrf, 1, D1))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{url}?saved=1"
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="saved"' in page
    assert card_doses(page) == [("1", "true", D1.isoformat())]
    assert 'data-testid="due-dose" data-antigen="covid19"' not in page
    form = section(page)
    assert options(form, "oi-dose_number") == [("1", False, "dose 1"), ("2", True, "dose 2")]

    r = await client.post(f"{url}/on-indication", data=dose(csrf, 2, D2))
    assert r.status_code == 303, r.text
    form = section((await client.get(url)).text)
    # dose 3 is a revaccination, said in words
    assert options(form, "oi-dose_number")[-1] == ("3", True, "dose 3 · revaccination")
    assert [o[2] for o in options(form, "oi-dose_number")[:2]] == ["dose 1", "dose 2"]

    r = await client.post(f"{url}/on-indication", data=dose(csrf, 3, TODAY, site="right_arm"))
    assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    assert card_doses(page) == [
        ("1", "true", D1.isoformat()),
        ("2", "true", D2.isoformat()),
        ("3", "true", TODAY.isoformat()),
    ]
    assert options(section(page), "oi-dose_number")[-1] == ("4", True, "dose 4 · revaccination")
    assert await stored(person.id) == 3


async def test_a_dose_given_elsewhere_is_recorded_with_its_place(client, adult):
    person, nurse = adult
    csrf = await web_login(client, nurse)
    url = f"/patients/{person.id}/immunizations"
    body = dose(csrf, 1, D1, vaccine="", lot="", site="", given_elsewhere="1", place="campaign")
    r = await client.post(f"{url}/on-indication", data=body)
    assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    assert card_doses(page) == [("1", "true", D1.isoformat())]
    assert ">campaign</td>" in page


# ---- refusals, one day before, at and after each boundary --------------------------------

#: (earlier doses, the dose posted, its day, refused, the message's words)
BOUNDARIES = [
    # before birth / the day of birth / the day after
    ((), 1, BORN - timedelta(days=1), True, "is before the date of birth (02.04.1970)"),
    ((), 1, BORN, False, None),
    ((), 1, BORN + timedelta(days=1), False, None),
    # in the future / today / yesterday
    ((), 1, TODAY + timedelta(days=1), True, "is in the future"),
    ((), 1, TODAY, False, None),
    ((), 1, TODAY - timedelta(days=1), False, None),
    # dose 2 less than 2 weeks after dose 1
    (((1, D1),), 2, date(2021, 3, 14), True, "not before 15.03.2021"),
    (((1, D1),), 2, date(2021, 3, 15), False, None),
    (((1, D1),), 2, date(2021, 3, 16), False, None),
    # a revaccination less than 6 months after the previous dose
    (((1, D1), (2, D2)), 3, date(2022, 2, 27), True, "not before 28.02.2022"),
    (((1, D1), (2, D2)), 3, date(2022, 2, 28), False, None),
    (((1, D1), (2, D2)), 3, date(2022, 3, 1), False, None),
]


@pytest.mark.parametrize(("earlier", "n", "on", "refused", "says"), BOUNDARIES)
async def test_each_refusal_is_shown_beside_the_date_and_stores_nothing(
    client, adult, earlier: Any, n: int, on: date, refused: bool, says: str | None
):
    person, nurse = adult
    csrf = await web_login(client, nurse)
    url = f"/patients/{person.id}/immunizations"
    for k, day in earlier:
        r = await client.post(f"{url}/on-indication", data=dose(csrf, k, day))
        assert r.status_code == 303, r.text
    r = await client.post(f"{url}/on-indication", data=dose(csrf, n, on, lot="LOT-42"))
    if not refused:
        assert r.status_code == 303, r.text
        assert await stored(person.id) == len(earlier) + 1
        return
    assert r.status_code == 422, r.text
    assert await stored(person.id) == len(earlier)
    form = section(r.text)
    message = field_error(form, "given_on")
    assert message is not None, form
    assert says in message
    assert "covid19" not in message  # the reason in words, not the engine's codes
    assert 'id="oi-given_on"' in form
    assert 'aria-describedby="oi-given_on-error"' in form
    assert 'data-testid="oi-error"' in form
    # the form is shown again as posted; the due form above has no error
    assert f'name="given_on" type="date" value="{on.isoformat()}"' in form
    assert 'value="LOT-42"' in form
    assert ("covid19", True, "COVID-19 (on indication)") in options(form, "oi-antigen")
    assert (str(n), True) in [(v, s) for v, s, _ in options(form, "oi-dose_number")]
    assert 'data-testid="entry-error"' not in r.text
    assert r.text.count('data-testid="error-') == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"antigen": "smallpox"}, "antigen"),
        ({"dose_number": "0"}, "dose_number"),
        ({"dose_number": "two"}, "dose_number"),
        ({"vaccine": "bcg"}, "vaccine"),
        ({"vaccine": ""}, "vaccine"),
        ({"site": "left_ear"}, "site"),
        ({"given_on": ""}, "given_on"),
        ({"given_on": "31.02.2021"}, "given_on"),
        ({"expires_on": "2021-02-28"}, "expires_on"),
        ({"given_elsewhere": "1"}, "place"),
        ({"place": "x" * 301}, "place"),
    ],
)
async def test_a_wrong_field_is_named_beside_it(client, adult, change: dict[str, str], field):
    person, nurse = adult
    csrf = await web_login(client, nurse)
    url = f"/patients/{person.id}/immunizations/on-indication"
    r = await client.post(url, data={**dose(csrf, 1, D1), **change})
    assert r.status_code == 422, r.text
    assert field_error(section(r.text), field), section(r.text)
    assert f'aria-describedby="oi-{field}-error"' in section(r.text)
    assert await stored(person.id) == 0


async def test_a_role_without_the_permission_gets_403_and_nothing_is_stored(
    client, adult, make_user
):
    person, nurse = adult
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    url = f"/patients/{person.id}/immunizations/on-indication"
    r = await client.post(url, data=dose(csrf, 1, D1))
    assert r.status_code == 403
    assert await stored(person.id) == 0

    # the nurse without the form's token (CSRF) is refused too
    client.cookies.clear()
    await web_login(client, nurse)
    r = await client.post(url, data={**dose("", 1, D1), "csrf_token": "forged"})
    assert r.status_code == 403
    assert await stored(person.id) == 0


async def test_a_doctor_of_the_family_may_record_and_a_citizen_sees_no_form(
    client, make_facility, make_person, make_user
):
    fac = await make_facility()
    person = await make_person(facility_code=fac.code, birth_date=BORN, sex="male")
    doctor = await make_user("family_doctor", facility_code=fac.code)
    csrf = await web_login(client, doctor)
    url = f"/patients/{person.id}/immunizations"
    r = await client.post(f"{url}/on-indication", data=dose(csrf, 1, D1))
    assert r.status_code == 303, r.text

    client.cookies.clear()
    citizen = await make_user("citizen", person_id=person.id)
    csrf = await web_login(client, citizen)
    page = await client.get(url)
    assert page.status_code == 200, page.text
    assert card_doses(page.text) == [("1", "true", D1.isoformat())]
    assert 'id="on-indication"' not in page.text
    r = await client.post(f"{url}/on-indication", data=dose(csrf, 2, D2))
    assert r.status_code == 403
    assert await stored(person.id) == 1


async def test_an_unknown_person_is_404(client, adult):
    _person, nurse = adult
    csrf = await web_login(client, nurse)
    r = await client.post("/patients/999999999/immunizations/on-indication", data=dose(csrf, 1, D1))
    assert r.status_code == 404


# ---- the page's language -------------------------------------------------------------------


@pytest.fixture
def in_country(monkeypatch):  # type: ignore[no-untyped-def]
    """Serve the next requests as the given country's pack (kk is Kazakhstan's language)."""

    def switch(code: str) -> None:
        monkeypatch.setenv("SALOMAT_COUNTRY", code)
        get_settings.cache_clear()

    yield switch
    monkeypatch.undo()
    get_settings.cache_clear()


#: (country, language, the series' name, "revaccination", the refusal of dose 2 on 14 March)
LANGUAGES = [
    ("UZ", "en", "COVID-19 (on indication)", "revaccination", "too soon after the previous"),
    ("UZ", "uz", "COVID-19 (koʻrsatma boʻyicha)", "revaksinatsiya", "oldingi dozadan keyin"),
    ("UZ", "ru", "COVID-19 (по показаниям)", "ревакцинация", "слишком рано после предыдущей"),
    ("KZ", "kk", "COVID-19 (көрсетілім бойынша)", "ревакцинация", "алдыңғы дозадан кейін"),
    ("KZ", "ru", "COVID-19 (по показаниям)", "ревакцинация", "слишком рано после предыдущей"),
]


@pytest.mark.parametrize(("country", "lang", "series", "revaccination", "refusal"), LANGUAGES)
async def test_the_form_and_its_refusals_are_in_the_pages_language(
    client, in_country, make_facility, make_person, make_user,
    country: str, lang: str, series: str, revaccination: str, refusal: str,
):  # fmt: skip
    in_country(country)
    fac = await make_facility()
    person = await make_person(facility_code=fac.code, birth_date=BORN, sex="female")
    nurse = await make_user("nurse", facility_code=fac.code)
    csrf = await web_login(client, nurse)
    client.cookies.set("salomat_lang", lang)
    url = f"/patients/{person.id}/immunizations"
    for k, day in ((1, D1), (2, D2)):
        r = await client.post(f"{url}/on-indication", data=dose(csrf, k, day))
        assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    form = section(page)
    words = visible_text(form)
    assert findings(form, lang, country=country) == []
    assert not [w for w in words if "covid19" in w or "left_arm" in w]
    assert options(form, "oi-antigen") == [("covid19", True, series)]
    assert options(form, "oi-dose_number")[-1][2].endswith(f"· {revaccination}")
    if lang != "en":  # every word of the form is translated
        catalogue = translations(lang)
        assert [m for m in NEW_MSGIDS if catalogue.gettext(m) == m] == []
        assert not [m for m in NEW_MSGIDS if m in " ".join(words)]
        assert series in page  # the card's table of doses names it too

    # a refused dose: the message in the page's language, beside the date
    r = await client.post(f"{url}/on-indication", data=dose(csrf, 3, date(2021, 9, 1)))
    assert r.status_code == 422, r.text
    message = field_error(section(r.text), "given_on")
    assert message is not None
    assert message.startswith(refusal), message
    r = await client.post(f"{url}/on-indication", data=dose(csrf, 1, TODAY + timedelta(days=1)))
    assert r.status_code == 422
    future = field_error(section(r.text), "given_on")
    assert future == translations(lang).gettext("is in the future")
    assert findings(section(r.text), lang, country=country) == []


async def test_whatever_is_typed_is_stored_or_refused_by_field_never_a_server_error(client, adult):
    """Any value in any of the form's fields (hypothesis): stored (303), refused with a
    message beside a field or above the form (4xx), never a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    typed = st.one_of(
        st.text(max_size=40),
        st.integers(-(10**12), 10**12).map(str),
        st.dates().map(date.isoformat),
        st.sampled_from(["", "covid19", "penta", "left_arm", "1", "3", "99", "100", "on"]),
    )
    names = ("antigen", "dose_number", "given_on", "vaccine", "lot", "expires_on", "site")
    names += ("given_elsewhere", "place")
    examples: list[dict[str, str]] = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(st.dictionaries(st.sampled_from(names), typed, max_size=9))
    def collect(values: dict[str, str]) -> None:
        examples.append(values)

    collect()
    person, nurse = adult
    csrf = await web_login(client, nurse)
    url = f"/patients/{person.id}/immunizations/on-indication"
    for values in examples:
        r = await client.post(url, data={**dose(csrf, 1, D1), **values})
        assert r.status_code < 500, (values, r.text)
        if r.status_code >= 400:
            assert 'data-testid="oi-error"' in r.text, (values, r.status_code)
