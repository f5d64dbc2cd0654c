"""The population of settlements, by year, sex and age band, and its sums per unit.

Kept for settlements only; a region's or a district's population is the sum
over its settlements (``territory_population``). The CSV import
(``territory_import``) stores a row's population with ``_replace_population``.
The denominators and numerators of population rates that other domains compute
(the cancer registry's incidence and its mortality:incidence ratio) are read
here in one statement each: the population of every region (``population_by_region``),
the years loaded (``population_years``) and deaths by underlying cause
(``deaths_by_cause``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.domains.registry.models import Person, Population, Territory
from salomat.domains.registry.schemas import AGE_BANDS, PopulationIn, PopulationOut
from salomat.domains.registry.service.territory import _by_code, settlement_ids_under

__all__ = [
    "deaths_by_cause",
    "population_by_region",
    "population_years",
    "set_population",
    "territory_population",
]


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


def _region_of_settlement() -> tuple[Any, Any, Any]:
    """Aliases to climb settlement -> district -> region (settlements always sit in a
    district, districts in a region)."""
    return aliased(Territory), aliased(Territory), aliased(Territory)


async def population_by_region(
    session: AsyncSession, year: int, region_id: int | None = None
) -> dict[int, PopulationOut]:
    """Every region's population of ``year`` (or the one region's), summed over its
    settlements, keyed by the region's territory id; regions without that year are absent.

    One grouped statement whatever the number of regions: the national rates of a
    registry sum these, a table over regions reads them once. ``settlements`` counts the
    settlements with a population that year. Not audited: no person's data.
    """
    s, d, r = _region_of_settlement()
    p = Population
    query = (
        select(
            r.id,
            r.code,
            p.sex,
            p.age_from,
            s.is_rural,
            func.sum(p.count),
            func.count(func.distinct(s.id)),
        )
        .select_from(p)
        .join(s, s.id == p.territory_id)
        .join(d, d.id == s.parent_id)
        .join(r, r.id == d.parent_id)
        .where(p.year == year, s.level == "settlement", r.level == "region")
        .group_by(r.id, r.code, p.sex, p.age_from, s.is_rural)
    )
    if region_id is not None:
        query = query.where(r.id == region_id)
    out: dict[int, PopulationOut] = {}
    places: dict[tuple[int, bool], int] = {}
    for rid, code, sex, age_from, is_rural, n, settlements in await session.execute(query):
        pop = out.get(rid)
        if pop is None:
            empty = [0] * len(AGE_BANDS)
            pop = out[rid] = PopulationOut(
                code=code, year=year, male=empty, female=list(empty), total=0, rural=0,
                urban=0, settlements=0,
            )  # fmt: skip
        n = int(n or 0)
        (pop.male if sex == "male" else pop.female)[AGE_BANDS.index(age_from)] += n
        pop.total += n
        if is_rural:
            pop.rural += n
        else:
            pop.urban += n
        key = (rid, bool(is_rural))
        places[key] = max(places.get(key, 0), int(settlements))
    for (rid, _), n in places.items():
        out[rid].settlements += n
    return out


async def population_years(session: AsyncSession, region_id: int | None = None) -> list[int]:
    """The years for which any settlement (of the region) has a population, ascending."""
    s, d, _r = _region_of_settlement()
    query = select(Population.year).distinct()
    if region_id is not None:
        query = (
            query.join(s, s.id == Population.territory_id)
            .join(d, d.id == s.parent_id)
            .where(d.parent_id == region_id)
        )
    return sorted(int(y) for y in await session.scalars(query))


async def deaths_by_cause(
    session: AsyncSession, year: int, region_id: int | None = None
) -> dict[tuple[int | None, str, str], int]:
    """Deaths registered with a date in ``year``, counted by (region of residence, sex,
    underlying cause's ICD-10 category, e.g. ``C34``); one grouped statement.

    The region is the territory id of the settlement the person lived in (None: no
    settlement recorded); a merged record is not counted twice. Not audited: counts only.
    These are the numerators of death rates and of a registry's mortality:incidence ratio.
    """
    s, d, r = _region_of_settlement()
    icd3 = func.substr(Person.death_cause, 1, 3)
    query = (
        select(r.id, Person.sex, icd3, func.count())
        .select_from(Person)
        .outerjoin(s, s.id == Person.settlement_id)
        .outerjoin(d, d.id == s.parent_id)
        .outerjoin(r, r.id == d.parent_id)
        .where(
            Person.deceased_on >= date(year, 1, 1),
            Person.deceased_on < date(year + 1, 1, 1),
            Person.death_cause.is_not(None),
            Person.merged_into_id.is_(None),
        )
        .group_by(r.id, Person.sex, icd3)
    )
    if region_id is not None:
        query = query.where(r.id == region_id)
    return {(rid, sex, str(code)): int(n) for rid, sex, code, n in await session.execute(query)}
