"""Birth and after through REST: the birth record, its babies, postnatal contacts (item 5)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from salomat.country import names
from tests.domains.maternal.test_pregnancy import Clinic, clinic, fields, open_pregnancy

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def etag_of(client, c: Clinic, preg: dict[str, Any]) -> str:
    return (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=c.doctor)).headers["etag"]


async def post_birth(client, c: Clinic, preg: dict[str, Any], body: dict[str, Any]):
    return await client.post(
        f"/api/v1/pregnancies/{preg['id']}/birth",
        json=body,
        headers={**c.doctor, "If-Match": await etag_of(client, c, preg)},
    )


def twins(**first: Any) -> dict[str, Any]:
    return {
        "born_on": (TODAY - timedelta(days=2)).isoformat(),
        "mode": "caesarean_emergency",
        "babies": [
            {
                "outcome": "live",
                "sex": "male",
                "given_name": "Rustam",
                "birth_weight_g": 2450,
                "length_cm": 47,
                "apgar_1": 7,
                "apgar_5": 9,
                **first,
            },
            {"outcome": "stillbirth", "stillbirth_type": "fresh", "birth_weight_g": 2100},
        ],
    }


async def counts(db) -> tuple[int, int]:
    from salomat.domains.maternal.models import Baby, BirthRecord

    return (
        await db.scalar(select(func.count()).select_from(BirthRecord)),
        await db.scalar(select(func.count()).select_from(Baby)),
    )


@pytest.mark.parametrize(
    ("mother", "son", "daughter"),
    [
        ("Karimova", "Karimov", "Karimova"),
        ("Abdullayeva", "Abdullayev", "Abdullayeva"),
        ("Нурланова", "Нурланов", "Нурланова"),
        ("Мусина", "Мусин", "Мусина"),
        ("Серікқызы", "Серікқызы", "Серікқызы"),
        ("Ли", "Ли", "Ли"),
    ],
)
async def test_newborns_bear_the_family_name_in_their_own_gendered_form(
    client, clinic, make_person, make_user, login, mother, son, daughter
):
    """Issue 13: a son of Karimova is registered Karimov, a daughter Karimova; forms that
    do not change with sex (-қызы, Ли) are kept."""
    from salomat.country.names import script_of

    given = "Айгүл" if script_of(mother) == "cyrl" else "Dilnoza"
    woman = await make_person(
        facility_code=clinic.facility.code,
        family_name=mother,
        given_name=given,
        duplicate_reason="test: a mother of each surname form",
    )
    c = Clinic(clinic.facility, woman, clinic.doctor)
    preg = await open_pregnancy(client, c, lmp=TODAY - timedelta(weeks=37), multiple_pregnancy=True)
    body = twins()
    body["babies"][0]["given_name"] = "Рустам" if script_of(mother) == "cyrl" else "Rustam"
    body["babies"][1] = {"outcome": "live", "sex": "female", "given_name": given}
    r = await post_birth(client, c, preg, body)
    assert r.status_code == 201, r.text
    got = []
    for baby in r.json()["babies"]:
        person = await client.get(f"/api/v1/persons/{baby['person_id']}", headers=c.doctor)
        got.append((person.json()["sex"], person.json()["family_name"]))
    assert got == [("male", son), ("female", daughter)]


async def test_twins_one_live_one_stillborn_registers_one_baby_linked_to_the_mother(
    client, clinic, db
):
    from salomat.core.audit import AuditEvent

    preg = await open_pregnancy(
        client, clinic, lmp=TODAY - timedelta(weeks=37), multiple_pregnancy=True
    )
    r = await post_birth(client, clinic, preg, twins())
    assert r.status_code == 201, r.text
    birth = r.json()
    assert birth["ga_weeks"] == "36w5d"
    live, still = birth["babies"]
    assert (live["outcome"], live["birth_order"], live["apgar_5"]) == ("live", 1, 9)
    assert live["mother_person_id"] == clinic.woman.id
    assert live["person_id"]
    assert (still["person_id"], still["stillbirth_type"]) == (None, "fresh")

    baby = await client.get(f"/api/v1/persons/{live['person_id']}", headers=clinic.doctor)
    assert baby.status_code == 200, baby.text
    b = baby.json()
    assert (b["family_name"], b["given_name"], b["sex"]) == (
        names.gendered_surname(clinic.woman.family_name, "male"),
        "Rustam",
        "male",
    )
    assert b["birth_date"] == twins()["born_on"]
    assert b["attached_facility_code"] == clinic.facility.code
    # registered by the clinician, in the audit
    rows = (
        await db.execute(
            select(AuditEvent.username, AuditEvent.role).where(
                AuditEvent.resource_type == "Patient",
                AuditEvent.action == "create",
                AuditEvent.resource_id == str(live["person_id"]),
            )
        )
    ).all()
    assert [r.role for r in rows] == ["family_doctor"]

    p = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)).json()
    assert (p["status"], p["outcome"], p["closed_on"]) == ("closed", "live_birth", birth["born_on"])
    again = await client.get(f"/api/v1/pregnancies/{preg['id']}/birth", headers=clinic.doctor)
    assert again.status_code == 200
    assert again.json() == birth

    # a second birth record is refused; a new pregnancy may be registered
    second = await post_birth(client, clinic, preg, twins())
    assert second.status_code == 409, second.text
    await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=3), gravida=2, parity=1)


async def test_a_stillbirth_closes_the_pregnancy_as_stillbirth_and_registers_nobody(
    client, clinic, db
):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=30))
    before = await counts(db)
    r = await post_birth(
        client,
        clinic,
        preg,
        {
            "born_on": TODAY.isoformat(),
            "mode": "spontaneous_vaginal",
            "babies": [{"outcome": "stillbirth", "stillbirth_type": "macerated"}],
        },
    )
    assert r.status_code == 201, r.text
    assert await counts(db) == (before[0] + 1, before[1] + 1)
    p = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)).json()
    assert p["outcome"] == "stillbirth"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"born_on": (TODAY + timedelta(days=1)).isoformat()}, "born_on"),
        ({"born_on": (TODAY - timedelta(weeks=40)).isoformat()}, "born_on"),
        ({"ga_days": 19 * 7}, "ga_days"),
        ({"ga_days": 46 * 7}, "ga_days"),
        ({"mode": "teleported"}, "mode"),
        ({"birth_weight_g": 8000}, "babies.0.birth_weight_g"),
        ({"birth_weight_g": 200}, "babies.0.birth_weight_g"),
        ({"apgar_1": 11}, "babies.0.apgar_1"),
        ({"apgar_5": -1}, "babies.0.apgar_5"),
        ({"given_name": None}, "babies.0.given_name"),
        ({"sex": None}, "babies.0.sex"),
        ({"stillbirth_type": "fresh"}, "babies.0.stillbirth_type"),
    ],
)
async def test_impossible_values_are_refused_naming_the_field_and_nothing_is_stored(
    client, clinic, db, change, field
):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=38))
    body = twins()
    top = {k: v for k, v in change.items() if k in ("born_on", "ga_days", "mode")}
    body.update(top)
    body["babies"][0].update({k: v for k, v in change.items() if k not in top})
    before = await counts(db)
    people = await db.scalar(select(func.count()).select_from(_person()))
    r = await post_birth(client, clinic, preg, body)
    assert r.status_code == 422, r.text
    assert field in fields(r)
    assert await counts(db) == before
    assert await db.scalar(select(func.count()).select_from(_person())) == people
    p = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)).json()
    assert p["status"] == "current"


def _person() -> Any:
    from salomat.domains.registry.models import Person

    return Person


async def test_birth_needs_if_match(client, clinic):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=38))
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/birth", json=twins(), headers=clinic.doctor
    )
    assert r.status_code == 412, r.text


async def test_postnatal_contacts_after_the_birth(client, clinic):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=38))
    url = f"/api/v1/pregnancies/{preg['id']}/postnatal-contacts"
    early = await client.post(url, json={"systolic": 120, "diastolic": 80}, headers=clinic.doctor)
    assert early.status_code == 409, early.text
    birth = (await post_birth(client, clinic, preg, twins())).json()
    baby = birth["babies"][0]["person_id"]
    r = await client.post(
        url,
        json={
            "systolic": 118,
            "diastolic": 76,
            "temperature_c": 36.9,
            "bleeding": "normal",
            "baby_person_id": baby,
            "baby_weight_g": 2400,
            "breastfeeding": True,
        },
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["day"], r.json()["baby_person_id"]) == (2, baby)
    bad = await client.post(
        url,
        json={"systolic": 400, "diastolic": 76, "baby_person_id": clinic.woman.id},
        headers=clinic.doctor,
    )
    assert bad.status_code == 422
    assert {"systolic", "baby_person_id"} <= fields(bad)
    listed = await client.get(url, headers=clinic.doctor)
    assert [c["id"] for c in listed.json()] == [r.json()["id"]]
