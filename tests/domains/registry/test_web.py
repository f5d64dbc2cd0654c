"""The registrar's pages without a browser: forms, field errors, CSRF, permissions, scope."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.country import names
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio

REASON = "brought in unconscious, needs the record now"


async def web_login(client, account) -> str:
    """Logs in through the real form; returns the page's CSRF token."""
    client.cookies.set("salomat_lang", "en")
    form = await client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    r = await client.post(
        "/login",
        data={"username": account.username, "password": account.password, "login_csrf": token},
    )
    assert r.status_code == 303, r.text
    home = await client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)


def some_birth_date() -> date:
    return date(1950, 1, 1) + timedelta(days=secrets.randbelow(365 * 55))


def person_form(csrf: str, facility_code: str | None, **kw: str) -> dict[str, str]:
    born = kw.pop("birth_date", None) or some_birth_date().isoformat()
    sex = kw.pop("sex", "female")
    return {
        "csrf_token": csrf,
        "national_id": national_id_for(date.fromisoformat(born), sex),
        "family_name": unique_name("Ra"),
        "given_name": unique_name("Ma"),
        "patronymic": "",
        "birth_date": born,
        "sex": sex,
        "phone": "",
        "settlement_code": "",
        "attached_facility_code": facility_code or "",
        "section_code": "",
        **kw,
    }


def field_error(html: str, field: str) -> str | None:
    m = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return m.group(1) if m else None


async def stored_with_national_id(national_id: str) -> int:
    from salomat.domains.registry import service

    async with session_factory()() as s:
        return 0 if await service.person_id_by_national_id(s, national_id) is None else 1


async def test_a_registrar_registers_a_patient_and_lands_on_the_card(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    form = await client.get("/patients/new")
    assert form.status_code == 200
    assert f'value="{registrar.facility_code}"' in form.text  # attached to their own by default
    assert "PINFL" in form.text

    data = person_form(csrf, registrar.facility_code, family_name="Каримова", given_name="Зарина")
    r = await client.post("/patients/new", data=data)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/patients/\d+\?registered=1", location)

    card = await client.get(location)
    assert card.status_code == 200
    assert "Каримова Зарина" in card.text
    assert "Karimova Zarina" in card.text  # the other script
    assert data["national_id"] in card.text
    assert 'data-testid="registered"' in card.text
    assert registrar.facility_code in card.text

    versions = await client.get(location.split("?")[0] + "/versions", headers={"HX-Request": "1"})
    assert versions.status_code == 200
    assert 'data-testid="versions"' in versions.text
    assert "<html" not in versions.text  # a partial for htmx


async def test_a_wrong_check_digit_is_shown_next_to_the_id_and_nothing_is_stored(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    data = person_form(csrf, registrar.facility_code)
    good = data["national_id"]
    data["national_id"] = good[:-1] + str((int(good[-1]) + 1) % 10)
    r = await client.post("/patients/new", data=data)
    assert r.status_code == 422
    assert "check digit" in field_error(r.text, "national_id")
    assert field_error(r.text, "birth_date") is None
    assert f'value="{data["family_name"]}"' in r.text  # what was typed stays
    assert await stored_with_national_id(data["national_id"]) == 0


async def test_an_id_contradicting_the_birth_date_marks_both_fields(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    data = person_form(csrf, registrar.facility_code, birth_date="1990-03-04")
    data["birth_date"] = "1990-04-03"
    r = await client.post("/patients/new", data=data)
    assert r.status_code == 422
    assert "04.03.1990" in field_error(r.text, "national_id")
    assert "does not match" in field_error(r.text, "birth_date")
    assert await stored_with_national_id(data["national_id"]) == 0

    data = person_form(csrf, registrar.facility_code, sex="male")
    data["sex"] = "female"
    r = await client.post("/patients/new", data=data)
    assert r.status_code == 422
    assert field_error(r.text, "national_id")
    assert field_error(r.text, "sex")


async def test_missing_fields_are_named_one_by_one(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    r = await client.post("/patients/new", data={"csrf_token": csrf, "family_name": "Ali2"})
    assert r.status_code == 422
    for field in ("given_name", "birth_date", "sex"):
        assert field_error(r.text, field), field
    assert 'aria-invalid="true"' in r.text


async def test_without_the_csrf_token_nothing_is_registered(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    data = person_form(csrf, registrar.facility_code)
    del data["csrf_token"]
    r = await client.post("/patients/new", data=data)
    assert r.status_code == 403
    assert 'data-testid="error"' in r.text
    r = await client.post("/patients/new", data={**data, "csrf_token": "forged"})
    assert r.status_code == 403
    assert await stored_with_national_id(data["national_id"]) == 0


async def test_the_latin_spelling_of_a_cyrillic_name_is_a_duplicate_candidate(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    latin_family, latin_given = unique_name("Yu"), unique_name("Di")
    born = some_birth_date().isoformat()
    cyrillic = person_form(
        csrf,
        registrar.facility_code,
        family_name=names.latn_to_cyrl(latin_family, "UZ"),
        given_name=names.latn_to_cyrl(latin_given, "UZ"),
        birth_date=born,
        national_id="",
    )
    first = await client.post("/patients/new", data=cyrillic)
    assert first.status_code == 303, first.text
    first_id = int(re.search(r"/patients/(\d+)", first.headers["location"]).group(1))

    latin = {**cyrillic, "family_name": latin_family, "given_name": latin_given}
    r = await client.post("/patients/new", data=latin)
    assert r.status_code == 409
    assert 'data-testid="candidates"' in r.text
    assert f'href="/patients/{first_id}"' in r.text
    assert "written in the other script" in r.text
    assert "same birth date" in r.text
    assert 'data-testid="register-anyway"' in r.text

    too_short = await client.post("/patients/new", data={**latin, "duplicate_reason": "twin"})
    assert too_short.status_code == 422
    assert field_error(too_short.text, "duplicate_reason")
    assert f'href="/patients/{first_id}"' in too_short.text  # the candidates stay in view

    anyway = await client.post(
        "/patients/new", data={**latin, "duplicate_reason": "twin sister, seen both at once"}
    )
    assert anyway.status_code == 303, anyway.text
    assert anyway.headers["location"] != first.headers["location"]


async def test_a_taken_national_id_links_to_the_existing_record(client, make_user):
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    data = person_form(csrf, registrar.facility_code)
    first = await client.post("/patients/new", data=data)
    assert first.status_code == 303
    again = await client.post(
        "/patients/new", data={**data, "family_name": unique_name("Ot"), "given_name": "Bek"}
    )
    assert again.status_code == 409
    assert 'data-testid="existing-record"' in again.text
    assert field_error(again.text, "national_id") == "already registered"


async def test_search_by_id_and_by_name_in_the_other_script(client, make_user, make_person):
    registrar = await make_user("registrar")
    born = some_birth_date()
    family = unique_name("To")
    person = await make_person(
        registrar.facility_code,
        family_name=names.latn_to_cyrl(family, "UZ"),
        given_name="Дилноза",
        birth_date=born,
        national_id=national_id_for(born, "female"),
    )
    await web_login(client, registrar)
    by_id = await client.get("/patients", params={"national_id": person.national_id})
    assert by_id.status_code == 200
    assert f'href="/patients/{person.id}"' in by_id.text

    by_name = await client.get(
        "/patients", params={"name": f"{family} Dilnoza", "birth_date": born.isoformat()}
    )
    assert by_name.status_code == 200
    assert f'href="/patients/{person.id}"' in by_name.text

    nothing = await client.get("/patients", params={"birth_date": born.isoformat()})
    assert nothing.status_code == 422
    assert field_error(nothing.text, "name")
    # htmx swaps only 2xx answers: the same message comes back as 200 to it
    swap = await client.get(
        "/patients", params={"birth_date": born.isoformat()}, headers={"HX-Request": "true"}
    )
    assert swap.status_code == 200
    assert field_error(swap.text, "name")


async def test_a_pharmacist_cannot_reach_the_patient_pages(client, make_user, make_person):
    pharmacist = await make_user("pharmacist")
    person = await make_person()
    await web_login(client, pharmacist)
    home = await client.get("/")
    assert 'href="/patients"' not in home.text
    assert 'href="/facilities"' in home.text  # staff may read the facility list
    for path in ("/patients", "/patients/new", f"/patients/{person.id}"):
        r = await client.get(path)
        assert r.status_code == 403, path
    assert (await client.get("/break-glass")).status_code == 403


async def test_a_nurse_searches_but_does_not_register(client, make_user):
    nurse = await make_user("nurse")
    csrf = await web_login(client, nurse)
    page = await client.get("/patients")
    assert page.status_code == 200
    assert 'data-testid="register-new"' not in page.text
    assert (await client.get("/patients/new")).status_code == 403
    r = await client.post("/patients/new", data=person_form(csrf, nurse.facility_code))
    assert r.status_code == 403


async def test_a_clinician_elsewhere_gets_404_then_breaks_the_glass(client, make_user, make_person):
    home = await make_user("family_doctor")
    born = some_birth_date()
    person = await make_person(
        home.facility_code, birth_date=born, national_id=national_id_for(born, "female")
    )
    doctor = await make_user("family_doctor")
    csrf = await web_login(client, doctor)

    card = await client.get(f"/patients/{person.id}")
    assert card.status_code == 404
    assert 'data-testid="error"' in card.text
    assert (await client.get("/patients/999999999")).status_code == 404  # the same answer

    search = await client.get("/patients", params={"national_id": person.national_id})
    assert search.status_code == 200
    assert 'data-testid="no-results"' in search.text
    assert f"/break-glass?national_id={person.national_id}" in search.text

    form = await client.get("/break-glass", params={"national_id": person.national_id})
    assert form.status_code == 200
    assert f'value="{person.national_id}"' in form.text

    short = await client.post(
        "/break-glass",
        data={"csrf_token": csrf, "national_id": person.national_id, "reason": "urgent"},
    )
    assert short.status_code == 422
    assert field_error(short.text, "reason")
    assert (await client.get(f"/patients/{person.id}")).status_code == 404  # nothing opened

    unknown = await client.post(
        "/break-glass", data={"csrf_token": csrf, "national_id": "1" * 14, "reason": REASON}
    )
    assert unknown.status_code == 422
    assert field_error(unknown.text, "national_id")

    no_csrf = await client.post(
        "/break-glass", data={"national_id": person.national_id, "reason": REASON}
    )
    assert no_csrf.status_code == 403

    r = await client.post(
        "/break-glass",
        data={"csrf_token": csrf, "national_id": person.national_id, "reason": REASON},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/patients/{person.id}"
    card = await client.get(f"/patients/{person.id}")
    assert card.status_code == 200
    assert person.family_name in card.text

    async with session_factory()() as s:
        rows = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.patient_id == person.id,
                    AuditEvent.username == doctor.username,
                    AuditEvent.action == "read",
                    AuditEvent.outcome == "success",
                )
            )
        ).all()
    assert rows
    assert all(row.break_glass for row in rows)
    assert any(REASON in (row.purpose or "") for row in rows)


async def test_a_registrar_cannot_break_the_glass(client, make_user):
    registrar = await make_user("registrar")
    await web_login(client, registrar)
    assert (await client.get("/break-glass")).status_code == 403


async def test_attach_with_a_stale_version_is_refused(
    client, make_user, make_person, make_facility
):
    registrar = await make_user("registrar")
    person = await make_person()  # not attached anywhere yet
    other = await make_facility()
    csrf = await web_login(client, registrar)
    card = await client.get(f"/patients/{person.id}")
    assert 'data-testid="no-attachments"' in card.text
    assert 'data-testid="attach-form"' in card.text
    version = re.search(r'name="version" value="(\d+)"', card.text).group(1)

    stale = await client.post(
        f"/patients/{person.id}/attach",
        data={"csrf_token": csrf, "version": str(int(version) - 1), "facility_code": other.code},
    )
    assert stale.status_code == 412
    assert 'data-testid="attach-error"' in stale.text

    wrong = await client.post(
        f"/patients/{person.id}/attach",
        data={"csrf_token": csrf, "version": version, "facility_code": "NO-SUCH"},
    )
    assert wrong.status_code == 422
    assert field_error(wrong.text, "facility_code")

    ok = await client.post(
        f"/patients/{person.id}/attach",
        data={
            "csrf_token": csrf,
            "version": version,
            "facility_code": other.code,
            "reason": "moved house",
        },
    )
    assert ok.status_code == 303, ok.text
    card = await client.get(f"/patients/{person.id}")
    assert f"{other.code} · Test polyclinic" in card.text
    assert "moved house" in card.text

    version = re.search(r'name="version" value="(\d+)"', card.text).group(1)
    same_day = await client.post(
        f"/patients/{person.id}/attach",
        data={"csrf_token": csrf, "version": version, "facility_code": registrar.facility_code},
    )
    assert same_day.status_code == 422
    assert "must be after" in field_error(same_day.text, "start_on")


async def test_a_death_is_registered_from_the_card(client, make_user, make_person, login):
    registrar = await make_user("registrar")
    person = await make_person(registrar.facility_code)
    csrf = await web_login(client, registrar)
    card = await client.get(f"/patients/{person.id}")
    version = re.search(r'name="version" value="(\d+)"', card.text).group(1)
    bad = await client.post(
        f"/patients/{person.id}/death",
        data={"csrf_token": csrf, "version": version, "deceased_on": "2024-01-10", "cause": "I21"},
    )
    assert bad.status_code == 422
    assert "subcategories" in field_error(bad.text, "cause")
    # the certificate's other lines, typed as one list: a wrong one is named there
    other = await client.post(
        f"/patients/{person.id}/death",
        data={"csrf_token": csrf, "version": version, "deceased_on": "2024-01-10",
              "cause": "I21.9", "other_causes": "I10, X99.99"},
    )  # fmt: skip
    assert other.status_code == 422
    assert "X99.99" in field_error(other.text, "other_causes")
    ok = await client.post(
        f"/patients/{person.id}/death",
        data={
            "csrf_token": csrf,
            "version": version,
            "deceased_on": "2024-01-10",
            "cause": "I21.9",
            "other_causes": "I10; E11.9",
        },
    )
    assert ok.status_code == 303, ok.text
    card = await client.get(f"/patients/{person.id}")
    assert 'data-testid="deceased"' in card.text
    assert "10.01.2024" in card.text
    assert 'data-testid="death-form"' not in card.text
    r = await client.get(f"/api/v1/persons/{person.id}", headers=await login(registrar))
    assert r.json()["death_other_causes"] == ["I10", "E11.9"]


async def test_the_facility_list_shows_type_level_place_and_status(
    client, db, make_user, make_place
):
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    place = await make_place()
    fac = await service.create_facility(
        db,
        FacilityIn(
            code=f"A{secrets.token_hex(4)}",  # sorts before the F... codes of the fixtures
            name="Samarkand perinatal centre",
            names={"ru": "Самаркандский перинатальный центр"},
            kind="perinatal_centre",
            perinatal_level=3,
            settlement_code=place.settlement,
        ),
    )
    await db.commit()
    analyst = await make_user("analyst")
    await web_login(client, analyst)
    page = await client.get("/facilities")
    assert page.status_code == 200
    row = re.search(rf'data-testid="facility-{fac.code}">(.*?)</tr>', page.text, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells[:5] == [
        fac.code,
        "Samarkand perinatal centre",
        "Perinatal centre",
        "3",
        place.settlement,
    ]
    assert cells[-1] == "open"

    client.cookies.set("salomat_lang", "ru")
    page = await client.get("/facilities")
    row = re.search(rf'data-testid="facility-{fac.code}">(.*?)</tr>', page.text, re.S).group(1)
    assert "Самаркандский перинатальный центр" in row
    assert "Перинатальный центр" in row
    assert "работает" in row


async def test_registration_with_a_settlement(client, make_user, make_place):
    place = await make_place()
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    options = await client.get(
        "/patients/new/settlements",
        params={"settlement_code": place.settlement},
        headers={"HX-Request": "true"},
    )
    assert options.status_code == 200
    assert f'<option value="{place.settlement}">Village</option>' in options.text

    wrong = await client.post(
        "/patients/new", data=person_form(csrf, None, settlement_code=place.district)
    )
    assert wrong.status_code == 422
    assert "not a settlement" in field_error(wrong.text, "settlement_code")

    r = await client.post(
        "/patients/new", data=person_form(csrf, None, settlement_code=place.settlement)
    )
    assert r.status_code == 303, r.text
    card = await client.get(r.headers["location"])
    assert place.settlement in card.text
    assert "not attached" in card.text
