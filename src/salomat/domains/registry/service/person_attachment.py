"""Attachment to a primary-care facility, its history, and the care relationships
the care programmes open and close.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry.models import Attachment, CareRelationship, Facility, Section
from salomat.domains.registry.schemas import AttachIn, AttachmentOut, CareRelationshipOut, PersonOut
from salomat.domains.registry.service.people import _load
from salomat.domains.registry.service.person_death import require_alive
from salomat.domains.registry.service.person_entry import _check_version, _country, _save

__all__ = [
    "attach_person",
    "attachment_history",
    "close_care_relationship",
    "open_care_relationship",
]


def _primary_care_types() -> set[str]:
    return {t["code"] for t in pack.load(_country())["facility_types"] if t.get("primary_care")}


async def _attachment_target(
    session: AsyncSession, facility_code: str, section_code: str | None, prefix: str = ""
) -> tuple[Facility, Section | None]:
    fac = (
        await session.execute(select(Facility).where(Facility.code == facility_code))
    ).scalar_one_or_none()
    field = f"{prefix}facility_code"
    if fac is None:
        raise Invalid.fields(
            [FieldError(field, N_("no facility has code %(code)s"), {"code": facility_code})]
        )
    if not fac.is_open:
        raise Invalid.fields([FieldError(field, N_("%(code)s is closed"), {"code": facility_code})])
    if fac.kind not in _primary_care_types():
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s is not a primary-care facility"),
                    {"code": facility_code},
                )
            ]
        )
    section = None
    if section_code:
        section = (
            await session.execute(
                select(Section).where(Section.facility_id == fac.id, Section.code == section_code)
            )
        ).scalar_one_or_none()
        if section is None:
            raise Invalid.fields(
                [
                    FieldError(
                        "section_code",
                        N_("%(code)s has no section %(section)s"),
                        {"code": facility_code, "section": section_code},
                    )
                ]
            )
    return fac, section


async def attach_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: AttachIn,
    *,
    expected_version: int | None,
) -> PersonOut:
    """Attach to a primary-care facility (and section); the previous attachment ends."""
    person = await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="update", purpose="attachment")
    _check_version(person, expected_version)
    await require_alive(session, person_id)
    fac, section = await _attachment_target(session, data.facility_code, data.section_code)
    start = data.start_on or date.today()
    if start > date.today():
        raise Invalid.fields([FieldError("start_on", N_("is in the future"))])
    current = (
        await session.execute(
            select(Attachment).where(Attachment.person_id == person_id, Attachment.end_on.is_(None))
        )
    ).scalar_one_or_none()
    if current is not None:
        if start <= current.start_on:
            raise Invalid.fields(
                [
                    FieldError(
                        "start_on",
                        N_("must be after the current attachment's start (%(day)s)"),
                        {"day": f"{current.start_on:%d.%m.%Y}"},
                    )
                ]
            )
        current.end_on = start - timedelta(days=1)
    session.add(
        Attachment(
            person_id=person_id,
            facility_id=fac.id,
            section_id=section.id if section else None,
            start_on=start,
            reason=data.reason,
            recorded_by=principal.username,
            recorded_at=utcnow(),
        )
    )
    person.attached_facility_id = fac.id
    person.section_id = section.id if section else None
    return await _save(session, principal, person)


async def attachment_history(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[AttachmentOut]:
    await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="read", purpose="attachments")
    rows = await session.execute(
        select(Attachment, Facility.code, Section.code)
        .join(Facility, Facility.id == Attachment.facility_id)
        .outerjoin(Section, Section.id == Attachment.section_id)
        .where(Attachment.person_id == person_id)
        .order_by(Attachment.start_on.desc(), Attachment.id.desc())
    )
    return [
        AttachmentOut(
            facility_id=a.facility_id,
            facility_code=fcode,
            section_code=scode,
            start_on=a.start_on,
            end_on=a.end_on,
            reason=a.reason,
            recorded_by=a.recorded_by,
            recorded_at=a.recorded_at,
        )
        for a, fcode, scode in rows.all()
    ]


async def open_care_relationship(
    session: AsyncSession, person_id: int, facility_id: int, *, kind: str, source: str | None
) -> CareRelationshipOut:
    """For the care programmes: a referral, admission or prescription opens one."""
    await require_alive(session, person_id)
    rel = CareRelationship(
        person_id=person_id,
        facility_id=facility_id,
        kind=kind,
        source=source,
        opened_at=utcnow(),
    )
    session.add(rel)
    await session.flush()
    return CareRelationshipOut.model_validate(rel)


async def close_care_relationship(session: AsyncSession, relationship_id: int) -> None:
    rel = await session.get(CareRelationship, relationship_id)
    if rel is None:
        raise NotFound(f"Care relationship {relationship_id} not found.")
    if rel.closed_at is None:
        rel.closed_at = utcnow()
        await session.flush()
