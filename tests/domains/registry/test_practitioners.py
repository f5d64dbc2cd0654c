"""Practitioners: CRUD, roles at facilities (position, section, dates), audit, account link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.pagination import PageParams
from salomat.domains.registry import service
from tests.factories import country_today, unique

pytestmark = pytest.mark.anyio


def _body(**kw):
    return {
        "family_name": "Saidova",
        "given_name": "Lola",
        "patronymic": "Karimovna",
        "sex": "female",
        "specialty": "obstetrics_gynaecology",
        "licence_number": unique("LIC-"),
        "licence_valid_until": "2030-12-31",
        **kw,
    }


async def _create(client, headers, **kw):
    r = await client.post("/api/v1/practitioners", json=_body(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _role(client, headers, pid, **kw):
    return await client.post(f"/api/v1/practitioners/{pid}/roles", json=kw, headers=headers)


async def test_create_read_update_with_if_match(client, admin_headers, db):
    p = await _create(client, admin_headers, phone="90 123 45 67")
    assert p["phone"] == "+998901234567"
    assert p["active"] is True
    assert p["roles"] == []
    r = await client.get(f"/api/v1/practitioners/{p['id']}", headers=admin_headers)
    assert r.json() == p
    assert r.headers["ETag"] == 'W/"1"'
    url = f"/api/v1/practitioners/{p['id']}"
    r = await client.patch(url, json={"specialty": "neonatology"}, headers=admin_headers)
    assert r.status_code == 412
    r = await client.patch(
        url, json={"specialty": "neonatology"}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert r.status_code == 200
    assert r.json()["version"] == 2
    r = await client.patch(
        url, json={"given_name": "Stale"}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert r.status_code == 412
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(
                AuditEvent.resource_type == "Practitioner", AuditEvent.resource_id == str(p["id"])
            )
        )
    ).all()
    assert sorted(actions) == ["create", "update"]
    history = await service.history(db, "Practitioner", p["id"], PageParams(10, 0))
    assert [v.version for v in history.items] == [2, 1]


async def test_specialty_national_id_and_licence_are_checked(client, admin_headers):
    r = await client.post(
        "/api/v1/practitioners",
        json=_body(specialty="astrology", national_id="12345", phone="12"),
        headers=admin_headers,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"specialty", "national_id", "phone"}
    # the phone's message shows what a number looks like, as for a person's
    (phone,) = [e["message"] for e in r.json()["errors"] if e["field"] == "phone"]
    assert phone.startswith("not a valid phone number (e.g. +998")
    p = await _create(client, admin_headers)
    r = await client.post(
        "/api/v1/practitioners",
        json=_body(licence_number=p["licence_number"]),
        headers=admin_headers,
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "licence_number"


async def test_roles_at_facilities_with_sections_and_dates(client, admin_headers, make_facility):
    poly = await make_facility()
    r = await client.post(
        f"/api/v1/facilities/{poly.id}/sections",
        json={"code": "07", "name": "7-son uchastka"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    p = await _create(client, admin_headers, specialty="general_practice")
    r = await _role(
        client,
        admin_headers,
        p["id"],
        facility_code=poly.code,
        position="family_doctor",
        section_code="07",
        start_on=str(country_today() - timedelta(days=30)),
    )
    assert r.status_code == 201, r.text
    role = r.json()
    assert (role["section_code"], role["current"], role["facility_code"]) == ("07", True, poly.code)

    bad = await _role(
        client,
        admin_headers,
        p["id"],
        facility_code=poly.code,
        position="pharmacist",
        section_code="99",
        start_on=str(country_today()),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"section_code"}
    bad = await _role(
        client, admin_headers, p["id"], facility_code=poly.code, position="wizard",
        start_on=str(country_today()),
    )  # fmt: skip
    assert bad.json()["errors"][0]["field"] == "position"
    bad = await _role(
        client,
        admin_headers,
        p["id"],
        facility_code=poly.code,
        position="nurse",
        start_on=str(country_today()),
        end_on=str(country_today() - timedelta(days=1)),
    )
    assert bad.status_code == 422
    overlap = await _role(
        client,
        admin_headers,
        p["id"],
        facility_code=poly.code,
        position="family_doctor",
        start_on=str(country_today()),
    )
    assert overlap.status_code == 409

    r = await client.get(f"/api/v1/practitioners?facility_code={poly.code}", headers=admin_headers)
    assert [x["id"] for x in r.json()["items"]] == [p["id"]]

    # ending the role: the practitioner no longer counts as working there
    r = await client.patch(
        f"/api/v1/practitioner-roles/{role['id']}",
        json={"end_on": str(country_today() - timedelta(days=1))},
        headers=admin_headers | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["current"] is False
    assert r.json()["version"] == 2
    r = await client.get(f"/api/v1/practitioners?facility_code={poly.code}", headers=admin_headers)
    assert r.json()["total"] == 0
    r = await client.get(f"/api/v1/practitioners/{p['id']}", headers=admin_headers)
    assert [x["end_on"] for x in r.json()["roles"]] == [str(country_today() - timedelta(days=1))]


async def test_no_role_at_a_closed_facility_and_deactivation_ends_roles(
    client, admin_headers, make_facility
):
    closed = await make_facility(kind="pharmacy")
    r = await client.post(
        f"/api/v1/facilities/{closed.id}/close",
        json={},
        headers=admin_headers | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 200
    p = await _create(client, admin_headers, specialty="pharmacy")
    r = await _role(
        client, admin_headers, p["id"], facility_code=closed.code, position="pharmacist",
        start_on=str(country_today()),
    )  # fmt: skip
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "facility_code"

    open_one = await make_facility(kind="pharmacy")
    r = await _role(
        client, admin_headers, p["id"], facility_code=open_one.code, position="pharmacist",
        start_on=str(country_today() - timedelta(days=3)),
    )  # fmt: skip
    assert r.status_code == 201
    r = await client.patch(
        f"/api/v1/practitioners/{p['id']}",
        json={"active": False},
        headers=admin_headers | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 200
    assert [x["end_on"] for x in r.json()["roles"]] == [str(country_today())]
    r = await _role(
        client, admin_headers, p["id"], facility_code=open_one.code, position="pharmacist",
        start_on=str(country_today() + timedelta(days=10)),
    )  # fmt: skip
    assert r.status_code == 409


async def test_staff_read_and_admins_manage(client, make_user, login, admin_headers):
    p = await _create(client, admin_headers)
    nurse = await login(await make_user("nurse"))
    assert (await client.get(f"/api/v1/practitioners/{p['id']}", headers=nurse)).status_code == 200
    r = await client.post("/api/v1/practitioners", json=_body(), headers=nurse)
    assert r.status_code == 403


async def test_linking_a_user_account(client, admin_headers, make_user, make_facility, db):
    poly = await make_facility()
    doctor = await make_user("family_doctor", facility_code=poly.code)
    p = await _create(client, admin_headers, specialty="general_practice")
    url = f"/api/v1/users/{doctor.id}/practitioner"
    r = await client.put(url, json={"practitioner_id": p["id"]}, headers=admin_headers)
    assert r.status_code == 422  # no role at the doctor's facility yet
    r = await _role(
        client, admin_headers, p["id"], facility_code=poly.code, position="family_doctor",
        start_on=str(country_today()),
    )  # fmt: skip
    assert r.status_code == 201
    r = await client.put(url, json={"practitioner_id": p["id"]}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "user_id": doctor.id,
        "username": doctor.username,
        "practitioner_id": p["id"],
    }
    from salomat.domains.accounts import service as accounts

    assert (await accounts.get_user(db, doctor.id)).practitioner_id == p["id"]

    other = await make_user("nurse", facility_code=poly.code)
    r = await client.put(
        f"/api/v1/users/{other.id}/practitioner",
        json={"practitioner_id": p["id"]},
        headers=admin_headers,
    )
    assert r.status_code == 409
    r = await client.put(url, json={"practitioner_id": 10**9}, headers=admin_headers)
    assert r.status_code == 422
    r = await client.put(url, json={"practitioner_id": None}, headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["practitioner_id"] is None
    nurse_headers = await client.post(
        "/auth/token", data={"username": other.username, "password": other.password}
    )
    token = {"Authorization": f"Bearer {nurse_headers.json()['access_token']}"}
    r = await client.put(url, json={"practitioner_id": p["id"]}, headers=token)
    assert r.status_code == 403
    assert await service.practitioner_works_at(db, p["id"], poly.id)


async def test_fixture_and_search(client, admin_headers, make_practitioner, db):
    p = await make_practitioner(family_name=unique("Xudoyberdiyev"), specialty="oncology")
    r = await client.get(
        f"/api/v1/practitioners?name={p.family_name[:12].lower()}&specialty=oncology",
        headers=admin_headers,
    )
    assert [x["id"] for x in r.json()["items"]] == [p.id]
    page = await service.list_practitioners(db, PageParams(5, 0))
    assert page.total >= 1
