"""The planner's map (service/map_svg.py): positions, escaping, determinism."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # our own output, not untrusted input

from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.planning.service.map_svg import (
    CLASS_COLOURS,
    MapFacility,
    MapLabels,
    MapSettlement,
    draw_map,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
LABELS = MapLabels(
    title="Settlements of the district",
    desc="Circles sized by population",
    classes={"gap": "Gap under the norm", "no_gap": "No gap"},
    levels={1: "Medical point", 2: "Feldsher-obstetric point"},
    outline="District outline (settlements' hull)",
)


def _s(code, lat, lon, pop=100, klass="gap", name=None, detail=""):
    return MapSettlement(code, name or code, lat, lon, pop, klass, detail)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (the map we drew, no foreign XML)


def _circles(svg: str) -> dict[str, tuple[float, float, float]]:
    root = _parse(svg)
    return {
        c.get("data-code"): (float(c.get("cx")), float(c.get("cy")), float(c.get("r")))
        for c in root.iterfind("svg:circle", NS)
        if c.get("data-code")
    }


def _viewbox(svg: str) -> tuple[float, float]:
    _, _, w, h = (float(v) for v in _parse(svg).get("viewBox").split())
    return w, h


def test_west_is_left_and_north_is_up():
    svg = draw_map(
        [
            _s("west", 43.0, 76.0),
            _s("east", 43.0, 77.0),
            _s("north", 43.8, 76.5),
            _s("south", 42.5, 76.5),
        ],
        [],
        LABELS,
    )
    c = _circles(svg)
    assert c["west"][0] < c["east"][0]
    assert c["north"][1] < c["south"][1]
    # the same scale on both axes: one degree of longitude at 43 N is cos 43 of a latitude's
    lon_px = c["east"][0] - c["west"][0]
    lat_px = c["south"][1] - c["north"][1]
    assert abs(lon_px / lat_px - 0.7314 / 1.3) < 0.01  # cos(42.5..43.8 mid) ~ 0.7314


def test_a_bigger_settlement_has_a_bigger_circle_area_by_population():
    svg = draw_map([_s("small", 43, 76, 25), _s("town", 43.1, 76.1, 10_000)], [], LABELS)
    c = _circles(svg)
    assert c["town"][2] == 16.0
    assert c["small"][2] < c["town"][2] / 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=35, max_value=56, allow_nan=False),
            st.floats(min_value=46, max_value=88, allow_nan=False),
            st.integers(min_value=0, max_value=2_000_000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_every_settlement_is_inside_the_map(points):
    svg = draw_map([_s(f"s{i}", a, o, p) for i, (a, o, p) in enumerate(points)], [], LABELS)
    w, h = _viewbox(svg)
    map_h = 480
    assert w == 720
    assert h > map_h
    for x, y, r in _circles(svg).values():
        assert r <= x <= w - r
        assert r <= y <= map_h - r


def test_text_is_escaped():
    evil = "<script>alert(1)</script>"
    svg = draw_map(
        [_s("a&b", 43, 76, 10, name=evil, detail='"quoted" & <b>')],
        [MapFacility(evil, 43.01, 76.01, 2, detail=evil)],
        MapLabels(title=evil, desc=evil, classes={"gap": evil}, levels={2: evil}, outline=evil),
    )
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;" in svg
    root = _parse(svg)  # well-formed XML
    assert root.find("svg:title", NS).text == evil
    circle = root.find("svg:circle[@data-code='a&b']", NS)
    assert circle.find("svg:title", NS).text == f'{evil}: "quoted" & <b>'


def test_each_circle_names_its_settlement_and_figures_and_the_map_is_titled():
    svg = draw_map([_s("k1", 43, 76, 420, name="Aul", detail="420 people; gap")], [], LABELS)
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.find("svg:title", NS).text == "Settlements of the district"
    assert root.find("svg:desc", NS).text == "Circles sized by population"
    tip = root.find("svg:circle[@data-code='k1']/svg:title", NS).text
    assert tip == "Aul: 420 people; gap"


def test_colours_follow_the_class_and_the_legend_says_them():
    svg = draw_map([_s("g", 43, 76, klass="gap"), _s("n", 43.2, 76, klass="no_gap")], [], LABELS)
    root = _parse(svg)
    fill = {c.get("data-code"): c.get("fill") for c in root.iterfind("svg:circle", NS)}
    assert fill["g"] == CLASS_COLOURS["gap"]
    assert fill["n"] == CLASS_COLOURS["no_gap"]
    legend = [t.text for t in root.iterfind("svg:text", NS)]
    assert legend == [
        "Gap under the norm",
        "No gap",
        "Medical point",
        "Feldsher-obstetric point",
        "District outline (settlements' hull)",
    ]


def test_outline_only_with_three_points_off_a_line():
    three = [_s("a", 43, 76), _s("b", 43.5, 76.2), _s("c", 43.1, 77)]
    assert 'data-testid="map-outline"' in draw_map(three, [], LABELS)
    line = [_s("a", 43, 76), _s("b", 43.5, 76.5), _s("c", 44, 77)]
    assert 'data-testid="map-outline"' not in draw_map(line, [], LABELS)
    assert 'data-testid="map-outline"' not in draw_map(three, [], LABELS, outline=False)


def test_facilities_get_the_symbol_of_their_level():
    svg = draw_map(
        [_s("a", 43, 76)],
        [MapFacility("MP", 43, 76.1, 1), MapFacility("FAP", 43.1, 76, 2)],
        LABELS,
    )
    root = _parse(svg)
    levels = [e.get("data-level") for e in root.iter() if e.get("data-level")]
    assert levels == ["1", "2"]
    assert root.find("svg:rect[@data-level='1']", NS) is not None  # a square
    assert root.find("svg:path[@data-level='2']", NS) is not None  # a triangle


def test_no_coordinates_no_circle_and_no_error():
    svg = draw_map([_s("a", 43, 76), _s("nan", float("nan"), 76)], [], LABELS)
    assert set(_circles(svg)) == {"a"}
    assert draw_map([], [], LABELS).endswith("</svg>")


def test_the_same_input_draws_the_same_bytes():
    pts = [_s(f"s{i}", 40 + i * 0.37 % 3, 60 + i * 0.71 % 5, i * 37) for i in range(40)]
    assert draw_map(pts, [], LABELS) == draw_map(list(pts), [], LABELS)
    assert not re.search(r"\d\.\d{2,}", draw_map(pts, [], LABELS).split("</desc>")[1])
