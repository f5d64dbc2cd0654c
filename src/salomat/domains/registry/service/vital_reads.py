"""Vital-statistics measures read set-wise from the population register (issue 20).

The statistics domain computes its indicators from these; each is one grouped SQL
statement per period, keyed by settlement id (None: no settlement recorded), never a
loop over people. They return counts only, so they are not audited per person
(docs/statistics.md says so). A merged record (``merged_into_id``) is not counted.

Place: the settlement the person lives in now (``person.settlement_id``); the register
keeps no residence history, so a move re-files a person's past figures.

Denominator: the population is counted from the register (people born on or before the
day and not dead before it), not from ``territory_population``'s 1 January estimates:
those come in 5-year bands without the 0 / 1-4 split a life table needs, once a year,
and without the strata (age at a month's midpoint) the indicators are broken down by;
the register also holds the deaths and births of the numerators, so both sides count
the same people.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Integer, and_, case, cast, extract, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry.models import Person, Territory

__all__ = [
    "SettlementPlace",
    "register_deaths",
    "register_live_births",
    "register_population",
    "settlement_places",
    "statistics_areas",
]


@dataclass(frozen=True)
class SettlementPlace:
    district: str | None
    region: str | None
    rural: bool | None


async def settlement_places(session: AsyncSession) -> dict[int, SettlementPlace]:
    """Every settlement's district and region codes and whether it is rural (one read of
    the territory table: a country has a few thousand units)."""
    rows = (
        await session.execute(
            select(Territory.id, Territory.parent_id, Territory.level, Territory.code,
                   Territory.is_rural)
        )
    ).all()  # fmt: skip
    by_id = {r.id: r for r in rows}
    out: dict[int, SettlementPlace] = {}
    for r in rows:
        if r.level != "settlement":
            continue
        district = by_id.get(r.parent_id) if r.parent_id else None
        region = by_id.get(district.parent_id) if district and district.parent_id else None
        out[r.id] = SettlementPlace(
            district=district.code if district and district.level == "district" else None,
            region=region.code if region and region.level == "region" else None,
            rural=r.is_rural,
        )
    return out


async def statistics_areas(session: AsyncSession) -> dict[str, tuple[str, str, str | None]]:
    """Regions and districts: code -> (level, name, parent code)."""
    rows = (
        await session.execute(
            select(Territory.id, Territory.code, Territory.level, Territory.name,
                   Territory.parent_id)
        )
    ).all()  # fmt: skip
    code_of = {r.id: r.code for r in rows}
    return {
        r.code: (r.level, r.name, code_of.get(r.parent_id) if r.parent_id else None)
        for r in rows
        if r.level in ("region", "district")
    }


def _years_before(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


def _live() -> Any:
    return Person.merged_into_id.is_(None)


async def register_population(
    session: AsyncSession, on: date, age_bounds: Sequence[int]
) -> dict[tuple[int | None, str, int], int]:
    """People alive on ``on`` (born that day or before, not dead before it), counted by
    (settlement, sex, age group); an age group is named by its lower bound in
    ``age_bounds`` (ascending, starting at 0; the last is open)."""
    whens = [
        (Person.birth_date > _years_before(on, upper), literal(lower))
        for lower, upper in itertools.pairwise(age_bounds)
    ]
    group = case(*whens, else_=literal(age_bounds[-1]))
    query = (
        select(Person.settlement_id, Person.sex, group, func.count())
        .where(
            _live(),
            Person.birth_date <= on,
            or_(Person.deceased_on.is_(None), Person.deceased_on >= on),
        )
        .group_by(Person.settlement_id, Person.sex, group)
    )
    return {(sid, sex, int(g)): int(n) for sid, sex, g, n in await session.execute(query)}


async def register_live_births(
    session: AsyncSession, start: date, end: date
) -> dict[tuple[int | None, str], int]:
    """Live-born people registered with a birth date in [start, end], by (settlement, sex)."""
    query = (
        select(Person.settlement_id, Person.sex, func.count())
        .where(_live(), Person.birth_date >= start, Person.birth_date <= end)
        .group_by(Person.settlement_id, Person.sex)
    )
    return {(sid, sex): int(n) for sid, sex, n in await session.execute(query)}


def _days(session: AsyncSession, later: Any, earlier: Any) -> Any:
    if session.bind.dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def _cause_class(code: Any, classes: Mapping[str, Sequence[str]]) -> Any:
    """A CASE naming the first class whose ICD-10 ranges hold the code ("" for none).

    A range ``A00-B99`` compares three-character categories; a single category ``A34``
    matches it and its subcategories; a subcategory ``M83.0`` matches that one only."""
    norm = func.upper(func.replace(code, ".", ""))
    cat3 = func.substr(norm, 1, 3)
    whens = []
    for name, specs in classes.items():
        conds = []
        for spec in specs:
            if "-" in spec:
                lo, hi = (s.strip().upper() for s in spec.split("-"))
                conds.append(and_(cat3 >= lo, cat3 <= hi))
            else:
                flat = spec.strip().upper().replace(".", "")
                if len(flat) == 3:
                    conds.append(cat3 == flat)
                else:
                    conds.append(func.substr(norm, 1, len(flat)) == flat)
        whens.append((or_(*conds), literal(name)))
    return case(*whens, else_=literal(""))


async def register_deaths(
    session: AsyncSession,
    start: date,
    end: date,
    age_bounds: Sequence[int],
    cause_classes: Mapping[str, Sequence[str]],
) -> dict[tuple[int | None, str, int, str, str], int]:
    """Deaths dated in [start, end] by (settlement, sex, age group at death, neonatal
    band, cause class); one grouped statement.

    The age group is the completed years at death, named by its lower bound in
    ``age_bounds``; the neonatal band, for deaths before the first birthday, is ``d0_6``
    (0-6 completed days), ``d7_27`` (7-27) or ``d28`` (28 days to the first birthday),
    and "" at other ages. The cause class is the first of ``cause_classes`` whose ICD-10
    ranges hold the underlying cause (``person.death_cause``), "" for none or no cause.
    """
    d, b = Person.deceased_on, Person.birth_date
    md_d = extract("month", d) * 100 + extract("day", d)
    md_b = extract("month", b) * 100 + extract("day", b)
    years = extract("year", d) - extract("year", b) - case((md_d < md_b, 1), else_=0)
    whens = [(years < upper, literal(lower)) for lower, upper in itertools.pairwise(age_bounds)]
    group = case(*whens, else_=literal(age_bounds[-1]))
    days = _days(session, d, b)
    band = case(
        (years >= 1, literal("")),
        (days < 7, literal("d0_6")),
        (days < 28, literal("d7_27")),
        else_=literal("d28"),
    )
    cause = _cause_class(Person.death_cause, cause_classes)
    query = (
        select(Person.settlement_id, Person.sex, group, band, cause, func.count())
        .where(_live(), d.is_not(None), d >= start, d <= end)
        .group_by(Person.settlement_id, Person.sex, group, band, cause)
    )
    return {
        (sid, sex, int(g), str(bd), str(c)): int(n)
        for sid, sex, g, bd, c, n in await session.execute(query)
    }
