"""Facility sites: where each facility stands, for the facility registry other systems read
(FHIR Location of a facility, IHE mCSD). One statement joins a facility to its settlement
(code, name, coordinates); the filters are SQL, the ``near`` distance a bounding box in SQL
then the exact great-circle distance on the few rows inside it.

A facility has no coordinates of its own yet: a site's position is its settlement's
(docs/fhir.md, "Facility registry").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.core.geo import EARTH_RADIUS_KM, haversine_km
from salomat.core.pagination import PageParams
from salomat.domains.registry.models import Facility, Territory

__all__ = ["FacilitySite", "Near", "SiteQuery", "facility_sites"]


@dataclass(frozen=True, slots=True)
class FacilitySite:
    """A facility with its settlement and that settlement's coordinates."""

    id: int
    code: str
    name: str
    names: dict[str, str]
    kind: str
    perinatal_level: int | None
    is_open: bool
    version: int
    updated_at: datetime | None
    parent_id: int | None
    address: str | None
    phone: str | None
    settlement_id: int | None
    settlement_code: str | None
    settlement_name: str | None
    latitude: float | None
    longitude: float | None
    #: the distance from the ``near`` point (km), when the search gave one
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class Near:
    """Within ``km`` of a point, by the great-circle distance (core.geo)."""

    latitude: float
    longitude: float
    km: float


@dataclass(slots=True)
class SiteQuery:
    ids: list[int] | None = None
    codes: list[str] | None = None
    kinds: list[str] | None = None
    settlement_ids: list[int] | None = None
    facility_ids: list[int] | None = None
    name: str | None = None
    is_open: bool | None = None
    updated_since: datetime | None = None
    updated_until: datetime | None = None
    near: Near | None = None
    #: (kinds, perinatal): a facility of one of the kinds, or (perinatal true) one with a
    #: perinatal level: what offers one of several services
    kinds_or_perinatal: tuple[list[str], bool] | None = None


def _box(near: Near) -> tuple[float, float, float, float] | None:
    """(lat_min, lat_max, lon_min, lon_max) holding every point within ``near.km``
    (a little wider, never narrower); None when the circle reaches a pole or the
    antimeridian (then every located row is measured)."""
    margin = 1.001
    dlat = math.degrees(near.km / EARTH_RADIUS_KM) * margin
    lat_min, lat_max = near.latitude - dlat, near.latitude + dlat
    if lat_min <= -90 or lat_max >= 90:
        return None
    # the widest longitude span is at the latitude farthest from the equator in the box
    widest = max(abs(lat_min), abs(lat_max))
    dlon = math.degrees(near.km / (EARTH_RADIUS_KM * math.cos(math.radians(widest)))) * margin
    if dlon >= 180 or near.longitude - dlon < -180 or near.longitude + dlon > 180:
        return None
    return lat_min, lat_max, near.longitude - dlon, near.longitude + dlon


async def facility_sites(
    session: AsyncSession, q: SiteQuery, page: PageParams
) -> tuple[list[FacilitySite], int]:
    """The sites ``q`` selects and their number, ordered by facility code (by distance,
    then code, with ``near``)."""
    s = aliased(Territory)
    where: list[Any] = []
    if q.ids is not None:
        where.append(Facility.id.in_(q.ids or [-1]))
    if q.codes is not None:
        where.append(Facility.code.in_(q.codes or [""]))
    if q.kinds is not None:
        where.append(Facility.kind.in_(q.kinds or [""]))
    if q.settlement_ids is not None:
        where.append(Facility.settlement_id.in_(q.settlement_ids or [-1]))
    if q.facility_ids is not None:
        where.append(Facility.id.in_(q.facility_ids or [-1]))
    if q.name:
        where.append(func.lower(Facility.name).contains(q.name.lower(), autoescape=True))
    if q.kinds_or_perinatal is not None:
        kinds, perinatal = q.kinds_or_perinatal
        either = [Facility.kind.in_(kinds or [""])]
        if perinatal:
            either.append(Facility.perinatal_level.is_not(None))
        where.append(or_(*either))
    if q.is_open is not None:
        where.append(Facility.is_open.is_(q.is_open))
    if q.updated_since is not None:
        where.append(Facility.updated_at >= q.updated_since)
    if q.updated_until is not None:
        where.append(Facility.updated_at < q.updated_until)
    columns = select(
        Facility.id,
        Facility.code,
        Facility.name,
        Facility.names,
        Facility.kind,
        Facility.perinatal_level,
        Facility.is_open,
        Facility.version,
        Facility.updated_at,
        Facility.parent_id,
        Facility.address,
        Facility.phone,
        Facility.settlement_id,
        s.code.label("settlement_code"),
        s.name.label("settlement_name"),
        s.latitude,
        s.longitude,
    ).outerjoin(s, s.id == Facility.settlement_id)
    if q.near is None:
        total = await session.scalar(
            select(func.count())
            .select_from(Facility)
            .outerjoin(s, s.id == Facility.settlement_id)
            .where(*where)
        )
        rows = await session.execute(
            columns.where(*where).order_by(Facility.code).limit(page.limit).offset(page.offset)
        )
        return [_site(r) for r in rows], int(total or 0)
    near = q.near
    where += [s.latitude.is_not(None), s.longitude.is_not(None)]
    box = _box(near)
    if box is not None:
        where += [s.latitude.between(box[0], box[1]), s.longitude.between(box[2], box[3])]
    hits = []
    for r in await session.execute(columns.where(*where)):
        km = haversine_km(near.latitude, near.longitude, r.latitude, r.longitude)
        if km <= near.km:
            hits.append(_site(r, km))
    hits.sort(key=lambda x: (x.distance_km, x.code))
    return hits[page.offset : page.offset + page.limit], len(hits)


def _site(r: Any, km: float | None = None) -> FacilitySite:
    return FacilitySite(
        id=r.id,
        code=r.code,
        name=r.name,
        names=dict(r.names or {}),
        kind=r.kind,
        perinatal_level=r.perinatal_level,
        is_open=r.is_open,
        version=r.version,
        updated_at=r.updated_at,
        parent_id=r.parent_id,
        address=r.address,
        phone=r.phone,
        settlement_id=r.settlement_id,
        settlement_code=r.settlement_code,
        settlement_name=r.settlement_name,
        latitude=r.latitude,
        longitude=r.longitude,
        distance_km=km,
    )
