"""Employer organisations: the business id checked by the pack, one organisation per
number, If-Match on changes, administrators only."""

from __future__ import annotations

import pytest

from salomat.core.pagination import PageParams
from salomat.domains.registry import service
from tests.factories import business_id_for, unique_name

pytestmark = pytest.mark.anyio


def _body(**kw):
    return {"business_id": business_id_for("UZ"), "name": f"{unique_name('Ipak')} MChJ", **kw}


async def _create(client, headers, **kw):
    r = await client.post("/api/v1/employers", json=_body(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_register_read_and_find_an_employer(client, admin_headers, make_place):
    place = await make_place()
    number = business_id_for("UZ")
    body = _body(
        business_id=f"{number[:3]} {number[3:6]}-{number[6:]}",
        names={"uz": "Ipak yoʻli MChJ", "ru": "ООО «Шёлковый путь»"},
        settlement_code=place.settlement,
    )
    r = await client.post("/api/v1/employers", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == 'W/"1"'
    employer = r.json()
    assert employer["business_id"] == number  # typed with a space and a hyphen: stored as digits
    assert employer["settlement_code"] == place.settlement
    assert employer["active"] is True
    assert (await client.get(r.headers["Location"], headers=admin_headers)).json() == employer
    found = await client.get(f"/api/v1/employers?q={number[:6]}", headers=admin_headers)
    assert employer["id"] in [e["id"] for e in found.json()["items"]]
    by_name = await client.get(
        "/api/v1/employers", params={"q": body["name"][2:8].lower()}, headers=admin_headers
    )
    assert [e["id"] for e in by_name.json()["items"]] == [employer["id"]]


async def test_a_second_employer_with_the_same_number_is_409_naming_the_field(
    client, admin_headers, db
):
    first = await _create(client, admin_headers)
    r = await client.post(
        "/api/v1/employers",
        json=_body(business_id=first["business_id"]),
        headers=admin_headers,
    )
    assert r.status_code == 409, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["business_id"]
    assert first["business_id"] in r.json()["detail"]
    page = await service.list_employers(db, PageParams(10, 0), first["business_id"])
    assert page.total == 1


@pytest.mark.parametrize("number", ["12345678", "1234567890", "12345678x", ""])
async def test_a_malformed_business_id_is_422_and_nothing_is_stored(client, admin_headers, number):
    name = f"{unique_name('Bad')} MChJ"
    r = await client.post(
        "/api/v1/employers", json=_body(business_id=number, name=name), headers=admin_headers
    )
    assert r.status_code == 422, r.text
    assert "business_id" in [e["field"] for e in r.json()["errors"]]
    found = await client.get("/api/v1/employers", params={"q": name}, headers=admin_headers)
    assert found.json()["total"] == 0


async def test_an_unknown_settlement_is_422_naming_it(client, admin_headers):
    r = await client.post(
        "/api/v1/employers", json=_body(settlement_code="no-such"), headers=admin_headers
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["settlement_code"]


async def test_a_change_needs_the_version_read_and_a_stale_one_is_412(client, admin_headers):
    employer = await _create(client, admin_headers)
    url = f"/api/v1/employers/{employer['id']}"
    r = await client.patch(url, json={"active": False}, headers=admin_headers)
    assert r.status_code == 412
    r = await client.patch(
        url, json={"active": False}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["version"], r.headers["ETag"]) == (False, 2, 'W/"2"')
    stale = await client.patch(
        url, json={"name": "Other name"}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    # the same values again are no change: answered as stored, whatever version was read
    same = await client.patch(
        url, json={"active": False}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert (same.status_code, same.json()["version"]) == (200, 2)
    cleared = await client.patch(
        url, json={"name": None}, headers=admin_headers | {"If-Match": 'W/"2"'}
    )
    assert cleared.status_code == 422
    assert [e["field"] for e in cleared.json()["errors"]] == ["name"]


@pytest.mark.parametrize("role", ["registrar", "family_doctor", "auditor", "employer", "citizen"])
async def test_only_administrators_read_or_manage_employers(
    client, admin_headers, make_user, make_person, login, role
):
    employer = await _create(client, admin_headers)
    person = await make_person() if role == "citizen" else None
    account = await make_user(role, person_id=person.id if person else None)
    headers = await login(account)
    assert (await client.get("/api/v1/employers", headers=headers)).status_code == 403
    r = await client.get(f"/api/v1/employers/{employer['id']}", headers=headers)
    assert r.status_code == 403
    r = await client.post("/api/v1/employers", json=_body(), headers=headers)
    assert r.status_code == 403


async def test_names_of_many_employers_in_the_language_asked(db, make_employer):
    a = await make_employer("Alpha LLC")
    b = await make_employer("Beta LLC")
    await service.update_employer(
        db, b.id, service_patch(names={"ru": "ООО «Бета»"}), expected_version=1, by="t"
    )
    await db.commit()
    names = await service.employer_names(db, [a.id, b.id, 10**9], "ru")
    assert names == {a.id: "Alpha LLC", b.id: "ООО «Бета»"}
    assert await service.employer_names(db, []) == {}
    found = await service.employer_by_business_id(db, b.business_id)
    assert found is not None
    assert found.id == b.id
    assert await service.employer_by_business_id(db, "000000000") is None


def service_patch(**kw):
    from salomat.domains.registry.schemas import EmployerPatch

    return EmployerPatch(**kw)


async def test_the_admin_page_lists_and_registers_employers(client, make_user, make_employer):
    from tests.domains.registry.test_web import web_login

    existing = await make_employer()
    admin = await make_user("admin")
    csrf = await web_login(client, admin)
    page = await client.get("/admin/employers")
    assert page.status_code == 200
    # the shared test database holds every test's employers: find this one by its number
    page = await client.get("/admin/employers", params={"q": existing.business_id})
    assert page.status_code == 200
    assert existing.business_id in page.text
    number = business_id_for("UZ")
    r = await client.post(
        "/admin/employers",
        data={"csrf_token": csrf, "business_id": number, "name": "Yangi MChJ"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    assert f'data-testid="employer-{number}"' in r.text
    again = await client.post(
        "/admin/employers",
        data={"csrf_token": csrf, "business_id": number, "name": "Yangi MChJ"},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 409
    listed = await client.get("/admin/employers", params={"q": number})
    assert listed.text.count(f'data-testid="employer-{number}"') == 1
