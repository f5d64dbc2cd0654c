"""The population of settlements, by year, sex and age band, and its sums per unit.

Kept for settlements only; a region's or a district's population is the sum
over its settlements (``territory_population``). The CSV import
(``territory_import``) stores a row's population with ``_replace_population``.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.domains.registry.models import Population, Territory
from salomat.domains.registry.schemas import AGE_BANDS, PopulationIn, PopulationOut
from salomat.domains.registry.service.territory import _by_code, settlement_ids_under

__all__ = ["set_population", "territory_population"]


async def _replace_population(session: AsyncSession, territory_id: int, pop: PopulationIn) -> None:
    await session.execute(
        delete(Population).where(
            Population.territory_id == territory_id, Population.year == pop.year
        )
    )
    rows = [
        {"territory_id": territory_id, "year": pop.year, "sex": sex, "age_from": band, "count": n}
        for sex, counts in (("male", pop.male), ("female", pop.female))
        for band, n in zip(AGE_BANDS, counts, strict=True)
    ]
    await session.execute(insert(Population), rows)


async def set_population(session: AsyncSession, code: str, data: PopulationIn) -> PopulationOut:
    """Replaces the settlement's population of ``data.year``."""
    t = await _by_code(session, code)
    if t is None:
        raise NotFound(f"No territorial unit has code {code}.")
    if t.level != "settlement":
        raise Invalid.fields(
            [FieldError("code", f"{code} is a {t.level}: population is kept for settlements")]
        )
    await _replace_population(session, t.id, data)
    await session.flush()
    return await territory_population(session, code, data.year)


async def territory_population(
    session: AsyncSession, code: str, year: int | None = None
) -> PopulationOut:
    """The sum over the settlements of the unit, for ``year`` (default: the latest known)."""
    ids = await settlement_ids_under(session, code)
    empty = [0] * len(AGE_BANDS)
    if not ids:
        return PopulationOut(
            code=code, year=year, male=empty, female=list(empty), total=0, rural=0, urban=0,
            settlements=0,
        )  # fmt: skip
    if year is None:
        year = await session.scalar(
            select(func.max(Population.year)).where(Population.territory_id.in_(ids))
        )
    rows = await session.execute(
        select(Population.sex, Population.age_from, Territory.is_rural, func.sum(Population.count))
        .join(Territory, Territory.id == Population.territory_id)
        .where(Population.territory_id.in_(ids), Population.year == year)
        .group_by(Population.sex, Population.age_from, Territory.is_rural)
    )
    male, female = list(empty), list(empty)
    rural = urban = 0
    for sex, age_from, is_rural, n in rows:
        n = int(n or 0)
        (male if sex == "male" else female)[AGE_BANDS.index(age_from)] += n
        if is_rural:
            rural += n
        else:
            urban += n
    return PopulationOut(
        code=code,
        year=year,
        male=male,
        female=female,
        total=sum(male) + sum(female),
        rural=rural,
        urban=urban,
        settlements=len(ids),
    )
