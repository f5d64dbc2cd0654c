"""Measuring along roads: the ``RoadGraph`` seam of the access computation and its
implementation on a plain edge list (``SparseRoadGraph``, scipy.sparse.csgraph).

A settlement travels *to* a unit, so the graph is directed: a one-way street is driven in
its direction only. The nearest unit of every settlement is found at once by one
multi-source Dijkstra run from the units over the **reversed** graph (the distance from a
unit to a node on the reversed graph is the distance from that node to the unit on the
roads). Two runs over the same prepared edges:

- weighted by the edge's travel minutes (the pack's speed for its road class,
  service/roads.py): the unit reached **soonest**, the minutes of the fastest path, and
  the km of that same path (the journey a driver would take: the travel-time figures);
- weighted by the edge's km: the **shortest road distance** to any unit and that unit
  (the access threshold is a distance norm: docs/planning.md, "Access").

Points are snapped to their nearest node (a k-d tree on the unit sphere); a point farther
than ``max_snap_km`` from every node is not on the network. The snap is a straight leg,
taken at the off-road speed the caller gives (the pack's ``access.speed_kmh``). Each
target enters the Dijkstra as a node of its own joined to its road node by its snap leg,
so several units on one node, and their different snaps, need no loop in Python; the km
of every path comes from the shortest-path tree by pointer doubling (numpy), never a walk
per settlement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from salomat.domains.planning.service import geo

__all__ = [
    "RoadFigures",
    "RoadGraph",
    "Snapped",
    "SparseRoadGraph",
    "chord_to_km",
    "unit_xyz",
]

#: a zero-length edge (two OSM nodes at one point) still counts as an edge for csgraph
_TINY = 1e-9


@dataclass(frozen=True, slots=True)
class RoadFigures:
    """Per origin: the journey to the target reached soonest (its road km and minutes, the
    target's index), and the shortest road distance to any target (``dist_km``, the
    target nearest along the roads: ``dist_target``). ``inf``, ``inf``, ``-1`` where none
    is reachable along the roads (the same origins for both)."""

    km: NDArray[np.float64]
    minutes: NDArray[np.float64]
    target: NDArray[np.int64]
    dist_km: NDArray[np.float64]
    dist_target: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Snapped:
    """Points snapped to the network: each one's nearest road node and the straight leg
    to it (km). Snapped once, a set of points serves several ``route`` calls."""

    km: NDArray[np.float64]
    node: NDArray[np.int64]

    def take(self, idx: Any) -> Snapped:
        return Snapped(self.km[idx], self.node[idx])


class RoadGraph(Protocol):
    """A road network that measures journeys along roads ("road" figures), for all origins
    at once: ``route(origins, targets, off_road_kmh)`` (points as rows of lat, lon, or as
    ``snap`` gave them)."""

    #: a point (origin or target) farther than this from every node is off the network
    max_snap_km: float

    def snap(self, points: NDArray[np.float64]) -> Snapped: ...

    def route(
        self,
        origins: NDArray[np.float64] | Snapped,
        targets: NDArray[np.float64] | Snapped,
        off_road_kmh: float,
    ) -> RoadFigures: ...


def unit_xyz(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere (the chord is monotonic in the great-circle distance)."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def chord_to_km(chord: NDArray[np.float64]) -> NDArray[np.float64]:
    return 2 * geo.EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0.0, 1.0))


class SparseRoadGraph:
    """A road graph from nodes (lat, lon) and edges ``(a, b, km)`` or ``(a, b, km,
    minutes)`` (``from_arrays``: the same as numpy columns, as service/roads.py reads them).

    ``directed=True`` (an imported network: a two-way road is stored once each way, a
    one-way street once): each edge is travelled from ``a`` to ``b`` only. ``directed=False``
    (a hand-made graph): each edge both ways. An edge without minutes is taken at the
    off-road speed of the call. Of parallel edges between two nodes in one direction (a
    road listed twice, two roads side by side) the fastest is kept for the journey and the
    shortest for the distance, never their sum.

    A built graph is not changed by ``route`` (only its prepared edge arrays are cached
    on it), so one graph may serve many requests (service/roads.py keeps it per region)."""

    def __init__(
        self,
        nodes: Sequence[tuple[float, float]] | NDArray[np.float64],
        edges: Iterable[tuple[Any, ...]],
        *,
        max_snap_km: float = 2.0,
        directed: bool = False,
    ) -> None:
        pts = np.asarray(nodes, dtype=float).reshape(-1, 2)
        cols = np.array(
            [(x[0], x[1], x[2], x[3] if len(x) > 3 else np.nan) for x in edges], dtype=float
        ).reshape(-1, 4)
        self._setup(
            pts[:, 0], pts[:, 1], cols[:, 0].astype(np.int64), cols[:, 1].astype(np.int64),
            cols[:, 2], cols[:, 3], max_snap_km=max_snap_km, directed=directed,
        )  # fmt: skip

    @classmethod
    def from_arrays(
        cls,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        a: NDArray[np.int64],
        b: NDArray[np.int64],
        km: NDArray[np.float64],
        minutes: NDArray[np.float64],
        *,
        max_snap_km: float = 2.0,
        directed: bool = True,
    ) -> SparseRoadGraph:
        """The graph of node columns (lat, lon) and edge columns (from and to as node
        indices, km, minutes: NaN for none), without a Python object per edge."""
        g = cls.__new__(cls)
        g._setup(lat, lon, a, b, km, minutes, max_snap_km=max_snap_km, directed=directed)
        return g

    def _setup(
        self,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        a: NDArray[np.int64],
        b: NDArray[np.int64],
        km: NDArray[np.float64],
        minutes: NDArray[np.float64],
        *,
        max_snap_km: float,
        directed: bool,
    ) -> None:
        from scipy.spatial import cKDTree

        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        self._n = len(lat)
        self._tree = cKDTree(unit_xyz(lat, lon)) if self._n else None
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        km, minutes = np.asarray(km, dtype=float), np.asarray(minutes, dtype=float)
        if not directed:
            a, b = np.concatenate((a, b)), np.concatenate((b, a))
            km, minutes = np.tile(km, 2), np.tile(minutes, 2)
        keep = a != b
        self._a, self._b, self._km, self._min = a[keep], b[keep], km[keep], minutes[keep]
        self._max_snap = max_snap_km
        self._prepared: dict[float, tuple[NDArray[Any], ...]] = {}
        self._prepared_km: tuple[NDArray[Any], ...] | None = None

    @property
    def node_count(self) -> int:
        return self._n

    @property
    def max_snap_km(self) -> float:
        return self._max_snap

    def _reversed(self, per_min: float) -> tuple[NDArray[Any], ...]:
        """The road edges reversed (to, from), of parallel ones the fastest with its km,
        sorted by (to, from): prepared once per off-road speed (several levels and a
        scenario's two runs share it)."""
        if per_min not in self._prepared:
            minutes = np.where(np.isnan(self._min), self._km * per_min, self._min)
            self._prepared[per_min] = _first_of_pairs(self._b, self._a, minutes, self._km)
        return self._prepared[per_min]

    def _reversed_km(self) -> tuple[NDArray[Any], ...]:
        """The road edges reversed, of parallel ones the shortest, sorted by (to, from)
        (for the distance: the same edges, weighted by km)."""
        if self._prepared_km is None:
            self._prepared_km = _first_of_pairs(self._b, self._a, self._km, self._km)
        return self._prepared_km

    def snap(self, points: NDArray[np.float64]) -> Snapped:
        """Each point's nearest road node and the straight leg to it (km); a graph
        without nodes snaps nothing (every leg infinite)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if self._tree is None or len(pts) == 0:
            return Snapped(np.full(len(pts), np.inf), np.zeros(len(pts), dtype=np.int64))
        chord, idx = self._tree.query(unit_xyz(pts[:, 0], pts[:, 1]))
        return Snapped(chord_to_km(np.asarray(chord)), np.asarray(idx, dtype=np.int64))

    def route(
        self,
        origins: NDArray[np.float64] | Snapped,
        targets: NDArray[np.float64] | Snapped,
        off_road_kmh: float,
    ) -> RoadFigures:
        o = origins if isinstance(origins, Snapped) else self.snap(origins)
        t = targets if isinstance(targets, Snapped) else self.snap(targets)
        n = len(o.km)
        out = RoadFigures(
            np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64),
            np.full(n, np.inf), np.full(n, -1, dtype=np.int64),
        )  # fmt: skip
        if n == 0 or len(t.km) == 0 or self._n == 0:
            return out
        on_net = np.flatnonzero(t.km <= self._max_snap)
        if len(on_net) == 0:
            return out
        per_min = 60.0 / off_road_kmh
        # the targets' own nodes (n + k) joined to their road node by the snap leg: rows
        # after every road node's, one edge each, so the keys stay sorted
        size = self._n + len(on_net)
        leg_from = np.arange(self._n, size, dtype=np.int64)
        leg_to, leg_km = t.node[on_net], t.km[on_net]
        o_on = o.km <= self._max_snap
        # the journey: the unit reached soonest (minutes), and the km of that path
        f, to, km, minutes = self._reversed(per_min)
        tree = _Tree.run(
            np.concatenate((f, leg_from)), np.concatenate((to, leg_to)),
            np.concatenate((minutes, leg_km * per_min)), np.concatenate((km, leg_km)),
            self._n, size,
        )  # fmt: skip
        i = np.flatnonzero(tree.reached(o.node) & o_on)
        on = o.node[i]
        out.km[i] = o.km[i] + tree.km[on]
        out.minutes[i] = o.km[i] * per_min + tree.dist[on]
        out.target[i] = on_net[tree.src[on] - self._n]
        # the distance: the unit nearest along the roads (km), whatever the speeds
        f, to, km, _ = self._reversed_km()
        tree = _Tree.run(
            np.concatenate((f, leg_from)), np.concatenate((to, leg_to)),
            np.concatenate((km, leg_km)), np.concatenate((km, leg_km)), self._n, size,
        )  # fmt: skip
        i = np.flatnonzero(tree.reached(o.node) & o_on)
        on = o.node[i]
        out.dist_km[i] = o.km[i] + tree.km[on]
        out.dist_target[i] = on_net[tree.src[on] - self._n]
        return out

    def nearest(
        self, origins: NDArray[np.float64], targets: NDArray[np.float64], off_road_kmh: float = 60.0
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """The road km to the nearest target (by travel time) and its index."""
        r = self.route(origins, targets, off_road_kmh)
        return r.km, r.target


def _first_of_pairs(
    f: NDArray[np.int64], t: NDArray[np.int64], weight: NDArray[np.float64], km: NDArray[Any]
) -> tuple[NDArray[Any], ...]:
    """The edges ``f -> t`` sorted by (f, t), of parallel ones the least ``weight``:
    (from, to, km, weight)."""
    order = np.lexsort((weight, t, f))
    f, t, km, w = f[order], t[order], km[order], weight[order]
    first = np.ones(len(f), dtype=bool)
    first[1:] = (f[1:] != f[:-1]) | (t[1:] != t[:-1])
    return f[first], t[first], km[first], w[first]


@dataclass(frozen=True, slots=True)
class _Tree:
    """One multi-source Dijkstra from the target nodes (``n`` and after) over reversed
    edges sorted by (from, to): per node the least weight (``dist``), its source and the
    km along the shortest-path tree (exact: the edges' km summed, not the weights, which
    are at least ``_TINY``)."""

    dist: NDArray[np.float64]
    src: NDArray[np.int64]
    km: NDArray[np.float64]

    @classmethod
    def run(
        cls,
        rev_from: NDArray[np.int64],
        rev_to: NDArray[np.int64],
        weight: NDArray[np.float64],
        km: NDArray[np.float64],
        n: int,
        size: int,
    ) -> _Tree:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        graph = csr_matrix((np.maximum(weight, _TINY), (rev_from, rev_to)), shape=(size, size))
        dist, pred, src = dijkstra(
            graph, directed=True, indices=np.arange(n, size), min_only=True,
            return_predecessors=True,
        )  # fmt: skip
        # km along the tree: each node's edge to its predecessor (towards the target), then
        # the sums to the root by pointer doubling. scipy gives int32 predecessors: every
        # product below is int64 (an int32 key wraps past ~46,340 nodes)
        pred = np.asarray(pred, dtype=np.int64)
        keys = rev_from * np.int64(size) + rev_to  # sorted: (from, to)
        node = np.arange(size, dtype=np.int64)
        has = pred >= 0
        step = np.zeros(size)
        pos = np.searchsorted(keys, pred[has] * np.int64(size) + node[has])
        step[has] = km[pos]
        up = np.where(has, pred, node)
        while True:
            step = step + step[up]
            nxt = up[up]
            if np.array_equal(nxt, up):
                break
            up = nxt
        return cls(dist, np.asarray(src, dtype=np.int64), step)

    def reached(self, nodes: NDArray[np.int64]) -> NDArray[np.bool_]:
        return np.isfinite(self.dist[nodes]) & (self.src[nodes] >= 0)
