"""Facilities: pack types, perinatal levels, parents without cycles, beds, If-Match, closing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.pagination import PageParams
from salomat.domains.registry import service
from tests.factories import unique

pytestmark = pytest.mark.anyio


def _body(**kw):
    return {"code": unique("F"), "name": "Test facility", "kind": "family_polyclinic", **kw}


async def _create(client, headers, **kw):
    r = await client.post("/api/v1/facilities", json=_body(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _patch(client, headers, fac, body, version=None):
    v = fac["version"] if version is None else version
    return await client.patch(
        f"/api/v1/facilities/{fac['id']}", json=body, headers=headers | {"If-Match": f'W/"{v}"'}
    )


async def test_create_with_every_field_and_read_back(client, admin_headers, make_place):
    place = await make_place()
    parent = await _create(client, admin_headers, kind="district_hospital", perinatal_level=1)
    body = _body(
        kind="perinatal_centre",
        names={"uz": "Perinatal markaz", "ru": "Перинатальный центр"},
        perinatal_level=3,
        settlement_code=place.settlement,
        parent_code=parent["code"],
        beds={"obstetrics": 80, "neonatal_icu": 12},
        address="Amir Temur ko'chasi 1",
        phone="+998 66 233 00 00",
        opened_on="2012-09-01",
    )
    r = await client.post("/api/v1/facilities", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == 'W/"1"'
    fac = r.json()
    assert fac["beds"] == {"neonatal_icu": 12, "obstetrics": 80}
    assert (fac["settlement_code"], fac["parent_code"]) == (place.settlement, parent["code"])
    assert fac["phone"] == "+998662330000"
    assert fac["is_open"] is True
    assert fac["closed_on"] is None
    assert fac["version"] == 1
    r = await client.get(r.headers["Location"], headers=admin_headers)
    assert r.json() == fac
    r = await client.get(f"/api/v1/facilities?territory_code={place.region}", headers=admin_headers)
    assert [f["code"] for f in r.json()["items"]] == [fac["code"]]


async def test_type_level_beds_and_places_are_checked_against_the_pack(
    client, admin_headers, make_place
):
    place = await make_place()
    r = await client.post(
        "/api/v1/facilities",
        json=_body(
            kind="spaceport",
            beds={"therapy": 5, "quidditch": 2, "surgery": -1},
            settlement_code=place.district,
            parent_code="NOPE",
            names={"fr": "Hôpital"},
        ),
        headers=admin_headers,
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {
        "kind",
        "beds.quidditch",
        "beds.surgery",
        "settlement_code",
        "parent_code",
        "names.fr",
    }
    assert (
        "family_polyclinic"
        in next(e for e in r.json()["errors"] if e["field"] == "kind")["message"]
    )


@pytest.mark.parametrize(
    ("kind", "level", "ok"),
    [
        ("perinatal_centre", 3, True),
        ("perinatal_centre", 2, False),
        ("district_hospital", 1, True),
        ("district_hospital", 3, False),
        ("family_polyclinic", 1, False),
        ("pharmacy", None, True),
    ],
)
async def test_perinatal_level_only_where_the_type_allows_it(
    client, admin_headers, kind, level, ok
):
    r = await client.post(
        "/api/v1/facilities", json=_body(kind=kind, perinatal_level=level), headers=admin_headers
    )
    assert (r.status_code == 201) is ok, r.text
    if not ok:
        assert r.json()["errors"][0]["field"] == "perinatal_level"


async def test_changing_the_type_rechecks_the_level(client, admin_headers):
    fac = await _create(client, admin_headers, kind="perinatal_centre", perinatal_level=3)
    r = await _patch(client, admin_headers, fac, {"kind": "pharmacy"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "perinatal_level"
    r = await _patch(client, admin_headers, fac, {"kind": "pharmacy", "perinatal_level": None})
    assert r.status_code == 200, r.text


async def test_update_needs_if_match_and_refuses_a_stale_version(client, admin_headers):
    fac = await _create(client, admin_headers, beds={"therapy": 10})
    r = await client.patch(
        f"/api/v1/facilities/{fac['id']}", json={"name": "New"}, headers=admin_headers
    )
    assert r.status_code == 412
    r = await _patch(client, admin_headers, fac, {"name": "New", "beds": {"surgery": 4}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert r.json()["beds"] == {"surgery": 4}
    assert r.headers["ETag"] == 'W/"2"'
    r = await _patch(client, admin_headers, fac, {"name": "Lost update"}, version=1)
    assert r.status_code == 412
    r = await client.get(f"/api/v1/facilities/{fac['id']}", headers=admin_headers)
    assert r.json()["name"] == "New"


async def test_parent_cycles_are_refused(client, admin_headers):
    a = await _create(client, admin_headers, kind="district_medical_association")
    b = await _create(client, admin_headers, kind="district_hospital", parent_code=a["code"])
    c = await _create(client, admin_headers, kind="rural_medical_point", parent_code=b["code"])
    r = await _patch(client, admin_headers, a, {"parent_code": c["code"]})
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == "parent_code"
    assert c["code"] in err["message"]
    assert a["code"] in err["message"]
    r = await _patch(client, admin_headers, a, {"parent_code": a["code"]})
    assert r.status_code == 422
    r = await _patch(client, admin_headers, c, {"parent_code": None})
    assert r.status_code == 200
    assert r.json()["parent_code"] is None


async def test_closing_a_facility(client, admin_headers):
    parent = await _create(client, admin_headers, kind="district_hospital")
    child = await _create(
        client, admin_headers, kind="rural_medical_point", parent_code=parent["code"]
    )

    async def close(fac, version, **body):
        return await client.post(
            f"/api/v1/facilities/{fac['id']}/close",
            json=body,
            headers=admin_headers | {"If-Match": f'W/"{version}"'},
        )

    r = await close(parent, 1)
    assert r.status_code == 409
    assert child["code"] in r.json()["detail"]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    r = await close(child, 1, closed_on=tomorrow)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "closed_on"
    r = await close(child, 1, closed_on=date.today().isoformat())
    assert r.status_code == 200, r.text
    assert (r.json()["is_open"], r.json()["closed_on"]) == (False, date.today().isoformat())
    assert (await close(child, 2)).status_code == 409
    r = await close(parent, 1)
    assert r.status_code == 200
    r = await client.get(
        "/api/v1/facilities?is_open=false&kind=district_hospital", headers=admin_headers
    )
    assert parent["code"] in [f["code"] for f in r.json()["items"]]
    r = await client.post(
        f"/api/v1/facilities/{child['id']}/reopen",
        headers=admin_headers | {"If-Match": 'W/"2"'},
    )
    assert r.status_code == 200
    assert r.json()["is_open"] is True
    assert r.json()["closed_on"] is None


async def test_only_admins_manage_facilities(client, make_user, login):
    nurse = await login(await make_user("nurse"))
    r = await client.post("/api/v1/facilities", json=_body(), headers=nurse)
    assert r.status_code == 403
    r = await client.get("/api/v1/facilities", headers=nurse)
    assert r.status_code == 200


async def test_sections_belong_to_primary_care(client, admin_headers):
    poly = await _create(client, admin_headers)
    pharmacy = await _create(client, admin_headers, kind="pharmacy")
    body = {"code": "01", "name": "1-son oilaviy shifokor uchastkasi"}
    r = await client.post(
        f"/api/v1/facilities/{poly['id']}/sections", json=body, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/facilities/{poly['id']}/sections", json=body, headers=admin_headers
    )
    assert r.status_code == 409
    r = await client.post(
        f"/api/v1/facilities/{pharmacy['id']}/sections", json=body, headers=admin_headers
    )
    assert r.status_code == 422
    r = await client.get(f"/api/v1/facilities/{poly['id']}/sections", headers=admin_headers)
    assert [s["code"] for s in r.json()] == ["01"]


async def test_every_write_is_an_organization_version(db, client, admin_headers):
    fac = await _create(client, admin_headers)
    await _patch(client, admin_headers, fac, {"address": "Registon 5"})
    history = await service.history(db, "Organization", fac["id"], PageParams(10, 0))
    assert [(v.version, v.action) for v in history.items] == [(2, "update"), (1, "create")]
    assert history.items[0].data["address"] == "Registon 5"
    assert history.items[0].recorded_by.startswith("admin-")


async def test_the_old_service_signatures_still_work(db, make_facility):
    fac = await make_facility()
    assert (await service.facility_by_code(db, fac.code)).id == fac.id
    assert await service.facility_id_by_code(db, fac.code) == fac.id
    assert (await service.get_facility(db, fac.id)).code == fac.code
    # every page: the session's database holds other tests' facilities too (past 1,000)
    codes: list[str] = []
    while True:
        page = await service.list_facilities(db, PageParams(1000, len(codes)))
        codes += [f.code for f in page.items]
        if len(page.items) < 1000:
            break
    assert fac.code in codes
