"""Access to primary care: from every settlement of a territory, the nearest unit of each
level, in km and minutes, and the population beyond the pack's access threshold; and the
planner's scenario ("open a FAP in X"): who gains access, the share beyond the threshold
before and after, and the gaps left.

Set-wise: the settlements of the territory (and of its region, whose units may be the
nearest across a district border) are read once (``settlements.area_rows``, the census
figure and the units present in each); the nearest sites of each level are found for all of
them at once with a k-d tree on the unit sphere (the chord is monotonic in the
great-circle distance, so the nearest by chord is the nearest by haversine). Never a query
per settlement.

Method: ``"road"`` along the region's imported road graph (``RoadGraph``, the seam, in
service/road_graph.py: directed, the fastest journey at the edges' minutes with its km,
the travel-time figures, and the shortest road distance, on which the threshold (a
distance norm) is judged; service/roads.py imports an OpenStreetMap extract and keeps the
built graph per region, docs/planning.md), else
``"estimate"``: the haversine line x the pack's detour factor at the pack's speed
(service/geo.py). The threshold, the factor, the speed, the country's bounds and the
levels are the planning pack's (``country/<CC>/planning.yaml``, UNVERIFIED where the note
says so).

A settlement without coordinates, or with coordinates outside the country, is reported
(``no_coordinates``, ``outside_country``) and left out of the distances; a settlement
without a census figure is measured, and its count apart (``unknown_population``): it is
never counted as 0 people.
A facility stands at its settlement's point (it has no coordinates of its own); the units
of a settlement that cannot be placed are named (``unplaced_sites``), not dropped.

This module holds the use cases (reading the database) and the scenario; the pure
computation is service/access_measure.py and the road graph service/road_graph.py, their
names re-exported here (callers import them from this module).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.planning.service import norms, roads
from salomat.domains.planning.service.access_measure import (
    AccessReport,
    AccessRules,
    Nearest,
    Place,
    ProposedUnit,
    SettlementAccess,
    UnplacedSite,
    access_rules,
    check_proposed,
    compute_access,
    rules_from_pack,
    with_proposed,
)
from salomat.domains.planning.service.road_graph import RoadGraph, SparseRoadGraph

__all__ = [
    "AccessReport",
    "AccessRules",
    "Gained",
    "Nearest",
    "Place",
    "ProposedUnit",
    "RoadGraph",
    "ScenarioReport",
    "SettlementAccess",
    "SparseRoadGraph",
    "UnplacedSite",
    "access",
    "access_rules",
    "check_proposed",
    "check_saved",
    "compute_access",
    "compute_scenario",
    "rules_from_pack",
    "scenario",
    "with_proposed",
]


@dataclass(frozen=True, slots=True)
class Gained:
    code: str
    name: str
    population: int | None
    #: the threshold's figure (``Nearest.distance_km``) before (None: no unit) and after
    km_before: float | None
    km_after: float
    #: how each was measured: "road" or "estimate" (None: no unit before)
    method_before: str | None
    method_after: str


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    proposed: list[ProposedUnit]
    before: AccessReport
    after: AccessReport
    #: settlements beyond the threshold before and within it after
    gained: list[Gained]
    gained_population: int
    #: of them, without a census figure (counted apart)
    gained_unknown_population: list[str]
    population_beyond_before: int
    population_beyond_after: int
    share_beyond_before: float | None
    share_beyond_after: float | None
    #: settlements whose norm's unit is missing, before and after the proposed units
    gaps_before: int
    gaps_after: int
    gap_cost_before: Decimal
    gap_cost_after: Decimal
    #: the gaps the proposals close
    closed: list[str]


def _closes(rules: AccessRules, required: str | None, units: Iterable[str]) -> bool:
    """Whether one of ``units`` meets the required unit (the same or a higher level; a
    unit with premises meets a health worker without premises)."""
    if required is None:
        return True
    need = rules.rank(required)
    return any(u == required or rules.rank(u) > need for u in units)


def compute_scenario(
    territory_code: str,
    places: Sequence[Place],
    proposed: Sequence[ProposedUnit],
    rules: AccessRules,
    *,
    graph: RoadGraph | None = None,
    report_codes: set[str] | None = None,
) -> ScenarioReport:
    """Before and after the proposed units (pure; the proposals are checked first)."""
    errors = check_proposed(places, proposed, rules, allowed_codes=report_codes)
    if not proposed:
        errors.append(FieldError("proposed", N_("propose at least one unit")))
    if errors:
        raise Invalid.fields(errors)
    before = compute_access(territory_code, places, rules, graph=graph, report_codes=report_codes)
    after_places = with_proposed(places, proposed)
    after = compute_access(
        territory_code, after_places, rules, graph=graph, report_codes=report_codes
    )
    b = {s.code: s for s in before.settlements}
    gained = []
    for s in after.settlements:
        was = b[s.code]
        if was.beyond and s.beyond is False:
            t0, t1 = was.nearest.get(rules.threshold_level), s.nearest[rules.threshold_level]
            assert t1 is not None
            gained.append(
                Gained(
                    s.code, s.name, s.population,
                    t0.distance_km if t0 else None, t1.distance_km,
                    t0.method if t0 else None, t1.method,
                )
            )  # fmt: skip
    shown = [p for p in places if report_codes is None or p.code in report_codes]
    new_units = {p.code: p.units for p in after_places}
    gaps_before = [p for p in shown if p.gap]
    left = [p for p in gaps_before if not _closes(rules, p.required_unit, new_units[p.code])]
    closed = sorted(p.code for p in gaps_before if p not in left)
    return ScenarioReport(
        proposed=list(proposed),
        before=before,
        after=after,
        gained=gained,
        gained_population=sum(g.population or 0 for g in gained),
        gained_unknown_population=[g.code for g in gained if g.population is None],
        population_beyond_before=before.population_beyond,
        population_beyond_after=after.population_beyond,
        share_beyond_before=before.share_beyond,
        share_beyond_after=after.share_beyond,
        gaps_before=len(gaps_before),
        gaps_after=len(left),
        gap_cost_before=sum((p.cost or Decimal(0) for p in gaps_before), Decimal(0)),
        gap_cost_after=sum((p.cost or Decimal(0) for p in left), Decimal(0)),
        closed=closed,
    )


# --- the use cases (database) ----------------------------------------------------------


async def _places(
    session: Any, principal: Any, territory_code: str, edition_code: str | None
) -> tuple[list[Place], set[str]]:
    """The places to measure: the territory's region (its units may be the nearest
    across a district border), and the codes of the territory's own settlements."""
    from salomat.domains.planning.service.settlements import area_rows

    rows = await area_rows(session, principal, territory_code, edition_code=edition_code)
    return [Place.of(r) for r in rows.region], {r.code for r in rows.own}


async def _road_graph(session: Any, territory_code: str) -> RoadGraph | None:
    """The graph choice (the seam): the region's imported road network (service/roads.py,
    built once per import and kept), else None (every figure an estimate)."""
    graph: RoadGraph | None = await roads.load_graph(
        session, territory_code, norms.current().access.road_snap_km
    )
    return graph


async def check_saved(
    session: Any,
    principal: Any,
    territory_code: str,
    edition_code: str | None,
    proposed: Sequence[ProposedUnit],
) -> list[FieldError]:
    """The errors ``scenario`` would raise for these proposals (``check_proposed`` on the
    territory's places): a scenario is saved only if it can be run."""
    places, own = await _places(session, principal, territory_code, edition_code)
    return check_proposed(places, proposed, access_rules(), allowed_codes=own)


async def access(
    session: Any,
    principal: Any,
    territory_code: str,
    *,
    edition_code: str | None = None,
    proposed: Sequence[ProposedUnit] = (),
    graph: RoadGraph | None = None,
    rows: Any = None,
) -> AccessReport:
    """The access report of a territory's settlements (with ``proposed`` units added).
    ``rows``: the territory's ``settlements.AreaRows`` already read (read when not given)."""
    rules = access_rules()
    if rows is not None:
        places, own = [Place.of(r) for r in rows.region], {r.code for r in rows.own}
    else:
        places, own = await _places(session, principal, territory_code, edition_code)
    if proposed:
        errors = check_proposed(places, proposed, rules, allowed_codes=own)
        if errors:
            raise Invalid.fields(errors)
        places = with_proposed(places, proposed)
    graph = graph or await _road_graph(session, territory_code)
    return compute_access(territory_code, places, rules, graph=graph, report_codes=own)


async def scenario(
    session: Any,
    principal: Any,
    territory_code: str,
    proposed: Sequence[ProposedUnit],
    *,
    edition_code: str | None = None,
    graph: RoadGraph | None = None,
) -> ScenarioReport:
    """The planner's scenario: the territory before and with the proposed units."""
    rules = access_rules()
    places, own = await _places(session, principal, territory_code, edition_code)
    graph = graph or await _road_graph(session, territory_code)
    return compute_scenario(territory_code, places, proposed, rules, graph=graph, report_codes=own)
