"""The road network import over REST: ``PUT /api/v1/planning/regions/{code}/roads``.

The planning fixture's region (conftest.py) and test_roads.py's hand-written extract: a
two-way primary road n1 (S1) - n2 - n3 (S6, the polyclinic) and a tertiary road n2 - n4
(S5, the FAP), one way. The expected figures are the haversine lengths written out in
test_roads.py (``hav``) at the Kazakh pack's speeds (primary 70, tertiary 50 km/h).
"""

from __future__ import annotations

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domains.planning.test_roads import (
    NODES,
    PRIMARY,
    PRIMARY_KMH,
    TERTIARY_KMH,
    hav,
    osm,
)

pytestmark = pytest.mark.anyio

BASE = "/api/v1/planning"


def tertiary(oneway: str) -> str:
    return (
        '<way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="tertiary"/>'
        f'<tag k="oneway" v="{oneway}"/></way>\n'
    )


@pytest.fixture
async def planner(client, login, make_user):  # type: ignore[no-untyped-def]
    return await login(await make_user("planner"))


def url(code: str) -> str:
    return f"{BASE}/regions/{code}/roads"


async def put(client, auth, code, body: bytes | str):  # type: ignore[no-untyped-def]
    return await client.put(
        url(code), content=body, headers={**auth, "Content-Type": "application/xml"}
    )


async def s5_to_ambulatory(client, auth, plan):  # type: ignore[no-untyped-def]
    r = await client.get(f"{BASE}/access", params={"territory": plan.region}, headers=auth)
    assert r.status_code == 200, r.text
    by = {s["code"]: s for s in r.json()["settlements"]}
    return r.json(), by[plan.settlements["S5"]]["nearest"]["physician_ambulatory"]


async def test_import_then_access_goes_along_the_roads_one_way(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    report, s5 = await s5_to_ambulatory(client, planner, plan)
    assert report["method"] == "estimate"  # nothing imported yet
    # n4 -> n2 only (oneway=-1): S5 drives 4 -> 2 -> 3 to the polyclinic in S6
    r = await put(client, planner, plan.region, osm(PRIMARY + tertiary("-1")))
    assert r.status_code == 200, r.text
    assert r.json() == {"region": plan.region, "nodes": 4, "edges": 5}
    report, s5 = await s5_to_ambulatory(client, planner, plan)
    assert report["method"] == "road"
    assert s5["method"] == "road"
    assert s5["settlement_code"] == plan.settlements["S6"]
    assert s5["km"] == pytest.approx(hav(2, 4) + hav(2, 3), rel=1e-6)
    assert s5["minutes"] == pytest.approx(
        hav(2, 4) / TERTIARY_KMH * 60 + hav(2, 3) / PRIMARY_KMH * 60, rel=1e-6
    )
    # the same street one way the other way round (n2 -> n4, gzipped this time): no road
    # leads out of S5, its figure is the estimate
    r = await client.put(
        url(plan.region), content=gzip.compress(osm(PRIMARY + tertiary("yes")).encode()),
        headers={**planner, "Content-Type": "application/gzip"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    report, s5 = await s5_to_ambulatory(client, planner, plan)
    assert report["method"] == "road"  # S1 still goes by road
    assert s5["method"] == "estimate"


async def test_deny_by_default(client, login, make_user, plan) -> None:  # type: ignore[no-untyped-def]
    body = osm(PRIMARY)
    r = await client.put(url(plan.region), content=body)
    assert r.status_code == 401
    for role in ("analyst", "registrar", "family_doctor", "statistician"):
        auth = await login(await make_user(role))
        r = await put(client, auth, plan.region, body)
        assert r.status_code == 403, role


BAD = {
    "not XML": (b"this is not xml <<<", "file", "not OpenStreetMap XML"),
    "empty": (b"", "file", "not OpenStreetMap XML"),
    "another XML": (b"<html><body/></html>", "file", "not OpenStreetMap XML"),
    "no roads": (osm("").encode(), "file", "no roads"),
    "outside": (osm(PRIMARY, {**NODES, 3: (10.0, 77.06)}).encode(), "file", "outside"),
    "missing node": (osm(PRIMARY, {1: NODES[1]}).encode(), "file", "does not hold"),
    "bad ref": (
        osm('<way id="9"><nd ref="x"/><tag k="highway" v="primary"/></way>').encode(),
        "file",
        "not a number",
    ),
    "pbf": (b"\x00\x00\x00\x0d\x0a\x09OSMHeader\x18", "file", "osmium"),
    "id past 64 bits": (
        osm(PRIMARY, {**NODES, 2**63: NODES[1]}).encode(),
        "file",
        "outside the 64-bit range",
    ),
    "ref past 64 bits": (
        osm(
            '<way id="9"><nd ref="1"/><nd ref="-9223372036854775809"/>'
            '<tag k="highway" v="primary"/></way>'
        ).encode(),
        "file",
        "outside the 64-bit range",
    ),
    "bad gzip": (b"\x1f\x8b\x08\x00garbage", "file", "not OpenStreetMap XML"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_bodies_422_keep_the_import(client, planner, plan, kz, case) -> None:  # type: ignore[no-untyped-def]
    assert (await put(client, planner, plan.region, osm(PRIMARY))).status_code == 200
    body, field, words = BAD[case]
    r = await put(client, planner, plan.region, body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert words in errors[0]["message"]
    report, _ = await s5_to_ambulatory(client, planner, plan)
    assert report["method"] == "road"  # the previous import is kept


async def test_not_a_region(client, planner, plan, kz) -> None:  # type: ignore[no-untyped-def]
    for code in (plan.districts["D1"], plan.settlements["S1"], "NO-SUCH"):
        r = await put(client, planner, code, osm(PRIMARY))
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["region"]
    r = await put(client, planner, "x" * 33, osm(PRIMARY))
    assert r.status_code == 422


async def test_too_large(client, planner, plan, kz, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from salomat.core.config import get_settings

    over = get_settings().max_body_bytes + 1
    r = await put(client, planner, plan.region, b" " * over)
    assert r.status_code == 413
    # a gzipped body that unpacks past the XML limit (a gzip bomb) is refused by name
    from salomat.domains.planning.service import roads

    monkeypatch.setattr(roads, "MAX_XML_BYTES", 1000)
    body = osm(PRIMARY + "<!-- " + "x" * 5000 + " -->")
    r = await put(client, planner, plan.region, gzip.compress(body.encode()))
    assert r.status_code == 422
    assert "more than 1000 bytes" in r.json()["errors"][0]["message"]
    # at the limit it is read
    monkeypatch.setattr(roads, "MAX_XML_BYTES", len(osm(PRIMARY).encode()))
    r = await put(client, planner, plan.region, gzip.compress(osm(PRIMARY).encode()))
    assert r.status_code == 200, r.text
    monkeypatch.setattr(roads, "MAX_XML_BYTES", len(osm(PRIMARY).encode()) - 1)
    r = await put(client, planner, plan.region, gzip.compress(osm(PRIMARY).encode()))
    assert r.status_code == 422


_piece = st.sampled_from(
    [b"<osm>", b"</osm>", b"<node", b' id="1"', b' lat="43.6"', b' lon="77"', b"/>", b">",
     b"<way", b"<nd", b' ref="1"', b'<tag k="highway" v="primary"', b"</way>", b"\x1f\x8b",
     b"OSMHeader", b"<!ENTITY", b"\x00", b"\xff", b' id="9223372036854775808"',
     b' ref="-9223372036854775809"', b' id="9223372036854775807"', b' ref="2"',
     b' lat="43.7"', b"<tag k=\"junction\" v=\"roundabout\"", b'<tag k="highway" v="motorway"']
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=300)
    | st.lists(_piece, max_size=30).map(b"".join)
    # gzipped, whole or cut short
    | st.tuples(st.lists(_piece, max_size=30).map(b"".join), st.integers(0, 80)).map(
        lambda x: gzip.compress(x[0])[: len(x[0]) + x[1]]
    )
)
async def test_any_body_is_never_a_5xx(client, planner, plan, kz, body: bytes) -> None:  # type: ignore[no-untyped-def]
    r = await put(client, planner, plan.region, body)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert {e["field"] for e in r.json()["errors"]} == {"file"}


async def test_units_of_a_settlement_without_coordinates_are_named(
    client, planner, plan, kz, db
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory)
        .where(Territory.id == plan.settlement_ids["S5"])
        .values(latitude=None, longitude=None)
    )
    await db.commit()
    r = await client.get(f"{BASE}/access", params={"territory": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    assert r.json()["unplaced_sites"] == [
        {"code": plan.settlements["S5"], "name": "Village S5",
         "units": ["feldsher_obstetric_point"]}
    ]  # fmt: skip
    # a district's report names the region's unplaced units too (they could be nearest)
    r = await client.get(
        f"{BASE}/access", params={"territory": plan.districts["D2"]}, headers=planner
    )
    assert [u["code"] for u in r.json()["unplaced_sites"]] == [plan.settlements["S5"]]
    r = await client.get(
        "/planning", params={"area": plan.region}, headers={**planner, "Accept-Language": "en"}
    )
    assert r.status_code == 200, r.text
    line = r.text.split('data-testid="pl-unplaced"')[1].split("</p>")[0]
    assert "Village S5" in line
    assert plan.settlements["S5"] not in line  # the name, not the code


async def test_the_area_page_says_how_its_distances_were_measured(
    client, planner, plan, kz, login, make_user
) -> None:  # type: ignore[no-untyped-def]
    """An estimate is labelled as one: before an import the page says every distance is
    estimated, and a planner who may import (``planning:edit``) is told how (the CLI and
    the REST call); an analyst (``planning:read`` only) just the statement. After it, that
    they go along the imported roads (in the reader's language)."""
    from salomat.core.i18n import translations

    ru = translations("ru")
    road = "Distances here are along the imported road network"
    estimate = "No road network is loaded for this area: every distance here is an estimate."
    page = {"area": plan.region, "edition": "kz-2022"}
    headers = {**planner, "Accept-Language": "en"}
    r = await client.get("/planning", params=page, headers=headers)
    method = r.text.split('data-testid="pl-access-method"')[1].split("</span>")[0]
    assert 'data-method="estimate"' in method
    assert estimate in method
    how = r.text.split('data-testid="pl-roads-how"')[1].split("</span>")[0]
    assert "salomat planning import-roads" in how
    assert "PUT /api/v1/planning/regions/" in how
    analyst = await login(await make_user("analyst"))
    r = await client.get("/planning", params=page, headers={**analyst, "Accept-Language": "en"})
    assert r.status_code == 200
    assert estimate in r.text
    assert 'data-testid="pl-roads-how"' not in r.text  # may not import: no instructions
    assert (await put(client, planner, plan.region, osm(PRIMARY + tertiary("-1")))).is_success
    r = await client.get("/planning", params=page, headers=headers)
    method = r.text.split('data-testid="pl-access-method"')[1].split("</span>")[0]
    assert 'data-method="road"' in method
    assert road in method
    assert 'data-testid="pl-roads-how"' not in r.text  # loaded: nothing to do
    r = await client.get("/planning", params=page, headers={**planner, "Accept-Language": "ru"})
    method = r.text.split('data-testid="pl-access-method"')[1].split("</span>")[0]
    assert "автомобильн" in method  # the Russian words, not the English ones
    assert road not in method
    assert ru.gettext(estimate) not in method
