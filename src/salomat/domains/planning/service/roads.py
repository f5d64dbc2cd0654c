"""The road network of a region from an OpenStreetMap XML extract (``.osm`` or
``.osm.gz``), stored per region (``road_node``, ``road_edge``) and loaded as the access
computation's ``RoadGraph`` (service/access.py).

The file is streamed (``iterparse``, each element cleared once read): the nodes' coordinates
are kept, then each way tagged ``highway`` (not a class of the pack's
``access.road_skip_highways``) gives one edge per consecutive pair of its nodes, in both
directions unless ``oneway`` (``yes``/``true``/``1`` forwards, ``-1`` backwards). An edge's
km is the haversine length (service/geo.py); its minutes at the pack's speed for the way's
class (``access.road_speeds_kmh``, UNVERIFIED), else at ``access.speed_kmh``. Only the nodes
the roads use are stored. ``.osm.pbf`` is not read (no PBF reader is installed): convert it
with osmium first (docs/planning.md).

Bad input (not XML, no roads, a road's node missing or outside the country's bounds) is
refused with a message naming what is wrong, and nothing is stored; an import replaces the
region's previous one in the same transaction.
"""

from __future__ import annotations

import gzip
import io
import itertools
import xml.etree.ElementTree as ET
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
from sqlalchemy import delete, func, insert, select, text

from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.planning.models_roads import RoadEdge, RoadNode
from salomat.domains.planning.service import geo, norms

__all__ = [
    "MAX_XML_BYTES",
    "RoadImport",
    "RoadNetwork",
    "forget_graphs",
    "import_bytes",
    "import_file",
    "load_graph",
    "parse_osm",
    "store",
]

_ONEWAY_FORWARD = {"yes", "true", "1"}
#: OSM's implied one-ways: a roundabout (or circular junction) and a motorway are one way
#: in the way's direction unless tagged ``oneway`` otherwise (``no``, ``-1``...)
_IMPLIED_ONEWAY_JUNCTIONS = {"roundabout", "circular"}
_IMPLIED_ONEWAY_HIGHWAYS = {"motorway", "motorway_link"}
#: OSM ids are stored as signed 64-bit integers (BIGINT)
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1
_BATCH = 5000
#: the most XML an upload may unpack to (a gzipped body is small; its content is not)
MAX_XML_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class RoadNetwork:
    """Nodes (osm id -> (lat, lon)) and directed edges (from, to, km, minutes, oneway)."""

    nodes: dict[int, tuple[float, float]]
    edges: list[tuple[int, int, float, float, bool]]


def _bad(message: str, **params: Any) -> Invalid:
    return Invalid.fields([FieldError("file", message, params)])


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".pbf"):
        raise _bad(N_("a .osm.pbf file is not read: convert it to .osm with osmium"))
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


class _Capped(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes (a gzip bomb stops here)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._left, self._limit = stream, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise _bad(N_("the file unpacks to more than %(max)s bytes of XML"), max=self._limit)
        buffer[: len(data)] = data
        return len(data)


def _elements(stream: IO[bytes]) -> Iterator[ET.Element]:
    """The top-level elements of an OSM file, streamed; each is dropped from the tree once
    the caller has read it (a region's file never sits in memory whole). Entity
    declarations are refused (no entity expansion, the "billion laughs"; OSM files have
    none), and the parser fetches no external entity."""
    pull = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    tail = b""
    try:
        while chunk := stream.read(1 << 16):
            if b"<!ENTITY" in tail + chunk:
                raise ET.ParseError("entity declarations are refused")
            tail = chunk[-8:]
            pull.feed(chunk)
            for event, el in pull.read_events():
                if root is None:
                    root = el
                    if el.tag != "osm":
                        raise ET.ParseError(f"the root element is <{el.tag}>, not <osm>")
                elif event == "end" and el.tag in ("node", "way", "relation"):
                    yield el
                    root.clear()
        pull.close()
        list(pull.read_events())
    except (ET.ParseError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise _bad(N_("the file is not OpenStreetMap XML (%(error)s)"), error=str(e)) from None
    if root is None:
        raise _bad(N_("the file is not OpenStreetMap XML (%(error)s)"), error="empty")


def parse_osm(stream: IO[bytes], rules: norms.AccessRules, bounds: norms.Bounds) -> RoadNetwork:
    """The road network of an OSM XML stream (checked: see the module's note)."""
    coords: dict[int, tuple[float, float]] = {}
    edges: list[tuple[int, int, float, float, bool]] = []
    used: set[int] = set()
    skip = set(rules.road_skip)
    for el in _elements(stream):
        if el.tag == "node":
            try:
                nid = int(el.attrib["id"])
                coords[nid] = (float(el.attrib["lat"]), float(el.attrib["lon"]))
            except (KeyError, ValueError):
                raise _bad(
                    N_("node %(id)s has no valid coordinates"), id=el.attrib.get("id", "?")
                ) from None
            if not _MIN_ID <= nid <= _MAX_ID:
                raise _bad(N_("node %(id)s has an id outside the 64-bit range"), id=nid)
        elif el.tag == "way":
            tags = {t.attrib.get("k"): t.attrib.get("v") for t in el.iter("tag")}
            kind = tags.get("highway")
            if not kind or kind in skip:
                continue
            try:
                refs = [int(n.attrib["ref"]) for n in el.iter("nd") if "ref" in n.attrib]
            except ValueError:
                raise _bad(
                    N_("way %(id)s names a node that is not a number"),
                    id=el.attrib.get("id", "?"),
                ) from None
            wrong = next((r for r in refs if not _MIN_ID <= r <= _MAX_ID), None)
            if wrong is not None:
                raise _bad(
                    N_("way %(id)s names node %(node)s, an id outside the 64-bit range"),
                    id=el.attrib.get("id", "?"),
                    node=wrong,
                )
            ow = (tags.get("oneway") or "").lower()
            if not ow and (
                tags.get("junction") in _IMPLIED_ONEWAY_JUNCTIONS
                or kind in _IMPLIED_ONEWAY_HIGHWAYS
            ):
                ow = "yes"
            forward, backward = ow != "-1", ow not in _ONEWAY_FORWARD
            speed = rules.road_speeds_kmh.get(kind, rules.speed_kmh)
            for a, b in itertools.pairwise(refs):
                if a not in coords or b not in coords:
                    raise _bad(
                        N_("way %(id)s uses node %(node)s, which the file does not hold"),
                        id=el.attrib.get("id", "?"),
                        node=b if a in coords else a,
                    )
                if a == b:
                    continue
                km = geo.haversine_km(*coords[a], *coords[b])
                minutes = geo.travel_minutes(km, speed)
                one = not (forward and backward)
                if forward:
                    edges.append((a, b, km, minutes, one))
                if backward:
                    edges.append((b, a, km, minutes, one))
                used.update((a, b))
    if not edges:
        raise _bad(N_("the file holds no roads (no way with a highway tag)"))
    nodes = {n: coords[n] for n in used}
    outside = sorted(n for n, (lat, lon) in nodes.items() if not bounds.contains(lat, lon))
    if outside:
        raise _bad(
            N_("%(count)s road nodes lie outside the country's bounds (the first: %(node)s)"),
            count=len(outside),
            node=outside[0],
        )
    return RoadNetwork(nodes, edges)


async def take_turn(session: Any, region_code: str) -> None:
    """Wait for any other import of the region to commit (PostgreSQL transaction lock,
    as statistics' aggregate does; SQLite has one writer at a time)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": zlib.crc32(f"road_network:{region_code}".encode())},
        )


async def store(session: Any, country: str, region_code: str, net: RoadNetwork) -> dict[str, int]:
    """Replace the region's road network with ``net`` (set-wise, in the caller's
    transaction). Two imports of one region at once take turns (``take_turn``): the
    second deletes the first's rows once it has committed, so one file's network is
    stored, never both mixed."""
    await take_turn(session, region_code)
    forget_graphs(region_code)
    await session.execute(delete(RoadEdge).where(RoadEdge.region_code == region_code))
    await session.execute(delete(RoadNode).where(RoadNode.region_code == region_code))
    node_rows = [
        {"country": country, "region_code": region_code, "osm_id": n, "lat": la, "lon": lo}
        for n, (la, lo) in net.nodes.items()
    ]
    edge_rows = [
        {"region_code": region_code, "from_osm": a, "to_osm": b, "km": k, "minutes": m,
         "oneway": o}
        for a, b, k, m, o in net.edges
    ]  # fmt: skip
    for rows, model in ((node_rows, RoadNode), (edge_rows, RoadEdge)):
        for i in range(0, len(rows), _BATCH):
            await session.execute(insert(model), rows[i : i + _BATCH])
    return {"nodes": len(node_rows), "edges": len(edge_rows)}


@dataclass(frozen=True, slots=True)
class RoadImport:
    """What an import stored: the region and its road nodes and directed edges."""

    region: str
    nodes: int
    edges: int


async def _region(session: Any, region_code: str) -> None:
    from salomat.domains.registry import service as registry

    t = await registry.territory_by_code(session, region_code)
    if t is None or t.level != "region":
        raise Invalid.fields(
            [FieldError("region", N_("%(value)s is not a region"), {"value": region_code})]
        )


async def import_file(session: Any, path: Path, region_code: str) -> dict[str, int]:
    """Import the OSM extract at ``path`` as the road network of the region
    ``region_code`` (a territory of level region) of the deployed country."""
    await _region(session, region_code)
    p = norms.current()
    try:
        stream = _open(path)
    except OSError as e:
        raise _bad(N_("the file cannot be read (%(error)s)"), error=str(e)) from None
    with stream:
        net = parse_osm(stream, p.access, p.bounds)
    return await store(session, p.country, region_code, net)


async def import_bytes(session: Any, data: bytes, region_code: str) -> RoadImport:
    """Import an uploaded OSM extract (XML, or XML gzipped: told by its first bytes) as the
    region's road network, as ``import_file`` does. A ``.osm.pbf`` is recognised and
    refused; the XML may unpack to ``MAX_XML_BYTES`` at most."""
    await _region(session, region_code)
    if b"OSMHeader" in data[:64]:
        raise _bad(N_("a .osm.pbf file is not read: convert it to .osm with osmium"))
    raw: IO[bytes] = io.BytesIO(data)
    if data.startswith(_GZIP_MAGIC):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    p = norms.current()
    stream = io.BufferedReader(_Capped(raw, MAX_XML_BYTES))
    # parsed in a worker thread: a large upload does not hold up the other requests
    net = await anyio.to_thread.run_sync(parse_osm, stream, p.access, p.bounds)
    counts = await store(session, p.country, region_code, net)
    return RoadImport(region_code, counts["nodes"], counts["edges"])


#: built graphs kept: (database, region, snap km) -> (import stamp, graph); the least
#: recently used dropped past _KEEP (a region's graph may hold millions of edges)
_GRAPHS: OrderedDict[tuple[str, str, float], tuple[tuple[Any, ...], Any]] = OrderedDict()
_KEEP = 4


def _database(session: Any) -> str:
    return str(session.get_bind().url)


def forget_graphs(region_code: str | None = None) -> None:
    """Drop the kept graphs (of one region, or all): an import in this process does."""
    for key in [k for k in _GRAPHS if region_code is None or k[1] == region_code]:
        del _GRAPHS[key]


async def _stamp(session: Any, region_code: str) -> tuple[Any, ...]:
    """What tells one import of the region from another, in one aggregate over its edges:
    the count, the highest edge id (a new import's rows get new ids on PostgreSQL; SQLite
    may give the same ids again after a delete) and the total km and minutes (rounded: a
    parallel sum on PostgreSQL may differ in its last bits)."""
    row = (
        await session.execute(
            select(
                func.count(RoadEdge.id),
                func.max(RoadEdge.id),
                func.sum(RoadEdge.km),
                func.sum(RoadEdge.minutes),
            ).where(RoadEdge.region_code == region_code)
        )
    ).one()
    count, top, km, minutes = row
    return (count, top, round(float(km or 0), 3), round(float(minutes or 0), 3))


async def load_graph(session: Any, territory_code: str, snap_km: float) -> Any | None:
    """The stored road graph of the territory's region (a directed ``SparseRoadGraph``:
    each stored edge is travelled in its direction, at its minutes), or None when none is
    imported.

    Built once per import and kept (``_GRAPHS``): each call reads the import's stamp
    (``_stamp``, one aggregate) and builds the graph again only when it changed, so an
    import by another process (the CLI) is seen on the next request. A build reads two
    set-wise queries into numpy columns and maps the OSM ids with ``searchsorted``."""
    from salomat.domains.planning.service.regions import region_of

    t = await region_of(session, territory_code)
    if t is None:
        return None
    stamp = await _stamp(session, t.code)
    if stamp[0] == 0:
        return None
    key = (_database(session), t.code, float(snap_km))
    kept = _GRAPHS.get(key)
    if kept is not None and kept[0] == stamp:
        _GRAPHS.move_to_end(key)
        return kept[1]
    graph = await _build(session, t.code, snap_km)
    if graph is None:
        return None
    _GRAPHS[key] = (stamp, graph)
    _GRAPHS.move_to_end(key)
    while len(_GRAPHS) > _KEEP:
        _GRAPHS.popitem(last=False)
    return graph


async def _build(session: Any, region_code: str, snap_km: float) -> Any | None:
    import numpy as np

    from salomat.domains.planning.service.road_graph import SparseRoadGraph

    nodes = (
        await session.execute(
            select(RoadNode.osm_id, RoadNode.lat, RoadNode.lon).where(
                RoadNode.region_code == region_code
            )
        )
    ).all()
    if not nodes:
        return None
    ids, lat, lon = (np.array(c) for c in zip(*nodes, strict=True))
    ids = ids.astype(np.int64)
    order = np.argsort(ids, kind="stable")
    ids, lat, lon = ids[order], lat[order].astype(float), lon[order].astype(float)
    edges = (
        await session.execute(
            select(RoadEdge.from_osm, RoadEdge.to_osm, RoadEdge.km, RoadEdge.minutes).where(
                RoadEdge.region_code == region_code
            )
        )
    ).all()
    if edges:
        a_osm, b_osm, km, minutes = (np.array(c) for c in zip(*edges, strict=True))
    else:
        a_osm = b_osm = np.zeros(0, dtype=np.int64)
        km = minutes = np.zeros(0)
    a_osm, b_osm = a_osm.astype(np.int64), b_osm.astype(np.int64)
    a = np.minimum(np.searchsorted(ids, a_osm), len(ids) - 1)
    b = np.minimum(np.searchsorted(ids, b_osm), len(ids) - 1)
    known = (ids[a] == a_osm) & (ids[b] == b_osm)  # an edge to a node not stored: left out
    return SparseRoadGraph.from_arrays(
        lat, lon, a[known], b[known], km.astype(float)[known], minutes.astype(float)[known],
        max_snap_km=snap_km, directed=True,
    )  # fmt: skip
