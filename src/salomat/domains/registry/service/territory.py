"""Territory: region -> district -> settlement; reading and editing the units.

Codes are the national classifier's (SOATO in Uzbekistan, KATO in Kazakhstan).
A city of regional subordination is a district-level unit holding its one urban
settlement, so every facility and person points at a settlement. The
population of settlements is ``population``; loading territory in bulk from a
CSV is ``territory_import``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.config import get_settings
from salomat.core.errors import Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from salomat.core.pagination import Page, PageParams
from salomat.country import pack
from salomat.domains.registry.models import Territory
from salomat.domains.registry.schemas import (
    TerritoryIn,
    TerritoryOut,
    TerritoryPatch,
)
from salomat.domains.registry.service import versions

__all__ = [
    "AreaBreakdown",
    "area_breakdown",
    "create_territory",
    "get_territory",
    "get_territory_by_id",
    "list_territory",
    "settlement_ids_under",
    "territory_by_code",
    "territory_id_by_code",
    "territory_names_by_code",
    "update_territory",
]

RESOURCE = "Location"
#: the level each level hangs under
PARENT_LEVEL = {"region": None, "district": "region", "settlement": "district"}


def languages() -> list[str]:
    return list(pack.load(get_settings().country)["languages"])


def expect_version(current: int, expected: int | None, what: str) -> None:
    """``If-Match`` is required on updates and must name the version stored now."""
    if expected is None:
        raise PreconditionFailed("Send If-Match with the version you read (its ETag).")
    if expected != current:
        raise PreconditionFailed(
            f"The {what} changed since you read it (version {current}, you sent "
            f"{expected}): reload it and apply your change again."
        )


def check_names(names: dict[str, str], field: str = "names") -> list[FieldError]:
    langs = languages()
    errors = []
    for lang, value in names.items():
        if lang not in langs:
            errors.append(
                FieldError(f"{field}.{lang}", f"not a language of the pack ({', '.join(langs)})")
            )
        elif not value.strip() or len(value) > 300:
            errors.append(FieldError(f"{field}.{lang}", "must be 1 to 300 characters"))
    return errors


# ---- reading ---------------------------------------------------------------------


async def _by_code(session: AsyncSession, code: str) -> Territory | None:
    return await session.scalar(select(Territory).where(Territory.code == code))


async def _codes(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Territory.id, Territory.code).where(Territory.id.in_(wanted))
    )
    return {r.id: r.code for r in rows}


def _out(t: Territory, parent_code: str | None) -> TerritoryOut:
    out = TerritoryOut.model_validate(t)
    out.parent_code = parent_code
    return out


async def territory_out(session: AsyncSession, t: Territory) -> TerritoryOut:
    codes = await _codes(session, [t.parent_id])
    return _out(t, codes.get(t.parent_id) if t.parent_id else None)


async def territory_by_code(session: AsyncSession, code: str) -> TerritoryOut | None:
    t = await _by_code(session, code)
    return await territory_out(session, t) if t else None


async def territory_names_by_code(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, tuple[str, dict[str, str]]]:
    """The territories with these codes, in one statement: code -> (name, names by
    language). The FHIR terminology's ``urn:salomat:territory`` reads them."""
    wanted = sorted({c for c in codes if isinstance(c, str) and 0 < len(c) <= 64})
    if not wanted:
        return {}
    rows = await session.execute(
        select(Territory.code, Territory.name, Territory.names).where(Territory.code.in_(wanted))
    )
    return {code: (name, dict(names or {})) for code, name, names in rows}


async def territory_id_by_code(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(Territory.id).where(Territory.code == code))


async def get_territory(session: AsyncSession, code: str) -> TerritoryOut:
    t = await _by_code(session, code)
    if t is None:
        raise NotFound(f"No territorial unit has code {code}.")
    return await territory_out(session, t)


async def get_territory_by_id(session: AsyncSession, territory_id: int) -> TerritoryOut:
    """A unit by its database id (FHIR ``Location/<id>``)."""
    t = await session.get(Territory, territory_id)
    if t is None:
        raise NotFound(f"Location {territory_id} not found.")
    return await territory_out(session, t)


async def list_territory(
    session: AsyncSession,
    page: PageParams,
    *,
    level: str | None = None,
    parent_code: str | None = None,
    name: str | None = None,
) -> Page[TerritoryOut]:
    where: list[Any] = []
    if level:
        where.append(Territory.level == level)
    if parent_code:
        parent_id = await territory_id_by_code(session, parent_code)
        if parent_id is None:
            raise Invalid.fields([FieldError("parent_code", f"no unit has code {parent_code}")])
        where.append(Territory.parent_id == parent_id)
    if name:
        where.append(func.lower(Territory.name).contains(name.lower()))
    total = await session.scalar(select(func.count()).select_from(Territory).where(*where))
    rows = list(
        await session.scalars(
            select(Territory)
            .where(*where)
            .order_by(Territory.code)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    codes = await _codes(session, [t.parent_id for t in rows])
    return Page[TerritoryOut](
        items=[_out(t, codes.get(t.parent_id) if t.parent_id else None) for t in rows],
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


async def settlement_ids_under(session: AsyncSession, code: str) -> list[int]:
    """The settlements of a unit: itself, its children, or its children's children."""
    t = await _by_code(session, code)
    if t is None:
        raise NotFound(f"No territorial unit has code {code}.")
    if t.level == "settlement":
        return [t.id]
    if t.level == "district":
        parents: Any = [t.id]
    else:
        parents = select(Territory.id).where(Territory.parent_id == t.id)
    return list(
        await session.scalars(
            select(Territory.id).where(
                Territory.parent_id.in_(parents), Territory.level == "settlement"
            )
        )
    )


@dataclass(frozen=True)
class AreaBreakdown:
    """An area split into the units one level down, for figures per unit.

    ``area`` is None for the whole country (units: the regions). ``unit_of``
    maps every settlement inside the area to the code of the unit it lies in
    (for a district, each settlement is its own unit).
    """

    area: TerritoryOut | None
    units: list[TerritoryOut]
    unit_of: dict[int, str]


async def area_breakdown(session: AsyncSession, code: str | None) -> AreaBreakdown:
    """The country, a region or a district, and its units; ``NotFound`` for an unknown code.

    Reads the whole territory table once (a country has a few thousand
    settlements), so figures can be grouped by settlement in SQL and summed
    per unit here.
    """
    rows = (await session.execute(select(Territory.id, Territory.parent_id, Territory.level))).all()
    parent = {r.id: r.parent_id for r in rows}
    level = {r.id: r.level for r in rows}
    if code is None:
        area_id, child_level = None, "region"
    else:
        area_id = await territory_id_by_code(session, code)
        if area_id is None:
            raise NotFound(f"No territorial unit has code {code}.")
        if level[area_id] == "settlement":
            raise Invalid.fields(
                [FieldError("area", f"{code} is a settlement: choose a region or a district")]
            )
        child_level = "district" if level[area_id] == "region" else "settlement"

    def unit(settlement_id: int) -> int | None:
        """The ancestor at ``child_level`` of a settlement inside the area, else None."""
        node: int | None = settlement_id
        chain: list[int] = []
        while node is not None:
            chain.append(node)
            node = parent.get(node)
        if area_id is not None and area_id not in chain:
            return None
        return next((n for n in chain if level[n] == child_level), None)

    of_id = {sid: u for sid in level if level[sid] == "settlement" and (u := unit(sid)) is not None}
    units = list(
        await session.scalars(
            select(Territory).where(Territory.id.in_(set(of_id.values()))).order_by(Territory.code)
        )
    )
    area = await get_territory(session, code) if code is not None else None
    codes = {t.id: t.code for t in units}
    return AreaBreakdown(
        area=area,
        units=[_out(t, area.code if area else None) for t in units],
        unit_of={sid: codes[u] for sid, u in of_id.items()},
    )


# ---- writing ---------------------------------------------------------------------


async def _check_parent(
    session: AsyncSession, level: str, parent_code: str | None
) -> tuple[int | None, list[FieldError]]:
    wanted = PARENT_LEVEL[level]
    if wanted is None:
        if parent_code:
            return None, [FieldError("parent_code", "a region has no parent")]
        return None, []
    if not parent_code:
        return None, [FieldError("parent_code", f"a {level} lies in a {wanted}")]
    parent = await _by_code(session, parent_code)
    if parent is None:
        return None, [FieldError("parent_code", f"no unit has code {parent_code}")]
    if parent.level != wanted:
        return None, [
            FieldError(
                "parent_code", f"{parent_code} is a {parent.level}; a {level} lies in a {wanted}"
            )
        ]
    return parent.id, []


def _check_rural(level: str, is_rural: bool | None) -> list[FieldError]:
    if level == "settlement" and is_rural is None:
        return [FieldError("is_rural", "say whether the settlement is rural or urban")]
    if level != "settlement" and is_rural is not None:
        return [FieldError("is_rural", "only settlements are rural or urban")]
    return []


async def create_territory(
    session: AsyncSession, data: TerritoryIn, *, by: str = "system"
) -> TerritoryOut:
    parent_id, errors = await _check_parent(session, data.level, data.parent_code)
    errors += _check_rural(data.level, data.is_rural) + check_names(data.names)
    if errors:
        raise Invalid.fields(errors)
    if await territory_id_by_code(session, data.code) is not None:
        raise Conflict(
            f"A territorial unit with code {data.code} exists.",
            errors=[FieldError("code", "already exists")],
        )
    t = Territory(
        code=data.code,
        level=data.level,
        parent_id=parent_id,
        name=data.name,
        names=dict(data.names),
        is_rural=data.is_rural,
        latitude=data.latitude,
        longitude=data.longitude,
    )
    session.add(t)
    await session.flush()
    out = _out(t, data.parent_code)
    await versions.record_version(session, RESOURCE, out, action="create", by=by)
    return out


async def update_territory(
    session: AsyncSession,
    code: str,
    patch: TerritoryPatch,
    *,
    expected_version: int | None,
    by: str,
) -> TerritoryOut:
    """Values equal to the stored ones answer the current version, however old
    ``expected_version`` is (``versions.unchanged``)."""
    t = await _by_code(session, code)
    if t is None:
        raise NotFound(f"No territorial unit has code {code}.")
    if expected_version is None:
        expect_version(t.version, expected_version, "territorial unit")
    values = patch.model_dump(exclude_unset=True)
    errors: list[FieldError] = []
    if "name" in values and values["name"] is None:
        errors.append(FieldError("name", "a unit keeps a name"))
    if values.get("names") is not None:
        errors += check_names(values["names"])
    if "is_rural" in values:
        errors += _check_rural(t.level, values["is_rural"])
    if errors:
        raise Invalid.fields(errors)
    for key, value in values.items():
        setattr(t, key, dict(value) if key == "names" else value)
    if versions.unchanged(session, t):
        return await territory_out(session, t)
    expect_version(t.version, expected_version, "territorial unit")
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The unit changed while you edited it; reload.") from e
    out = await territory_out(session, t)
    await versions.record_version(session, RESOURCE, out, action="update", by=by)
    return out
