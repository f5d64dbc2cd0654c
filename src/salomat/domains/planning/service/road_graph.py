"""Measuring along roads: the ``RoadGraph`` seam of the access computation and its
implementation on a plain edge list (``SparseRoadGraph``, scipy.sparse.csgraph).

A settlement travels *to* a unit, so the graph is directed: a one-way street is driven in
its direction only. The nearest unit of every settlement is found at once by one
multi-source Dijkstra run from the units over the **reversed** graph (the distance from a
unit to a node on the reversed graph is the distance from that node to the unit on the
roads). The weight is the edge's travel minutes (the pack's speed for its road class,
service/roads.py): the unit reached is the one reached **soonest**, its minutes are those
of the fastest path, and its km the length of that same path (docs/planning.md, "Road
network": the figures describe one journey, the one a driver would take).

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

__all__ = ["RoadFigures", "RoadGraph", "SparseRoadGraph", "chord_to_km", "unit_xyz"]

#: a zero-length edge (two OSM nodes at one point) still counts as an edge for csgraph
_TINY = 1e-9


@dataclass(frozen=True, slots=True)
class RoadFigures:
    """Per origin: road km and minutes to the nearest target and its index (``inf``,
    ``inf``, ``-1`` where none is reachable along the roads)."""

    km: NDArray[np.float64]
    minutes: NDArray[np.float64]
    target: NDArray[np.int64]


class RoadGraph(Protocol):
    """A road network that measures journeys along roads ("road" figures), for all origins
    at once: ``route(origins, targets, off_road_kmh)`` (points as rows of lat, lon)."""

    def route(
        self,
        origins: NDArray[np.float64],
        targets: NDArray[np.float64],
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
    minutes)``.

    ``directed=True`` (an imported network: a two-way road is stored once each way, a
    one-way street once): each edge is travelled from ``a`` to ``b`` only. ``directed=False``
    (a hand-made graph): each edge both ways. An edge without minutes is taken at the
    off-road speed of the call. Of parallel edges between two nodes in one direction (a
    road listed twice, two roads side by side) the fastest is kept, never their sum."""

    def __init__(
        self,
        nodes: Sequence[tuple[float, float]],
        edges: Iterable[tuple[Any, ...]],
        *,
        max_snap_km: float = 2.0,
        directed: bool = False,
    ) -> None:
        from scipy.spatial import cKDTree

        pts = np.asarray(nodes, dtype=float).reshape(-1, 2)
        self._n = len(pts)
        self._tree = cKDTree(unit_xyz(pts[:, 0], pts[:, 1])) if self._n else None
        e = list(edges)
        a = np.array([x[0] for x in e], dtype=np.int64)
        b = np.array([x[1] for x in e], dtype=np.int64)
        km = np.array([x[2] for x in e], dtype=float)
        minutes = np.array([x[3] if len(x) > 3 else np.nan for x in e], dtype=float)
        if not directed:
            a, b = np.concatenate((a, b)), np.concatenate((b, a))
            km, minutes = np.tile(km, 2), np.tile(minutes, 2)
        keep = a != b
        self._a, self._b, self._km, self._min = a[keep], b[keep], km[keep], minutes[keep]
        self._max_snap = max_snap_km
        self._prepared: dict[float, tuple[NDArray[Any], ...]] = {}

    def _reversed(self, per_min: float) -> tuple[NDArray[Any], ...]:
        """The road edges reversed (to, from), of parallel ones the fastest with its km,
        sorted by (to, from): prepared once per off-road speed (several levels and a
        scenario's two runs share it)."""
        if per_min not in self._prepared:
            minutes = np.where(np.isnan(self._min), self._km * per_min, self._min)
            order = np.lexsort((minutes, self._a, self._b))
            f, t, km, m = self._b[order], self._a[order], self._km[order], minutes[order]
            first = np.ones(len(km), dtype=bool)
            first[1:] = (f[1:] != f[:-1]) | (t[1:] != t[:-1])
            self._prepared[per_min] = (f[first], t[first], km[first], m[first])
        return self._prepared[per_min]

    def _snap(self, points: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[Any]]:
        assert self._tree is not None
        chord, idx = self._tree.query(unit_xyz(points[:, 0], points[:, 1]))
        return chord_to_km(np.asarray(chord)), np.asarray(idx, dtype=np.int64)

    def route(
        self,
        origins: NDArray[np.float64],
        targets: NDArray[np.float64],
        off_road_kmh: float,
    ) -> RoadFigures:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        n = len(origins)
        out = RoadFigures(np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
        if n == 0 or len(targets) == 0 or self._n == 0:
            return out
        t_snap, t_node = self._snap(np.asarray(targets, dtype=float).reshape(-1, 2))
        o_snap, o_node = self._snap(np.asarray(origins, dtype=float).reshape(-1, 2))
        on_net = np.flatnonzero(t_snap <= self._max_snap)
        if len(on_net) == 0:
            return out
        per_min = 60.0 / off_road_kmh
        road_from, road_to, road_km, road_min = self._reversed(per_min)
        # the targets' own nodes (n + k) joined to their road node by the snap leg: rows
        # after every road node's, one edge each, so the keys stay sorted
        k = len(on_net)
        size = self._n + k
        rev_from = np.concatenate((road_from, np.arange(self._n, size)))
        rev_to = np.concatenate((road_to, t_node[on_net]))
        km = np.concatenate((road_km, t_snap[on_net]))
        minutes = np.concatenate((road_min, t_snap[on_net] * per_min))
        graph = csr_matrix((np.maximum(minutes, _TINY), (rev_from, rev_to)), shape=(size, size))
        dist, pred, src = dijkstra(
            graph,
            directed=True,
            indices=np.arange(self._n, size),
            min_only=True,
            return_predecessors=True,
        )
        # km along the tree: each node's edge to its predecessor (towards the target), then
        # the sums to the root by pointer doubling
        keys = rev_from * size + rev_to  # sorted: the lexsort's order
        node = np.arange(size)
        has = pred >= 0
        step = np.zeros(size)
        pos = np.searchsorted(keys, pred[has] * size + node[has])
        step[has] = km[pos]
        up = np.where(has, pred, node)
        while True:
            step = step + step[up]
            nxt = up[up]
            if np.array_equal(nxt, up):
                break
            up = nxt
        reach = np.isfinite(dist[o_node]) & (src[o_node] >= 0) & (o_snap <= self._max_snap)
        i = np.flatnonzero(reach)
        on = o_node[i]
        out.km[i] = o_snap[i] + step[on]
        out.minutes[i] = o_snap[i] * per_min + dist[on]
        out.target[i] = on_net[src[on] - self._n]
        return out

    def nearest(
        self, origins: NDArray[np.float64], targets: NDArray[np.float64], off_road_kmh: float = 60.0
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """The road km to the nearest target (by travel time) and its index."""
        r = self.route(origins, targets, off_road_kmh)
        return r.km, r.target
