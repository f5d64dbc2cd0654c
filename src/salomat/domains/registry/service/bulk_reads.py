"""Set-wise reads of the person index for a bulk export (FHIR Bulk Data, issue 19).

A bulk export pages through a population by keyset (``id > last``), a page at a time: one
statement for the page's ids, one for their rows with the codes. The population is the
whole index (the statistician, national scope), or a facility's: the people attached to
it or with an open care relationship there, the same rule as
``attached_or_in_care_at_users_facility`` for one person. No audit here: the export audits
the people it writes, one insert a page (fhir/bulk_export.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry.models import CareRelationship, Facility, Person
from salomat.domains.registry.schemas import FacilityOut, PersonOut
from salomat.domains.registry.service.facilities import _outs as facility_outs
from salomat.domains.registry.service.people import people_with_codes, person_out

__all__ = [
    "count_export_people",
    "export_people",
    "export_person_ids",
    "facility_holds",
    "group_facilities",
]


def _population(
    facility_id: int | None, only: Sequence[int] | None, since: datetime | None
) -> list[Any]:
    where: list[Any] = []
    if facility_id is not None:
        where.append(
            or_(
                Person.attached_facility_id == facility_id,
                exists().where(
                    CareRelationship.person_id == Person.id,
                    CareRelationship.facility_id == facility_id,
                    CareRelationship.closed_at.is_(None),
                ),
            )
        )
    if only is not None:
        where.append(Person.id.in_(sorted(set(only))))
    if since is not None:
        where.append(Person.updated_at > since)
    return where


async def export_person_ids(
    session: AsyncSession,
    *,
    after: int,
    limit: int,
    facility_id: int | None = None,
    only: Sequence[int] | None = None,
    since: datetime | None = None,
) -> list[int]:
    """The next ``limit`` ids of the population after ``after``, in id order (keyset).

    ``facility_id``: only the people the facility holds (attached, or in care there);
    ``only``: only these ids (a ``patient`` parameter); ``since``: only records changed
    after it.
    """
    q = (
        select(Person.id)
        .where(Person.id > after, *_population(facility_id, only, since))
        .order_by(Person.id)
        .limit(limit)
    )
    return [int(i) for i in (await session.scalars(q)).all()]


async def count_export_people(
    session: AsyncSession,
    *,
    facility_id: int | None = None,
    only: Sequence[int] | None = None,
    since: datetime | None = None,
) -> int:
    """How many people ``export_person_ids`` pages through (the export's progress)."""
    q = select(func.count()).select_from(Person).where(*_population(facility_id, only, since))
    return int(await session.scalar(q) or 0)


async def export_people(session: AsyncSession, ids: list[int]) -> list[PersonOut]:
    """The people of ``ids`` in that order with their codes: one statement for a page."""
    return [
        await person_out(session, person, codes=codes)
        for person, codes in await people_with_codes(session, ids)
    ]


async def facility_holds(session: AsyncSession, facility_id: int, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` the facility holds (attached or in care there): one statement."""
    if not ids:
        return set()
    q = select(Person.id).where(*_population(facility_id, ids, None))
    return {int(i) for i in (await session.scalars(q)).all()}


async def group_facilities(
    session: AsyncSession,
    *,
    code: str | None = None,
    name: str | None = None,
    facility_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[FacilityOut], int]:
    """Facilities as the FHIR Groups of their populations: by code, by a part of the name
    (any case), by id; ordered by code, with how many match."""
    where: list[Any] = []
    if code is not None:
        where.append(Facility.code == code)
    if name:
        where.append(func.lower(Facility.name).contains(name.lower(), autoescape=True))
    if facility_id is not None:
        where.append(Facility.id == facility_id)
    total = await session.scalar(select(func.count()).select_from(Facility).where(*where))
    rows = await session.scalars(
        select(Facility).where(*where).order_by(Facility.code).limit(limit).offset(offset)
    )
    return await facility_outs(session, list(rows)), int(total or 0)
