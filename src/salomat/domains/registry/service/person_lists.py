"""Lists of people for the care programmes' worklists, coverage and checks.

No health data and no audit row here: the callers check scope and audit what they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.domains.registry.models import Facility, Person, Section, Territory

__all__ = [
    "AttachedPerson",
    "PersonBrief",
    "PersonFacts",
    "attached_facility_ids",
    "attached_people",
    "birth_dates",
    "cohort_query",
    "death_dates",
    "person_briefs",
    "person_facts",
]


@dataclass(frozen=True)
class AttachedPerson:
    """A person attached to a facility, as a worklist or an invitation list needs them."""

    id: int
    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: date
    sex: str
    phone: str | None
    address: str | None
    section_code: str | None
    section_name: str | None


async def attached_people(
    session: AsyncSession,
    facility_id: int,
    *,
    born_from: date | None = None,
    born_to: date | None = None,
    section_code: str | None = None,
    after_id: int = 0,
    limit: int = 500,
) -> list[AttachedPerson]:
    """One page (by id, after ``after_id``) of the living people attached to a facility.

    For a care programme's worklist, which checks scope and audits what it
    shows: this returns no health data and writes no audit row. ``born_from``
    and ``born_to`` (inclusive) narrow it to an age band; ``section_code`` to
    one family-doctor section (``""``: people with no section).
    """
    q = (
        select(
            Person.id,
            Person.family_name,
            Person.given_name,
            Person.patronymic,
            Person.birth_date,
            Person.sex,
            Person.phone,
            Person.address,
            Section.code,
            Section.name,
        )
        .outerjoin(Section, Section.id == Person.section_id)
        .where(
            Person.attached_facility_id == facility_id,
            Person.deceased_on.is_(None),
            Person.merged_into_id.is_(None),
            Person.id > after_id,
        )
        .order_by(Person.id)
        .limit(limit)
    )
    if born_from is not None:
        q = q.where(Person.birth_date >= born_from)
    if born_to is not None:
        q = q.where(Person.birth_date <= born_to)
    if section_code == "":
        q = q.where(Person.section_id.is_(None))
    elif section_code is not None:
        q = q.where(Section.code == section_code)
    return [AttachedPerson(*row) for row in (await session.execute(q)).all()]


def cohort_query(year: int, settlement_ids: list[int] | None) -> Any:
    """A subquery of the people born in ``year`` living in the given settlements (None: anywhere).

    Columns ``person_id``, ``birth_date``, ``deceased_on`` and ``settlement_id``:
    where the person lives, else where the facility they are attached to stands
    (a family polyclinic serves where its people live). Merged records are left
    out. For aggregate figures joined in SQL by a care programme: no row leaves
    the database.
    """
    home = func.coalesce(Person.settlement_id, Facility.settlement_id)
    q = (
        select(
            Person.id.label("person_id"),
            Person.birth_date.label("birth_date"),
            Person.deceased_on.label("deceased_on"),
            home.label("settlement_id"),
        )
        .outerjoin(Facility, Facility.id == Person.attached_facility_id)
        .where(
            Person.birth_date >= date(year, 1, 1),
            Person.birth_date <= date(year, 12, 31),
            Person.merged_into_id.is_(None),
        )
    )
    if settlement_ids is not None:
        q = q.where(home.in_(settlement_ids))
    return q.subquery("cohort")


async def death_dates(session: AsyncSession, ids: list[int]) -> dict[int, date]:
    """Dates of death by person id (the living are absent), for checks such as claims'.

    Not audited, like ``birth_dates``: the callers audit what they show.
    """
    if not ids:
        return {}
    rows = await session.execute(
        select(Person.id, Person.deceased_on).where(
            Person.id.in_(ids), Person.deceased_on.is_not(None)
        )
    )
    return {pid: died for pid, died in rows.all()}


async def birth_dates(session: AsyncSession, ids: list[int]) -> dict[int, date]:
    """Birth dates by person id, for loaders and jobs that check a record against an age.

    Not audited: it returns no health data, and its callers audit what they show.
    """
    if not ids:
        return {}
    rows = await session.execute(select(Person.id, Person.birth_date).where(Person.id.in_(ids)))
    return {pid: born for pid, born in rows.all()}


@dataclass(frozen=True)
class PersonBrief:
    """Who a person is, for a list whose caller checked scope and audits each row."""

    id: int
    name: str
    birth_date: date
    sex: str
    national_id: str | None


async def person_briefs(session: AsyncSession, ids: list[int]) -> dict[int, PersonBrief]:
    """Names, birth dates and national ids of ``ids`` in one statement."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            Person.id,
            Person.family_name,
            Person.given_name,
            Person.patronymic,
            Person.birth_date,
            Person.sex,
            Person.national_id,
        ).where(Person.id.in_(wanted))
    )
    return {
        r.id: PersonBrief(
            r.id,
            " ".join(p for p in (r.family_name, r.given_name, r.patronymic) if p),
            r.birth_date,
            r.sex,
            r.national_id,
        )
        for r in rows
    }


async def attached_facility_ids(session: AsyncSession, ids: list[int]) -> dict[int, int | None]:
    """The facility each person of ``ids`` is attached to."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Person.id, Person.attached_facility_id).where(Person.id.in_(wanted))
    )
    return {r.id: r.attached_facility_id for r in rows}


@dataclass(frozen=True)
class PersonFacts:
    """What a registry of a disease copies onto its case: sex, birth, residence (the
    settlement and its region's territory id), death and its certificate's causes."""

    id: int
    sex: str
    birth_date: date
    settlement_id: int | None
    region_id: int | None
    deceased_on: date | None
    death_cause: str | None
    death_other_causes: tuple[str, ...]
    merged_into_id: int | None


async def person_facts(session: AsyncSession, person_id: int) -> PersonFacts | None:
    """One statement: the person with the region of her settlement (settlement, district,
    region); ``None`` when there is no such record."""
    d, r = aliased(Territory), aliased(Territory)
    s = aliased(Territory)
    row = (
        await session.execute(
            select(
                Person.id,
                Person.sex,
                Person.birth_date,
                Person.settlement_id,
                r.id.label("region_id"),
                Person.deceased_on,
                Person.death_cause,
                Person.death_other_causes,
                Person.merged_into_id,
            )
            .outerjoin(s, s.id == Person.settlement_id)
            .outerjoin(d, d.id == s.parent_id)
            .outerjoin(r, r.id == d.parent_id)
            .where(Person.id == person_id)
        )
    ).first()
    if row is None:
        return None
    return PersonFacts(
        row.id,
        row.sex,
        row.birth_date,
        row.settlement_id,
        row.region_id,
        row.deceased_on,
        row.death_cause,
        tuple(row.death_other_causes or ()),
        row.merged_into_id,
    )
