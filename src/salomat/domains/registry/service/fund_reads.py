"""Reads the insurance fund needs of the register, set-wise: a payment file names
thousands of people by national id, and the state's expected contributions count the
children and pensioners of a month (issue 17, docs/insurance.md).

Not audited: they return ids and counts, no personal data; the fund's services audit
what they store and show.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry.models import Person

__all__ = ["count_by_age_rule", "person_ids_by_national_ids"]

#: values per statement (well under SQLite's and PostgreSQL's parameter limits)
CHUNK = 2000


async def person_ids_by_national_ids(
    session: AsyncSession, values: Iterable[str]
) -> dict[str, int]:
    """The record each national id names, in one statement per 2,000 ids; ids with no
    record are absent. The registry's one bulk resolver by national id: a merged record
    (kept by the merge without its national id, so only a record written around it
    names one) resolves to its survivor, followed along ``merged_into_id`` to a record
    not merged itself (one more statement a step, none when nothing was merged)."""
    wanted = sorted({v for v in values if v})
    out: dict[str, int] = {}
    merged_into: dict[int, int] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(Person.national_id, Person.id, Person.merged_into_id).where(
                Person.national_id.in_(wanted[i : i + CHUNK])
            )
        )
        for nid, pid, into in rows:
            out[nid] = int(pid)
            if into is not None:
                merged_into[int(pid)] = int(into)
    step = set(merged_into.values())
    while step:
        ahead = sorted(step - merged_into.keys())
        step = set()
        for i in range(0, len(ahead), CHUNK):
            rows = await session.execute(
                select(Person.id, Person.merged_into_id).where(
                    Person.id.in_(ahead[i : i + CHUNK]), Person.merged_into_id.is_not(None)
                )
            )
            for pid, into in rows:
                merged_into[int(pid)] = int(into)
                step.add(int(into))
    for nid, pid in out.items():
        seen = {pid}
        while pid in merged_into and merged_into[pid] not in seen:
            pid = merged_into[pid]
            seen.add(pid)
        out[nid] = pid
    return out


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def count_by_age_rule(
    session: AsyncSession,
    on: date,
    *,
    age_below: int | None,
    age_from: dict[str, int] | None,
    exclude: Select[tuple[int]] | None = None,
) -> int:
    """People alive on ``on`` (born by then, not dead before it, not merged away) who are
    under ``age_below`` or, by sex, at least ``age_from`` years old that day; the person
    ids ``exclude`` selects are left out (people counted elsewhere), by an anti-join in
    the same statement (NOT EXISTS: no list of ids is bound, however many)."""
    rules = []
    if age_below is not None:
        rules.append(Person.birth_date > _years_before(on, age_below))
    for sex, age in (age_from or {}).items():
        rules.append(and_(Person.sex == sex, Person.birth_date <= _years_before(on, age)))
    if not rules:
        return 0
    q = select(func.count()).where(
        Person.birth_date <= on,
        or_(Person.deceased_on.is_(None), Person.deceased_on >= on),
        Person.merged_into_id.is_(None),
        or_(*rules),
    )
    if exclude is not None:
        skip = exclude.subquery("excluded")
        q = q.where(~exists().where(next(iter(skip.c)) == Person.id))
    return int(await session.scalar(q) or 0)
