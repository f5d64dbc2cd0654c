"""The person index through the REST API: identity checks, both scripts, duplicates, scope."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.domains.registry.models import Person
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio
BIRTH = date(1990, 8, 12)


def person(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "family_name": unique_name("Ra"),
        "given_name": unique_name("Zu"),
        "birth_date": BIRTH.isoformat(),
        "sex": "male",
    }
    data.update(kw)
    return data


async def count_named(family_name: str) -> int:
    async with session_factory()() as s:
        q = select(func.count()).select_from(Person).where(Person.family_name == family_name)
        return int((await s.execute(q)).scalar_one())


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


# ---- the national id -----------------------------------------------------------------------


async def test_a_valid_pinfl_matching_the_form_is_registered(client, registrar):
    nid = national_id_for(BIRTH, "male")
    r = await client.post("/api/v1/persons", json=person(national_id=nid), headers=registrar)
    assert r.status_code == 201, r.text
    assert r.json()["national_id"] == nid
    assert r.headers["etag"] == 'W/"1"'


async def test_a_wrong_check_digit_is_refused_and_nothing_is_stored(client, registrar):
    nid = national_id_for(BIRTH, "male")
    wrong = nid[:-1] + str((int(nid[-1]) + 1) % 10)
    data = person(national_id=wrong)
    r = await client.post("/api/v1/persons", json=data, headers=registrar)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["national_id"]
    assert "check digit" in errors[0]["message"]
    assert "PINFL" in errors[0]["message"]
    assert await count_named(str(data["family_name"])) == 0


@pytest.mark.parametrize(
    ("form", "other_field"),
    [({"birth_date": "1990-08-13"}, "birth_date"), ({"sex": "female"}, "sex")],
)
async def test_an_id_contradicting_the_form_names_both_fields(client, registrar, form, other_field):
    data = person(national_id=national_id_for(BIRTH, "male"), **form)
    r = await client.post("/api/v1/persons", json=data, headers=registrar)
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["national_id", other_field]
    assert "12.08.1990" in r.text or "male" in r.text
    assert await count_named(str(data["family_name"])) == 0


async def test_a_taken_id_is_a_conflict_naming_the_existing_record(client, registrar):
    nid = national_id_for(BIRTH, "male")
    first = await client.post("/api/v1/persons", json=person(national_id=nid), headers=registrar)
    r = await client.post("/api/v1/persons", json=person(national_id=nid), headers=registrar)
    assert r.status_code == 409
    assert r.json()["existing_id"] == first.json()["id"]


# ---- names in both scripts -------------------------------------------------------------------


async def test_a_cyrillic_name_is_kept_with_its_latin_form(client, registrar):
    family = "Тошматов"
    r = await client.post(
        "/api/v1/persons",
        json=person(family_name=family, given_name="Шерзод", patronymic="Алиевич"),
        headers=registrar,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name_script"] == "cyrl"
    assert (body["family_name_alt"], body["given_name_alt"]) == ("Toshmatov", "Sherzod")
    assert body["patronymic_alt"] == "Aliyevich"


@pytest.mark.parametrize(
    ("family", "given", "patronymic"),
    [
        ("Gʻofurov", "Oʻtkir", "Toʻlqin oʻgʻli"),  # oʻ, gʻ with U+02BB, as Uzbek Latin writes
        ("Maʼmurov", "Saʼdulla", None),  # the tutuq belgisi, U+02BC
    ],
)
async def test_uzbek_latin_names_with_their_own_apostrophes_are_registered(
    client, registrar, family, given, patronymic
):
    family = f"{family}{unique_name('').lower()}"  # unlike any other: no look-alike
    r = await client.post(
        "/api/v1/persons",
        json=person(family_name=family, given_name=given, patronymic=patronymic),
        headers=registrar,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name_script"] == "latn"
    assert body["family_name"] == family
    assert body["family_name_alt"]  # the Cyrillic form was derived


async def test_names_mixing_scripts_or_with_digits_are_refused(client, registrar):
    mixed = await client.post(
        "/api/v1/persons", json=person(family_name="Тошmatov"), headers=registrar
    )
    assert mixed.status_code == 422
    digits = await client.post("/api/v1/persons", json=person(given_name="Ali2"), headers=registrar)
    assert digits.status_code == 422
    assert [e["field"] for e in digits.json()["errors"]] == ["given_name"]


async def test_a_phone_is_stored_in_international_form_and_a_bad_one_refused(client, registrar):
    ok = await client.post("/api/v1/persons", json=person(phone="90 123 45 67"), headers=registrar)
    assert ok.status_code == 201, ok.text
    assert ok.json()["phone"] == "+998901234567"
    bad = await client.post("/api/v1/persons", json=person(phone="12345"), headers=registrar)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "phone"
    assert "+998" in bad.json()["errors"][0]["message"]


# ---- duplicates ---------------------------------------------------------------------------------


async def test_the_latin_spelling_of_a_cyrillic_name_is_caught_as_a_duplicate(client, registrar):
    # a birth date no other test uses, so only this registration can be the candidate
    born = date(1960, 1, 1) + timedelta(days=secrets.randbelow(14000))
    first = await client.post(
        "/api/v1/persons",
        json=person(
            family_name="Юсупова", given_name="Дилфуза", sex="female", birth_date=born.isoformat()
        ),
        headers=registrar,
    )
    assert first.status_code == 201, first.text
    again = person(
        family_name="Yusupova", given_name="Dilfuza", sex="female", birth_date=born.isoformat()
    )
    r = await client.post("/api/v1/persons", json=again, headers=registrar)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["errors"][0]["field"] == "duplicate_reason"
    top = body["candidates"][0]
    assert top["person"]["id"] == first.json()["id"]
    assert top["score"] >= 0.9
    assert "written in the other script" in top["reasons"]
    async with session_factory()() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.family_name == "Yusupova", Person.birth_date == born)
        )
    assert stored == 0

    anyway = {**again, "duplicate_reason": "a different woman: checked her passport"}
    created = await client.post("/api/v1/persons", json=anyway, headers=registrar)
    assert created.status_code == 201


async def test_a_day_month_swapped_birth_date_and_a_spelling_variant_are_candidates(
    client, registrar
):
    base = person(family_name="Xo'jayev", given_name="Qodir", birth_date="1975-04-09")
    assert (await client.post("/api/v1/persons", json=base, headers=registrar)).status_code == 201
    probe = person(family_name="Khodjaev", given_name="Kodir", birth_date="1975-09-04")
    r = await client.post("/api/v1/persons/candidates", json=probe, headers=registrar)
    assert r.status_code == 200
    found = [c for c in r.json() if c["person"]["family_name"] == "Xo'jayev"]
    assert found
    assert "birth date with day and month swapped" in found[0]["reasons"]


async def test_different_people_are_not_candidates(client, registrar):
    base = person(birth_date="1961-01-01")
    await client.post("/api/v1/persons", json=base, headers=registrar)
    other = person(birth_date="2003-06-30", sex="female")
    r = await client.post("/api/v1/persons/candidates", json=other, headers=registrar)
    assert r.status_code == 200
    assert all(c["person"]["family_name"] != base["family_name"] for c in r.json())


# ---- search ---------------------------------------------------------------------------


async def test_search_by_name_is_script_insensitive_and_tolerates_a_typo(client, registrar):
    family = "Абдурахмонова"
    made = await client.post(
        "/api/v1/persons",
        json=person(
            family_name=family, given_name="Мафтуна", sex="female", birth_date="1999-12-01"
        ),
        headers=registrar,
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    for name in ("Abdurakhmonova Maftuna", "Abduraxmonova", "Abdurahmonva Maftuna"):
        r = await client.get(
            "/api/v1/persons", params={"name": name, "birth_date": "1999-12-01"}, headers=registrar
        )
        assert r.status_code == 200, r.text
        assert pid in [p["id"] for p in r.json()["items"]], name
    r = await client.get(
        "/api/v1/persons", params={"name": "Abduraxmonova Maftuna"}, headers=registrar
    )
    assert pid in [p["id"] for p in r.json()["items"]]


async def test_search_needs_an_id_or_a_name(client, registrar):
    r = await client.get("/api/v1/persons", params={"birth_date": "1990-01-01"}, headers=registrar)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"national_id", "name"}


# ---- scope, attachment, death ------------------------------------------------------------


async def test_a_clinician_of_another_facility_gets_404_and_search_hides_the_person(
    client, make_user, make_person, login
):
    home = await make_user("family_doctor")
    p = await make_person(home.facility_code)
    stranger = await login(await make_user("family_doctor"))
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=stranger)).status_code == 404
    r = await client.get("/api/v1/persons", params={"name": p.family_name}, headers=stranger)
    assert r.json()["items"] == []
    mine = await login(home)
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=mine)).status_code == 200


async def test_an_open_care_relationship_brings_a_person_into_scope(
    client, db, make_user, make_person, login
):
    from salomat.domains.registry import service

    p = await make_person((await make_user("family_doctor")).facility_code)
    screening = await make_user("obstetrician")
    auth = await login(screening)
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=auth)).status_code == 404
    fac = await service.facility_by_code(db, screening.facility_code)
    rel = await service.open_care_relationship(
        db, p.id, fac.id, kind="referral", source="test referral"
    )
    await db.commit()
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=auth)).status_code == 200
    await service.close_care_relationship(db, rel.id)
    await db.commit()
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=auth)).status_code == 404


async def test_attachment_moves_and_keeps_its_history(
    client, registrar, make_facility, make_person
):
    first, second = await make_facility(), await make_facility()
    p = await make_person()
    url = f"/api/v1/persons/{p.id}/attachment"

    async def attach(body: dict[str, object]) -> object:
        etag = (await client.get(f"/api/v1/persons/{p.id}", headers=registrar)).headers["etag"]
        return await client.post(url, json=body, headers={**registrar, "If-Match": etag})

    r = await attach({"facility_code": first.code, "start_on": "2025-01-10"})
    assert r.status_code == 200, r.text
    r = await attach({"facility_code": second.code, "start_on": "2026-02-01", "reason": "moved"})
    assert r.status_code == 200, r.text
    assert r.json()["attached_facility_code"] == second.code
    history = (await client.get(f"/api/v1/persons/{p.id}/attachments", headers=registrar)).json()
    assert [(h["facility_code"], h["start_on"], h["end_on"]) for h in history] == [
        (second.code, "2026-02-01", None),
        (first.code, "2025-01-10", "2026-01-31"),
    ]
    earlier = await attach({"facility_code": first.code, "start_on": "2026-01-15"})
    assert earlier.status_code == 422
    assert earlier.json()["errors"][0]["field"] == "start_on"
    future = (date.today() + timedelta(days=1)).isoformat()
    r = await attach({"facility_code": first.code, "start_on": future})
    assert r.status_code == 422
    no_if_match = await client.post(url, json={"facility_code": first.code}, headers=registrar)
    assert no_if_match.status_code == 412


async def test_attaching_needs_a_primary_care_facility(
    client, registrar, make_facility, make_person
):
    hospital = await make_facility("perinatal_centre")
    p = await make_person()
    card = await client.get(f"/api/v1/persons/{p.id}", headers=registrar)
    r = await client.post(
        f"/api/v1/persons/{p.id}/attachment",
        json={"facility_code": hospital.code},
        headers={**registrar, "If-Match": card.headers["etag"]},
    )
    assert r.status_code == 422
    assert "not a primary-care facility" in r.json()["errors"][0]["message"]
    r = await client.post(
        f"/api/v1/persons/{p.id}/attachment",
        json={"facility_code": (await make_facility()).code},
        headers={**registrar, "If-Match": card.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    history = await client.get(f"/api/v1/persons/{p.id}/attachments", headers=registrar)
    assert len(history.json()) == 1
    assert history.json()[0]["end_on"] is None


async def test_a_death_needs_a_detailed_icd10_cause_and_stops_new_care(
    client, db, registrar, make_person, make_facility
):
    from salomat.core.errors import InvalidState
    from salomat.domains.registry import service

    fac = await make_facility()
    p = await make_person(fac.code, birth_date=date(1950, 1, 1))
    etag = (await client.get(f"/api/v1/persons/{p.id}", headers=registrar)).headers["etag"]
    url = f"/api/v1/persons/{p.id}/death"
    headers = {**registrar, "If-Match": etag}
    category = await client.post(
        url, json={"deceased_on": "2026-01-05", "cause": "I21"}, headers=headers
    )
    assert category.status_code == 422
    assert "I21.0" in category.json()["errors"][0]["message"]
    unknown = await client.post(
        url, json={"deceased_on": "2026-01-05", "cause": "I217"}, headers=headers
    )
    assert unknown.status_code == 422
    before_birth = await client.post(
        url, json={"deceased_on": "1949-01-05", "cause": "I21.9"}, headers=headers
    )
    assert before_birth.status_code == 422
    r = await client.post(url, json={"deceased_on": "2026-01-05", "cause": "i219"}, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["deceased_on"], r.json()["death_cause"]) == ("2026-01-05", "I21.9")
    again = await client.post(
        url,
        json={"deceased_on": "2026-01-05", "cause": "I21.9"},
        headers={**registrar, "If-Match": r.headers["etag"]},
    )
    assert again.status_code == 409
    with pytest.raises(InvalidState, match=r"died on 05\.01\.2026"):
        await service.open_care_relationship(db, p.id, fac.id, kind="referral", source=None)
    history = await client.get(f"/api/v1/persons/{p.id}/attachments", headers=registrar)
    assert history.json()[0]["end_on"] == "2026-01-05"


async def test_a_stale_version_is_refused_and_history_keeps_every_version(
    client, registrar, make_person
):
    p = await make_person()
    etag = (await client.get(f"/api/v1/persons/{p.id}", headers=registrar)).headers["etag"]
    url = f"/api/v1/persons/{p.id}"
    ok = await client.patch(
        url, json={"given_name": "Bahodir"}, headers={**registrar, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["given_name_alt"] == "Баҳодир"
    stale = await client.patch(
        url, json={"given_name": "Botir"}, headers={**registrar, "If-Match": etag}
    )
    assert stale.status_code == 412
    versions = (await client.get(f"{url}/history", headers=registrar)).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["person"]["given_name"] == "Bahodir"
    assert versions[0]["recorded_by"]


async def test_every_registration_and_read_is_audited(client, make_user, login):
    registrar = await make_user("registrar")
    auth = await login(registrar)
    r = await client.post("/api/v1/persons", json=person(), headers=auth)
    pid = r.json()["id"]
    await client.get(f"/api/v1/persons/{pid}", headers=auth)
    async with session_factory()() as s:
        actions = (
            await s.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.patient_id == pid, AuditEvent.username == registrar.username
                )
            )
        ).all()
    assert "create" in actions
    assert "read" in actions


async def test_reindex_recomputes_search_keys_written_by_older_rules(db, registrar, client):
    from sqlalchemy import update

    from salomat.domains.registry import service

    made = await client.post(
        "/api/v1/persons",
        json=person(family_name="Қасымова", given_name="Айгүл", sex="female"),
        headers=registrar,
    )
    pid = made.json()["id"]
    await db.execute(
        update(Person).where(Person.id == pid).values(family_key="stale", name_key="stale")
    )
    await db.commit()
    params = {"name": "Kasymova", "birth_date": BIRTH.isoformat()}
    missed = await client.get("/api/v1/persons", params=params, headers=registrar)
    assert pid not in [p["id"] for p in missed.json()["items"]]
    assert await service.reindex_names(db, batch=7) >= 1
    await db.commit()
    found = await client.get("/api/v1/persons", params=params, headers=registrar)
    assert pid in [p["id"] for p in found.json()["items"]]
