"""An update whose values are the stored ones answers 200 with the current version.

It is already the state the client asks for, so it gets no new version, and
no 412 even from an older version: a retry could never succeed. Different
values from an older version are still refused, and If-Match stays required.
"""

from __future__ import annotations

import pytest

from tests.factories import unique, unique_name

pytestmark = pytest.mark.anyio


def _if(version: int) -> dict[str, str]:
    return {"If-Match": f'W/"{version}"'}


async def _history(client, headers, url: str) -> int:
    r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    return len(body) if isinstance(body, list) else int(body["total"])


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


async def test_person_patch_with_the_stored_values(client, registrar):
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": unique_name("Ka"),
            "given_name": unique_name("Di"),
            "birth_date": "1990-05-06",
            "sex": "female",
        },
        headers=registrar,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    url = f"/api/v1/persons/{pid}"
    r = await client.patch(url, json={"phone": "+998901234567"}, headers=registrar | _if(1))
    assert r.json()["version"] == 2
    # the same phone written another way, from the version before: no change, 200, version 2
    r = await client.patch(url, json={"phone": "90 123 45 67"}, headers=registrar | _if(1))
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.headers["ETag"]) == (2, 'W/"2"')
    assert await _history(client, registrar, f"{url}/history") == 2
    # every field as stored, at the current version: the same
    current = r.json()
    same = {k: current[k] for k in ("family_name", "given_name", "birth_date", "sex", "phone")}
    r = await client.patch(url, json=same, headers=registrar | _if(2))
    assert (r.status_code, r.json()["version"]) == (200, 2)
    # a different value from the old version is a lost update: refused as before
    r = await client.patch(url, json={"phone": "+998901234568"}, headers=registrar | _if(1))
    assert r.status_code == 412
    # If-Match stays required, whatever the values
    r = await client.patch(url, json={"phone": "+998901234567"}, headers=registrar)
    assert r.status_code == 412
    assert await _history(client, registrar, f"{url}/history") == 2


async def test_facility_patch_with_the_stored_values(client, admin_headers):
    body = {"code": unique("F"), "name": "Poly", "kind": "family_polyclinic"}
    r = await client.post(
        "/api/v1/facilities", json=body | {"beds": {"therapy": 10}}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/facilities/{r.json()['id']}"
    r = await client.patch(url, json={"name": "Poly 2"}, headers=admin_headers | _if(1))
    assert r.json()["version"] == 2
    r = await client.patch(
        url, json={"name": "Poly 2", "beds": {"therapy": 10}}, headers=admin_headers | _if(1)
    )
    assert (r.status_code, r.json()["version"]) == (200, 2), r.text
    r = await client.patch(url, json={"beds": {"therapy": 11}}, headers=admin_headers | _if(1))
    assert r.status_code == 412
    r = await client.patch(url, json={"beds": {"therapy": 11}}, headers=admin_headers | _if(2))
    assert (r.status_code, r.json()["version"]) == (200, 3)


async def test_practitioner_and_role_patch_with_the_stored_values(
    client, admin_headers, make_facility
):
    body = {
        "family_name": "Saidova",
        "given_name": "Lola",
        "sex": "female",
        "specialty": "obstetrics_gynaecology",
        "licence_number": unique("LIC-"),
    }
    r = await client.post("/api/v1/practitioners", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    p = r.json()
    url = f"/api/v1/practitioners/{p['id']}"
    r = await client.patch(url, json={"given_name": "Lolaxon"}, headers=admin_headers | _if(1))
    assert r.json()["version"] == 2
    r = await client.patch(url, json={"given_name": "Lolaxon"}, headers=admin_headers | _if(1))
    assert (r.status_code, r.json()["version"]) == (200, 2), r.text
    r = await client.patch(url, json={"given_name": "Nodira"}, headers=admin_headers | _if(1))
    assert r.status_code == 412

    poly = await make_facility()
    r = await client.post(
        f"/api/v1/practitioners/{p['id']}/roles",
        json={"facility_code": poly.code, "position": "family_doctor", "start_on": "2024-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    role_url = f"/api/v1/practitioner-roles/{r.json()['id']}"
    r = await client.patch(role_url, json={"end_on": "2030-01-01"}, headers=admin_headers | _if(1))
    assert r.json()["version"] == 2
    r = await client.patch(role_url, json={"end_on": "2030-01-01"}, headers=admin_headers | _if(1))
    assert (r.status_code, r.json()["version"]) == (200, 2), r.text
    r = await client.patch(role_url, json={"end_on": "2031-01-01"}, headers=admin_headers | _if(1))
    assert r.status_code == 412


async def test_territory_patch_with_the_stored_values(client, admin_headers, make_place):
    place = await make_place()
    url = f"/api/v1/territory/{place.settlement}"
    r = await client.patch(url, json={"name": "Qishloq"}, headers=admin_headers | _if(1))
    assert r.json()["version"] == 2
    r = await client.patch(
        url, json={"name": "Qishloq", "is_rural": True}, headers=admin_headers | _if(1)
    )
    assert (r.status_code, r.json()["version"]) == (200, 2), r.text
    r = await client.patch(url, json={"name": "Shahar"}, headers=admin_headers | _if(1))
    assert r.status_code == 412
    r = await client.get(url, headers=admin_headers)
    assert (r.json()["name"], r.json()["version"]) == ("Qishloq", 2)


async def test_territory_population_put_twice_is_the_same_answer(client, admin_headers, make_place):
    """The population PUT has no version: it replaces the year, so the same body twice is 200."""
    place = await make_place()
    url = f"/api/v1/territory/{place.settlement}/population"
    body = {"year": 2025, "male": list(range(18)), "female": [2 * n for n in range(18)]}
    first = await client.put(url, json=body, headers=admin_headers)
    assert first.status_code == 200, first.text
    again = await client.put(url, json=body, headers=admin_headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["total"] == sum(range(18)) * 3
