"""Practitioners: who they are, their licence, and their roles at facilities.

Practitioners are people, so creating and changing one writes an audit row.
The user account of a practitioner links to them from the accounts side
(``User.practitioner_id``); this module only answers what that link needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.i18n import N_
from salomat.core.pagination import Page, PageParams
from salomat.core.security import Principal
from salomat.country import national_id as nid
from salomat.country import pack
from salomat.domains.registry.models import Facility, Practitioner, PractitionerRole, Section
from salomat.domains.registry.schemas import (
    MAX_FTE,
    PractitionerIn,
    PractitionerOut,
    PractitionerPatch,
    PractitionerQuery,
    PractitionerRoleIn,
    PractitionerRoleOut,
    PractitionerRolePatch,
)
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.phones import normalise_phone
from salomat.domains.registry.service.territory import expect_version

__all__ = [
    "add_practitioner_role",
    "create_practitioner",
    "get_practitioner",
    "get_practitioner_role",
    "list_practitioners",
    "positions",
    "practitioner_exists",
    "practitioner_works_at",
    "specialties",
    "update_practitioner",
    "update_practitioner_role",
]

RESOURCE = "Practitioner"
ROLE_RESOURCE = "PractitionerRole"


def _pack() -> dict[str, Any]:
    return pack.load(get_settings().country)


def specialties() -> dict[str, dict[str, Any]]:
    return {s["code"]: s for s in _pack().get("specialties", [])}


def positions() -> dict[str, dict[str, Any]]:
    return {p["code"]: p for p in _pack().get("positions", [])}


def _current(role: PractitionerRole, today: date) -> bool:
    return role.start_on <= today and (role.end_on is None or role.end_on >= today)


# ---- reading -----------------------------------------------------------------------


async def _role_outs(
    session: AsyncSession, roles: Sequence[PractitionerRole]
) -> list[PractitionerRoleOut]:
    if not roles:
        return []
    fac_ids = {r.facility_id for r in roles}
    sec_ids = {r.section_id for r in roles if r.section_id}
    facs = {
        r.id: r.code
        for r in await session.execute(
            select(Facility.id, Facility.code).where(Facility.id.in_(fac_ids))
        )
    }
    secs: dict[int, str] = {}
    if sec_ids:
        secs = {
            r.id: r.code
            for r in await session.execute(
                select(Section.id, Section.code).where(Section.id.in_(sec_ids))
            )
        }
    today = pack.today(get_settings().country)
    return [
        PractitionerRoleOut(
            id=r.id,
            practitioner_id=r.practitioner_id,
            facility_id=r.facility_id,
            facility_code=facs[r.facility_id],
            position=r.position,
            section_code=secs.get(r.section_id) if r.section_id else None,
            start_on=r.start_on,
            end_on=r.end_on,
            fte=float(r.fte if r.fte is not None else 1),
            current=_current(r, today),
            version=r.version,
        )
        for r in roles
    ]


async def _roles_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[PractitionerRole]]:
    out: dict[int, list[PractitionerRole]] = {i: [] for i in ids}
    if ids:
        for r in await session.scalars(
            select(PractitionerRole)
            .where(PractitionerRole.practitioner_id.in_(ids))
            .order_by(PractitionerRole.start_on, PractitionerRole.id)
        ):
            out[r.practitioner_id].append(r)
    return out


def _plain(p: Practitioner) -> PractitionerOut:
    return PractitionerOut(
        id=p.id,
        national_id=p.national_id,
        family_name=p.family_name,
        given_name=p.given_name,
        patronymic=p.patronymic,
        sex=p.sex,
        specialty=p.specialty,
        licence_number=p.licence_number,
        licence_valid_until=p.licence_valid_until,
        phone=p.phone,
        active=p.active,
        version=p.version,
    )


async def _outs(session: AsyncSession, people: Sequence[Practitioner]) -> list[PractitionerOut]:
    roles = await _roles_of(session, [p.id for p in people])
    all_roles = [r for rs in roles.values() for r in rs]
    role_outs = {r.id: r for r in await _role_outs(session, all_roles)}
    outs = []
    for p in people:
        out = _plain(p)
        out.roles = [role_outs[r.id] for r in roles[p.id]]
        outs.append(out)
    return outs


async def _out(session: AsyncSession, p: Practitioner) -> PractitionerOut:
    return (await _outs(session, [p]))[0]


async def _get(session: AsyncSession, practitioner_id: int) -> Practitioner:
    p = await session.get(Practitioner, practitioner_id)
    if p is None:
        raise NotFound(f"Practitioner {practitioner_id} not found.")
    return p


async def get_practitioner(session: AsyncSession, practitioner_id: int) -> PractitionerOut:
    return await _out(session, await _get(session, practitioner_id))


async def get_practitioner_role(session: AsyncSession, role_id: int) -> PractitionerRoleOut:
    """A role by its database id (FHIR ``PractitionerRole/<id>``)."""
    role = await session.get(PractitionerRole, role_id)
    if role is None:
        raise NotFound(f"PractitionerRole {role_id} not found.")
    return (await _role_outs(session, [role]))[0]


async def practitioner_exists(session: AsyncSession, practitioner_id: int) -> bool:
    return await session.get(Practitioner, practitioner_id) is not None


async def practitioner_works_at(
    session: AsyncSession, practitioner_id: int, facility_id: int, on: date | None = None
) -> bool:
    """Whether the practitioner holds a role at the facility on the day (today)."""
    day = on or pack.today(get_settings().country)
    found = await session.scalar(
        select(PractitionerRole.id).where(
            PractitionerRole.practitioner_id == practitioner_id,
            PractitionerRole.facility_id == facility_id,
            PractitionerRole.start_on <= day,
            or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on >= day),
        )
    )
    return found is not None


async def list_practitioners(
    session: AsyncSession, page: PageParams, query: PractitionerQuery | None = None
) -> Page[PractitionerOut]:
    q = query or PractitionerQuery()
    where: list[Any] = []
    if q.name:
        needle = q.name.lower()
        where.append(
            or_(
                func.lower(Practitioner.family_name).contains(needle),
                func.lower(Practitioner.given_name).contains(needle),
            )
        )
    if q.specialty:
        where.append(Practitioner.specialty == q.specialty)
    if q.licence_number:
        where.append(Practitioner.licence_number == q.licence_number)
    if q.active is not None:
        where.append(Practitioner.active.is_(q.active))
    if q.facility_code:
        today = pack.today(get_settings().country)
        where.append(
            Practitioner.id.in_(
                select(PractitionerRole.practitioner_id)
                .join(Facility, Facility.id == PractitionerRole.facility_id)
                .where(
                    Facility.code == q.facility_code,
                    PractitionerRole.start_on <= today,
                    or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on >= today),
                )
            )
        )
    total = await session.scalar(select(func.count()).select_from(Practitioner).where(*where))
    rows = await session.scalars(
        select(Practitioner)
        .where(*where)
        .order_by(Practitioner.family_name, Practitioner.given_name, Practitioner.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page[PractitionerOut](
        items=await _outs(session, list(rows)),
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


# ---- writing -----------------------------------------------------------------------


def _check_specialty(code: str) -> list[FieldError]:
    known = specialties()
    if code not in known:
        return [FieldError("specialty", f"not a specialty of the pack ({', '.join(known)})")]
    return []


def _check_national_id(value: str | None) -> list[FieldError]:
    if not value:
        return []
    country = get_settings().country
    try:
        nid.parse(value, country)
    except nid.NationalIdError as e:
        return [FieldError("national_id", str(e))]
    return []


async def _check_unique(
    session: AsyncSession, own_id: int | None, national_id: str | None, licence: str | None
) -> None:
    errors = []
    for field, column, value in (
        ("national_id", Practitioner.national_id, national_id),
        ("licence_number", Practitioner.licence_number, licence),
    ):
        if value:
            other = await session.scalar(select(Practitioner.id).where(column == value))
            if other is not None and other != own_id:
                errors.append(FieldError(field, f"practitioner {other} has it"))
    if errors:
        raise Conflict("Another practitioner has the same number.", errors=errors)


async def _audit(session: AsyncSession, principal: Principal, action: str, p: Practitioner) -> None:
    await audit.record(
        session, principal, action=action, resource_type=RESOURCE, resource_id=str(p.id)
    )


async def create_practitioner(
    session: AsyncSession, principal: Principal, data: PractitionerIn
) -> PractitionerOut:
    errors = _check_specialty(data.specialty) + _check_national_id(data.national_id)
    try:
        phone = normalise_phone(data.phone)
    except Invalid as e:
        errors += e.errors
        phone = None
    if errors:
        raise Invalid.fields(errors)
    await _check_unique(session, None, data.national_id, data.licence_number)
    p = Practitioner(
        national_id=data.national_id,
        family_name=data.family_name,
        given_name=data.given_name,
        patronymic=data.patronymic,
        sex=data.sex,
        specialty=data.specialty,
        licence_number=data.licence_number,
        licence_valid_until=data.licence_valid_until,
        phone=phone,
        active=True,
        updated_at=utcnow(),
    )
    session.add(p)
    try:
        await session.flush()
    except IntegrityError as e:  # a concurrent create with the same number
        raise Conflict("Another practitioner has the same national id or licence.") from e
    await _audit(session, principal, "create", p)
    out = await _out(session, p)
    await versions.record_version(session, RESOURCE, out, action="create", by=principal.username)
    return out


async def update_practitioner(
    session: AsyncSession,
    principal: Principal,
    practitioner_id: int,
    patch: PractitionerPatch,
    *,
    expected_version: int | None,
) -> PractitionerOut:
    """Only the fields sent change. Deactivating ends the practitioner's current roles.

    Values equal to the stored ones answer the current version, however old
    ``expected_version`` is (``versions.unchanged``).
    """
    p = await _get(session, practitioner_id)
    if expected_version is None:
        expect_version(p.version, expected_version, "practitioner")
    values = patch.model_dump(exclude_unset=True)
    errors = [
        FieldError(k, "cannot be cleared")
        for k in ("family_name", "given_name", "specialty", "active")
        if k in values and values[k] is None
    ]
    if values.get("specialty"):
        errors += _check_specialty(values["specialty"])
    if values.get("national_id"):
        errors += _check_national_id(values["national_id"])
    if "phone" in values:
        try:
            values["phone"] = normalise_phone(values["phone"])
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid.fields(errors)
    await _check_unique(
        session,
        p.id,
        values.get("national_id") or None,
        values.get("licence_number") or None,
    )
    for key, value in values.items():
        setattr(p, key, value or None if isinstance(value, str) else value)
    if versions.unchanged(session, p):
        return await _out(session, p)
    expect_version(p.version, expected_version, "practitioner")
    p.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The practitioner changed while you edited; reload.") from e
    except IntegrityError as e:
        raise Conflict("Another practitioner has the same national id or licence.") from e
    if values.get("active") is False:
        await _end_roles(session, principal, p.id, pack.today(get_settings().country))
    await _audit(session, principal, "update", p)
    out = await _out(session, p)
    await versions.record_version(session, RESOURCE, out, action="update", by=principal.username)
    return out


async def _end_roles(
    session: AsyncSession, principal: Principal, practitioner_id: int, day: date
) -> None:
    roles = await session.scalars(
        select(PractitionerRole).where(
            PractitionerRole.practitioner_id == practitioner_id,
            or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on > day),
        )
    )
    ended = []
    for r in roles:
        r.end_on = max(day, r.start_on)
        ended.append(r)
    if ended:
        await session.flush()
        for out in await _role_outs(session, ended):
            await versions.record_version(
                session, ROLE_RESOURCE, out, action="update", by=principal.username
            )


async def _role_target(
    session: AsyncSession, facility_code: str | None, facility_id: int | None
) -> Facility:
    fac = (
        await session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility_code
        else await session.get(Facility, facility_id)
    )
    if fac is None:
        raise Invalid.fields([FieldError("facility_code", f"no facility has code {facility_code}")])
    return fac


async def _check_role(
    session: AsyncSession,
    fac: Facility,
    position: str,
    section_code: str | None,
) -> tuple[int | None, list[FieldError]]:
    errors = []
    known = positions()
    if position not in known:
        errors.append(FieldError("position", f"not a position of the pack ({', '.join(known)})"))
    section_id = None
    if section_code:
        if position in known and not known[position].get("section"):
            errors.append(FieldError("section_code", f"a {position} does not serve a section"))
        section_id = await session.scalar(
            select(Section.id).where(Section.facility_id == fac.id, Section.code == section_code)
        )
        if section_id is None:
            errors.append(FieldError("section_code", f"{fac.code} has no section {section_code}"))
    return section_id, errors


async def _overlap(
    session: AsyncSession,
    practitioner_id: int,
    facility_id: int,
    position: str,
    start: date,
    end: date | None,
    own_id: int | None,
) -> None:
    where = [
        PractitionerRole.practitioner_id == practitioner_id,
        PractitionerRole.facility_id == facility_id,
        PractitionerRole.position == position,
        or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on >= start),
    ]
    if end is not None:
        where.append(PractitionerRole.start_on <= end)
    if own_id is not None:
        where.append(PractitionerRole.id != own_id)
    other = await session.scalar(select(PractitionerRole.id).where(*where))
    if other is not None:
        raise Conflict(
            f"The practitioner already holds this position there in those dates (role {other}).",
            errors=[FieldError("start_on", f"overlaps role {other}")],
        )


async def _hold(session: AsyncSession, practitioner_id: int) -> None:
    """Hold the practitioner's row until the transaction ends (PostgreSQL ``FOR NO KEY
    UPDATE``, as ``people.hold_person``; a new role's foreign-key check does not wait for
    it), so that the checks summing their roles (``_overlap``, ``_check_fte``) run one
    writer at a time: a second writer reads the roles after the first has committed.
    SQLite has one writer at a time already."""
    await session.execute(
        select(Practitioner.id)
        .where(Practitioner.id == practitioner_id)
        .with_for_update(key_share=True)
    )


async def _check_fte(
    session: AsyncSession,
    practitioner_id: int,
    fte: Decimal,
    start: date,
    end: date | None,
    own_id: int | None,
) -> None:
    """One person's roles at any one day of [start, end] sum to at most ``MAX_FTE``.

    The load of the other roles changes only where one starts, so its greatest value in
    the period is on ``start`` or on a day one of them starts inside it (one statement
    reads the overlapping roles).
    """
    where = [
        PractitionerRole.practitioner_id == practitioner_id,
        or_(PractitionerRole.end_on.is_(None), PractitionerRole.end_on >= start),
    ]
    if end is not None:
        where.append(PractitionerRole.start_on <= end)
    if own_id is not None:
        where.append(PractitionerRole.id != own_id)
    others = (
        await session.execute(
            select(PractitionerRole.start_on, PractitionerRole.end_on, PractitionerRole.fte).where(
                *where
            )
        )
    ).all()
    days = {start} | {o.start_on for o in others if o.start_on > start}
    load = max(
        (
            sum(
                (
                    Decimal(str(o.fte))
                    for o in others
                    if o.start_on <= day and (o.end_on is None or o.end_on >= day)
                ),
                Decimal(0),
            )
            for day in days
        ),
        default=Decimal(0),
    )
    if load + fte > MAX_FTE:
        raise Invalid.fields(
            [
                FieldError(
                    "fte",
                    N_(
                        "one person works at most %(max)s full-time equivalents: their other "
                        "roles in those dates hold %(held)s"
                    ),
                    params={"max": str(MAX_FTE), "held": str(load.normalize())},
                )
            ]
        )


async def add_practitioner_role(
    session: AsyncSession, principal: Principal, practitioner_id: int, data: PractitionerRoleIn
) -> PractitionerRoleOut:
    p = await _get(session, practitioner_id)
    if not p.active:
        raise InvalidState(f"Practitioner {p.id} is inactive: reactivate them first.")
    fac = await _role_target(session, data.facility_code, None)
    section_id, errors = await _check_role(session, fac, data.position, data.section_code)
    if not fac.is_open:
        errors.append(FieldError("facility_code", f"{fac.code} is closed"))
    if errors:
        raise Invalid.fields(errors)
    await _hold(session, p.id)
    await _overlap(session, p.id, fac.id, data.position, data.start_on, data.end_on, None)
    await _check_fte(session, p.id, data.fte, data.start_on, data.end_on, None)
    role = PractitionerRole(
        practitioner_id=p.id,
        facility_id=fac.id,
        position=data.position,
        section_id=section_id,
        start_on=data.start_on,
        end_on=data.end_on,
        fte=data.fte,
    )
    session.add(role)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=ROLE_RESOURCE,
        resource_id=str(role.id),
        detail=f"practitioner {p.id} as {data.position} at {fac.code}",
    )
    out = (await _role_outs(session, [role]))[0]
    await versions.record_version(
        session, ROLE_RESOURCE, out, action="create", by=principal.username
    )
    return out


async def update_practitioner_role(
    session: AsyncSession,
    principal: Principal,
    role_id: int,
    patch: PractitionerRolePatch,
    *,
    expected_version: int | None,
) -> PractitionerRoleOut:
    """Change a role or end it (``end_on``); the facility stays (a move is a new role).

    Values equal to the stored ones answer the current version, however old
    ``expected_version`` is (``versions.unchanged``).
    """
    role = await session.get(PractitionerRole, role_id)
    if role is None:
        raise NotFound(f"Practitioner role {role_id} not found.")
    if expected_version is None:
        expect_version(role.version, expected_version, "role")
    values = patch.model_dump(exclude_unset=True)
    fac = await _role_target(session, None, role.facility_id)
    position = values.get("position") or role.position
    errors = [
        FieldError(k, "cannot be cleared")
        for k in ("position", "start_on", "fte")
        if k in values and values[k] is None
    ]
    section_id = role.section_id
    if "position" in values or "section_code" in values:
        section_code = values.get("section_code") if "section_code" in values else None
        if "section_code" not in values and role.section_id:
            section_code = await session.scalar(
                select(Section.code).where(Section.id == role.section_id)
            )
        section_id, more = await _check_role(session, fac, position, section_code)
        errors += more
    start = values.get("start_on") or role.start_on
    end = values.get("end_on", role.end_on)
    if end is not None and end < start:
        errors.append(FieldError("end_on", "before start_on"))
    if errors:
        raise Invalid.fields(errors)
    await _hold(session, role.practitioner_id)
    await _overlap(session, role.practitioner_id, fac.id, position, start, end, role.id)
    fte = values.get("fte") or Decimal(str(role.fte))
    await _check_fte(session, role.practitioner_id, fte, start, end, role.id)
    role.position, role.section_id, role.start_on, role.end_on = position, section_id, start, end
    if fte != Decimal(str(role.fte)):
        role.fte = fte
    if versions.unchanged(session, role):
        return (await _role_outs(session, [role]))[0]
    expect_version(role.version, expected_version, "role")
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The role changed while you edited it; reload.") from e
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=ROLE_RESOURCE,
        resource_id=str(role.id),
        detail=f"practitioner {role.practitioner_id} at {fac.code}",
    )
    out = (await _role_outs(session, [role]))[0]
    await versions.record_version(
        session, ROLE_RESOURCE, out, action="update", by=principal.username
    )
    return out
