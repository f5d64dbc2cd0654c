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

from dataclasses import dataclass

from salomat.core.geo import EARTH_RADIUS_KM, haversine_km, haversine_matrix_km

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

#: the method labels of a distance: along a road graph, or straight line x detour factor
ROAD = "road"
ESTIMATE = "estimate"


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
