"""A mobile medical team's routes: which settlements it visits on each working day, in
which order, from its base (node 0) and back (OR-Tools vehicle routing).

Each team-day is one "vehicle" of the routing model: it leaves the base, visits its
settlements (each visit takes the service minutes), and is back within the working day
(travel at the speed + service); a team-day may also be limited to ``capacity`` (the
number of settlements, or the sum of the stops' ``demands``, e.g. people to see). The
objective is first the fewest team-days, then the fewest kilometres: a fixed cost per
team-day larger than any day's kilometres.

The search starts from a nearest-neighbour packing of the days (a feasible plan, so a
solution always exists) and improves it by guided local search until whichever limit comes
first: a number of solutions (``solution_limit``) or the time (``time_limit_s``). On small
plans the solution limit ends the search and the same matrix gives the same plan; beyond
about a hundred stops the time limit ends it, and the plan then depends on the machine's
speed and load (never worse than the start, but not reproducible). The domain note's
vector 3 is the reference: the five-point matrix gives the 72 km tour 0-1-2-4-3-0 (or its
reverse), 432 minutes in one day of 480 (the cheapest-arc start alone gives 82 km). The
solver is CPU-bound and blocking: async callers run it in a worker thread
(``asyncio.to_thread``), and the web page gives it a shorter time limit than the API.

A settlement that one day cannot hold on its own (there and back plus the service beyond
the working day, or a demand beyond the capacity) is not planned and is returned in
``unreachable``: the planner sees it, the rest of the plan is still made. Pure: no
database.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from salomat.core.errors import N_, FieldError, Invalid

__all__ = ["RoutePlan", "TeamDay", "VisitDay", "plan_route", "visit_calendar"]

#: guards of the search: a plan of a region's villages needs seconds, not minutes
DEFAULT_TIME_LIMIT_S = 10
#: the web page's shorter guard: a person waits for the page (the API may take longer)
PAGE_TIME_LIMIT_S = 3
#: solutions examined by the guided local search before it stops (the deterministic limit)
DEFAULT_SOLUTION_LIMIT = 100
#: at most this many settlements in one plan (a district's worth; beyond it, split it)
MAX_STOPS = 500


@dataclass(frozen=True, slots=True)
class TeamDay:
    """One working day of the team: the tour (node indices, from the base 0 back to it),
    its kilometres, its travel and service minutes."""

    tour: list[int]
    km: float
    travel_minutes: float
    service_minutes: float

    @property
    def minutes(self) -> float:
        return self.travel_minutes + self.service_minutes

    @property
    def stops(self) -> list[int]:
        return self.tour[1:-1]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    days: list[TeamDay]
    #: stops one day cannot hold on its own (too far, or a demand beyond the capacity)
    unreachable: list[int] = field(default_factory=list)

    @property
    def km(self) -> float:
        return sum(d.km for d in self.days)

    @property
    def minutes(self) -> float:
        return sum(d.minutes for d in self.days)


@dataclass(frozen=True, slots=True)
class VisitDay:
    """A team-day of the plan on the calendar."""

    day: date
    team_day: TeamDay


def _refuse(field_: str, message: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field_, message, params or None)])


def _check(
    distance_km: Sequence[Sequence[float]],
    service: list[float],
    speed_kmh: float,
    day_minutes: float,
    capacity: int | None,
    demands: list[int],
) -> None:
    n = len(distance_km)
    if n == 0:
        raise _refuse("distance_km", N_("needs at least the base (row 0)"))
    if n - 1 > MAX_STOPS:
        raise _refuse("distance_km", N_("at most %(max)s settlements a plan"), max=MAX_STOPS)
    for i, row in enumerate(distance_km):
        if len(row) != n:
            raise _refuse(f"distance_km.{i}", N_("the matrix must be square (%(n)s)"), n=n)
        for j, v in enumerate(row):
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise _refuse(f"distance_km.{i}.{j}", N_("must be a finite distance >= 0"))
    if not (math.isfinite(speed_kmh) and speed_kmh > 0):
        raise _refuse("speed_kmh", N_("must be positive"))
    if not (math.isfinite(day_minutes) and 0 < day_minutes <= 24 * 60):
        raise _refuse("day_minutes", N_("must be between 1 and 1440"))
    if len(service) != n:
        raise _refuse("service_minutes", N_("one figure per settlement"))
    for i, s in enumerate(service):
        if not (math.isfinite(s) and 0 <= s <= 24 * 60):
            raise _refuse(f"service_minutes.{i}", N_("must be between 0 and 1440"))
    if capacity is not None and capacity < 1:
        raise _refuse("capacity", N_("must be at least 1"))
    if len(demands) != n:
        raise _refuse("demands", N_("one figure per settlement"))
    if any(d < 0 for d in demands):
        raise _refuse("demands", N_("must not be negative"))


def _greedy_days(
    stops: list[int], dist: list[list[int]], time: list[list[int]], day: int,
    demands: list[int], capacity: int | None,
) -> list[list[int]]:  # fmt: skip
    """Nearest-neighbour packing: each day takes the nearest stop it can still hold and
    return from; a feasible start for the search."""
    left = set(stops)
    days: list[list[int]] = []
    while left:
        here, used, load, tour = 0, 0, 0, []
        while True:
            fits = [
                s for s in left
                if used + time[here][s] + time[s][0] <= day
                and (capacity is None or load + demands[s] <= capacity)
            ]  # fmt: skip
            if not fits:
                break
            nxt = min(fits, key=lambda s: (dist[here][s], s))
            used += time[here][nxt]
            load += demands[nxt]
            tour.append(nxt)
            left.discard(nxt)
            here = nxt
        days.append(tour)  # never empty: every stop fits a day of its own
    return days


def plan_route(
    distance_km: Sequence[Sequence[float]],
    *,
    service_minutes: float | Sequence[float],
    speed_kmh: float,
    day_minutes: float,
    capacity: int | None = None,
    demands: Sequence[int] | None = None,
    time_limit_s: int = DEFAULT_TIME_LIMIT_S,
    solution_limit: int = DEFAULT_SOLUTION_LIMIT,
) -> RoutePlan:
    """The team-days that visit every stop (rows 1..n of the matrix) from the base (row
    0), fewest days first, then fewest kilometres. ``service_minutes`` is one figure for
    every stop or one per row (the base's is ignored); ``demands`` default to 1 a stop
    (``capacity`` is then the number of settlements a day). Raises ``Invalid`` naming
    the field on impossible input."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(distance_km)
    if isinstance(service_minutes, int | float):
        service = [0.0] + [float(service_minutes)] * max(0, n - 1)
    else:
        service = [float(s) for s in service_minutes]
    demand = [0] + [1] * max(0, n - 1) if demands is None else [int(d) for d in demands]
    _check(distance_km, service, speed_kmh, day_minutes, capacity, demand)
    service[0], demand[0] = 0.0, 0

    # integers for the solver: metres and seconds
    dist = [[round(v * 1000) for v in row] for row in distance_km]
    secs = [[round(v / speed_kmh * 3600) for v in row] for row in distance_km]
    serv = [round(s * 60) for s in service]
    # the time of an arc: travel plus the service at the stop it leaves
    time = [[secs[i][j] + serv[i] for j in range(n)] for i in range(n)]
    day = round(day_minutes * 60)

    unreachable = [
        s for s in range(1, n)
        if time[0][s] + time[s][0] > day or (capacity is not None and demand[s] > capacity)
    ]  # fmt: skip
    stops = [s for s in range(1, n) if s not in set(unreachable)]
    if not stops:
        return RoutePlan(days=[], unreachable=unreachable)

    # the problem on the planned stops only (node 0 = the base)
    nodes = [0, *stops]
    m = len(nodes)
    sub_dist = [[dist[a][b] for b in nodes] for a in nodes]
    sub_time = [[time[a][b] for b in nodes] for a in nodes]
    sub_demand = [demand[a] for a in nodes]
    start = _greedy_days(list(range(1, m)), sub_dist, sub_time, day, sub_demand, capacity)
    vehicles = len(start)

    manager = pywrapcp.RoutingIndexManager(m, vehicles, 0)
    model = pywrapcp.RoutingModel(manager)

    def arc_km(i: int, j: int) -> int:
        return sub_dist[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def arc_time(i: int, j: int) -> int:
        return sub_time[manager.IndexToNode(i)][manager.IndexToNode(j)]

    km_cb = model.RegisterTransitCallback(arc_km)
    model.SetArcCostEvaluatorOfAllVehicles(km_cb)
    # a day costs more than any day's kilometres: the fewest days first
    model.SetFixedCostOfAllVehicles(sum(map(sum, sub_dist)) + 1)
    time_cb = model.RegisterTransitCallback(arc_time)
    model.AddDimension(time_cb, 0, day, True, "time")
    if capacity is not None:
        demand_cb = model.RegisterUnaryTransitCallback(lambda i: sub_demand[manager.IndexToNode(i)])
        model.AddDimensionWithVehicleCapacity(demand_cb, 0, [capacity] * vehicles, True, "load")

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.solution_limit = solution_limit
    params.time_limit.seconds = time_limit_s
    model.CloseModelWithParameters(params)
    initial = model.ReadAssignmentFromRoutes(start, True)
    solution = model.SolveFromAssignmentWithParameters(initial, params) if initial else None
    if solution is None:  # never expected: the start is feasible; keep the start
        routes = start
    else:
        routes = []
        for v in range(vehicles):
            i, tour = model.Start(v), []
            while not model.IsEnd(i):
                node = manager.IndexToNode(i)
                if node:
                    tour.append(node)
                i = solution.Value(model.NextVar(i))
            if tour:
                routes.append(tour)

    days = []
    for r in routes:
        tour = [0, *(nodes[k] for k in r), 0]
        legs = list(itertools.pairwise(tour))
        km = sum(float(distance_km[a][b]) for a, b in legs)
        days.append(
            TeamDay(
                tour=tour,
                km=km,
                travel_minutes=km / speed_kmh * 60,
                service_minutes=sum(service[s] for s in tour[1:-1]),
            )
        )
    days.sort(key=lambda d: d.tour[1:])
    return RoutePlan(days=days, unreachable=unreachable)


def visit_calendar(
    plan: RoutePlan,
    start: date,
    *,
    weekend: Iterable[int] = (5, 6),
    holidays: Iterable[date] = (),
) -> list[VisitDay]:
    """The plan's team-days on working days from ``start`` on, one a day, skipping the
    weekend days (``date.weekday()``: 5 = Saturday, 6 = Sunday; the pack says which)
    and the holidays."""
    off_days, off = set(weekend), set(holidays)
    if len(off_days) >= 7:
        raise _refuse("weekend", N_("leaves no working day"))
    out, day = [], start
    for d in plan.days:
        while day.weekday() in off_days or day in off:
            day += timedelta(days=1)
        out.append(VisitDay(day=day, team_day=d))
        day += timedelta(days=1)
    return out
