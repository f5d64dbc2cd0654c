"""Correcting a person's record; a changed birth date or sex is published to the care programmes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.errors import N_, FieldError, Invalid, InvalidState
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry.schemas import PersonOut, PersonPatch
from salomat.domains.registry.service.people import _load, person_out
from salomat.domains.registry.service.person_entry import (
    _check_version,
    _name_fields,
    _save,
    _territory_id,
    check_identity,
)
from salomat.domains.registry.service.phones import normalise_phone

__all__ = [
    "PersonCorrected",
    "update_person",
]


@dataclass(frozen=True)
class PersonCorrected:
    """Published when a correction changes the birth date or sex.

    Care programmes that store what they derived from them (the immunization
    register counts doses by age) recompute it in the same transaction.
    """

    person_id: int
    birth_date: date
    sex: str
    previous_birth_date: date
    previous_sex: str


async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    patch: PersonPatch,
    *,
    expected_version: int | None,
) -> PersonOut:
    """Refuses a stale write: ``expected_version`` comes from ``If-Match``.

    Values equal to the stored ones are no change: the current version comes
    back (no new version), even when ``expected_version`` is older.
    """
    person = await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="update")
    if expected_version is None:
        _check_version(person, expected_version)
    if person.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into %(into)s; update that record."),
            params={"id": person_id, "into": person.merged_into_id},
        )
    values = patch.model_dump(exclude_unset=True)
    for required in ("family_name", "given_name", "birth_date", "sex"):
        if required in values and values[required] is None:
            raise Invalid.fields([FieldError(required, N_("may not be empty"))])
    national_id = values.get("national_id", person.national_id) or None
    birth_date = values.get("birth_date", person.birth_date)
    sex = values.get("sex", person.sex)
    warnings = check_identity(national_id, birth_date, sex)
    if person.deceased_on and birth_date > person.deceased_on:
        raise Invalid.fields(
            [FieldError("birth_date", N_("is after the registered date of death"))]
        )
    target: dict[str, Any] = {"national_id": national_id, "birth_date": birth_date, "sex": sex}
    typed_names = (
        values.get("family_name", person.family_name),
        values.get("given_name", person.given_name),
        values.get("patronymic", person.patronymic) or None,
    )
    if typed_names != (person.family_name, person.given_name, person.patronymic):
        target.update(_name_fields(*typed_names))
    if "phone" in values:
        target["phone"] = normalise_phone(values["phone"])
    if "settlement_code" in values:
        target["settlement_id"] = await _territory_id(
            session, values["settlement_code"] or None, "settlement_code"
        )
    if "address" in values:
        target["address"] = values["address"] or None
    before = (person.birth_date, person.sex)
    if all(getattr(person, key) == value for key, value in target.items()):
        return await person_out(session, person, warnings)
    # checked before anything is assigned: a refused form re-reads the record as stored
    _check_version(person, expected_version)
    for key, value in target.items():
        setattr(person, key, value)
    out = await _save(session, principal, person, warnings)
    if before != (birth_date, sex):
        await events.publish(
            session, PersonCorrected(person_id, birth_date, sex, before[0], before[1])
        )
    return out
