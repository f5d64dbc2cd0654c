"""A SYNTHETIC road network for the demo region: not a real road, drawn from the demo
settlements' coordinates so that the demo's access figures are measured along roads
(service/roads.py, method "road") without shipping an OpenStreetMap extract.

Deterministic (the same territory gives the same roads), one region at a time:

- local roads (``highway=unclassified``): a minimum spanning tree of the region's
  settlements by straight-line distance (Prim's, ties broken by settlement code), each
  tree edge a two-way road between two settlements;
- one trunk road (``highway=trunk``, faster): between the region's two most populous
  settlements (a road of its own beside the tree's);
- one one-way road (``highway=unclassified``, ``oneway=yes``): between the closest two
  settlements the tree does not join directly, from the lower code to the higher.

The roads are written as OpenStreetMap XML (tagged ``source=salomat-demo-synthetic``) and
imported through ``roads.import_bytes``: the same checks, the same storage, the same speeds
(the pack's ``access.road_speeds_kmh``) as a real extract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from salomat.domains.planning.service import geo

__all__ = ["SOURCE", "DemoPlace", "synthetic_osm", "synthetic_ways"]

#: the tag every synthetic way carries (and the file's generator)
SOURCE = "salomat-demo-synthetic"


@dataclass(frozen=True, slots=True)
class DemoPlace:
    code: str
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True, slots=True)
class Way:
    a: str
    b: str
    highway: str
    oneway: bool = False


def _km(p: DemoPlace, q: DemoPlace) -> float:
    return geo.haversine_km(p.latitude, p.longitude, q.latitude, q.longitude)


def synthetic_ways(places: Sequence[DemoPlace]) -> list[Way]:
    """The region's synthetic roads (see the module's note); none for fewer than two
    places. Places sharing coordinates are joined like any other."""
    ps = sorted(places, key=lambda p: p.code)
    if len(ps) < 2:
        return []
    # Prim's minimum spanning tree: O(n^2), a demo region has tens of settlements
    in_tree = {ps[0].code}
    best = {p.code: (_km(ps[0], p), ps[0].code) for p in ps[1:]}
    by_code = {p.code: p for p in ps}
    ways: list[Way] = []
    while best:
        code = min(best, key=lambda c: (best[c][0], c))
        _, parent = best.pop(code)
        in_tree.add(code)
        ways.append(Way(*sorted((parent, code)), "unclassified"))
        for c in best:
            d = _km(by_code[code], by_code[c])
            if (d, code) < best[c]:
                best[c] = (d, code)
    joined = {(w.a, w.b) for w in ways}
    big = sorted(ps, key=lambda p: (-p.population, p.code))[:2]
    a, b = sorted((big[0].code, big[1].code))
    ways.append(Way(a, b, "trunk"))
    joined.add((a, b))
    pairs = [
        (_km(p, q), p.code, q.code)
        for i, p in enumerate(ps)
        for q in ps[i + 1 :]
        if (p.code, q.code) not in joined
    ]
    if pairs:
        _, a, b = min(pairs)
        ways.append(Way(a, b, "unclassified", oneway=True))
    return ways


def synthetic_osm(places: Sequence[DemoPlace]) -> bytes:
    """The synthetic roads as OpenStreetMap XML: one node per place joined by a road
    (osm ids 1.. in code order), one way per road."""
    ways = synthetic_ways(places)
    used = sorted({c for w in ways for c in (w.a, w.b)})
    ids = {c: i for i, c in enumerate(used, start=1)}
    by_code = {p.code: p for p in places}
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<osm version="0.6" generator="{SOURCE}">',
        "<!-- SYNTHETIC demo roads, not a real road network (docs/planning.md) -->",
    ]
    for c in used:
        p = by_code[c]
        lines.append(
            f'<node id="{ids[c]}" lat="{p.latitude:.6f}" lon="{p.longitude:.6f}">'
            f'<tag k="ref:settlement" v={quoteattr(c)}/></node>'
        )
    for k, w in enumerate(ways, start=1):
        tags = [("highway", w.highway), ("source", SOURCE)]
        if w.oneway:
            tags.append(("oneway", "yes"))
        lines.append(
            f'<way id="{k}"><nd ref="{ids[w.a]}"/><nd ref="{ids[w.b]}"/>'
            + "".join(f'<tag k="{t}" v={quoteattr(v)}/>' for t, v in tags)
            + "</way>"
        )
    lines.append("</osm>")
    return "\n".join(lines).encode("utf-8")
