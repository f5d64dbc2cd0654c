"""Distances on the globe without a road graph: the great-circle (haversine) distance on a
sphere of radius 6,371.0 km, the straight line times the pack's detour factor, and the
travel minutes at the pack's speed. Every figure here is an **estimate** (method
``"estimate"``): a road graph, where one is imported, gives ``"road"`` figures instead
(service/access.py). Pure: no database, no settings.

The vectorised forms work on numpy arrays so a territory's settlements are measured
against all its facilities at once (the domain note's vector 2 is the reference:
0.1 degree of latitude = 11.119 km; Astana to Almaty = 972.77 km).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EARTH_RADIUS_KM",
    "ESTIMATE",
    "ROAD",
    "Estimate",
    "estimate",
    "haversine_km",
    "haversine_matrix_km",
    "travel_minutes",
]

#: the mean Earth radius the domain note's vectors use (IUGG mean radius, km)
EARTH_RADIUS_KM = 6371.0
#: the method labels of a distance: along a road graph, or straight line x detour factor
ROAD = "road"
ESTIMATE = "estimate"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in km between two points given in decimal degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # rounding can push a a hair above 1 for antipodes: asin's domain is [-1, 1]
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def haversine_matrix_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Every distance (km) from the points (lat1, lon1) [n] to the points (lat2, lon2) [m]
    as an n x m array, in one vectorised computation."""
    p1 = np.radians(np.asarray(lat1, dtype=float))[:, None]
    l1 = np.radians(np.asarray(lon1, dtype=float))[:, None]
    p2 = np.radians(np.asarray(lat2, dtype=float))[None, :]
    l2 = np.radians(np.asarray(lon2, dtype=float))[None, :]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def travel_minutes(km: float, speed_kmh: float) -> float:
    """Minutes to travel ``km`` at ``speed_kmh``."""
    if speed_kmh <= 0:
        raise ValueError("speed_kmh must be positive")
    return km / speed_kmh * 60.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A distance without a road graph: the straight line, the line x the detour factor
    (the figure used), the minutes at the speed, and the method label ``"estimate"``."""

    straight_km: float
    km: float
    minutes: float
    method: str = ESTIMATE


def estimate(
    lat1: float, lon1: float, lat2: float, lon2: float, *, detour_factor: float, speed_kmh: float
) -> Estimate:
    """The estimated road distance and travel time between two points."""
    if detour_factor < 1:
        raise ValueError("detour_factor must be at least 1")
    line = haversine_km(lat1, lon1, lat2, lon2)
    km = line * detour_factor
    return Estimate(straight_km=line, km=km, minutes=travel_minutes(km, speed_kmh))
