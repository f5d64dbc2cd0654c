"""Registering a person: a taken national id is refused, likely duplicates are shown.

A registration is the busiest write of the registry, so it makes few round trips
(docs/registries.md, "Registering a person"): one statement reads what the entry
names (the holder of the national id, the settlement, the facility and its section)
and, on PostgreSQL, draws the new person's id; one finds the duplicate candidates;
one writes the person, the attachment, the version and the audit rows (the candidate
listing's and the creation's) together, as a statement with one ``WITH`` part per
table. SQLite, in the process, writes them one after the other. The guarantees are
those of the ORM path it replaced: the unique national id is the database's (a
registration racing another one is refused by the index), the audit rows commit with
the person, and the listing's row is kept should the request fail after the search.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import dialect_name, utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid
from salomat.core.security import Principal
from salomat.country import national_id as nid
from salomat.domains.registry.models import (
    Attachment,
    Facility,
    Person,
    ResourceVersion,
    Section,
    Territory,
)
from salomat.domains.registry.schemas import PersonIn, PersonOut
from salomat.domains.registry.service.people import RESOURCE
from salomat.domains.registry.service.person_attachment import (
    _attachment_target,
    _primary_care_types,
)
from salomat.domains.registry.service.person_entry import (
    _country,
    _name_fields,
    _territory_id,
    check_identity,
)
from salomat.domains.registry.service.phones import normalise_phone

__all__ = [
    "register_person",
]


def _lookups(session: AsyncSession, data: PersonIn) -> Any | None:
    """One statement over one row: who holds the national id, the settlement, the
    facility and its section (each only when given), and on PostgreSQL the new id.
    ``None`` when there is nothing to read (SQLite, an entry naming none of them)."""
    one = select(literal(1).label("one")).subquery("one")
    source: Any = one
    columns: list[Any] = []
    if data.national_id:
        columns.append(
            select(Person.id)
            .where(Person.national_id == data.national_id)
            .scalar_subquery()
            .label("taken")
        )
    if data.settlement_code is not None:
        source = source.outerjoin(Territory, Territory.code == data.settlement_code)
        columns += [Territory.id.label("settlement_id"), Territory.level.label("level")]
    if data.attached_facility_code:
        source = source.outerjoin(Facility, Facility.code == data.attached_facility_code)
        columns += [
            Facility.id.label("facility_id"),
            Facility.code.label("facility_code"),
            Facility.is_open,
            Facility.kind,
        ]
        if data.section_code:
            source = source.outerjoin(
                Section, and_(Section.facility_id == Facility.id, Section.code == data.section_code)
            )
            columns += [Section.id.label("section_id"), Section.code.label("section_code")]
    if dialect_name(session) == "postgresql":
        # drawn before the checks: a refused registration leaves a gap, as a rolled-back
        # insert always did; the id lets every row of the registration go in one statement
        columns.append(func.nextval(func.pg_get_serial_sequence("person", "id")).label("new_id"))
    if not columns:
        return None
    return select(*columns).select_from(source)


async def _check_places(
    session: AsyncSession, data: PersonIn, row: Any
) -> tuple[int | None, int | None, int | None]:
    """Refuse what ``_lookups`` found wrong, in the order and words of the one-by-one
    checks (which run again on a refusal only, to raise their own error). Answers the
    settlement, facility and section ids: ``row``'s, or the one-by-one check's where that
    passed after the lookup missed (a place committed between the two statements)."""
    settlement_id = row.settlement_id if data.settlement_code is not None else None
    facility_id = row.facility_id if data.attached_facility_code else None
    section_id = row.section_id if data.attached_facility_code and data.section_code else None
    if data.settlement_code is not None and (
        row.settlement_id is None or row.level != "settlement"
    ):
        settlement_id = await _territory_id(session, data.settlement_code, "settlement_code")
    if data.attached_facility_code:
        if (
            row.facility_id is None
            or not row.is_open
            or row.kind not in _primary_care_types()
            or (data.section_code and row.section_id is None)
        ):
            fac, sec = await _attachment_target(
                session, data.attached_facility_code, data.section_code, "attached_"
            )
            facility_id, section_id = fac.id, (sec.id if sec is not None else None)
    elif data.section_code:
        raise Invalid.fields(
            [FieldError("section_code", N_("give the facility of the section too"))]
        )
    return settlement_id, facility_id, section_id


def _taken(existing_id: int) -> Conflict:
    label = nid.name(_country())
    return Conflict(
        N_("A person with this %(label)s is already registered."),
        params={"label": label},
        errors=[FieldError("national_id", N_("already registered"))],
        extensions={"existing_id": existing_id},
    )


def _values(table: Any, row: dict[str, Any]) -> Any:
    """An insert of ``row`` whose values are anonymous binds: several such inserts in one
    statement never share a parameter name."""
    return insert(table).values({k: literal(v, table.c[k].type) for k, v in row.items()})


async def register_person(session: AsyncSession, principal: Principal, data: PersonIn) -> PersonOut:
    """Register one person. Refuses a taken id; shows likely duplicates unless a reason is given.

    Without ``duplicate_reason``, a registration that resembles registered
    people is refused with ``Conflict`` carrying the candidates and their
    scores; with it, the person is created and the reason kept.
    """
    from salomat.domains.registry.service.duplicates import candidates_unaudited

    warnings = check_identity(data.national_id, data.birth_date, data.sex)
    name_fields = _name_fields(data.family_name, data.given_name, data.patronymic)
    phone = normalise_phone(data.phone)
    query = _lookups(session, data)
    row = (await session.execute(query)).one() if query is not None else None
    settlement_id, facility_id, section_id = await _check_places(session, data, row)
    if data.national_id and row is not None and row.taken is not None:
        raise _taken(row.taken)
    found, listing = await candidates_unaudited(session, principal, data, national_id_checked=True)
    if found and not data.duplicate_reason:
        await audit.write(session, listing)  # what the 409 shows is audited, and kept
        raise Conflict(
            N_(
                "%(n)s registered person(s) resemble this one. Open the record if it "
                "is the same person; to register anyway, give duplicate_reason."
            ),
            params={"n": len(found)},
            errors=[
                FieldError("duplicate_reason", N_("required: the registration has candidates"))
            ],
            extensions={"candidates": [c.model_dump(mode="json") for c in found]},
        )
    # written below with the creation; kept should anything fail before the commit
    audit.keep(session, listing)
    now = utcnow()
    person: dict[str, Any] = {
        "national_id": data.national_id,
        **name_fields,
        "birth_date": data.birth_date,
        "sex": data.sex,
        "phone": phone,
        "settlement_id": settlement_id if data.settlement_code is not None else None,
        "address": data.address,
        "attached_facility_id": facility_id,
        "section_id": section_id,
        "duplicate_reason": data.duplicate_reason if found else None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    postgresql = dialect_name(session) == "postgresql"
    if postgresql:
        person["id"] = int(row.new_id)
    else:
        try:
            result = await session.execute(insert(Person.__table__).values(person))
        except IntegrityError as e:
            raise Conflict("A person with this national id is already registered.") from e
        person["id"] = int(result.inserted_primary_key[0])
    pid = person["id"]
    out = PersonOut.model_validate(
        {
            **person,
            "deceased_on": None,
            "death_cause": None,
            "merged_into_id": None,
            # the codes were given and checked above (exact matches): no need to read them
            "attached_facility_code": data.attached_facility_code if facility_id else None,
            "section_code": data.section_code if section_id else None,
            "settlement_code": data.settlement_code if person["settlement_id"] else None,
            "warnings": warnings,
        }
    )
    rows: list[tuple[Any, dict[str, Any]]] = []
    if facility_id is not None:
        attachment = {
            "person_id": pid,
            "facility_id": facility_id,
            "section_id": section_id,
            "start_on": date.today(),
            "reason": "registration",
            "recorded_by": principal.username,
            "recorded_at": now,
        }
        rows.append((Attachment.__table__, attachment))
    version = {
        "resource_type": RESOURCE,
        "resource_id": pid,
        "version": 1,
        "action": "create",
        "recorded_at": now,
        "recorded_by": principal.username,
        "data": out.model_dump(mode="json"),
    }
    rows.append((ResourceVersion.__table__, version))
    created = audit.build(
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(pid),
        patient_id=pid,
        purpose="registration",
        detail=f"despite {len(found)} candidate(s)" if found else None,
    )
    audit_rows = [*listing, created]
    try:
        if postgresql:
            # one round trip: the person, then each row that refers to it, in WITH parts
            # (their foreign keys are checked at the statement's end, the person in place).
            # One single-row insert per audit row, not one multi-row VALUES: SQLAlchemy
            # caches the compiled form of the former only, and compiling this statement
            # anew was two fifths of a registration's CPU (bench --profile)
            audit_table = audit.AuditEvent.__table__
            statement = _values(Person.__table__, person).add_cte(
                *(_values(table, r).cte(f"new_{table.name}") for table, r in rows),
                *(_values(audit_table, r).cte(f"new_audit_{i}") for i, r in enumerate(audit_rows)),
            )
            await session.execute(statement)
        else:
            for table, r in rows:
                await session.execute(insert(table).values(r))
            await session.execute(audit.insert_rows(audit_rows))
    except IntegrityError as e:
        raise Conflict("A person with this national id is already registered.") from e
    return out
