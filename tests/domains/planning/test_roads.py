"""The road network import (service/roads.py) and access measured along it.

A tiny hand-written OpenStreetMap extract over the planning fixture's region (Almaty
region coordinates, conftest.py): a two-way primary road S1 - n2 - S6, a one-way tertiary
road n2 -> S5 and a footway (never imported). The expected lengths are the haversine
formula written out here (R = 6,371.0 km), not service/geo.py's.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from salomat.core.errors import Invalid
from salomat.domains.planning.models_roads import RoadEdge, RoadNode
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import roads

pytestmark = pytest.mark.anyio

#: node -> (lat, lon): n1 is S1, n3 is S6 (the polyclinic), n4 is S5 (the FAP)
NODES = {
    1: (43.60, 77.00),
    2: (43.70, 77.00),
    3: (43.87, 77.06),
    4: (43.75, 77.20),
    5: (43.80, 76.95),  # only on the footway: not stored
    6: (43.66, 77.30),  # on no way: not stored
}
#: the pack's speeds (KZ planning.yaml access.road_speeds_kmh, UNVERIFIED figures)
PRIMARY_KMH, TERTIARY_KMH = 70.0, 50.0


def hav(a: int, b: int) -> float:
    (la1, lo1), (la2, lo2) = NODES[a], NODES[b]
    p1, p2 = math.radians(la1), math.radians(la2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def osm(ways: str, nodes: dict[int, tuple[float, float]] = NODES) -> str:
    body = "".join(
        f'<node id="{n}" lat="{la}" lon="{lo}" version="1"/>\n' for n, (la, lo) in nodes.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}{ways}</osm>\n'


PRIMARY = (
    '<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/></way>\n'
)
ONEWAY = (
    '<way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="tertiary"/>'
    '<tag k="oneway" v="yes"/></way>\n'
)
FOOTWAY = '<way id="12"><nd ref="1"/><nd ref="5"/><tag k="highway" v="footway"/></way>\n'
BUILDING = '<way id="13"><nd ref="1"/><nd ref="6"/><tag k="building" v="yes"/></way>\n'


def write(tmp_path: Path, text: str, name: str = "region.osm") -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text, encoding="utf-8")
    return p


async def stored(db, region: str) -> tuple[int, list]:  # type: ignore[no-untyped-def]
    n = (
        await db.execute(
            select(func.count()).select_from(RoadNode).where(RoadNode.region_code == region)
        )
    ).scalar_one()
    e = (
        await db.execute(
            select(
                RoadEdge.from_osm, RoadEdge.to_osm, RoadEdge.km, RoadEdge.minutes, RoadEdge.oneway
            )
            .where(RoadEdge.region_code == region)
            .order_by(RoadEdge.from_osm, RoadEdge.to_osm)
        )
    ).all()
    return n, e


@pytest.mark.parametrize("name", ["region.osm", "region.osm.gz"])
async def test_the_extract_gives_exactly_the_roads(db, plan, kz, tmp_path, name) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, osm(PRIMARY + ONEWAY + FOOTWAY + BUILDING), name)
    counts = await roads.import_file(db, path, plan.region)
    assert counts == {"nodes": 4, "edges": 5}
    n, edges = await stored(db, plan.region)
    assert n == 4  # n5 (footway only) and n6 (no road) are left out
    expected = [
        (1, 2, hav(1, 2), PRIMARY_KMH, False),
        (2, 1, hav(1, 2), PRIMARY_KMH, False),
        (2, 3, hav(2, 3), PRIMARY_KMH, False),
        (2, 4, hav(2, 4), TERTIARY_KMH, True),  # one way only: no 4 -> 2
        (3, 2, hav(2, 3), PRIMARY_KMH, False),
    ]
    assert [(e.from_osm, e.to_osm, e.oneway) for e in edges] == [
        (a, b, o) for a, b, _, _, o in expected
    ]
    for e, (_, _, km, kmh, _) in zip(edges, expected, strict=True):
        assert e.km == pytest.approx(km, rel=1e-9)
        assert e.minutes == pytest.approx(km / kmh * 60, rel=1e-9)
    assert hav(1, 2) == pytest.approx(11.119, abs=0.001)  # the note's 0.1 degree of latitude


async def test_oneway_minus_one_runs_backwards(db, plan, kz, tmp_path) -> None:  # type: ignore[no-untyped-def]
    way = (
        '<way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="tertiary"/>'
        '<tag k="oneway" v="-1"/></way>'
    )
    await roads.import_file(db, write(tmp_path, osm(way)), plan.region)
    _, edges = await stored(db, plan.region)
    assert [(e.from_osm, e.to_osm) for e in edges] == [(4, 2)]


async def test_access_over_the_road_is_the_road_distance(db, plan, kz, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await roads.import_file(db, write(tmp_path, osm(PRIMARY + ONEWAY + FOOTWAY)), plan.region)
    report = await acc.access(db, plan.principal(), plan.region)
    assert report.method == "road"
    by = {s.code.removeprefix(plan.region): s for s in report.settlements}
    s1 = by["S1"].nearest["physician_ambulatory"]
    assert s1 is not None
    assert s1.settlement_code == plan.settlements["S6"]
    assert s1.method == "road"
    assert s1.km == pytest.approx(hav(1, 2) + hav(2, 3), rel=1e-6)
    # S3 (43.65, 77.10) is more than the pack's 2 km from every road node: the estimate
    s3 = by["S3"].nearest["physician_ambulatory"]
    assert s3 is not None
    assert s3.method == "estimate"
    assert s3.km == pytest.approx(s3.straight_km * report.detour_factor, rel=1e-9)


async def test_without_an_import_every_figure_is_an_estimate(db, plan, kz) -> None:  # type: ignore[no-untyped-def]
    report = await acc.access(db, plan.principal(), plan.region)
    assert report.method == "estimate"


async def test_reimport_replaces_the_region(db, plan, kz, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await roads.import_file(db, write(tmp_path, osm(PRIMARY + ONEWAY)), plan.region)
    await roads.import_file(db, write(tmp_path, osm(ONEWAY), "second.osm"), plan.region)
    n, edges = await stored(db, plan.region)
    assert n == 2
    assert [(e.from_osm, e.to_osm) for e in edges] == [(2, 4)]


BAD = {
    "not XML": ("this is not xml <<<", "not OpenStreetMap XML"),
    "another XML": ("<html><body/></html>", "not OpenStreetMap XML"),
    "no roads": (osm(FOOTWAY + BUILDING), "no roads"),
    "outside": (osm(PRIMARY, {**NODES, 3: (10.0, 77.06)}), "outside the country"),
    "missing node": (osm(PRIMARY, {1: NODES[1], 2: NODES[2]}), "does not hold"),
    "entity": (
        '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaa">]><osm>&a;</osm>',
        "not OpenStreetMap XML",
    ),
    "truncated": (osm(PRIMARY)[:-30], "not OpenStreetMap XML"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_files_are_refused_and_nothing_stored(db, plan, kz, tmp_path, case) -> None:  # type: ignore[no-untyped-def]
    await roads.import_file(db, write(tmp_path, osm(PRIMARY + ONEWAY), "good.osm"), plan.region)
    text, words = BAD[case]
    with pytest.raises(Invalid) as e:
        await roads.import_file(db, write(tmp_path, text), plan.region)
    assert e.value.errors[0].field == "file"
    assert words in e.value.errors[0].message
    n, edges = await stored(db, plan.region)
    assert (n, len(edges)) == (4, 5)  # the previous import is untouched


async def test_pbf_and_unknown_region_refused(db, plan, kz, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as e:
        await roads.import_file(db, write(tmp_path, "x", "r.osm.pbf"), plan.region)
    assert "osmium" in e.value.errors[0].message
    with pytest.raises(Invalid) as e:
        await roads.import_file(db, write(tmp_path, osm(PRIMARY)), plan.districts["D1"])
    assert e.value.errors[0].field == "region"
    n, _ = await stored(db, plan.districts["D1"])
    assert n == 0


# --- the parser on any input: a refusal naming the file, or a network; never a crash ----


def _parse(data: bytes) -> roads.RoadNetwork | None:
    import io

    from salomat.domains.planning.service import norms

    p = norms.planning_pack("KZ")
    try:
        return roads.parse_osm(io.BytesIO(data), p.access, p.bounds)
    except Invalid as e:
        fields = [x.field for x in e.errors]
    assert fields == ["file"]
    return None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_refused_or_parsed(data: bytes) -> None:
    _parse(data)


_tag = st.sampled_from(
    ["<node", "<way", "<nd", "<tag", "/>", ">", "</way>", "</osm>", '"', "=", " ", "1", "-1"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_tag | st.text(max_size=5), max_size=40))
def test_osm_like_text_is_refused_or_parsed(parts: list[str]) -> None:
    _parse(("<osm>" + "".join(parts)).encode())


def test_the_parsed_network_of_the_tiny_extract() -> None:
    net = _parse(osm(PRIMARY + ONEWAY + FOOTWAY + BUILDING).encode())
    assert net is not None
    assert set(net.nodes) == {1, 2, 3, 4}
    assert len(net.edges) == 5


# --- OSM ids: signed 64-bit (BIGINT), one below / at / one above each end -----------------

TOP, BOTTOM = 2**63 - 1, -(2**63)


def _two_nodes(a: int, b: int) -> str:
    nodes = {a: NODES[1], b: NODES[2]}
    way = f'<way id="20"><nd ref="{a}"/><nd ref="{b}"/><tag k="highway" v="primary"/></way>'
    return osm(way, nodes)


@pytest.mark.parametrize("ids", [(TOP - 1, TOP), (BOTTOM, BOTTOM + 1)])
async def test_ids_at_the_ends_of_the_range_are_stored(db, plan, kz, tmp_path, ids) -> None:  # type: ignore[no-untyped-def]
    await roads.import_file(db, write(tmp_path, _two_nodes(*ids)), plan.region)
    n, edges = await stored(db, plan.region)
    assert n == 2
    assert sorted((e.from_osm, e.to_osm) for e in edges) == sorted([ids, ids[::-1]])
    graph = await roads.load_graph(db, plan.region, 2.0)
    assert graph is not None
    assert graph.node_count == 2


@pytest.mark.parametrize(
    ("node", "where"), [(TOP + 1, "node"), (BOTTOM - 1, "node"), (2**64, "node")]
)
def test_a_node_id_past_the_range_is_refused_by_name(node: int, where: str) -> None:
    import io

    from salomat.domains.planning.service import norms

    p = norms.planning_pack("KZ")
    with pytest.raises(Invalid) as e:
        roads.parse_osm(io.BytesIO(_two_nodes(node, 2).encode()), p.access, p.bounds)
    assert [x.field for x in e.value.errors] == ["file"]
    assert f"node {node} has an id outside the 64-bit range" in e.value.errors[0].message


def test_a_way_naming_a_node_past_the_range_is_refused_by_name() -> None:
    import io

    from salomat.domains.planning.service import norms

    p = norms.planning_pack("KZ")
    way = f'<way id="21"><nd ref="1"/><nd ref="{TOP + 1}"/><tag k="highway" v="primary"/></way>'
    with pytest.raises(Invalid) as e:
        roads.parse_osm(io.BytesIO(osm(way).encode()), p.access, p.bounds)
    assert [x.field for x in e.value.errors] == ["file"]
    assert f"way 21 names node {TOP + 1}, an id outside" in e.value.errors[0].message


# --- OSM's implied one-ways: roundabouts and motorways -------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ('<tag k="highway" v="primary"/><tag k="junction" v="roundabout"/>', [(2, 4)]),
        ('<tag k="highway" v="tertiary"/><tag k="junction" v="circular"/>', [(2, 4)]),
        ('<tag k="highway" v="motorway"/>', [(2, 4)]),
        ('<tag k="highway" v="motorway_link"/>', [(2, 4)]),
        ('<tag k="highway" v="motorway"/><tag k="oneway" v="no"/>', [(2, 4), (4, 2)]),
        (
            '<tag k="highway" v="primary"/><tag k="junction" v="roundabout"/>'
            '<tag k="oneway" v="no"/>',
            [(2, 4), (4, 2)],
        ),
        ('<tag k="highway" v="motorway_link"/><tag k="oneway" v="-1"/>', [(4, 2)]),
        ('<tag k="highway" v="trunk"/>', [(2, 4), (4, 2)]),  # no implied one-way
    ],
)
def test_implied_oneways(tags: str, expected: list[tuple[int, int]]) -> None:
    net = _parse(osm(f'<way id="30"><nd ref="2"/><nd ref="4"/>{tags}</way>').encode())
    assert net is not None
    assert sorted((a, b) for a, b, *_ in net.edges) == expected
    assert all(o == (len(expected) == 1) for *_, o in net.edges)


# --- the built graph is kept per region, and a new import is seen ------------------------


async def test_the_graph_is_kept_until_another_import(db, plan, kz, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete, insert

    await roads.import_file(db, write(tmp_path, osm(PRIMARY + ONEWAY)), plan.region)
    first = await roads.load_graph(db, plan.region, 2.0)
    assert first is not None
    # a district's and a settlement's requests use the region's graph, built once
    assert await roads.load_graph(db, plan.districts["D1"], 2.0) is first
    assert await roads.load_graph(db, plan.settlements["S1"], 2.0) is first
    before = await acc.access(db, plan.principal(), plan.region)
    s1 = {s.code: s for s in before.settlements}[plan.settlements["S1"]]
    assert s1.nearest["physician_ambulatory"].minutes == pytest.approx(  # type: ignore[union-attr]
        (hav(1, 2) + hav(2, 3)) / PRIMARY_KMH * 60, rel=1e-6
    )
    # another process (the CLI) replaces the import: the same edges, ids and km, the
    # minutes doubled (a class's speed halved); this process's kept graph is not told
    rows = (await stored(db, plan.region))[1]
    await db.execute(delete(RoadEdge).where(RoadEdge.region_code == plan.region))
    await db.execute(
        insert(RoadEdge),
        [{"region_code": plan.region, "from_osm": e.from_osm, "to_osm": e.to_osm,
          "km": e.km, "minutes": e.minutes * 2, "oneway": e.oneway} for e in rows],
    )  # fmt: skip
    second = await roads.load_graph(db, plan.region, 2.0)
    assert second is not None
    assert second is not first
    after = await acc.access(db, plan.principal(), plan.region)
    s1 = {s.code: s for s in after.settlements}[plan.settlements["S1"]]
    assert s1.nearest["physician_ambulatory"].minutes == pytest.approx(  # type: ignore[union-attr]
        2 * (hav(1, 2) + hav(2, 3)) / PRIMARY_KMH * 60, rel=1e-6
    )
    # an import through the service drops the kept graph at once; none left: no graph
    await roads.import_file(db, write(tmp_path, osm(ONEWAY), "third.osm"), plan.region)
    third = await roads.load_graph(db, plan.region, 2.0)
    assert third is not None
    assert third.node_count == 2
    await db.execute(delete(RoadEdge).where(RoadEdge.region_code == plan.region))
    assert await roads.load_graph(db, plan.region, 2.0) is None
