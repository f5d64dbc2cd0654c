"""Access along a directed road graph weighted by travel minutes (service/road_graph.py).

Hand-drawn graphs: every node is a point, every edge's km and minutes are given here (not
measured), and the expected figures are the sums of the edges along the path a driver
would take, worked out by hand in each test. Points lie on the nodes (snap 0) unless a
test says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import geo
from salomat.domains.planning.service.access import Place, compute_access
from salomat.domains.planning.service.road_graph import SparseRoadGraph

#: nodes 0..4 along the 43rd parallel, 0.1 degree apart (their straight lines do not
#: matter: the edges carry their own km)
NODES = [(43.0, 76.0 + i / 10) for i in range(5)]
OFF_ROAD = 60.0


def pts(*idx: int) -> np.ndarray:
    return np.array([NODES[i] for i in idx], dtype=float)


def minutes(km: float, kmh: float) -> float:
    return km / kmh * 60


def test_a_one_way_street_forces_the_detour() -> None:
    # 1 -> 0 is one way (3 km, 3 min): from 0 the driver goes round 0 - 2 - 1 (two-way,
    # 4 km + 5 km, 6 + 7 minutes); from 1 the one-way street is the way
    edges = [
        (1, 0, 3.0, 3.0),
        (0, 2, 4.0, 6.0),
        (2, 0, 4.0, 6.0),
        (2, 1, 5.0, 7.0),
        (1, 2, 5.0, 7.0),
    ]
    g = SparseRoadGraph(NODES, edges, directed=True)
    r = g.route(pts(0), pts(1), OFF_ROAD)
    assert (r.km[0], r.minutes[0], r.target[0]) == (pytest.approx(9.0), pytest.approx(13.0), 0)
    r = g.route(pts(1), pts(0), OFF_ROAD)
    assert (r.km[0], r.minutes[0]) == (pytest.approx(3.0), pytest.approx(3.0))


def test_against_the_one_way_nothing_is_reached() -> None:
    g = SparseRoadGraph(NODES, [(1, 0, 3.0, 3.0)], directed=True)
    r = g.route(pts(0), pts(1), OFF_ROAD)
    assert math.isinf(r.km[0])
    assert math.isinf(r.minutes[0])
    assert r.target[0] == -1


def test_the_motorway_is_faster_but_longer() -> None:
    # 0 -> 1 by the village road: 10 km at 30 km/h = 20 min; round by the motorway
    # 0 - 3 - 1: 6 + 9 = 15 km at 100 km/h = 9 min. The figures are the motorway journey's
    # (the fastest path): 15 km, 9 minutes
    edges = [
        (0, 1, 10.0, minutes(10, 30)),
        (0, 3, 6.0, minutes(6, 100)),
        (3, 1, 9.0, minutes(9, 100)),
    ]
    g = SparseRoadGraph(NODES, edges, directed=False)
    r = g.route(pts(0), pts(1), OFF_ROAD)
    assert r.km[0] == pytest.approx(15.0)
    assert r.minutes[0] == pytest.approx(9.0)


def test_the_unit_reached_soonest_is_the_journey_the_nearest_by_road_the_distance() -> None:
    # two units: at 1, 10 km away by a slow road (20 min); at 2, 15 km away by the
    # motorway (9 min): the unit at 2 is the one reached first (the journey), the unit at
    # 1 the nearest along the roads (the distance)
    edges = [(0, 1, 10.0, 20.0), (0, 3, 6.0, 3.6), (3, 2, 9.0, 5.4)]
    g = SparseRoadGraph(NODES, edges, directed=True)
    r = g.route(pts(0), pts(1, 2), OFF_ROAD)
    assert (r.target[0], r.km[0], r.minutes[0]) == (1, pytest.approx(15.0), pytest.approx(9.0))
    assert (r.dist_target[0], r.dist_km[0]) == (0, pytest.approx(10.0))


def test_the_distance_takes_the_shorter_of_parallel_roads() -> None:
    # two roads 0 -> 1: 8 km in 12 min and 11 km in 7 min: the journey is the second's,
    # the distance the first's (never a sum)
    g = SparseRoadGraph(NODES, [(0, 1, 8.0, 12.0), (0, 1, 11.0, 7.0)], directed=True)
    r = g.route(pts(0), pts(1), OFF_ROAD)
    assert (r.km[0], r.minutes[0], r.dist_km[0]) == (
        pytest.approx(11.0), pytest.approx(7.0), pytest.approx(8.0),
    )  # fmt: skip


def test_a_chain_longer_than_an_int32_key_sums_every_edge() -> None:
    # 60,000 nodes in a chain towards node 0, random km: the path tree's keys (node x
    # size) pass 2^31 past ~46,340 nodes; the km from far out are still the sums of the
    # edges (summed here with math.fsum)
    n = 60_000
    rng = np.random.default_rng(7)
    km = rng.uniform(0.01, 2.0, n - 1)
    lat = 41.0 + np.arange(n) * 1e-4  # distinct points, each its own node
    g = SparseRoadGraph.from_arrays(
        lat, np.full(n, 64.0), np.arange(1, n), np.arange(n - 1), km, km / 50 * 60
    )
    far = [n - 1, 50_000, n // 2, 1]
    r = g.route(np.column_stack((lat[far], np.full(len(far), 64.0))), np.array([[41.0, 64.0]]),
                OFF_ROAD)  # fmt: skip
    for j, o in enumerate(far):
        expected = math.fsum(float(x) for x in km[:o])
        assert r.km[j] == pytest.approx(expected, rel=1e-9)
        assert r.dist_km[j] == pytest.approx(expected, rel=1e-9)
        assert r.minutes[j] == pytest.approx(expected / 50 * 60, rel=1e-9)


def test_parallel_directed_edges_keep_the_fastest_with_its_km() -> None:
    # two roads 0 -> 1: 8 km in 12 min and 11 km in 7 min: 11 km, 7 min (never a sum)
    g = SparseRoadGraph(NODES, [(0, 1, 8.0, 12.0), (0, 1, 11.0, 7.0)], directed=True)
    r = g.route(pts(0), pts(1), OFF_ROAD)
    assert (r.km[0], r.minutes[0]) == (pytest.approx(11.0), pytest.approx(7.0))


def test_edges_without_minutes_go_at_the_given_speed() -> None:
    g = SparseRoadGraph(NODES, [(0, 1, 12.0), (1, 2, 8.0)])
    r = g.route(pts(2), pts(0), 40.0)
    assert (r.km[0], r.minutes[0]) == (pytest.approx(20.0), pytest.approx(30.0))


def test_a_long_chain_sums_every_edge() -> None:
    # 0 -> 1 -> 2 -> 3 -> 4, edge i of i + 1 km and 2 (i + 1) minutes: 15 km, 30 minutes
    # (the km come from the path tree by pointer doubling: a chain longer than 2 steps)
    nodes = [(43.0, 76.0 + i / 100) for i in range(5)]
    edges = [(i, i + 1, i + 1.0, 2 * (i + 1.0)) for i in range(4)]
    g = SparseRoadGraph(nodes, edges, directed=True)
    r = g.route(np.array(nodes[:4]), np.array([nodes[4]]), OFF_ROAD)
    assert list(r.km) == pytest.approx([10.0, 9.0, 7.0, 4.0])
    assert list(r.minutes) == pytest.approx([20.0, 18.0, 14.0, 8.0])


# --- the snap legs: straight, at the off-road speed; within max_snap_km or not at all ---

#: 0.01 degree of latitude, by hand: 0.01 x pi / 180 x 6371.0 km
SNAP_KM = 0.01 * math.pi / 180 * 6371.0


@pytest.mark.parametrize(
    ("limit", "reached"),
    [(SNAP_KM * (1 - 1e-6), False), (SNAP_KM * (1 + 1e-6), True)],
)
def test_the_snap_limit(limit: float, reached: bool) -> None:
    g = SparseRoadGraph(NODES, [(0, 1, 5.0, 4.0)], directed=True, max_snap_km=limit)
    origin = np.array([[43.01, 76.0]])  # 0.01 degree north of node 0
    r = g.route(origin, pts(1), OFF_ROAD)
    if reached:
        assert r.km[0] == pytest.approx(5.0 + SNAP_KM, rel=1e-9)
        assert r.minutes[0] == pytest.approx(4.0 + minutes(SNAP_KM, OFF_ROAD), rel=1e-9)
    else:
        assert r.target[0] == -1


def test_targets_on_one_node_the_closer_snap_wins() -> None:
    # two units off node 1: one 0.01 degree north, one 0.005 degree south; the second's
    # snap is the shorter (half of SNAP_KM, by hand)
    g = SparseRoadGraph(NODES, [(0, 1, 5.0, 4.0)], directed=True, max_snap_km=2.0)
    targets = np.array([[43.01, 76.1], [42.995, 76.1]])
    r = g.route(pts(0), targets, OFF_ROAD)
    assert r.target[0] == 1
    assert r.km[0] == pytest.approx(5.0 + SNAP_KM / 2, rel=1e-6)


def test_empty_inputs() -> None:
    g = SparseRoadGraph(NODES, [(0, 1, 5.0, 4.0)], directed=True)
    assert len(g.route(np.empty((0, 2)), pts(1), OFF_ROAD).km) == 0
    assert g.route(pts(0), np.empty((0, 2)), OFF_ROAD).target[0] == -1
    assert SparseRoadGraph([], []).route(pts(0), pts(1), OFF_ROAD).target[0] == -1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(0, 4),
            st.floats(0.0, 50.0),
            st.floats(0.0, 60.0),
        ),
        max_size=12,
    ),
    st.integers(0, 4),
    st.integers(0, 4),
)
def test_the_route_is_the_fastest_of_every_path(edges, origin, target) -> None:  # type: ignore[no-untyped-def]
    """Against brute force over simple paths: the minutes are the least of any directed
    path's, and the km are those of a path with those minutes."""
    g = SparseRoadGraph(NODES, edges, directed=True)
    r = g.route(pts(origin), pts(target), OFF_ROAD)
    best: dict[float, set[float]] = {}

    def walk(at: int, seen: set[int], km: float, mins: float) -> None:
        if at == target:
            best.setdefault(round(mins, 6), set()).add(round(km, 6))
            return
        for a, b, k, m in edges:
            if a == at and b not in seen and a != b:
                walk(b, seen | {b}, km + k, mins + m)

    walk(origin, {origin}, 0.0, 0.0)
    if not best:
        assert r.target[0] == -1
        return
    fastest = min(best)
    assert r.minutes[0] == pytest.approx(fastest, abs=1e-5)
    if fastest > 1e-6:  # zero-minute edges tie: any of their km may be taken
        assert any(abs(r.km[0] - k) < 1e-5 for k in best[fastest])
    # the distance: the least km of any directed path, never more than the journey's
    assert r.dist_km[0] == pytest.approx(min(min(ks) for ks in best.values()), abs=1e-5)
    assert r.dist_km[0] <= r.km[0] + 1e-9


# --- compute_access on the graph ---------------------------------------------------------


def rules() -> acc.AccessRules:
    return acc.AccessRules(
        source="test",
        levels=("medical_point", "feldsher_obstetric_point"),
        detour_factor=1.3,
        speed_kmh=40.0,
        threshold_level="medical_point",
        threshold_km=10.0,
        lat_bounds=(40.5, 55.5),
        lon_bounds=(46.4, 87.4),
    )


def place(code: str, node: int, *units: str, pop: int = 100) -> Place:
    lat, lon = NODES[node]
    return Place(id=node, code=code, name=code, latitude=lat, longitude=lon,
                 population=pop, units=frozenset(units))  # fmt: skip


def test_access_reports_the_road_minutes_not_km_at_one_speed() -> None:
    # a FAP at 1; the village at 0 gets there soonest by the motorway 0 - 3 - 1 (15 km,
    # 9 min), but the village road 0 - 1 is 10 km: the threshold (PP-185's "more than 10
    # km", a distance) is judged on the 10 km; the village at 2 only by the one-way
    # 2 -> 1 (7 km at 70 km/h = 6 min)
    edges = [
        (0, 1, 10.0, 20.0),
        (0, 3, 6.0, 3.6),
        (3, 1, 9.0, 5.4),
        (2, 1, 7.0, 6.0),
    ]
    g = SparseRoadGraph(NODES, edges, directed=True)
    places = [place("fap", 1, "feldsher_obstetric_point"), place("a", 0), place("b", 2)]
    r = compute_access("X", places, rules(), graph=g)
    by = {s.code: s for s in r.settlements}
    a = by["a"].nearest["medical_point"]
    assert a is not None
    assert a.method == "road"
    assert (a.km, a.minutes) == (pytest.approx(15.0), pytest.approx(9.0))
    assert (a.distance_km, a.distance_settlement_code) == (10.0, "fap")
    assert by["a"].beyond is False  # 10 km of road: not more than the 10 km threshold
    b = by["b"].nearest["medical_point"]
    assert b is not None
    assert (b.km, b.minutes, b.distance_km) == (
        pytest.approx(7.0), pytest.approx(6.0), pytest.approx(7.0),
    )  # fmt: skip
    assert by["b"].beyond is False
    # the FAP's own village: no journey, 0 (not twice a snap)
    own = by["fap"].nearest["feldsher_obstetric_point"]
    assert own is not None
    assert (own.km, own.minutes, own.settlement_code) == (0, 0, "fap")


def test_a_village_the_roads_do_not_lead_out_of_is_estimated() -> None:
    # 1 -> 0 only: from 0 no road leads to the FAP at 1: the estimate (line x 1.3, at 40)
    g = SparseRoadGraph(NODES, [(1, 0, 3.0, 3.0)], directed=True)
    r = compute_access("X", [place("fap", 1, "medical_point"), place("a", 0)], rules(), graph=g)
    a = {s.code: s for s in r.settlements}["a"].nearest["medical_point"]
    assert a is not None
    assert a.method == "estimate"
    line = 0.1 * math.pi / 180 * 6371.0 * math.cos(math.radians(43.0))  # ~ 8.132 km
    assert a.straight_km == pytest.approx(line, rel=1e-3)
    assert a.km == pytest.approx(a.straight_km * 1.3)
    assert a.minutes == pytest.approx(a.km / 40 * 60)


def test_units_without_coordinates_are_reported_not_silently_dropped() -> None:
    # the FAP's settlement has no coordinates, the medical point's is outside the country:
    # neither is a candidate site; both are named with their units; a settlement without
    # coordinates and without a unit is only in no_coordinates
    places = [
        place("a", 0),
        Place(id=7, code="fap", name="Fap", latitude=None, longitude=None, population=10,
              units=frozenset({"feldsher_obstetric_point"})),
        Place(id=8, code="mp", name="Mp", latitude=10.0, longitude=76.0, population=10,
              units=frozenset({"medical_point"})),
        Place(id=9, code="none", name="None", latitude=None, longitude=None, population=10),
    ]  # fmt: skip
    r = compute_access("X", places, rules())
    assert [(u.code, u.units) for u in r.unplaced_sites] == [
        ("fap", ["feldsher_obstetric_point"]),
        ("mp", ["medical_point"]),
    ]
    assert r.no_coordinates == ["fap", "none"]
    a = {s.code: s for s in r.settlements}["a"]
    assert a.nearest["medical_point"] is None  # no unit could be placed
    assert a.beyond is True


@pytest.mark.parametrize(("km", "beyond"), [(9.999, False), (10.0, False), (10.001, True)])
def test_the_threshold_on_road_km(km: float, beyond: bool) -> None:
    # the 10 km threshold: at exactly 10 km of road the village is within
    g = SparseRoadGraph(NODES, [(0, 1, km, 12.0)], directed=True)
    r = compute_access("X", [place("mp", 1, "medical_point"), place("a", 0)], rules(), graph=g)
    a = {s.code: s for s in r.settlements}["a"]
    near = a.nearest["medical_point"]
    assert near is not None
    assert (near.method, near.km, near.minutes) == ("road", km, pytest.approx(12.0))
    assert a.beyond is beyond


@pytest.mark.parametrize(("road", "beyond"), [(9.999, False), (10.0, False), (10.001, True)])
def test_the_threshold_on_the_shortest_road_not_the_fastest(road: float, beyond: bool) -> None:
    # the journey by the motorway 0 - 3 - 1 (30 km, 15 min) is the figure shown; the
    # village road 0 - 1 (``road`` km, 60 min) decides the threshold
    edges = [(0, 1, road, 60.0), (0, 3, 12.0, 6.0), (3, 1, 18.0, 9.0)]
    g = SparseRoadGraph(NODES, edges, directed=True)
    r = compute_access("X", [place("mp", 1, "medical_point"), place("a", 0)], rules(), graph=g)
    a = {s.code: s for s in r.settlements}["a"]
    near = a.nearest["medical_point"]
    assert near is not None
    assert (near.km, near.minutes) == (pytest.approx(30.0), pytest.approx(15.0))
    assert near.distance_km == road
    assert a.beyond is beyond


class _CountingGraph(SparseRoadGraph):
    snaps = 0

    def snap(self, points):  # type: ignore[no-untyped-def]
        type(self).snaps += 1
        return super().snap(points)


def test_the_settlements_are_snapped_once_per_call() -> None:
    # two levels, a scenario's two runs: the settlements snapped once per compute_access
    g = _CountingGraph(NODES, [(0, 1, 5.0, 4.0), (2, 1, 3.0, 2.0)], directed=True)
    places = [place("fap", 1, "feldsher_obstetric_point"), place("a", 0), place("b", 2)]
    _CountingGraph.snaps = 0
    compute_access("X", places, rules(), graph=g)
    assert _CountingGraph.snaps == 1
    # snapped points give the same figures as the points
    s = g.snap(pts(0, 2))
    by_points, by_snaps = g.route(pts(0, 2), pts(1), OFF_ROAD), g.route(s, g.snap(pts(1)), OFF_ROAD)
    assert list(by_points.km) == list(by_snaps.km) == [5.0, 3.0]


def test_a_scenarios_gained_rows_carry_their_method() -> None:
    # the village at 0: the nearest medical point at 2 is 20 km by road (beyond); a
    # proposed one at 1 (3 km of road) brings it within: road before and after. No road
    # leads from 1: before, its figure is the estimate (the line to 2, 0.1 degree of
    # longitude at 43 degrees north, x 1.3: 10.57 km, beyond); after, its own unit
    edges = [(0, 2, 20.0, 20.0), (0, 1, 3.0, 3.0)]
    g = SparseRoadGraph(NODES, edges, directed=True)
    places = [place("mp", 2, "medical_point"), place("a", 0), place("site", 1)]
    sc = acc.compute_scenario(
        "X", places, [acc.ProposedUnit("site", "medical_point")], rules(), graph=g
    )
    by = {x.code: x for x in sc.gained}
    assert set(by) == {"a", "site"}
    assert (by["a"].km_before, by["a"].km_after) == (20.0, 3.0)
    assert (by["a"].method_before, by["a"].method_after) == ("road", "road")
    line = 0.1 * math.pi / 180 * 6371.0 * math.cos(math.radians(43.0))
    assert by["site"].km_before == pytest.approx(line * 1.3, rel=1e-3)
    assert (by["site"].method_before, by["site"].km_after) == ("estimate", 0.0)


#: the V/U/W case: the village V on the road to the medical point U (33.4 km of road);
#: the medical point W 3 km north of V, more than the 2 km snap from every road node
V, U, W = (43.0, 76.0), (43.0, 76.3), (43.0 + 3.0 / 111.195, 76.0)


def _vuw(road_km: float) -> tuple[acc.SettlementAccess, float]:
    g = SparseRoadGraph([V, U], [(0, 1, road_km, 30.0)], directed=True)
    places = [
        Place(id=1, code="v", name="v", latitude=V[0], longitude=V[1], population=100),
        Place(id=2, code="u", name="u", latitude=U[0], longitude=U[1], population=10,
              units=frozenset({"medical_point"})),
        Place(id=3, code="w", name="w", latitude=W[0], longitude=W[1], population=10,
              units=frozenset({"medical_point"})),
    ]  # fmt: skip
    assert min(geo.haversine_km(*W, *n) for n in (V, U)) > g.max_snap_km
    r = compute_access("X", places, rules(), graph=g)
    return {s.code: s for s in r.settlements}["v"], geo.haversine_km(*V, *W) * 1.3


def test_a_unit_off_the_roads_nearer_than_the_road_unit_is_measured() -> None:
    # by road V reaches U only (33.4 km: beyond); W, off the roads, is 3 km x 1.3 away:
    # the estimate to W is the figure (within), not a false gap
    v, estimate = _vuw(33.4)
    near = v.nearest["medical_point"]
    assert near is not None
    assert estimate == pytest.approx(3.9, abs=0.01)
    assert (near.distance_km, near.distance_settlement_code, near.method) == (
        pytest.approx(estimate), "w", "estimate",
    )  # fmt: skip
    assert (near.settlement_code, near.km) == ("w", pytest.approx(estimate))
    assert near.minutes == pytest.approx(estimate / 40 * 60)  # sooner than 30 min by road
    assert v.beyond is False


@pytest.mark.parametrize(("delta", "winner"), [(-0.01, "u"), (0.01, "w")])
def test_the_nearer_of_the_road_unit_and_the_off_road_unit(delta: float, winner: str) -> None:
    # the road to U just shorter than the estimate to W: the road figure; just longer: W
    _, estimate = _vuw(1.0)
    v, _ = _vuw(estimate + delta)
    near = v.nearest["medical_point"]
    assert near is not None
    assert near.distance_settlement_code == winner
    assert near.distance_km == pytest.approx(estimate + min(delta, 0.0), abs=1e-6)
    assert near.method == ("road" if winner == "u" else "estimate")
