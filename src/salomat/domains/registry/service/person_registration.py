"""Registering a person: a taken national id is refused, likely duplicates are shown."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid
from salomat.core.security import Principal
from salomat.country import national_id as nid
from salomat.domains.registry.models import Attachment, Person
from salomat.domains.registry.schemas import PersonIn, PersonOut
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.people import RESOURCE, person_out
from salomat.domains.registry.service.person_attachment import _attachment_target
from salomat.domains.registry.service.person_entry import (
    _country,
    _set_names,
    _territory_id,
    check_identity,
)
from salomat.domains.registry.service.phones import normalise_phone

__all__ = [
    "register_person",
]


async def _duplicate_check(
    session: AsyncSession, principal: Principal, data: PersonIn
) -> list[dict[str, Any]]:
    from salomat.domains.registry.service.duplicates import find_candidates

    found = await find_candidates(session, principal, data, national_id_checked=True)
    return [c.model_dump(mode="json") for c in found]


async def register_person(session: AsyncSession, principal: Principal, data: PersonIn) -> PersonOut:
    """Register one person. Refuses a taken id; shows likely duplicates unless a reason is given.

    Without ``duplicate_reason``, a registration that resembles registered
    people is refused with ``Conflict`` carrying the candidates and their
    scores; with it, the person is created and the reason kept.
    """
    warnings = check_identity(data.national_id, data.birth_date, data.sex)
    person = Person(birth_date=data.birth_date, sex=data.sex, national_id=data.national_id)
    _set_names(person, data.family_name, data.given_name, data.patronymic)
    person.phone = normalise_phone(data.phone)
    person.settlement_id = await _territory_id(session, data.settlement_code, "settlement_code")
    person.address = data.address
    fac = section = None
    if data.attached_facility_code:
        fac, section = await _attachment_target(
            session, data.attached_facility_code, data.section_code, "attached_"
        )
    elif data.section_code:
        raise Invalid.fields(
            [FieldError("section_code", N_("give the facility of the section too"))]
        )
    if data.national_id:
        taken = await session.scalar(
            select(Person.id).where(Person.national_id == data.national_id)
        )
        if taken is not None:
            label = nid.name(_country())
            raise Conflict(
                N_("A person with this %(label)s is already registered."),
                params={"label": label},
                errors=[FieldError("national_id", N_("already registered"))],
                extensions={"existing_id": taken},
            )
    candidates = await _duplicate_check(session, principal, data)
    if candidates and not data.duplicate_reason:
        raise Conflict(
            N_(
                "%(n)s registered person(s) resemble this one. Open the record if it "
                "is the same person; to register anyway, give duplicate_reason."
            ),
            params={"n": len(candidates)},
            errors=[
                FieldError("duplicate_reason", N_("required: the registration has candidates"))
            ],
            extensions={"candidates": candidates},
        )
    person.duplicate_reason = data.duplicate_reason if candidates else None
    now = utcnow()
    person.created_at = person.updated_at = now
    if fac is not None:
        person.attached_facility_id = fac.id
        person.section_id = section.id if section else None
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict("A person with this national id is already registered.") from e
    if fac is not None:
        session.add(
            Attachment(
                person_id=person.id,
                facility_id=fac.id,
                section_id=person.section_id,
                start_on=date.today(),
                reason="registration",
                recorded_by=principal.username,
                recorded_at=now,
            )
        )
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(person.id),
        patient_id=person.id,
        purpose="registration",
        detail=f"despite {len(candidates)} candidate(s)" if candidates else None,
    )
    # the codes were given and checked above (exact matches): no need to read them back
    codes = (
        fac.code if fac is not None else None,
        section.code if section is not None else None,
        data.settlement_code if person.settlement_id is not None else None,
    )
    out = await person_out(session, person, warnings, codes=codes)
    await versions.record_version(session, RESOURCE, out, action="create", by=principal.username)
    return out
