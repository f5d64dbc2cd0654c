"""What the insurance fund reads of a person to tell her insured status: one statement by
national id or by record id (a provider's eligibility check runs it on every visit).

No health data and no audit row here: the insurance service audits what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry.models import Person
from salomat.domains.registry.service.person_lists import PersonBrief

__all__ = ["InsuredPerson", "insured_people", "insured_person", "insured_person_by_national_id"]


@dataclass(frozen=True)
class InsuredPerson(PersonBrief):
    """Who the person is (name, birth date and sex, national id: the status is shown
    with them; birth and sex give the categories the register sets: children,
    pensioners), with the registered death and the merge."""

    deceased_on: date | None
    merged_into_id: int | None


_COLUMNS = (
    Person.id,
    Person.family_name,
    Person.given_name,
    Person.patronymic,
    Person.national_id,
    Person.birth_date,
    Person.sex,
    Person.deceased_on,
    Person.merged_into_id,
)


def _out(r: Any) -> InsuredPerson:
    return InsuredPerson(
        id=r.id,
        name=" ".join(p for p in (r.family_name, r.given_name, r.patronymic) if p),
        birth_date=r.birth_date,
        sex=r.sex,
        national_id=r.national_id,
        deceased_on=r.deceased_on,
        merged_into_id=r.merged_into_id,
    )


async def insured_person(session: AsyncSession, person_id: int) -> InsuredPerson | None:
    row = (await session.execute(select(*_COLUMNS).where(Person.id == person_id))).first()
    return _out(row) if row is not None else None


async def insured_people(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, InsuredPerson]:
    """``insured_person`` of many people in one statement (a bulk export's page)."""
    if not person_ids:
        return {}
    rows = await session.execute(select(*_COLUMNS).where(Person.id.in_(sorted(set(person_ids)))))
    return {r.id: _out(r) for r in rows}


async def insured_person_by_national_id(
    session: AsyncSession, national_id: str
) -> InsuredPerson | None:
    """The record a national id names (a merged record gives its id up to the survivor)."""
    value = national_id.strip()
    if not value:
        return None
    row = (await session.execute(select(*_COLUMNS).where(Person.national_id == value))).first()
    return _out(row) if row is not None else None
