"""Access to the nearest unit of each level and the planner's scenario, computed on
settlements placed along the 43rd parallel, where the note's vector 2 gives the distances
(0.1 degree of longitude = 8.132 km): the independent reference is that figure x the
detour factor. The planning pack's access rules are read, and the road-graph seam is tested."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import geo
from salomat.domains.planning.service.access import (
    Place,
    ProposedUnit,
    SparseRoadGraph,
    compute_access,
    compute_scenario,
)

KM_PER_TENTH = 8.132  # note, vector 2: 0.1 degree of longitude at 43 N


def rules(**over: object) -> acc.AccessRules:
    a = {
        "source": "test",
        "levels": ("medical_point", "feldsher_obstetric_point", "physician_ambulatory"),
        "detour_factor": 1.3,
        "speed_kmh": 40.0,
        "threshold_level": "medical_point",
        "threshold_km": 10.0,
        "lat_bounds": (40.5, 55.5),
        "lon_bounds": (46.4, 87.4),
    } | over
    return acc.AccessRules(**a)  # type: ignore[arg-type]


def place(code: str, tenths: float | None, pop: int | None, *units: str, **kw: object) -> Place:
    return Place(
        id=hash(code) % 10_000,
        code=code,
        name=code.title(),
        latitude=None if tenths is None else 43.0,
        longitude=None if tenths is None else 76.0 + tenths / 10,
        population=pop,
        units=frozenset(units),
        **kw,  # type: ignore[arg-type]
    )


def village() -> list[Place]:
    """A FAP at 0; villages 0.05, 0.1 and 0.18 degrees east, one without a census figure at
    0.07, one without coordinates; an ambulatory at 0.3 (x 10 in the tenths below)."""
    return [
        place("hub", 0, 2000, "feldsher_obstetric_point"),
        place("near", 0.5, 300),  # 4.07 km x 1.3 = 5.3 km: within 10
        place("east", 1, 420, required_unit="medical_point", gap=True, cost=Decimal(100)),
        place("far", 1.8, 180, required_unit="medical_point", gap=True, cost=Decimal(100)),
        place("town", 3, 3400, "physician_ambulatory"),
        place("nocensus", 0.7, None),
        place("lost", None, 50),
    ]


def by_code(report: acc.AccessReport) -> dict[str, acc.SettlementAccess]:
    return {s.code: s for s in report.settlements}


def test_the_nearest_unit_of_each_level_in_km_and_minutes() -> None:
    r = compute_access("X", village(), rules())
    s = by_code(r)
    east = s["east"].nearest
    # 0.1 degree from the FAP (8.132 km) and 0.2 from the ambulatory (16.264 km)
    mp = east["medical_point"]
    assert mp is not None
    assert mp.settlement_code == "hub"
    assert mp.unit == "feldsher_obstetric_point"  # a FAP serves the medical point's level
    assert mp.method == "estimate"
    assert round(mp.straight_km, 3) == KM_PER_TENTH
    assert round(mp.km, 2) == round(KM_PER_TENTH * 1.3, 2)
    assert round(mp.minutes, 1) == round(KM_PER_TENTH * 1.3 / 40 * 60, 1)
    ba = east["physician_ambulatory"]
    assert ba is not None
    assert ba.settlement_code == "town"
    assert round(ba.straight_km, 2) == round(2 * KM_PER_TENTH, 2)
    # a settlement that has the unit is at 0 km from it
    hub = s["hub"].nearest["feldsher_obstetric_point"]
    assert hub is not None
    assert hub.km == 0
    assert r.method == "estimate"


def test_the_population_beyond_the_threshold_and_its_share() -> None:
    r = compute_access("X", village(), rules())
    s = by_code(r)
    # east 10.57 km from the hub, far 12.7 km from the town: beyond 10; near 5.3 and
    # nocensus 7.4 km: within
    assert [c for c, v in s.items() if v.beyond] == ["east", "far"]
    assert s["nocensus"].beyond is False  # measured, within
    assert s["lost"].beyond is None  # no coordinates: not measured
    assert r.population == 2000 + 300 + 420 + 180 + 3400  # known figures, measured
    assert r.population_beyond == 600
    assert r.share_beyond == pytest.approx(600 / 6300)
    assert r.settlements_beyond == 2
    assert r.no_coordinates == ["lost"]
    assert r.unknown_population == ["nocensus"]


def test_a_settlement_without_a_census_figure_beyond_is_counted_apart() -> None:
    places = [*village(), place("ghost", 1.5, None)]
    # 0.15 degree from the hub and the town: 15.9 km: beyond
    r = compute_access("X", places, rules())
    assert by_code(r)["ghost"].beyond is True
    assert r.unknown_population_beyond == ["ghost"]
    assert r.population_beyond == 600  # never counted as 0 people, nor as anybody


@pytest.mark.parametrize(("delta", "beyond"), [(-0.001, True), (0.0, False), (0.001, False)])
def test_the_threshold_boundary(delta: float, beyond: bool) -> None:
    # "more than the threshold" is beyond: at exactly the threshold a settlement is within
    base = compute_access("X", village(), rules())
    km = by_code(base)["east"].nearest["medical_point"].km  # type: ignore[union-attr]
    r = compute_access("X", village(), rules(threshold_km=km + delta))
    assert by_code(r)["east"].beyond is beyond


def test_coordinates_outside_the_country_are_reported_not_measured() -> None:
    places = [*village(), Place(99, "moon", "Moon", 10.0, 10.0, 40)]
    r = compute_access("X", places, rules())
    assert r.outside_country == ["moon"]
    assert by_code(r)["moon"].beyond is None
    assert r.population == 6300


def test_only_the_territorys_settlements_are_reported_but_all_units_count() -> None:
    # the town's ambulatory is across the border (not in the district) and still nearest
    r = compute_access("X", village(), rules(), report_codes={"east", "far"})
    assert [s.code for s in r.settlements] == ["east", "far"]
    far = by_code(r)["far"].nearest["medical_point"]
    assert far is not None
    assert far.settlement_code == "town"
    assert r.population == 600


def test_a_planners_scenario_shows_the_change_in_population_beyond_the_threshold() -> None:
    # issue 22, done when: "open a FAP in East": east and far (8.5 km from east) gain access
    sc = compute_scenario(
        "X", village(), [ProposedUnit("east", "feldsher_obstetric_point")], rules()
    )
    assert sc.population_beyond_before == 600
    assert sc.population_beyond_after == 0
    assert sc.share_beyond_before == pytest.approx(600 / 6300)
    assert sc.share_beyond_after == 0
    assert [g.code for g in sc.gained] == ["east", "far"]
    assert sc.gained_population == 600
    assert sc.gained[0].km_after == 0
    assert round(sc.gained[1].km_after, 2) == round(0.8 * KM_PER_TENTH * 1.3, 2)
    # the deficit: east's gap is closed (a FAP meets a medical point), far's remains
    assert sc.gaps_before == 2
    assert sc.gaps_after == 1
    assert sc.closed == ["east"]
    assert sc.gap_cost_before == Decimal(200)
    assert sc.gap_cost_after == Decimal(100)


def test_a_scenario_that_changes_nobodys_access() -> None:
    sc = compute_scenario("X", village(), [ProposedUnit("hub", "medical_point")], rules())
    assert sc.gained == []
    assert sc.population_beyond_after == sc.population_beyond_before == 600


def test_bad_proposals_are_refused_naming_the_field() -> None:
    with pytest.raises(Invalid) as e:
        compute_scenario(
            "X",
            village(),
            [
                ProposedUnit("nowhere", "medical_point"),
                ProposedUnit("lost", "medical_point"),
                ProposedUnit("east", "spaceport"),
            ],
            rules(),
        )
    assert [x.field for x in e.value.errors] == [
        "proposed.0.settlement", "proposed.1.settlement", "proposed.2.unit",
    ]  # fmt: skip
    with pytest.raises(Invalid) as e:
        compute_scenario("X", village(), [], rules())
    assert [x.field for x in e.value.errors] == ["proposed"]
    with pytest.raises(Invalid):
        compute_scenario(
            "X", village(), [ProposedUnit("town", "medical_point")], rules(),
            report_codes={"east"},
        )  # fmt: skip


def test_a_territory_without_any_unit_is_all_beyond() -> None:
    places = [place("a", 0, 100), place("b", 1, 50), place("c", 2, None)]
    r = compute_access("X", places, rules())
    assert r.population_beyond == 150
    assert r.share_beyond == 1
    assert all(s.nearest["medical_point"] is None for s in r.settlements)


def test_no_settlements_at_all() -> None:
    r = compute_access("X", [], rules())
    assert r.settlements == []
    assert r.share_beyond is None


def test_a_road_graph_gives_road_figures() -> None:
    # a road from east to the hub around a lake: 3 nodes, 20 km in all
    nodes = [(43.0, 76.0), (43.05, 76.05), (43.0, 76.1)]
    graph = SparseRoadGraph(nodes, [(0, 1, 12.0), (1, 2, 8.0)])
    r = compute_access("X", village()[:3], rules(), graph=graph)
    east = by_code(r)["east"].nearest["medical_point"]
    assert east is not None
    assert east.method == "road"
    assert east.km == pytest.approx(20.0)
    assert east.minutes == pytest.approx(30.0)
    assert by_code(r)["east"].beyond is True
    assert r.method == "road"
    # "near" lies 4 km from every node (beyond the 2 km snap): the estimate is kept
    near = by_code(r)["near"].nearest["medical_point"]
    assert near is not None
    assert near.method == "estimate"


@pytest.mark.parametrize(
    "edges",
    [
        [(0, 1, 8.2), (0, 1, 8.2)],  # the same road listed twice
        [(0, 1, 8.2), (1, 0, 8.2)],  # once each way
        [(1, 0, 9.5), (0, 1, 8.2), (0, 1, 11.0)],  # parallel roads: the shortest counts
    ],
)
def test_parallel_road_edges_do_not_add_up(edges: list[tuple[int, int, float]]) -> None:
    # two nodes 8.2 km apart by road; an origin and a target on them (snap 0)
    nodes = [(43.0, 76.0), (43.05, 76.05)]
    graph = SparseRoadGraph(nodes, edges)
    km, which = graph.nearest(np.array([nodes[0]]), np.array([nodes[1]]))
    assert km[0] == pytest.approx(8.2, abs=1e-6)
    assert which[0] == 0
    # and from the other end
    km, _ = graph.nearest(np.array([nodes[1]]), np.array([nodes[0]]))
    assert km[0] == pytest.approx(8.2, abs=1e-6)


def test_parallel_edges_beside_a_longer_path() -> None:
    # 0-1 listed twice (5 km each) beside the way round 0-2-1 (4 + 4 = 8 km): 5 km, not 10
    # nor 8
    nodes = [(43.0, 76.0), (43.05, 76.05), (43.0, 76.1)]
    graph = SparseRoadGraph(nodes, [(0, 1, 5.0), (0, 1, 5.0), (0, 2, 4.0), (2, 1, 4.0)])
    km, _ = graph.nearest(np.array([nodes[0]]), np.array([nodes[1]]))
    assert km[0] == pytest.approx(5.0, abs=1e-6)


@pytest.mark.parametrize("country", ["KZ", "UZ"])
def test_the_packs_rules_load(country: str) -> None:
    r = acc.access_rules(country)
    assert r.threshold_km == 10
    assert r.detour_factor >= 1
    assert r.threshold_level in r.levels
    assert "health_worker" not in r.levels  # no premises: no site to travel to
    # a bounding box: Almaty in KZ's only, Samarkand in UZ's only, Moscow in neither
    assert r.inside(43.2220, 76.8512) is (country == "KZ")
    assert r.inside(39.6542, 66.9597) is (country == "UZ")
    assert r.inside(55.7558, 37.6173) is False


villages = st.lists(
    st.tuples(
        st.floats(42.0, 44.0), st.floats(75.0, 77.0), st.one_of(st.none(), st.integers(0, 5000)),
        st.sampled_from([(), ("medical_point",), ("feldsher_obstetric_point",),
                         ("physician_ambulatory",)]),
    ),
    min_size=1, max_size=25,
)  # fmt: skip


@settings(max_examples=40)
@given(villages, st.data())
def test_opening_a_unit_never_leaves_more_people_beyond(
    vs: list[tuple[float, float, int | None, tuple[str, ...]]], data: st.DataObject
) -> None:
    places = [
        Place(i, f"V{i}", f"V{i}", lat, lon, pop, frozenset(units))
        for i, (lat, lon, pop, units) in enumerate(vs)
    ]
    where = data.draw(st.sampled_from([p.code for p in places]))
    unit = data.draw(st.sampled_from(rules().levels))
    sc = compute_scenario("X", places, [ProposedUnit(where, unit)], rules())
    for r in (sc.before, sc.after):
        assert 0 <= r.population_beyond <= r.population
        assert r.share_beyond is None or 0 <= r.share_beyond <= 1
    assert sc.population_beyond_after <= sc.population_beyond_before
    assert sc.population_beyond_before - sc.population_beyond_after == sc.gained_population
    # the nearest of each level is the true nearest (a brute force over the sites)
    for s in sc.before.settlements:
        for li, level in enumerate(rules().levels):
            sites = [p for p in places if any(rules().rank(u) >= li for u in p.units)]
            n = s.nearest[level]
            if not sites:
                assert n is None
                continue
            best = min(geo.haversine_km(s.latitude, s.longitude, p.latitude, p.longitude)
                       for p in sites)  # fmt: skip
            assert n is not None
            assert n.straight_km == pytest.approx(best, abs=1e-6)
