"""Reads the planning domain needs of the registries, set-wise (issue 22,
docs/planning.md): the settlements of a territory with their district, the population
table's residents and children, the people resident and attached, the facility kinds open
in each settlement and the FTE of the roles active there. One statement per table for a
whole territory, never one per settlement.

Not audited: they return places, counts and FTE sums, no personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.domains.registry.models import (
    Facility,
    Person,
    Population,
    Practitioner,
    PractitionerRole,
    Territory,
)

__all__ = [
    "attached_by_settlement",
    "existing_practitioners",
    "facility_codes",
    "facility_kinds_by_settlement",
    "fte_by_settlement",
    "population_by_settlement",
    "set_settlement_coordinates",
    "settlement_id_select",
    "settlements_by_code",
    "settlements_select",
    "territory_by_code",
    "territory_codes_names",
]


async def territory_by_code(session: AsyncSession, code: str) -> Any | None:
    """(id, code, level, name, names) of the territory, or None."""
    return (
        await session.execute(
            select(
                Territory.id, Territory.code, Territory.level, Territory.name, Territory.names
            ).where(Territory.code == code)
        )
    ).first()


def settlements_select(area_id: int | None) -> Select[Any]:
    """Settlements under the territory ``area_id`` (itself if a settlement; None: the
    country) with their district: id, code, name, names, is_rural, latitude, longitude,
    district_id, district_code, district_name, district_names, district_parent_id."""
    district = aliased(Territory)
    q = (
        select(
            Territory.id,
            Territory.code,
            Territory.name,
            Territory.names,
            Territory.is_rural,
            Territory.latitude,
            Territory.longitude,
            district.id.label("district_id"),
            district.code.label("district_code"),
            district.name.label("district_name"),
            district.names.label("district_names"),
            district.parent_id.label("district_parent_id"),
        )
        .outerjoin(district, district.id == Territory.parent_id)
        .where(Territory.level == "settlement")
    )
    if area_id is not None:
        q = q.where(
            or_(
                Territory.id == area_id,
                district.id == area_id,
                district.parent_id == area_id,
            )
        )
    return q.order_by(Territory.code)


def settlement_id_select(area_id: int | None) -> Any:
    """The ids of ``settlements_select`` as a subquery for ``IN``."""
    return settlements_select(area_id).with_only_columns(Territory.id).order_by(None)


async def population_by_settlement(
    session: AsyncSession, ids: Any, year: int, child_share: Mapping[int, Decimal]
) -> dict[int, tuple[int, Decimal, int]]:
    """Per settlement: (residents, children, year) of the population table's latest year
    not after ``year``; children weigh each 5-year band by ``child_share[age_from]``."""
    latest = (
        select(Population.territory_id, func.max(Population.year).label("year"))
        .where(Population.territory_id.in_(ids), Population.year <= year)
        .group_by(Population.territory_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Population.territory_id,
            Population.year,
            Population.age_from,
            func.sum(Population.count).label("n"),
        )
        .join(
            latest,
            and_(
                latest.c.territory_id == Population.territory_id,
                latest.c.year == Population.year,
            ),
        )
        .group_by(Population.territory_id, Population.year, Population.age_from)
    )
    out: dict[int, tuple[int, Decimal, int]] = {}
    for r in rows:
        total, children, _ = out.get(r.territory_id, (0, Decimal(0), r.year))
        n = int(r.n or 0)
        out[r.territory_id] = (
            total + n,
            children + child_share.get(r.age_from, Decimal(0)) * n,
            r.year,
        )
    return out


async def attached_by_settlement(session: AsyncSession, ids: Any) -> dict[int, int]:
    """Living people resident in each settlement and attached to a facility."""
    rows = await session.execute(
        select(Person.settlement_id, func.count())
        .where(
            Person.settlement_id.in_(ids),
            Person.attached_facility_id.is_not(None),
            Person.deceased_on.is_(None),
            Person.merged_into_id.is_(None),
        )
        .group_by(Person.settlement_id)
    )
    return {sid: int(n) for sid, n in rows}


async def facility_kinds_by_settlement(
    session: AsyncSession, ids: Any, on: date, kinds: Iterable[str]
) -> dict[int, set[str]]:
    """The kinds (of ``kinds``) of the facilities open on ``on`` in each settlement."""
    rows = await session.execute(
        select(Facility.settlement_id, Facility.kind).where(
            Facility.settlement_id.in_(ids),
            Facility.is_open.is_(True),
            Facility.kind.in_(list(kinds)),
            or_(Facility.opened_on.is_(None), Facility.opened_on <= on),
            or_(Facility.closed_on.is_(None), Facility.closed_on > on),
        )
    )
    out: dict[int, set[str]] = {}
    for sid, kind in rows:
        out.setdefault(sid, set()).add(kind)
    return out


async def fte_by_settlement(
    session: AsyncSession, ids: Any, on: date
) -> dict[tuple[int, str], Decimal]:
    """FTE of the practitioner roles active on ``on`` at facilities open on ``on``, by the
    facility's settlement and the role's position."""
    rows = await session.execute(
        select(Facility.settlement_id, PractitionerRole.position, func.sum(PractitionerRole.fte))
        .join(Facility, Facility.id == PractitionerRole.facility_id)
        .where(
            Facility.settlement_id.in_(ids),
            # staff of a facility closed (or not yet opened) on the day fill no post
            Facility.is_open.is_(True),
            or_(Facility.opened_on.is_(None), Facility.opened_on <= on),
            or_(Facility.closed_on.is_(None), Facility.closed_on > on),
            PractitionerRole.start_on <= on,
            or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on >= on),
        )
        .group_by(Facility.settlement_id, PractitionerRole.position)
    )
    return {(sid, pos): Decimal(str(n or 0)) for sid, pos, n in rows}


async def settlements_by_code(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, tuple[int, float | None, float | None]]:
    """code -> (id, latitude, longitude) of the settlements among ``codes``."""
    wanted = list(dict.fromkeys(codes))
    out: dict[str, tuple[int, float | None, float | None]] = {}
    for start in range(0, len(wanted), 2000):
        rows = await session.execute(
            select(Territory.code, Territory.id, Territory.latitude, Territory.longitude).where(
                Territory.code.in_(wanted[start : start + 2000]),
                Territory.level == "settlement",
            )
        )
        out.update({r.code: (r.id, r.latitude, r.longitude) for r in rows})
    return out


async def set_settlement_coordinates(
    session: AsyncSession, coordinates: Mapping[int, tuple[float, float]]
) -> None:
    """Give settlements new coordinates (a census import that carries them)."""
    if not coordinates:
        return
    # one executemany with bound parameters, not one UPDATE per settlement
    await session.execute(
        update(Territory.__table__)
        .where(Territory.__table__.c.id == bindparam("tid"))
        .values(
            latitude=bindparam("lat"),
            longitude=bindparam("lon"),
            version=Territory.__table__.c.version + 1,
        ),
        [{"tid": tid, "lat": lat, "lon": lon} for tid, (lat, lon) in coordinates.items()],
    )


async def territory_codes_names(
    session: AsyncSession, ids: Iterable[int]
) -> dict[int, tuple[str, str]]:
    """id -> (code, name) of the territories among ``ids`` (the mobile teams' calendars
    and visits name their settlements), in one statement per 2,000 ids."""
    wanted = sorted(set(ids))
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 2000):
        rows = await session.execute(
            select(Territory.id, Territory.code, Territory.name).where(
                Territory.id.in_(wanted[start : start + 2000])
            )
        )
        out.update({r.id: (r.code, r.name) for r in rows})
    return out


async def existing_practitioners(session: AsyncSession, ids: Iterable[int]) -> set[int]:
    """The ids among ``ids`` that are practitioners (a mobile team's members), in one
    statement per 2,000 ids."""
    wanted = sorted(set(ids))
    out: set[int] = set()
    for start in range(0, len(wanted), 2000):
        out.update(
            (
                await session.scalars(
                    select(Practitioner.id).where(Practitioner.id.in_(wanted[start : start + 2000]))
                )
            ).all()
        )
    return out


async def facility_codes(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """id -> code of the facilities among ``ids`` (the mobile teams' facilities), in one
    statement per 2,000 ids."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 2000):
        rows = await session.execute(
            select(Facility.id, Facility.code).where(Facility.id.in_(wanted[start : start + 2000]))
        )
        out.update({r.id: r.code for r in rows})
    return out
