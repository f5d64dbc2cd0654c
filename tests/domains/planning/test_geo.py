"""Haversine distances against the domain note's vector 2 (R = 6371.0 km), the estimate
(straight line x detour factor, minutes at the speed), and the properties of a metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.planning.service import geo

lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
point = st.tuples(lat, lon)


def test_a_tenth_of_a_degree_of_latitude_is_11_119_km() -> None:
    # note, vector 2: 0.1 degree of latitude = 11.119 km (2 pi 6371 / 3600)
    assert round(geo.haversine_km(43.0, 76.0, 43.1, 76.0), 3) == 11.119
    assert round(geo.haversine_km(0.0, 0.0, 0.1, 0.0), 3) == 11.119


def test_a_tenth_of_a_degree_of_longitude_at_43_north_is_8_132_km() -> None:
    # note, vector 2: 11.119 x cos 43 = 8.132 km (the small-arc figure along the parallel)
    assert round(geo.haversine_km(43.0, 76.0, 43.0, 76.1), 3) == 8.132


def test_astana_to_almaty_is_972_77_km() -> None:
    # note, vector 2: Astana (51.1694, 71.4491) -> Almaty (43.2220, 76.8512) = 972.77 km
    assert round(geo.haversine_km(51.1694, 71.4491, 43.2220, 76.8512), 2) == 972.77
    assert round(geo.haversine_km(43.2220, 76.8512, 51.1694, 71.4491), 2) == 972.77


def test_the_matrix_agrees_with_the_scalar_form() -> None:
    lats, lons = [51.1694, 43.2220, 43.0], [71.4491, 76.8512, 76.1]
    m = geo.haversine_matrix_km(lats, lons, lats, lons)
    assert m.shape == (3, 3)
    assert round(float(m[0, 1]), 2) == 972.77
    assert round(float(m[2, 1]), 3) == round(geo.haversine_km(43.0, 76.1, 43.2220, 76.8512), 3)
    assert np.allclose(np.diag(m), 0.0)


def test_an_estimate_is_the_line_times_the_detour_at_the_speed() -> None:
    e = geo.estimate(43.0, 76.0, 43.1, 76.0, detour_factor=1.3, speed_kmh=60)
    assert e.method == "estimate"
    assert round(e.straight_km, 3) == 11.119
    assert round(e.km, 3) == round(11.119492664 * 1.3, 3)
    assert round(e.minutes, 2) == round(11.119492664 * 1.3, 2)  # 60 km/h: a km a minute
    assert geo.travel_minutes(30, 40) == 45.0


@pytest.mark.parametrize(("detour", "speed"), [(0.99, 60), (1.2, 0), (1.2, -5)])
def test_an_impossible_factor_or_speed_is_refused(detour: float, speed: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        geo.estimate(43.0, 76.0, 43.1, 76.0, detour_factor=detour, speed_kmh=speed)


@given(point, point)
def test_symmetric(a: tuple[float, float], b: tuple[float, float]) -> None:
    assert math.isclose(geo.haversine_km(*a, *b), geo.haversine_km(*b, *a), abs_tol=1e-9)


@given(point)
def test_zero_on_the_diagonal(a: tuple[float, float]) -> None:
    assert geo.haversine_km(*a, *a) == 0.0


@given(point, point, point)
def test_triangle_inequality(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    ab, bc, ac = geo.haversine_km(*a, *b), geo.haversine_km(*b, *c), geo.haversine_km(*a, *c)
    assert ac <= ab + bc + 1e-6


@given(point, point)
def test_bounded_by_half_the_circumference(a: tuple[float, float], b: tuple[float, float]) -> None:
    d = geo.haversine_km(*a, *b)
    assert 0.0 <= d <= math.pi * geo.EARTH_RADIUS_KM + 1e-6
