"""Registry use cases: facilities and the person index.

Person reads go through ``policy.require_person``: scope check and audit row
in one call, so no read path can forget either.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import Scope, person_scope, require_person, scope_provider
from salomat.core.security import Principal
from salomat.domains.registry.models import Facility, Person
from salomat.domains.registry.schemas import (
    FacilityIn,
    FacilityOut,
    PersonIn,
    PersonOut,
    PersonPatch,
    PersonQuery,
)

# ---- facilities ----------------------------------------------------------


async def create_facility(session: AsyncSession, data: FacilityIn) -> FacilityOut:
    if await _facility_by_code(session, data.code):
        raise Conflict(f"A facility with code {data.code} already exists.")
    fac = Facility(code=data.code, name=data.name, kind=data.kind, is_open=True)
    session.add(fac)
    await session.flush()
    return FacilityOut.model_validate(fac)


async def _facility_by_code(session: AsyncSession, code: str) -> Facility | None:
    return (
        await session.execute(select(Facility).where(Facility.code == code))
    ).scalar_one_or_none()


async def facility_by_code(session: AsyncSession, code: str) -> FacilityOut | None:
    fac = await _facility_by_code(session, code)
    return FacilityOut.model_validate(fac) if fac else None


async def get_facility(session: AsyncSession, facility_id: int) -> FacilityOut:
    fac = await session.get(Facility, facility_id)
    if fac is None:
        raise NotFound(f"Facility {facility_id} not found.")
    return FacilityOut.model_validate(fac)


async def list_facilities(session: AsyncSession, page: PageParams) -> Page[FacilityOut]:
    total = (await session.execute(select(func.count()).select_from(Facility))).scalar_one()
    rows = await session.execute(
        select(Facility).order_by(Facility.code).limit(page.limit).offset(page.offset)
    )
    return Page[FacilityOut](
        items=[FacilityOut.model_validate(f) for f in rows.scalars()],
        total=int(total),
        limit=page.limit,
        offset=page.offset,
    )


# ---- people --------------------------------------------------------------


@scope_provider
async def attached_to_users_facility(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    if principal.facility_id is None:
        return None
    hit = await session.execute(
        select(Person.id).where(
            Person.id == person_id, Person.attached_facility_id == principal.facility_id
        )
    )
    return Scope("attached to the user's facility") if hit.first() else None


async def _resolve_facility(session: AsyncSession, code: str | None, field: str) -> int | None:
    if code is None:
        return None
    fac = await _facility_by_code(session, code)
    if fac is None:
        raise Invalid.fields([FieldError(field, f"no facility has code {code}")])
    return fac.id


async def register_person(session: AsyncSession, principal: Principal, data: PersonIn) -> PersonOut:
    facility_id = await _resolve_facility(
        session, data.attached_facility_code, "attached_facility_code"
    )
    if data.national_id:
        taken = await session.execute(
            select(Person.id).where(Person.national_id == data.national_id)
        )
        if taken.first():
            raise Conflict(
                "A person with this national id is already registered.",
                errors=[FieldError("national_id", "already registered")],
            )
    now = utcnow()
    person = Person(
        national_id=data.national_id,
        family_name=data.family_name,
        given_name=data.given_name,
        patronymic=data.patronymic,
        birth_date=data.birth_date,
        sex=data.sex,
        attached_facility_id=facility_id,
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict("A person with this national id is already registered.") from e
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="Patient",
        resource_id=str(person.id),
        patient_id=person.id,
        purpose="registration",
    )
    return PersonOut.model_validate(person)


async def get_person(
    session: AsyncSession, principal: Principal, person_id: int, *, purpose: str | None = None
) -> PersonOut:
    """A person the user may see; anyone else, like a missing one, is ``NotFound``."""
    person = await session.get(Person, person_id)
    if person is None:
        await audit.denied(
            session,
            principal,
            resource_type="Patient",
            resource_id=str(person_id),
            detail="no such person",
        )
        raise NotFound(f"Patient {person_id} not found.")
    await require_person(session, principal, person_id, action="read", purpose=purpose)
    return PersonOut.model_validate(person)


async def person_exists(session: AsyncSession, person_id: int) -> bool:
    return (
        await session.execute(select(Person.id).where(Person.id == person_id))
    ).first() is not None


async def search_persons(
    session: AsyncSession, principal: Principal, q: PersonQuery, page: PageParams
) -> Page[PersonOut]:
    if not (q.national_id or q.name):
        raise Invalid.fields(
            [
                FieldError("national_id", "give a national id or a name"),
                FieldError("name", "give a national id or a name"),
            ]
        )
    stmt = select(Person)
    if q.national_id:
        stmt = stmt.where(Person.national_id == q.national_id)
    if q.name:
        term = f"%{q.name.strip().lower()}%"
        stmt = stmt.where(
            or_(func.lower(Person.family_name).like(term), func.lower(Person.given_name).like(term))
        )
    if q.birth_date:
        stmt = stmt.where(Person.birth_date == q.birth_date)
    rows = (
        await session.execute(stmt.order_by(Person.family_name, Person.id).limit(500))
    ).scalars()
    visible: list[tuple[Person, Scope]] = []
    for p in rows:
        scope = await person_scope(session, principal, p.id)
        if scope is not None:
            visible.append((p, scope))
    shown = visible[page.offset : page.offset + page.limit]
    for p, scope in shown:
        await audit.record(
            session,
            principal,
            action="search",
            resource_type="Patient",
            resource_id=str(p.id),
            patient_id=p.id,
            purpose=scope.reason,
            break_glass_grant=scope.break_glass_grant,
        )
    if not shown:
        await audit.record(
            session, principal, action="search", resource_type="Patient", detail="no result"
        )
    return Page[PersonOut](
        items=[PersonOut.model_validate(p) for p, _ in shown],
        total=len(visible),
        limit=page.limit,
        offset=page.offset,
    )


async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    patch: PersonPatch,
    *,
    expected_version: int | None,
) -> PersonOut:
    """Refuses a stale write: ``expected_version`` comes from ``If-Match``."""
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"Patient {person_id} not found.")
    await require_person(session, principal, person_id, action="update")
    if expected_version is None:
        raise PreconditionFailed("Send If-Match with the version you read (its ETag).")
    if expected_version != person.version:
        raise PreconditionFailed(
            f"The record changed since you read it (version {person.version}, "
            f"you sent {expected_version}); reload and retry."
        )
    values = patch.model_dump(exclude_unset=True)
    if "attached_facility_code" in values:
        person.attached_facility_id = await _resolve_facility(
            session, values.pop("attached_facility_code"), "attached_facility_code"
        )
    for k, v in values.items():
        if k in ("family_name", "given_name") and v is None:
            raise Invalid.fields([FieldError(k, "may not be empty")])
        setattr(person, k, v)
    person.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The record changed while you edited it; reload.") from e
    return PersonOut.model_validate(person)


async def count_people(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Person))).scalar_one())


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
