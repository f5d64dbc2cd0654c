"""The clinics' reporting forms without a browser (issue 23, items 1 and 2): a clinician's
case notification saved through the service (read back through the REST API), each
refusal beside the field the service names (onset = report accepted, report + 1 refused),
the saved notification's page with names, a hospital's daily bed report (occupied = beds
accepted, beds + 1 refused; all profiles or none), the registration of beds, who may open
the forms, and the pages in uz, ru and kk."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import i18n
from salomat.domains.epidemic.service.notifications import today
from tests.domains.registry.test_web import field_error, web_login
from tests.factories import token_for as token
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

API = "/api/v1/epidemic"
NOTIFY = "/epidemic/notify"
BEDS = "/epidemic/beds"
#: the test territory's and facilities' own names (data, not words of the page)
DATA = frozenset({"Region", "District", "Village", "Test polyclinic"})


@dataclass
class Clinic:
    place: Any
    person: Any
    doctor: Any
    auth: dict[str, str]
    epi_auth: dict[str, str]


@pytest.fixture
async def clinic(make_place, make_facility, make_person, make_user, login) -> Clinic:  # type: ignore[no-untyped-def]
    place = await make_place()
    fac = await make_facility()
    person = await make_person(
        facility_code=fac.code, settlement_code=place.settlement, birth_date=date(2015, 3, 1)
    )
    doctor = await make_user("family_doctor", facility_code=fac.code)
    epi = await make_user("epidemiologist")
    return Clinic(place, person, doctor, await login(doctor), await login(epi))


def notification(csrf: str, clinic: Clinic, **kw: str) -> dict[str, str]:
    day = today() - timedelta(days=3)
    form = {
        "csrf_token": csrf,
        "person_id": str(clinic.person.id),
        "icd10": "B05",
        "onset_date": (day - timedelta(days=2)).isoformat(),
        "report_date": day.isoformat(),
        "district": clinic.place.district,
        "lab_facility": "",
        "admission_date": "",
    }
    form.update(kw)
    return {k: v for k, v in form.items() if v is not None}


async def stored(client, clinic: Clinic) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"{API}/notifications", params={"district": clinic.place.district}, headers=clinic.epi_auth
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def saved_id(r) -> int:  # type: ignore[no-untyped-def]
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/epidemic/notifications/(\d+)\?saved=1", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


# ---- the case notification --------------------------------------------------------------


async def test_the_form_names_the_patient_and_saves_through_the_service(client, clinic):
    csrf = await web_login(client, clinic.doctor)
    # the patient's card leads to the form for that patient
    card = await client.get(f"/patients/{clinic.person.id}")
    assert f'href="{NOTIFY}?person={clinic.person.id}"' in card.text
    page = await client.get(NOTIFY, params={"person": clinic.person.id})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert f"{clinic.person.family_name} {clinic.person.given_name}" in text
    # diseases by name (the pack's notifiable list), the value the ICD-10 code
    assert '<option value="B05">Measles</option>' in text
    # the patient's district first, the report date the country's today
    assert f'<option value="{clinic.place.district}" selected>District</option>' in text
    assert f'value="{today().isoformat()}"' in text
    assert 'name="csrf_token"' in page.text

    day = today() - timedelta(days=3)
    r = await client.post(
        NOTIFY,
        data=notification(
            csrf, clinic, hospitalised="1", admission_date=day.isoformat(), lab_confirmed="1",
            lab_facility=clinic.doctor.facility_code,
        ),
    )  # fmt: skip
    nid = saved_id(r)
    # the REST read gives the same notification, entered by the user's facility
    rest = await client.get(f"{API}/notifications/{nid}", headers=clinic.auth)
    assert rest.status_code == 200, rest.text
    body = rest.json()
    assert body["person_id"] == clinic.person.id
    assert body["icd10"] == "B05"
    assert body["district"] == clinic.place.district
    assert body["reporting_facility"] == clinic.doctor.facility_code
    assert body["hospitalised"] is True
    assert body["admission_date"] == day.isoformat()
    assert body["lab_confirmed"] is True
    assert body["lab_facility"] == clinic.doctor.facility_code
    assert body["onset_date"] == (day - timedelta(days=2)).isoformat()

    shown = await client.get(r.headers["location"])
    assert shown.status_code == 200
    text = html.unescape(shown.text)
    assert 'data-testid="epi-saved"' in text
    assert "Measles" in text
    assert "District · Region" in text  # the district's and region's names
    assert "Test polyclinic" in text  # the facility's name, not its code
    assert day.strftime("%d.%m.%Y") in text
    assert f"{clinic.person.family_name} {clinic.person.given_name}" in text


async def test_onset_on_the_report_day_is_accepted_a_day_after_refused(client, clinic):
    csrf = await web_login(client, clinic.doctor)
    day = today() - timedelta(days=1)
    before = len(await stored(client, clinic))
    r = await client.post(
        NOTIFY,
        data=notification(
            csrf,
            clinic,
            onset_date=(day + timedelta(days=1)).isoformat(),
            report_date=day.isoformat(),
        ),
    )
    assert r.status_code == 422
    assert field_error(r.text, "onset_date") == "The onset date may not be after the report date"
    assert 'data-testid="form-error"' in r.text
    # what was typed stays, the disease still chosen
    assert '<option value="B05" selected>' in r.text
    assert len(await stored(client, clinic)) == before

    r = await client.post(
        NOTIFY,
        data=notification(csrf, clinic, onset_date=day.isoformat(), report_date=day.isoformat()),
    )
    saved_id(r)
    assert len(await stored(client, clinic)) == before + 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"onset_date": "2015-02-28"}, "onset_date", "The onset date is before the person's birth"),
        ({"district": "NO-SUCH-D"}, "district", "Unknown district: NO-SUCH-D"),
        (
            {"admission_date": "2026-01-01"},
            "admission_date",
            "An admission date needs hospitalised",
        ),
        ({"lab_facility": "NO-LAB"}, "lab_facility", "A laboratory is given only for a laboratory"),
        (
            {"lab_confirmed": "1", "lab_facility": "NO-LAB"},
            "lab_facility",
            "Unknown facility: NO-LAB",
        ),
        ({"icd10": "J06"}, "icd10", "J06 is not a notifiable disease"),
        ({"icd10": ""}, "icd10", ""),
        ({"onset_date": "not a day"}, "onset_date", ""),
    ],
)
async def test_each_refusal_is_shown_beside_its_field(client, clinic, change, field, message):
    csrf = await web_login(client, clinic.doctor)
    before = len(await stored(client, clinic))
    r = await client.post(NOTIFY, data=notification(csrf, clinic, **change))
    assert r.status_code == 422, r.text
    shown = field_error(r.text, field)
    assert shown is not None, r.text
    assert html.unescape(shown).startswith(message)
    assert len(await stored(client, clinic)) == before


async def test_a_report_date_in_the_future_is_refused(client, clinic):
    csrf = await web_login(client, clinic.doctor)
    tomorrow = today() + timedelta(days=1)
    r = await client.post(NOTIFY, data=notification(csrf, clinic, report_date=tomorrow.isoformat()))
    assert r.status_code == 422
    assert field_error(r.text, "report_date").startswith("The report date")
    # today itself is accepted
    r = await client.post(NOTIFY, data=notification(csrf, clinic, report_date=today().isoformat()))
    saved_id(r)


async def test_the_patient_is_found_by_name_and_out_of_scope_is_missing(
    client, clinic, make_person
):
    await web_login(client, clinic.doctor)
    page = await client.get(NOTIFY, params={"name": clinic.person.family_name})
    assert page.status_code == 200
    assert f'href="/epidemic/notify?person={clinic.person.id}"' in page.text
    stranger = await make_person()  # attached nowhere: outside the doctor's scope
    assert (await client.get(NOTIFY, params={"person": stranger.id})).status_code == 404
    # "²" and "①" are digits to str.isdigit() and not to int(): refused, not a 500
    for junk in ("abc", "0", "-1", "99999999999999999999999", "²", "1①"):
        r = await client.get(NOTIFY, params={"person": junk})
        assert r.status_code == 422, junk
        assert 'data-testid="error-person"' in r.text


async def test_the_notification_page_is_read_as_the_rest_read(client, clinic, make_user, login):
    csrf = await web_login(client, clinic.doctor)
    nid = saved_id(await client.post(NOTIFY, data=notification(csrf, clinic)))
    client.cookies.clear()
    # another facility's doctor: as a missing one
    other = await make_user("family_doctor")
    await web_login(client, other)
    assert (await client.get(f"/epidemic/notifications/{nid}")).status_code == 404
    client.cookies.clear()
    epi = await make_user("epidemiologist")
    await web_login(client, epi)
    page = await client.get(f"/epidemic/notifications/{nid}")
    assert page.status_code == 200
    assert "Measles" in page.text
    assert 'data-testid="epi-saved"' not in page.text


async def test_a_role_without_the_permissions_is_refused(client, make_user, clinic):
    pharmacist = await make_user("pharmacist")
    csrf = await web_login(client, pharmacist)
    for path in (NOTIFY, BEDS):
        assert (await client.get(path)).status_code == 403, path
    r = await client.post(NOTIFY, data=notification(csrf, clinic))
    assert r.status_code == 403
    for path in (f"{BEDS}/occupancy", f"{BEDS}/register"):
        assert (await client.post(path, data={"csrf_token": csrf})).status_code == 403, path
    # the menu offers neither form
    home = await client.get("/")
    assert f'href="{NOTIFY}"' not in home.text
    assert f'href="{BEDS}"' not in home.text


async def test_a_post_without_the_csrf_token_is_refused(client, clinic):
    await web_login(client, clinic.doctor)
    data = notification("", clinic)
    del data["csrf_token"]
    r = await client.post(NOTIFY, data=data)
    assert r.status_code == 403
    assert await stored(client, clinic) == []


# ---- the hospital's beds -------------------------------------------------------------------


@dataclass
class Hospital:
    nurse: Any
    auth: dict[str, str]
    csrf: str
    day: date


@pytest.fixture
async def hospital(client, make_user, login) -> Hospital:  # type: ignore[no-untyped-def]
    nurse = await make_user("nurse")
    csrf = await web_login(client, nurse)
    return Hospital(nurse, await login(nurse), csrf, today() - timedelta(days=1))


async def rest_day(client, h: Hospital, day: date) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"{API}/occupancy",
        params={"day": day.isoformat(), "facility": h.nurse.facility_code},
        headers=h.auth,
    )
    assert r.status_code == 200, r.text
    return {p["profile"]: p for p in r.json()["profiles"]}


async def register(client, h: Hospital, profile: str, beds: str, valid_from: date):  # type: ignore[no-untyped-def]
    return await client.post(
        f"{BEDS}/register",
        data={
            "csrf_token": h.csrf,
            "profile": profile,
            "beds": beds,
            "valid_from": valid_from.isoformat(),
        },
    )


def occupancy(h: Hospital, **rows: tuple[str, str, str]) -> dict[str, str]:
    data = {"csrf_token": h.csrf, "day": h.day.isoformat()}
    for profile, (occupied, admitted, discharged) in rows.items():
        data[f"{profile}.occupied"] = occupied
        data[f"{profile}.admitted"] = admitted
        data[f"{profile}.discharged"] = discharged
    return data


async def test_beds_registered_and_the_day_reported_at_the_boundary(client, hospital):
    h = hospital
    r = await register(client, h, "infectious", "40", h.day - timedelta(days=10))
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{BEDS}?saved=beds")
    assert (await rest_day(client, h, h.day))["infectious"]["beds"] == 40

    page = await client.get(BEDS, params={"day": h.day.isoformat()})
    assert page.status_code == 200
    rows = re.findall(r'data-testid="occ-row" data-profile="([a-z]+)"', page.text)
    assert rows == ["infectious", "icu", "general"]  # every profile of the pack, by name
    assert "Infectious diseases beds" in page.text
    assert "Intensive care beds" in page.text
    assert 'name="infectious.occupied"' in page.text
    assert 'name="icu.occupied"' not in page.text  # no icu beds registered: nothing to report

    # one above the beds: refused beside the field, nothing stored
    r = await client.post(f"{BEDS}/occupancy", data=occupancy(h, infectious=("41", "3", "2")))
    assert r.status_code == 422
    assert field_error(r.text, "infectious.occupied") == (
        "41 occupied is more than the 40 beds registered"
    )
    assert (await rest_day(client, h, h.day))["infectious"]["occupied"] == 0
    # at the beds: stored
    r = await client.post(f"{BEDS}/occupancy", data=occupancy(h, infectious=("40", "3", "2")))
    assert r.status_code == 303, r.text
    got = (await rest_day(client, h, h.day))["infectious"]
    assert (got["occupied"], got["admitted"], got["discharged"]) == (40, 3, 2)
    page = await client.get(r.headers["location"])
    assert 'data-testid="epi-saved"' in page.text
    assert 'value="40"' in page.text  # the day's report shown again
    # the last 14 days, today first; the reported day reads "40 of 40"
    days = re.findall(r'data-testid="hist-row" data-day="([0-9-]+)"', page.text)
    assert days == [(today() - timedelta(days=i)).isoformat() for i in range(14)]
    assert "40 of 40" in page.text


async def test_all_profiles_or_none(client, hospital):
    h = hospital
    start = h.day - timedelta(days=5)
    assert (await register(client, h, "infectious", "40", start)).status_code == 303
    assert (await register(client, h, "icu", "10", start)).status_code == 303
    # the icu row refused: the infectious row is not stored either
    r = await client.post(
        f"{BEDS}/occupancy", data=occupancy(h, infectious=("5", "1", "0"), icu=("11", "0", "0"))
    )
    assert r.status_code == 422
    assert field_error(r.text, "icu.occupied").startswith("11 occupied is more than the 10")
    assert field_error(r.text, "infectious.occupied") is None
    assert (await rest_day(client, h, h.day))["infectious"]["occupied"] == 0
    # a row left blank is refused too (a day's report covers every profile with beds)
    r = await client.post(
        f"{BEDS}/occupancy", data=occupancy(h, infectious=("5", "1", "0"), icu=("", "", ""))
    )
    assert r.status_code == 422
    assert field_error(r.text, "icu.occupied") == "Give a number"
    # negative counts, named each
    r = await client.post(
        f"{BEDS}/occupancy", data=occupancy(h, infectious=("5", "-1", "0"), icu=("-2", "0", "0"))
    )
    assert r.status_code == 422
    assert field_error(r.text, "infectious.admitted") == "A count may not be negative"
    assert field_error(r.text, "icu.occupied") == "A count may not be negative"
    r = await client.post(
        f"{BEDS}/occupancy", data=occupancy(h, infectious=("5", "1", "0"), icu=("10", "2", "1"))
    )
    assert r.status_code == 303, r.text
    day = await rest_day(client, h, h.day)
    assert (day["infectious"]["occupied"], day["icu"]["occupied"]) == (5, 10)


async def test_bed_registration_refusals_beside_the_field(client, hospital):
    h = hospital
    r = await register(client, h, "infectious", "-1", h.day)
    assert r.status_code == 422
    assert field_error(r.text, "beds") == "A count may not be negative"
    r = await register(client, h, "wards", "5", h.day)
    assert r.status_code == 422
    assert field_error(r.text, "profile").startswith("Unknown bed profile: wards")
    r = await register(client, h, "infectious", "many", h.day)
    assert r.status_code == 422
    assert field_error(r.text, "beds") == "is not a whole number"
    r = await register(client, h, "infectious", "5", h.day)
    r = await client.post(
        f"{BEDS}/register",
        data={"csrf_token": h.csrf, "profile": "icu", "beds": "3", "valid_from": ""},
    )
    assert r.status_code == 422
    assert field_error(r.text, "valid_from") == "Give a date"
    # a day in the future is refused for occupancy, named on the page
    future = today() + timedelta(days=1)
    data = occupancy(h, infectious=("1", "0", "0"))
    data["day"] = future.isoformat()
    r = await client.post(f"{BEDS}/occupancy", data=data)
    assert r.status_code == 422
    assert re.search(r'data-field="infectious\.day"', r.text) or "is in the future" in r.text


async def test_the_admin_chooses_the_facility(client, make_user, make_facility):
    hosp = await make_facility("district_hospital")
    admin = await make_user("admin")
    csrf = await web_login(client, admin)
    page = await client.get(BEDS)
    assert page.status_code == 200
    assert 'data-testid="epi-beds-choose"' in page.text
    assert 'data-testid="epi-occupancy-form"' not in page.text
    r = await client.post(
        f"{BEDS}/register",
        data={
            "csrf_token": csrf,
            "facility": hosp.code,
            "profile": "general",
            "beds": "120",
            "valid_from": today().isoformat(),
        },
    )
    assert r.status_code == 303, r.text
    assert f"facility={hosp.code}" in r.headers["location"]
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert "120" in page.text
    r = await client.post(
        f"{BEDS}/occupancy",
        data={
            "csrf_token": csrf,
            "facility": hosp.code,
            "day": today().isoformat(),
            "general.occupied": "100",
            "general.admitted": "9",
            "general.discharged": "7",
        },
    )
    assert r.status_code == 303, r.text
    # an unknown facility is named, not a server error
    r = await client.get(BEDS, params={"facility": "NO-SUCH-F"})
    assert r.status_code == 422
    assert "Unknown facility: NO-SUCH-F" in html.unescape(r.text)


async def test_junk_never_gives_a_server_error(client, hospital):
    for params in ({"day": "x"}, {"day": "2026-13-40"}, {"facility": "\u00e9" * 40}):
        r = await client.get(BEDS, params=params)
        assert r.status_code in (200, 422), params
    r = await client.post(f"{BEDS}/occupancy", data={"csrf_token": hospital.csrf, "day": "x"})
    assert r.status_code == 422
    r = await client.post(
        f"{BEDS}/register",
        data={
            "csrf_token": hospital.csrf,
            "profile": "x" * 100,
            "beds": "9" * 30,
            "valid_from": "y",
        },
    )
    assert r.status_code == 422


# ---- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_every_page_in_the_language_without_english(client, clinic, make_user, lang):
    csrf = await web_login(client, clinic.doctor)
    client.cookies.set("salomat_lang", lang)
    tr = i18n.translations(lang).gettext
    form = await client.get(NOTIFY, params={"person": clinic.person.id})
    search = await client.get(NOTIFY, params={"name": clinic.person.family_name})
    day = today() - timedelta(days=1)
    refused = await client.post(
        NOTIFY,
        data=notification(
            csrf,
            clinic,
            onset_date=(day + timedelta(days=1)).isoformat(),
            report_date=day.isoformat(),
        ),
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "onset_date") == html.escape(
        tr("The onset date may not be after the report date"), quote=False
    ).replace("'", "&#39;")
    r = await client.post(NOTIFY, data=notification(csrf, clinic))
    read = await client.get(r.headers["location"])
    client.cookies.clear()
    nurse = await make_user("nurse")
    ncsrf = await web_login(client, nurse)
    client.cookies.set("salomat_lang", lang)
    await client.post(
        f"{BEDS}/register",
        data={"csrf_token": ncsrf, "profile": "icu", "beds": "1200", "valid_from": day.isoformat()},
    )
    beds = await client.get(BEDS)
    over = await client.post(
        f"{BEDS}/occupancy",
        data={"csrf_token": ncsrf, "day": today().isoformat(), "icu.occupied": "1201",
              "icu.admitted": "0", "icu.discharged": "0"},
    )  # fmt: skip
    assert over.status_code == 422
    for page in (form, search, refused, read, beds, over):
        assert page.status_code in (200, 422), page.url
        assert f'<html lang="{lang}"' in page.text, page.url
        assert findings(page.text, lang, data=DATA, country="UZ") == [], page.url
    for msgid in ("Notify an infectious disease", "Onset date", "District of residence"):
        assert tr(msgid) in html.unescape(form.text), msgid
    for msgid in ("Hospital beds report", "Register beds", "The last 14 days"):
        assert tr(msgid) in html.unescape(beds.text), msgid
    # names from the pack in the page's language
    from salomat.domains.epidemic.service import rules

    measles = rules.notifiable("UZ").match("B05")
    assert measles.name(lang) in html.unescape(read.text)
    icu = rules.bed_profiles("UZ")[1]
    assert icu.name(lang) in html.unescape(beds.text)
    # numbers as the language writes them: 1 200 with its grouping, not "1200"
    from babel.numbers import format_decimal

    assert format_decimal(1200, locale=i18n.babel_locale(lang)) in beds.text


async def test_any_typed_values_are_refused_by_field_never_a_server_error(client, clinic):
    """Whatever is typed in the forms' fields (hypothesis): stored, or refused with a
    message beside a field or above the form, never a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    typed = st.one_of(
        st.text(max_size=40),
        st.integers(-(10**12), 10**12).map(str),
        st.dates().map(date.isoformat),
        st.sampled_from(["", "B05", "U07.1", "A01.0", clinic.place.district, "1", "on"]),
    )
    notify_fields = (
        *("icd10", "onset_date", "report_date", "district", "lab_confirmed"),
        *("lab_facility", "hospitalised", "admission_date", "reporting_facility"),
    )
    bed_fields = ("day", "infectious.occupied", "icu.occupied", "profile", "beds", "valid_from")
    examples: list[tuple[str, dict[str, str]]] = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(
        st.sampled_from([NOTIFY, f"{BEDS}/occupancy", f"{BEDS}/register"]),
        st.dictionaries(st.sampled_from(notify_fields + bed_fields), typed, max_size=8),
    )
    def collect(path: str, values: dict[str, str]) -> None:
        examples.append((path, values))

    collect()
    csrf = await web_login(client, clinic.doctor)
    for path, values in examples:
        data = {"csrf_token": csrf, "person_id": str(clinic.person.id), **values}
        r = await client.post(path, data=data)
        assert r.status_code < 500, (path, values, r.text)
        if r.status_code == 422:  # beside a field, or the error page naming it (a NUL)
            assert 'class="alert error"' in r.text or 'data-testid="error"' in r.text


async def test_the_laboratory_is_suggested_among_the_facilities_of_the_region(
    client, db, make_place, make_person, make_user
):
    from tests.domains.maternal.test_referrals import facility

    place, elsewhere = await make_place(), await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    lab = await facility(db, "district_hospital", place.settlement)
    far = await facility(db, "district_hospital", elsewhere.settlement)
    person = await make_person(facility_code=poly.code, settlement_code=place.settlement)
    doctor = await make_user("family_doctor", facility_code=poly.code)
    csrf = await web_login(client, doctor)
    page = await client.get(NOTIFY, params={"person": person.id})
    suggestions = page.text.split('<datalist id="n-facilities">', 1)[1].split("</datalist>")[0]
    assert f'<option value="{lab.code}">district_hospital</option>' in suggestions
    assert far.code not in suggestions
    day = today() - timedelta(days=1)
    r = await client.post(
        NOTIFY,
        data={
            "csrf_token": csrf, "person_id": str(person.id), "icd10": "U07.1",
            "onset_date": day.isoformat(), "report_date": day.isoformat(),
            "district": place.district, "lab_confirmed": "1", "lab_facility": far.code,
        },
    )  # fmt: skip
    nid = saved_id(r)  # a laboratory of another region may still be typed
    rest = await client.get(f"{API}/notifications/{nid}", headers=await token(client, doctor))
    assert rest.json()["lab_facility"] == far.code
