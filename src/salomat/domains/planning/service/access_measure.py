"""The access computation, pure: the pack's access rules, the places, and from every
settlement the nearest unit of each level (``compute_access``), with the planner's
proposals checked and added (``check_proposed``, ``with_proposed``). The use cases that
read the database, and the scenario, are in service/access.py, which re-exports these
names (callers import them from there); docs/planning.md, "Access".

Set-wise: the nearest sites of each level are found for all settlements at once with a
k-d tree on the unit sphere (the chord is monotonic in the great-circle distance), and
along roads by multi-source Dijkstra over the region's directed road graph
(service/road_graph.py: the fastest journey at the edges' minutes with its km, the
travel-time figures; and the shortest road distance, on which the threshold is judged).
Never a query or a graph walk per settlement; each settlement is snapped to the roads
once per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np

from salomat.core.errors import N_, FieldError
from salomat.country import pack
from salomat.domains.planning.service import geo, norms
from salomat.domains.planning.service.road_graph import RoadGraph, chord_to_km, unit_xyz

__all__ = [
    "AccessReport",
    "AccessRules",
    "Nearest",
    "Place",
    "ProposedUnit",
    "SettlementAccess",
    "UnplacedSite",
    "access_rules",
    "check_proposed",
    "compute_access",
    "rules_from_pack",
    "with_proposed",
]


# --- the pack's rules ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRules:
    """The access figures of the planning pack (``country/<CC>/planning.yaml``:
    ``access``, ``bounds``, the units and their levels)."""

    source: str
    #: units with premises (those a facility kind maps to), lowest level first
    levels: tuple[str, ...]
    detour_factor: float
    speed_kmh: float
    threshold_level: str
    threshold_km: float
    lat_bounds: tuple[float, float]
    lon_bounds: tuple[float, float]

    def inside(self, lat: float, lon: float) -> bool:
        """Whether a point lies in the country's extent (its bounding box)."""
        return (
            self.lat_bounds[0] <= lat <= self.lat_bounds[1]
            and self.lon_bounds[0] <= lon <= self.lon_bounds[1]
        )

    def rank(self, unit: str) -> int:
        """The unit's level (0 = lowest with premises); -1 for a unit without premises."""
        return self.levels.index(unit) if unit in self.levels else -1


def rules_from_pack(p: norms.PlanningPack) -> AccessRules:
    levels = tuple(sorted(set(p.facility_units.values()), key=p.level))
    if p.access.threshold_level not in levels:  # a unit no facility kind is: unmeasurable
        raise pack.PackError(
            f"{p.country}/planning.yaml: access threshold_level {p.access.threshold_level} "
            "is no facility kind's unit"
        )
    b = p.bounds
    return AccessRules(
        source=f"country/{p.country}/planning.yaml",
        levels=levels,
        detour_factor=p.access.detour_factor,
        speed_kmh=p.access.speed_kmh,
        threshold_level=p.access.threshold_level,
        threshold_km=p.access.threshold_km,
        lat_bounds=(b.min_latitude, b.max_latitude),
        lon_bounds=(b.min_longitude, b.max_longitude),
    )


def access_rules(country: str | None = None) -> AccessRules:
    """The deployed (or ``country``'s) access rules: the pack is read once (norms)."""
    return rules_from_pack(norms.current() if country is None else norms.planning_pack(country))


# --- the computation (pure) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """A settlement as the access computation sees it (from a ``SettlementRow``)."""

    id: int
    code: str
    name: str
    latitude: float | None
    longitude: float | None
    population: int | None
    units: frozenset[str] = frozenset()
    district_code: str | None = None
    district_name: str | None = None
    is_rural: bool | None = None
    required_unit: str | None = None
    gap: bool = False
    cost: Decimal | None = None

    @classmethod
    def of(cls, row: Any) -> Place:
        return cls(
            id=row.id,
            code=row.code,
            name=row.name,
            latitude=row.latitude,
            longitude=row.longitude,
            population=row.census_population,
            units=frozenset(row.existing_units or ()),
            district_code=getattr(row, "district_code", None),
            district_name=getattr(row, "district_name", None),
            is_rural=getattr(row, "is_rural", None),
            required_unit=getattr(row, "required_unit", None),
            gap=bool(getattr(row, "gap", False)),
            cost=getattr(row, "cost", None),
        )


@dataclass(frozen=True, slots=True)
class ProposedUnit:
    """A unit the planner would open: ``unit`` (a level of the pack) in the settlement."""

    settlement_code: str
    unit: str


@dataclass(frozen=True, slots=True)
class Nearest:
    level: str
    #: the settlement that has the unit, and the unit there (of this level or higher)
    settlement_code: str
    settlement_name: str
    unit: str
    #: the journey to that unit (on a road: the unit reached soonest, the km of that path)
    km: float
    minutes: float
    method: str
    #: the straight line (the estimate's base; on a road, the line for comparison)
    straight_km: float
    #: the shortest road distance to a unit of this level or higher, and the settlement
    #: of that unit (on a road it may be another than the one reached soonest, and the
    #: km are at most ``km``); the access threshold is judged on it (a distance norm).
    #: On an estimate: ``km`` and ``settlement_code``
    distance_km: float
    distance_settlement_code: str


@dataclass(frozen=True, slots=True)
class SettlementAccess:
    id: int
    code: str
    name: str
    district_code: str | None
    district_name: str | None
    is_rural: bool | None
    latitude: float | None
    longitude: float | None
    population: int | None
    units: list[str]
    #: per level of the pack: the nearest unit of that level or higher (None: none)
    nearest: dict[str, Nearest | None]
    #: beyond the threshold (None: no usable coordinates, not measured)
    beyond: bool | None


@dataclass(frozen=True, slots=True)
class UnplacedSite:
    """A settlement with units (facilities of the registry) but no coordinates in the
    country: a facility stands at its settlement's point (it has none of its own), so
    these units are no candidate site and no settlement is measured to them."""

    code: str
    name: str
    units: list[str]


@dataclass(frozen=True, slots=True)
class AccessReport:
    territory_code: str
    source: str
    levels: list[str]
    threshold_level: str
    threshold_km: float
    detour_factor: float
    speed_kmh: float
    settlements: list[SettlementAccess]
    #: the population with a census figure among the settlements measured
    population: int
    population_beyond: int
    #: population_beyond / population (None when no settlement has a figure)
    share_beyond: float | None
    settlements_beyond: int
    #: settlements without a census figure (measured; their people counted apart)
    unknown_population: list[str] = field(default_factory=list)
    unknown_population_beyond: list[str] = field(default_factory=list)
    no_coordinates: list[str] = field(default_factory=list)
    outside_country: list[str] = field(default_factory=list)
    #: "road" if any figure is along roads, else "estimate"
    method: str = geo.ESTIMATE
    #: settlements of the region (all candidate sites, not only the reported ones) whose
    #: units cannot be placed: left out of every distance
    unplaced_sites: list[UnplacedSite] = field(default_factory=list)


def _measure(
    places: list[Place], rules: AccessRules, graph: RoadGraph | None
) -> tuple[list[Place], list[dict[str, Nearest | None]], list[str], list[str], bool]:
    usable, no_coords, outside = [], [], []
    for p in places:
        lat, lon = p.latitude, p.longitude
        if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
            no_coords.append(p.code)
        elif not rules.inside(lat, lon):
            outside.append(p.code)
        else:
            usable.append(p)
    n = len(usable)
    nearest: list[dict[str, Nearest | None]] = [{} for _ in range(n)]
    if n == 0:
        return usable, nearest, no_coords, outside, False
    lat = np.array([p.latitude for p in usable], dtype=float)
    lon = np.array([p.longitude for p in usable], dtype=float)
    xyz = unit_xyz(lat, lon)
    top = [max((rules.rank(u) for u in p.units), default=-1) for p in usable]
    road_used = False
    from scipy.spatial import cKDTree

    # every settlement snapped to the road network once (the sites of each level are
    # some of them)
    snapped = graph.snap(np.column_stack((lat, lon))) if graph is not None else None
    for li, level in enumerate(rules.levels):
        sites = np.asarray([i for i in range(n) if top[i] >= li], dtype=np.int64)
        if len(sites) == 0:
            for d in nearest:
                d[level] = None
            continue
        tree = cKDTree(xyz[sites])
        chord, k = tree.query(xyz)
        line = chord_to_km(np.asarray(chord))
        target = sites[np.asarray(k)]
        road = None
        if graph is not None and snapped is not None:
            road = graph.route(snapped, snapped.take(sites), rules.speed_kmh)
            road_target = np.where(road.target >= 0, sites[np.maximum(road.target, 0)], -1)
            dist_target = np.where(
                road.dist_target >= 0, sites[np.maximum(road.dist_target, 0)], -1
            )
            # the sites off the network (no road reaches them): the nearest of them by
            # the estimate, compared with the road figures below (a village on a road is
            # not measured past an off-road unit that is nearer)
            off = sites[snapped.km[sites] > graph.max_snap_km]
            off_km = np.full(n, np.inf)
            off_target = np.full(n, -1, dtype=np.int64)
            if len(off):
                c, k = cKDTree(xyz[off]).query(xyz)
                off_km = chord_to_km(np.asarray(c)) * rules.detour_factor
                off_target = off[np.asarray(k)]
        for i in range(n):
            if road is not None and road_target[i] >= 0 and math.isfinite(road.km[i]):
                t, method = int(road_target[i]), geo.ROAD
                km, minutes = float(road.km[i]), float(road.minutes[i])
                straight = geo.haversine_km(lat[i], lon[i], lat[t], lon[t])
                # reached by the one run, reached by the other (the same edges)
                dt, dkm = int(dist_target[i]), float(road.dist_km[i])
                road_used = True
                o = int(off_target[i])
                if o >= 0:  # an off-network site nearer by the estimate wins
                    ekm = float(off_km[i])
                    emin = geo.travel_minutes(ekm, rules.speed_kmh)
                    if emin < minutes:
                        t, km, minutes = o, ekm, emin
                        straight = ekm / rules.detour_factor
                    if ekm < dkm:  # the threshold's figure, and the method shown with it
                        dt, dkm, method = o, ekm, geo.ESTIMATE
            else:
                t, straight = int(target[i]), float(line[i])
                km, method = straight * rules.detour_factor, geo.ESTIMATE
                minutes = geo.travel_minutes(km, rules.speed_kmh)
                dt, dkm = t, km
            if top[i] >= li:  # the settlement's own unit: no journey (not twice its snap)
                t, km, minutes, straight, dt, dkm = i, 0.0, 0.0, 0.0, i, 0.0
            site = usable[t]
            unit = min(
                (u for u in site.units if rules.rank(u) >= li), key=rules.rank
            )  # the lowest qualifying unit there
            nearest[i][level] = Nearest(
                level=level,
                settlement_code=site.code,
                settlement_name=site.name,
                unit=unit,
                km=km,
                minutes=minutes,
                method=method,
                straight_km=straight,
                distance_km=dkm,
                distance_settlement_code=usable[dt].code,
            )
    return usable, nearest, no_coords, outside, road_used


def compute_access(
    territory_code: str,
    places: Sequence[Place],
    rules: AccessRules,
    *,
    graph: RoadGraph | None = None,
    report_codes: set[str] | None = None,
) -> AccessReport:
    """The access report of ``places`` (all of them are candidate sites); only the
    settlements in ``report_codes`` (default: all) are reported and counted."""
    usable, nearest, no_coords, outside, road = _measure(list(places), rules, graph)

    def shown(code: str) -> bool:
        return report_codes is None or code in report_codes

    rows: list[SettlementAccess] = []
    population = beyond_pop = beyond_n = 0
    unknown, unknown_beyond = [], []
    for p, near in zip(usable, nearest, strict=True):
        if not shown(p.code):
            continue
        t = near.get(rules.threshold_level)
        # a distance norm: the shortest road distance, not the fastest journey's km
        beyond = t is None or t.distance_km > rules.threshold_km
        rows.append(_row(p, near, beyond))
        beyond_n += beyond
        if p.population is None:
            unknown.append(p.code)
            if beyond:
                unknown_beyond.append(p.code)
        else:
            population += p.population
            beyond_pop += p.population if beyond else 0
    off_map = set(no_coords) | set(outside)
    missing = [p for p in places if p.code in off_map and shown(p.code)]
    unplaced = [
        UnplacedSite(p.code, p.name, sorted(p.units, key=rules.rank))
        for p in places
        if p.code in off_map and p.units
    ]
    rows.extend(_row(p, dict.fromkeys(rules.levels), None) for p in missing)
    rows.sort(key=lambda r: r.code)
    return AccessReport(
        territory_code=territory_code,
        source=rules.source,
        levels=list(rules.levels),
        threshold_level=rules.threshold_level,
        threshold_km=rules.threshold_km,
        detour_factor=rules.detour_factor,
        speed_kmh=rules.speed_kmh,
        settlements=rows,
        population=population,
        population_beyond=beyond_pop,
        share_beyond=beyond_pop / population if population else None,
        settlements_beyond=beyond_n,
        unknown_population=sorted(unknown),
        unknown_population_beyond=sorted(unknown_beyond),
        no_coordinates=sorted(c for c in no_coords if shown(c)),
        outside_country=sorted(c for c in outside if shown(c)),
        method=geo.ROAD if road else geo.ESTIMATE,
        unplaced_sites=sorted(unplaced, key=lambda u: u.code),
    )


def _row(p: Place, near: dict[str, Nearest | None], beyond: bool | None) -> SettlementAccess:
    return SettlementAccess(
        id=p.id,
        code=p.code,
        name=p.name,
        district_code=p.district_code,
        district_name=p.district_name,
        is_rural=p.is_rural,
        latitude=p.latitude,
        longitude=p.longitude,
        population=p.population,
        units=sorted(p.units),
        nearest=near,
        beyond=beyond,
    )


def check_proposed(
    places: Sequence[Place], proposed: Sequence[ProposedUnit], rules: AccessRules,
    *, allowed_codes: set[str] | None = None,
) -> list[FieldError]:  # fmt: skip
    """Every proposal checked (all errors at once, each naming ``proposed.<i>.<part>``):
    a known settlement of the territory, with coordinates in the country, and a unit
    with premises of the pack."""
    by_code = {p.code: p for p in places}
    errors = []
    for i, u in enumerate(proposed):
        p = by_code.get(u.settlement_code)
        if p is None or (allowed_codes is not None and u.settlement_code not in allowed_codes):
            errors.append(
                FieldError(
                    f"proposed.{i}.settlement",
                    N_("%(value)s is not a settlement of the territory"),
                    {"value": u.settlement_code},
                )
            )
        elif p.latitude is None or p.longitude is None:
            errors.append(
                FieldError(f"proposed.{i}.settlement", N_("the settlement has no coordinates"))
            )
        elif not rules.inside(p.latitude, p.longitude):
            errors.append(
                FieldError(
                    f"proposed.{i}.settlement",
                    N_("the settlement's coordinates are outside the country"),
                )
            )
        if u.unit not in rules.levels:
            errors.append(
                FieldError(
                    f"proposed.{i}.unit",
                    N_("%(value)s is not a unit of the pack (%(units)s)"),
                    {"value": u.unit, "units": ", ".join(rules.levels)},
                )
            )
    return errors


def with_proposed(places: Sequence[Place], proposed: Sequence[ProposedUnit]) -> list[Place]:
    """The places with the proposed units added."""
    add: dict[str, set[str]] = {}
    for u in proposed:
        add.setdefault(u.settlement_code, set()).add(u.unit)
    return [replace(p, units=p.units | add[p.code]) if p.code in add else p for p in places]
