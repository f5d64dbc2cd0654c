"""The person index: reading a person, who may see them, and what other modules share.

Person reads go through ``policy.require_person``: scope check and audit row
in one call, so no read path can forget either. The writes are by use case in
``person_registration``, ``person_correction``, ``person_attachment`` and
``person_death``; each stores the new version (``versions``) for FHIR ``_history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import NotFound
from salomat.core.pagination import PageParams
from salomat.core.policy import (
    Scope,
    bulk_scope_provider,
    person_scope,
    require_person,
    scope_provider,
)
from salomat.core.security import Principal
from salomat.domains.registry.models import CareRelationship, Facility, Person, Section, Territory
from salomat.domains.registry.schemas import PersonOut, PersonVersionOut
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.facilities import facility_scopes

__all__ = [
    "PharmacyIdentity",
    "age_on",
    "count_people",
    "get_person",
    "hold_person",
    "people_with_codes",
    "person_exists",
    "person_history",
    "person_id_by_national_id",
    "person_out",
    "person_survivor",
    "person_version",
    "pharmacy_identity",
]


RESOURCE = "Patient"


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ---- reading -----------------------------------------------------------------------


#: the codes ``PersonOut`` carries, as correlated subqueries on a person row
_CODES = (
    select(Facility.code).where(Facility.id == Person.attached_facility_id).scalar_subquery(),
    select(Section.code).where(Section.id == Person.section_id).scalar_subquery(),
    select(Territory.code).where(Territory.id == Person.settlement_id).scalar_subquery(),
)


Codes = tuple[str | None, str | None, str | None]


async def people_with_codes(session: AsyncSession, ids: list[int]) -> list[tuple[Person, Codes]]:
    """The rows of ``ids`` in that order, each with its codes for ``person_out``: a page
    of search hits in one statement instead of one per person."""
    if not ids:
        return []
    rows = {
        r[0].id: (r[0], (r[1], r[2], r[3]))
        for r in await session.execute(select(Person, *_CODES).where(Person.id.in_(ids)))
    }
    return [rows[i] for i in ids if i in rows]


async def person_out(
    session: AsyncSession,
    person: Person,
    warnings: list[str] | None = None,
    codes: Codes | None = None,
) -> PersonOut:
    """The person with the codes of their facility, section and settlement.

    The three codes come in one statement (every read of a person passes
    here), or none when the caller read them with the person (``codes``).
    """
    out = PersonOut.model_validate(person)
    out.warnings = warnings or []
    if codes is not None:
        out.attached_facility_code, out.section_code, out.settlement_code = codes
        return out
    wanted = [
        (model, row_id)
        for model, row_id in (
            (Facility, person.attached_facility_id),
            (Section, person.section_id),
            (Territory, person.settlement_id),
        )
    ]
    if any(row_id is not None for _, row_id in wanted):
        codes = (
            await session.execute(
                select(
                    *(
                        select(model.code).where(model.id == row_id).scalar_subquery()
                        if row_id is not None
                        else literal(None, String)
                        for model, row_id in wanted
                    )
                )
            )
        ).one()
        out.attached_facility_code, out.section_code, out.settlement_code = codes
    return out


async def _load(session: AsyncSession, principal: Principal, person_id: int) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(person_id),
            detail="no such person",
        )
        raise NotFound(f"Patient {person_id} not found.")
    return person


async def get_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    purpose: str | None = None,
    action: str = "read",
) -> PersonOut:
    """A person the user may see; anyone else, like a missing one, is ``NotFound``.

    The person and their codes are one statement: the most frequent read of all.
    """
    row = (await session.execute(select(Person, *_CODES).where(Person.id == person_id))).first()
    if row is None:
        await _load(session, principal, person_id)  # audits the miss and raises NotFound
    assert row is not None
    await require_person(session, principal, person_id, action=action, purpose=purpose)
    return await person_out(session, row[0], codes=(row[1], row[2], row[3]))


async def person_exists(session: AsyncSession, person_id: int) -> bool:
    return (
        await session.execute(select(Person.id).where(Person.id == person_id))
    ).first() is not None


async def person_survivor(session: AsyncSession, person_id: int) -> int | None:
    """The record that stands for ``person_id`` now: itself, or the last survivor along
    ``merged_into_id`` when it was merged away (a chain of merges followed to its end).
    ``None`` when there is no such person. No person data is read, so no audit."""
    seen: set[int] = set()
    current = person_id
    while current not in seen:
        seen.add(current)
        row = (
            await session.execute(select(Person.merged_into_id).where(Person.id == current))
        ).first()
        if row is None:
            return None if current == person_id else current
        if row.merged_into_id is None:
            return current
        current = int(row.merged_into_id)
    return current


async def person_version(session: AsyncSession, person_id: int) -> int | None:
    """The stored version alone (no person data, so no audit): for a caller that
    must tell whether its update changed anything before writing more."""
    return await session.scalar(select(Person.version).where(Person.id == person_id))


async def count_people(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Person))).scalar_one())


async def person_history(
    session: AsyncSession, principal: Principal, person_id: int, page: PageParams
) -> list[PersonVersionOut]:
    """Every stored version, newest first (audited as one read of the record)."""
    await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="read", purpose="history")
    stored = await versions.history(session, RESOURCE, person_id, page)
    return [
        PersonVersionOut(
            version=v.version,
            action=v.action,  # type: ignore[arg-type]
            recorded_at=v.recorded_at,
            recorded_by=v.recorded_by,
            person=PersonOut.model_validate(v.data),
        )
        for v in stored.items
    ]


async def hold_person(session: AsyncSession, person_id: int) -> None:
    """Hold the person's row until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``:
    the lock an update takes, which a foreign-key check does not wait for), so that a
    domain recounting the person's records from what it read (the vaccination card) runs
    one writer at a time; a second writer reads after the first has committed. SQLite
    has one writer at a time already."""
    await session.execute(
        select(Person.id).where(Person.id == person_id).with_for_update(key_share=True)
    )


# ---- scope ---------------------------------------------------------------------------


@scope_provider
async def attached_or_in_care_at_users_facility(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    """Attached to the user's facility, or an open care relationship there."""
    if principal.facility_id is None:
        return None
    hit = await session.execute(
        select(Person.id).where(
            Person.id == person_id, Person.attached_facility_id == principal.facility_id
        )
    )
    if hit.first():
        return Scope("attached to the user's facility")
    care = await session.execute(
        select(CareRelationship.kind).where(
            CareRelationship.person_id == person_id,
            CareRelationship.facility_id == principal.facility_id,
            CareRelationship.closed_at.is_(None),
        )
    )
    row = care.first()
    return Scope(f"open care relationship ({row.kind})") if row else None


@bulk_scope_provider(attached_or_in_care_at_users_facility)
async def attached_or_in_care_at_users_facility_set(
    session: AsyncSession, principal: Principal, person_ids: list[int]
) -> dict[int, Scope]:
    """The same rule for many people, in two statements per chunk (``facility_scopes``)."""
    if principal.facility_id is None:
        return {}
    return await facility_scopes(session, principal.facility_id, person_ids)


# ---- helpers for the other registries' modules ------------------------------------------


async def visible(
    session: AsyncSession, principal: Principal, people: list[Person]
) -> list[tuple[Person, Scope]]:
    """The people of ``people`` this user may see, each with why."""
    out = []
    for p in people:
        scope = await person_scope(session, principal, p.id)
        if scope is not None:
            out.append((p, scope))
    return out


async def visible_ids(
    session: AsyncSession, principal: Principal, ids: list[int]
) -> list[tuple[int, Scope]]:
    """The ids of ``ids`` this user may see, in order, each with why."""
    out = []
    for pid in ids:
        scope = await person_scope(session, principal, pid)
        if scope is not None:
            out.append((pid, scope))
    return out


async def audit_listing(
    session: AsyncSession,
    principal: Principal,
    shown: list[tuple[Person, Scope]],
    *,
    action: str = "search",
) -> None:
    """Each person shown is audited with why the user may see them (one insert)."""
    await audit.record_listing(
        session,
        principal,
        [audit.Access(p.id, scope.reason, scope.break_glass_grant) for p, scope in shown],
        action=action,
        resource_type=RESOURCE,
    )


async def person_id_by_national_id(session: AsyncSession, national_id: str) -> int | None:
    """For break-the-glass: which record a national id names, before any scope applies.

    Not audited and returns no personal data: the grant it leads to is audited.
    """
    value = national_id.strip()
    if not value:
        return None
    found = await session.scalar(select(Person.id).where(Person.national_id == value))
    return int(found) if found is not None else None


@dataclass(frozen=True)
class PharmacyIdentity:
    """What a pharmacist may see of the person a prescription was written for."""

    person_id: int
    name: str
    birth_year: int
    deceased_on: date | None
    merged_into_id: int | None


async def pharmacy_identity(session: AsyncSession, person_id: int) -> PharmacyIdentity | None:
    """Name and birth year only, for a dispensing the caller has already matched and audits.

    The pharmacist proved the link by presenting the prescription's code and this
    person's national id; no scope applies and no other personal data leaves.
    """
    row = (
        await session.execute(
            select(
                Person.family_name,
                Person.given_name,
                Person.patronymic,
                Person.birth_date,
                Person.deceased_on,
                Person.merged_into_id,
            ).where(Person.id == person_id)
        )
    ).first()
    if row is None:
        return None
    name = " ".join(p for p in (row.family_name, row.given_name, row.patronymic) if p)
    return PharmacyIdentity(
        person_id, name, row.birth_date.year, row.deceased_on, row.merged_into_id
    )
