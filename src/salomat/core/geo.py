"""The great-circle (haversine) distance on a sphere of the mean Earth radius, 6,371.0 km:
one formula for every domain that measures between two points (planning's access, the
facility registry's ``near`` search, maternal referrals to the nearest facility).

Reference (docs/planning.md, the domain note's vector 2): 0.1 degree of latitude =
11.119 km; Astana (51.1694, 71.4491) to Almaty (43.2220, 76.8512) = 972.77 km.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_RADIUS_KM", "haversine_km", "haversine_matrix_km"]

#: the mean Earth radius (IUGG, km)
EARTH_RADIUS_KM = 6371.0


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
