"""Family-doctor sections of a primary-care facility."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import Conflict, FieldError, Invalid
from salomat.domains.registry.models import Practitioner, Section
from salomat.domains.registry.schemas import SectionIn, SectionOut
from salomat.domains.registry.service.facilities import _get, facility_types

__all__ = ["create_section", "list_sections"]


async def create_section(session: AsyncSession, facility_id: int, data: SectionIn) -> SectionOut:
    """A family-doctor section; only primary-care facilities have them."""
    fac = await _get(session, facility_id)
    errors = []
    if not facility_types().get(fac.kind, {}).get("primary_care"):
        errors.append(FieldError("facility", f"a {fac.kind} is not primary care: no sections"))
    if (
        data.practitioner_id is not None
        and await session.get(Practitioner, data.practitioner_id) is None
    ):
        errors.append(
            FieldError("practitioner_id", f"no practitioner has id {data.practitioner_id}")
        )
    if errors:
        raise Invalid.fields(errors)
    taken = await session.scalar(
        select(Section.id).where(Section.facility_id == fac.id, Section.code == data.code)
    )
    if taken is not None:
        raise Conflict(
            f"{fac.code} has a section {data.code}.", errors=[FieldError("code", "already exists")]
        )
    section = Section(
        facility_id=fac.id, code=data.code, name=data.name, practitioner_id=data.practitioner_id
    )
    session.add(section)
    await session.flush()
    return SectionOut.model_validate(section)


async def list_sections(session: AsyncSession, facility_id: int) -> list[SectionOut]:
    await _get(session, facility_id)
    rows = await session.scalars(
        select(Section).where(Section.facility_id == facility_id).order_by(Section.code)
    )
    return [SectionOut.model_validate(s) for s in rows]
