"""A mobile team's routes against the domain note's vector 3 (the five-point matrix: the
72 km tour, 432 minutes in one day), a brute force over every tour as the independent
reference, the working-day and capacity limits splitting the plan into days, and the
visit calendar."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.planning.service.routing import plan_route, visit_calendar

# note, vector 3 (km, depot 0)
M = [
    [0, 12, 25, 18, 30],
    [12, 0, 15, 20, 28],
    [25, 15, 0, 14, 16],
    [18, 20, 14, 0, 11],
    [30, 28, 16, 11, 0],
]


def brute_force(m: list[list[float]]) -> float:
    """The shortest single tour over every stop, by trying all of them."""
    n = len(m)
    best = float("inf")
    for perm in itertools.permutations(range(1, n)):
        tour = [0, *perm, 0]
        best = min(best, sum(m[a][b] for a, b in itertools.pairwise(tour)))
    return best


def test_the_five_point_case_returns_the_72_km_tour_in_one_day() -> None:
    plan = plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=480)
    assert len(plan.days) == 1
    (day,) = plan.days
    assert day.tour in ([0, 1, 2, 4, 3, 0], [0, 3, 4, 2, 1, 0])
    assert day.km == 72
    assert brute_force(M) == 72
    # 72 km at 60 km/h = 72 min, plus 4 x 90 min of service = 432 <= 480
    assert day.travel_minutes == 72
    assert day.service_minutes == 360
    assert day.minutes == 432
    assert plan.km == 72
    assert plan.unreachable == []


def test_the_plan_is_the_same_every_time() -> None:
    plans = [plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=480) for _ in range(3)]
    assert len({tuple(tuple(d.tour) for d in p.days) for p in plans}) == 1


def test_432_minutes_fit_a_day_of_432_and_not_of_431() -> None:
    # boundary: the optimal tour takes exactly 432 minutes
    assert len(plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=432).days) == 1
    two = plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=431)
    assert len(two.days) == 2
    assert sorted(s for d in two.days for s in d.stops) == [1, 2, 3, 4]
    assert all(d.minutes <= 431 for d in two.days)


def test_a_short_day_splits_the_plan_into_two_days() -> None:
    # a 300-minute day holds at most two 90-minute visits with their travel
    plan = plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=300)
    assert len(plan.days) == 2
    assert sorted(s for d in plan.days for s in d.stops) == [1, 2, 3, 4]
    assert all(d.minutes <= 300 for d in plan.days)
    # the best two-day split, by brute force over every partition and order
    best = min(
        sum(
            min(
                sum(M[a][b] for a, b in itertools.pairwise([0, *p, 0]))
                for p in itertools.permutations(part)
            )
            for part in (left, [s for s in (1, 2, 3, 4) if s not in left])
        )
        for k in (1, 2, 3)
        for left in map(list, itertools.combinations((1, 2, 3, 4), k))
        if all(
            min(
                sum(M[a][b] for a, b in itertools.pairwise([0, *p, 0]))
                for p in itertools.permutations(part)
            )
            + 90 * len(part)
            <= 300
            for part in (left, [s for s in (1, 2, 3, 4) if s not in left])
        )
    )
    assert plan.km == best


def test_the_capacity_limits_the_settlements_a_day() -> None:
    plan = plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=480, capacity=2)
    assert len(plan.days) == 2
    assert all(len(d.stops) <= 2 for d in plan.days)
    # demands: people to see; a stop beyond the capacity alone cannot be planned
    plan = plan_route(
        M, service_minutes=30, speed_kmh=60, day_minutes=480, capacity=40,
        demands=[0, 10, 50, 10, 10],
    )  # fmt: skip
    assert plan.unreachable == [2]
    assert sorted(s for d in plan.days for s in d.stops) == [1, 3, 4]


def test_a_settlement_too_far_for_a_day_is_reported_not_planned() -> None:
    far = [[*row, 400] for row in M] + [[400, 400, 400, 400, 400, 0]]
    plan = plan_route(far, service_minutes=90, speed_kmh=60, day_minutes=480)
    assert plan.unreachable == [5]
    assert [d.tour for d in plan.days] in ([[0, 1, 2, 4, 3, 0]], [[0, 3, 4, 2, 1, 0]])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distance_km": [[0, 1], [1]]}, "distance_km.1"),
        ({"distance_km": [[0, -1], [1, 0]]}, "distance_km.0.1"),
        ({"distance_km": [[0, float("nan")], [1, 0]]}, "distance_km.0.1"),
        ({"speed_kmh": 0}, "speed_kmh"),
        ({"day_minutes": 0}, "day_minutes"),
        ({"day_minutes": 1441}, "day_minutes"),
        ({"service_minutes": [0, 10]}, "service_minutes"),
        ({"service_minutes": -1}, "service_minutes.1"),
        ({"capacity": 0}, "capacity"),
        ({"distance_km": []}, "distance_km"),
    ],
)
def test_impossible_input_is_refused_naming_the_field(kwargs: dict, field: str) -> None:
    args = {
        "distance_km": M, "service_minutes": 90, "speed_kmh": 60, "day_minutes": 480,
    } | kwargs  # fmt: skip
    with pytest.raises(Invalid) as e:
        plan_route(args.pop("distance_km"), **args)
    assert [x.field for x in e.value.errors] == [field]


coords = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=2, max_size=6, unique=True
)


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(coords)
def test_one_day_tours_are_optimal_on_small_cases(points: list[tuple[int, int]]) -> None:
    # a Manhattan metric on a grid: the brute force is the reference
    m = [[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in points] for a in points]
    plan = plan_route(m, service_minutes=0, speed_kmh=60, day_minutes=1440)
    assert len(plan.days) == 1
    assert sorted(plan.days[0].stops) == list(range(1, len(points)))
    assert plan.km == brute_force(m)


def test_the_calendar_skips_the_weekend_and_holidays() -> None:
    plan = plan_route(M, service_minutes=90, speed_kmh=60, day_minutes=200)
    assert len(plan.days) == 4  # one settlement a day
    # Thursday 2026-12-10; Friday a holiday; Saturday and Sunday off
    cal = visit_calendar(plan, date(2026, 12, 10), holidays=[date(2026, 12, 11)])
    assert [v.day for v in cal] == [
        date(2026, 12, 10), date(2026, 12, 14), date(2026, 12, 15), date(2026, 12, 16),
    ]  # fmt: skip
    # a six-day week (Sunday off only)
    cal = visit_calendar(plan, date(2026, 12, 10), weekend=[6])
    assert [v.day.day for v in cal] == [10, 11, 12, 14]
    with pytest.raises(Invalid):
        visit_calendar(plan, date(2026, 12, 10), weekend=range(7))
