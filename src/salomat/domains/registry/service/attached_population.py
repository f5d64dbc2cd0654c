"""Who is attached where on a day, counted by sex and age (the per-capita payment of
primary care), and the few facts of people that set-wise checks join to in SQL.

No names and no audit row: counts and a subquery for aggregate checks, whose callers
audit what they show of a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry.models import Attachment, Person
from salomat.domains.registry.service.fund_reads import CHUNK, person_ids_by_national_ids

__all__ = [
    "AttachedCount",
    "PersonVitals",
    "age_in_years",
    "attached_population",
    "person_vitals_query",
    "vitals_by_national_ids",
]


def age_in_years(birth: Any, day: Any) -> Any:
    """Whole years from ``birth`` to ``day`` as a SQL expression (both backends: the
    year difference, less one before the birthday)."""
    before_birthday = (extract("month", day) * 100 + extract("day", day)) < (
        extract("month", birth) * 100 + extract("day", birth)
    )
    return extract("year", day) - extract("year", birth) - case((before_birthday, 1), else_=0)


@dataclass(frozen=True)
class AttachedCount:
    facility_id: int
    sex: str
    #: whole years on the day
    age: int
    count: int


async def attached_population(
    session: AsyncSession, day: date, facility_ids: list[int] | None = None
) -> list[AttachedCount]:
    """People attached to each facility on ``day`` by the attachment history (an
    attachment from its start to its end, both included), alive that day (a death on the
    day itself still counts the day) and born by then, by sex and age in whole years; one
    grouped statement."""
    age = age_in_years(Person.birth_date, day).label("age")
    q = (
        select(Attachment.facility_id, Person.sex, age, func.count().label("n"))
        .join(Person, Person.id == Attachment.person_id)
        .where(
            Attachment.start_on <= day,
            or_(Attachment.end_on.is_(None), Attachment.end_on >= day),
            Person.merged_into_id.is_(None),
            Person.birth_date <= day,
            or_(Person.deceased_on.is_(None), Person.deceased_on >= day),
        )
        .group_by(Attachment.facility_id, Person.sex, age)
    )
    if facility_ids is not None:
        q = q.where(Attachment.facility_id.in_(facility_ids))
    rows = await session.execute(q)
    return [AttachedCount(int(f), s, int(a), int(n)) for f, s, a, n in rows.all()]


def person_vitals_query(ids: Any | None = None) -> Any:
    """A subquery ``(person_id, sex, birth_date, deceased_on)`` of registered people (of
    ``ids``, a subquery or list, when given), for checks that join claim lines in SQL."""
    q = select(
        Person.id.label("person_id"),
        Person.sex.label("sex"),
        Person.birth_date.label("birth_date"),
        Person.deceased_on.label("deceased_on"),
    )
    if ids is not None:
        q = q.where(and_(Person.id.in_(ids)))
    return q.subquery("vitals")


@dataclass(frozen=True)
class PersonVitals:
    person_id: int
    sex: str
    birth_date: date
    deceased_on: date | None


async def vitals_by_national_ids(
    session: AsyncSession, values: Iterable[str]
) -> dict[str, PersonVitals]:
    """Sex, birth and death of the record each national id names, resolved by
    ``person_ids_by_national_ids`` (a merged record: its survivor); ids with no record
    are absent. Two statements a 2,000 ids (the resolver's, then the records')."""
    ids = await person_ids_by_national_ids(session, values)
    wanted = sorted(set(ids.values()))
    found: dict[int, PersonVitals] = {}
    for i in range(0, len(wanted), CHUNK):
        for r in await session.execute(
            select(Person.id, Person.sex, Person.birth_date, Person.deceased_on).where(
                Person.id.in_(wanted[i : i + CHUNK])
            )
        ):
            found[r.id] = PersonVitals(r.id, r.sex, r.birth_date, r.deceased_on)
    return {nid: found[pid] for nid, pid in ids.items() if pid in found}
