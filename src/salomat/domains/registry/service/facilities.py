"""Facilities: the organisations of the national network.

Types, perinatal levels and bed profiles come from the country pack; a
facility lies in a settlement and may belong to a parent organisation (a
feldsher point under its district hospital), never to itself through a chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

import phonenumbers
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

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
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import Scope
from salomat.country import pack
from salomat.domains.registry.models import (
    CareRelationship,
    Facility,
    FacilityBeds,
    Person,
    Practitioner,
    Section,
    Territory,
)
from salomat.domains.registry.schemas import (
    FacilityIn,
    FacilityOut,
    FacilityPatch,
    FacilityQuery,
    SectionIn,
    SectionOut,
)
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.territory import (
    check_names,
    expect_version,
    settlement_ids_under,
)

__all__ = [
    "attached_ids_query",
    "close_facility",
    "create_facility",
    "create_section",
    "facility_by_code",
    "facility_code",
    "facility_code_of",
    "facility_id_by_code",
    "facility_name_of",
    "facility_names",
    "facility_names_of",
    "facility_scopes",
    "facility_types",
    "get_facility",
    "list_facilities",
    "list_sections",
    "reopen_facility",
    "update_facility",
]

RESOURCE = "Organization"


def _pack() -> dict[str, Any]:
    return pack.load(get_settings().country)


def facility_types() -> dict[str, dict[str, Any]]:
    """The pack's facility types by code."""
    return {t["code"]: t for t in _pack()["facility_types"]}


def _bed_profiles() -> list[str]:
    return [b["code"] for b in _pack().get("bed_profiles", [])]


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """E.164; a number without a country code is read as the deployed country's."""
    if not value:
        return None
    region = get_settings().country
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid.fields([FieldError(field, "not a valid phone number")])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---- checks --------------------------------------------------------------------------


def _check_kind(kind: str, perinatal_level: int | None) -> list[FieldError]:
    types = facility_types()
    t = types.get(kind)
    if t is None:
        return [
            FieldError(
                "kind",
                f"{kind!r} is not a facility type of the {get_settings().country} pack "
                f"({', '.join(types)})",
            )
        ]
    allowed = t.get("perinatal_level") or []
    if perinatal_level is not None and perinatal_level not in allowed:
        why = (
            f"a {kind} holds level {' or '.join(map(str, allowed))}"
            if allowed
            else f"a {kind} gives no perinatal care"
        )
        return [FieldError("perinatal_level", why)]
    return []


def _check_beds(beds: dict[str, int]) -> list[FieldError]:
    profiles = _bed_profiles()
    errors = []
    for profile, n in beds.items():
        if profile not in profiles:
            errors.append(
                FieldError(
                    f"beds.{profile}", f"not a bed profile of the pack ({', '.join(profiles)})"
                )
            )
        elif n < 0:
            errors.append(FieldError(f"beds.{profile}", "must not be negative"))
    return errors


async def _settlement_id(
    session: AsyncSession, code: str | None
) -> tuple[int | None, list[FieldError]]:
    if not code:
        return None, []
    row = (
        await session.execute(select(Territory.id, Territory.level).where(Territory.code == code))
    ).first()
    if row is None:
        return None, [FieldError("settlement_code", f"no settlement has code {code}")]
    if row.level != "settlement":
        return None, [FieldError("settlement_code", f"{code} is a {row.level}, not a settlement")]
    return int(row.id), []


async def _parent_id(
    session: AsyncSession, code: str | None, own_id: int | None
) -> tuple[int | None, list[FieldError]]:
    """The parent's id; refuses a parent whose chain of parents leads back to ``own_id``."""
    if not code:
        return None, []
    parent = await _by_code(session, code)
    if parent is None:
        return None, [FieldError("parent_code", f"no facility has code {code}")]
    if own_id is not None:
        seen: set[int] = set()
        chain = [parent.code]
        node: Facility | None = parent
        while node is not None and node.id not in seen:
            if node.id == own_id:
                return None, [
                    FieldError(
                        "parent_code",
                        "the facility would be its own parent: " + " -> ".join(chain),
                    )
                ]
            seen.add(node.id)
            node = await session.get(Facility, node.parent_id) if node.parent_id else None
            if node is not None:
                chain.append(node.code)
    return parent.id, []


async def _set_beds(session: AsyncSession, facility_id: int, beds: dict[str, int]) -> None:
    await session.execute(delete(FacilityBeds).where(FacilityBeds.facility_id == facility_id))
    rows = [
        {"facility_id": facility_id, "profile": p, "beds": n} for p, n in sorted(beds.items()) if n
    ]
    if rows:
        await session.execute(insert(FacilityBeds), rows)


# ---- reading ---------------------------------------------------------------------------


async def _by_code(session: AsyncSession, code: str) -> Facility | None:
    return await session.scalar(select(Facility).where(Facility.code == code))


async def _outs(session: AsyncSession, facilities: Sequence[Facility]) -> list[FacilityOut]:
    """One query each for settlements, parents and beds, whatever the number of facilities."""
    if not facilities:
        return []
    ids = [f.id for f in facilities]
    settlement_ids = {f.settlement_id for f in facilities if f.settlement_id}
    parent_ids = {f.parent_id for f in facilities if f.parent_id}
    settlements: dict[int, str] = {}
    if settlement_ids:
        rows = await session.execute(
            select(Territory.id, Territory.code).where(Territory.id.in_(settlement_ids))
        )
        settlements = {r.id: r.code for r in rows}
    parents: dict[int, str] = {}
    if parent_ids:
        rows = await session.execute(
            select(Facility.id, Facility.code).where(Facility.id.in_(parent_ids))
        )
        parents = {r.id: r.code for r in rows}
    beds: dict[int, dict[str, int]] = {i: {} for i in ids}
    for row in await session.execute(
        select(FacilityBeds.facility_id, FacilityBeds.profile, FacilityBeds.beds)
        .where(FacilityBeds.facility_id.in_(ids))
        .order_by(FacilityBeds.profile)
    ):
        beds[row.facility_id][row.profile] = row.beds
    outs = []
    for f in facilities:
        out = FacilityOut.model_validate(f)
        out.names = dict(f.names or {})
        out.settlement_code = settlements.get(f.settlement_id) if f.settlement_id else None
        out.parent_code = parents.get(f.parent_id) if f.parent_id else None
        out.beds = beds[f.id]
        outs.append(out)
    return outs


async def _out(session: AsyncSession, fac: Facility) -> FacilityOut:
    return (await _outs(session, [fac]))[0]


async def facility_by_code(session: AsyncSession, code: str) -> FacilityOut | None:
    fac = await _by_code(session, code)
    return await _out(session, fac) if fac else None


async def facility_id_by_code(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(Facility.id).where(Facility.code == code))


async def facility_code(session: AsyncSession, facility_id: int) -> str | None:
    """Just the code: what every request's principal carries (one indexed read)."""
    return await session.scalar(select(Facility.code).where(Facility.id == facility_id))


def facility_code_of(facility_id: Any) -> Any:
    """The code of the facility ``facility_id`` (a column) refers to, as a correlated
    scalar subquery: a caller that reads a row with a facility id gets the code in the
    same statement (the principal of every request is read this way)."""
    return select(Facility.code).where(Facility.id == facility_id).scalar_subquery()


def facility_name_of(facility_id: Any) -> Any:
    """The main name of the facility ``facility_id`` refers to (a correlated subquery)."""
    return select(Facility.name).where(Facility.id == facility_id).scalar_subquery()


def facility_names_of(facility_id: Any) -> Any:
    """The names by language of the facility ``facility_id`` refers to (a correlated
    subquery; JSON, decoded with the row)."""
    return select(Facility.names).where(Facility.id == facility_id).scalar_subquery()


class FacilityName(NamedTuple):
    code: str
    name: str
    kind: str
    #: the name in other languages, by language code (``names.get(lang) or name``)
    names: dict[str, str]


async def facility_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, FacilityName]:
    """Code, name, type and per-language names of many facilities in one statement (batches,
    dashboards and audit lists that name the facilities they show); ids with no facility
    are left out."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Facility.id, Facility.code, Facility.name, Facility.kind, Facility.names).where(
            Facility.id.in_(wanted)
        )
    )
    return {r.id: FacilityName(r.code, r.name, r.kind, dict(r.names or {})) for r in rows}


def attached_ids_query(
    facility_id: int,
    *,
    sex: str | None = None,
    born_from: date | None = None,
    born_to: date | None = None,
) -> Any:
    """The ids of the living people attached to a facility, as a subquery to join in SQL.

    The people ``attached_people`` pages through (same filters), for a care
    programme's worklist that needs only who they are, not their names: one
    statement instead of reading every attached person. ``born_from`` and
    ``born_to`` are inclusive.
    """
    q = select(Person.id).where(
        Person.attached_facility_id == facility_id,
        Person.deceased_on.is_(None),
        Person.merged_into_id.is_(None),
    )
    if sex is not None:
        q = q.where(Person.sex == sex)
    if born_from is not None:
        q = q.where(Person.birth_date >= born_from)
    if born_to is not None:
        q = q.where(Person.birth_date <= born_to)
    return q


#: ids per IN list (SQLite allows a few thousand bound parameters)
_SCOPE_CHUNK = 500


async def facility_scopes(
    session: AsyncSession, facility_id: int, person_ids: Iterable[int]
) -> dict[int, Scope]:
    """The registry's scope rule (``attached_or_in_care_at_users_facility``) for many people.

    A worklist listing hundreds of people asked it once per person; this
    answers for all in two statements per chunk, with the same reasons: attached to
    the facility, else an open care relationship there (the oldest, if
    several). People the facility does not hold are left out: only a
    break-the-glass grant (``policy.person_scope``) can still open them.
    """
    wanted = sorted(set(person_ids))
    out: dict[int, Scope] = {}
    for i in range(0, len(wanted), _SCOPE_CHUNK):
        chunk = wanted[i : i + _SCOPE_CHUNK]
        for (pid,) in await session.execute(
            select(Person.id).where(
                Person.id.in_(chunk), Person.attached_facility_id == facility_id
            )
        ):
            out[pid] = Scope("attached to the user's facility")
        rest = [pid for pid in chunk if pid not in out]
        if not rest:
            continue
        for pid, kind in await session.execute(
            select(CareRelationship.person_id, CareRelationship.kind)
            .where(
                CareRelationship.person_id.in_(rest),
                CareRelationship.facility_id == facility_id,
                CareRelationship.closed_at.is_(None),
            )
            .order_by(CareRelationship.id)
        ):
            out.setdefault(pid, Scope(f"open care relationship ({kind})"))
    return out


async def _get(session: AsyncSession, facility_id: int) -> Facility:
    fac = await session.get(Facility, facility_id)
    if fac is None:
        raise NotFound(f"Facility {facility_id} not found.")
    return fac


async def get_facility(session: AsyncSession, facility_id: int) -> FacilityOut:
    return await _out(session, await _get(session, facility_id))


async def list_facilities(
    session: AsyncSession, page: PageParams, query: FacilityQuery | None = None
) -> Page[FacilityOut]:
    where: list[Any] = []
    q = query or FacilityQuery()
    if q.code:
        where.append(Facility.code == q.code)
    if q.kind:
        where.append(Facility.kind == q.kind)
    if q.is_open is not None:
        where.append(Facility.is_open.is_(q.is_open))
    if q.territory_code:
        try:
            ids = await settlement_ids_under(session, q.territory_code)
        except NotFound:
            raise Invalid.fields(
                [FieldError("territory_code", f"no unit has code {q.territory_code}")]
            ) from None
        where.append(Facility.settlement_id.in_(ids))
    if q.parent_code:
        parent_id = await facility_id_by_code(session, q.parent_code)
        where.append(Facility.parent_id == (parent_id or -1))
    total = await session.scalar(select(func.count()).select_from(Facility).where(*where))
    rows = await session.scalars(
        select(Facility).where(*where).order_by(Facility.code).limit(page.limit).offset(page.offset)
    )
    return Page[FacilityOut](
        items=await _outs(session, list(rows)),
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


# ---- writing ---------------------------------------------------------------------------


async def create_facility(
    session: AsyncSession, data: FacilityIn, *, by: str = "system"
) -> FacilityOut:
    errors = _check_kind(data.kind, data.perinatal_level) + _check_beds(data.beds)
    errors += check_names(data.names)
    settlement_id, more = await _settlement_id(session, data.settlement_code)
    errors += more
    parent_id, more = await _parent_id(session, data.parent_code, None)
    errors += more
    try:
        phone = normalise_phone(data.phone)
    except Invalid as e:
        errors += e.errors
        phone = None
    if errors:
        raise Invalid.fields(errors)
    if await _by_code(session, data.code):
        raise Conflict(
            f"A facility with code {data.code} already exists.",
            errors=[FieldError("code", "already exists")],
        )
    fac = Facility(
        code=data.code,
        name=data.name,
        names=dict(data.names),
        kind=data.kind,
        perinatal_level=data.perinatal_level,
        settlement_id=settlement_id,
        parent_id=parent_id,
        address=data.address,
        phone=phone,
        is_open=True,
        opened_on=data.opened_on,
        updated_at=utcnow(),
    )
    session.add(fac)
    await session.flush()
    if data.beds:
        await _set_beds(session, fac.id, data.beds)
    out = await _out(session, fac)
    await versions.record_version(session, RESOURCE, out, action="create", by=by)
    return out


async def _save(
    session: AsyncSession, fac: Facility, by: str, beds: dict[str, int] | None = None
) -> FacilityOut:
    """One flush, so one new version, however many fields and beds changed."""
    fac.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The facility changed while you edited it; reload.") from e
    if beds is not None:
        await _set_beds(session, fac.id, beds)
    out = await _out(session, fac)
    await versions.record_version(session, RESOURCE, out, action="update", by=by)
    return out


async def update_facility(
    session: AsyncSession,
    facility_id: int,
    patch: FacilityPatch,
    *,
    expected_version: int | None,
    by: str,
) -> FacilityOut:
    """Only the fields sent change; type, level and parent are re-checked together.

    Values equal to the stored ones answer the current version, however old
    ``expected_version`` is (``versions.unchanged``).
    """
    fac = await _get(session, facility_id)
    if expected_version is None:
        expect_version(fac.version, expected_version, "facility")
    values = patch.model_dump(exclude_unset=True)
    errors = [
        FieldError(k, "cannot be cleared")
        for k in ("name", "kind", "names")
        if k in values and values[k] is None
    ]
    kind = values.get("kind") or fac.kind
    level = values.get("perinatal_level", fac.perinatal_level)
    if "kind" in values or "perinatal_level" in values:
        errors += _check_kind(kind, level)
    if values.get("beds") is not None:
        errors += _check_beds(values["beds"])
    if values.get("names"):
        errors += check_names(values["names"])
    settlement_id = fac.settlement_id
    if "settlement_code" in values:
        settlement_id, more = await _settlement_id(session, values["settlement_code"])
        errors += more
    parent_id = fac.parent_id
    if "parent_code" in values:
        parent_id, more = await _parent_id(session, values["parent_code"], fac.id)
        errors += more
    phone = fac.phone
    if "phone" in values:
        try:
            phone = normalise_phone(values["phone"])
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid.fields(errors)
    beds = values.get("beds")
    stored = select(FacilityBeds.profile, FacilityBeds.beds)
    stored_beds = {
        r.profile: r.beds
        for r in await session.execute(stored.where(FacilityBeds.facility_id == fac.id))
    }
    same_beds = beds is None or stored_beds == {k: n for k, n in beds.items() if n}
    # every read is done: nothing autoflushes the assignments before the check below
    for key in ("name", "kind", "perinatal_level", "address", "opened_on"):
        if key in values:
            setattr(fac, key, values[key])
    if "names" in values:
        fac.names = dict(values["names"])
    fac.settlement_id, fac.parent_id, fac.phone = settlement_id, parent_id, phone
    if versions.unchanged(session, fac) and same_beds:
        return await _out(session, fac)
    expect_version(fac.version, expected_version, "facility")
    return await _save(session, fac, by, beds)


async def close_facility(
    session: AsyncSession,
    facility_id: int,
    closed_on: date | None,
    *,
    expected_version: int | None,
    by: str,
) -> FacilityOut:
    """Closed facilities take no attachments or roles; open subordinates must move first."""
    fac = await _get(session, facility_id)
    expect_version(fac.version, expected_version, "facility")
    if not fac.is_open:
        raise InvalidState(f"{fac.code} is closed already (since {fac.closed_on}).")
    day = closed_on or date.today()
    if day > date.today():
        raise Invalid.fields([FieldError("closed_on", "close on the day itself, not in advance")])
    if fac.opened_on and day < fac.opened_on:
        raise Invalid.fields([FieldError("closed_on", f"before the opening ({fac.opened_on})")])
    children = list(
        await session.scalars(
            select(Facility.code).where(Facility.parent_id == fac.id, Facility.is_open.is_(True))
        )
    )
    if children:
        raise InvalidState(
            f"{fac.code} still has open subordinate facilities: {', '.join(sorted(children))}. "
            "Close them or give them another parent first."
        )
    fac.is_open, fac.closed_on = False, day
    return await _save(session, fac, by)


async def reopen_facility(
    session: AsyncSession, facility_id: int, *, expected_version: int | None, by: str
) -> FacilityOut:
    fac = await _get(session, facility_id)
    expect_version(fac.version, expected_version, "facility")
    if fac.is_open:
        raise InvalidState(f"{fac.code} is open.")
    fac.is_open, fac.closed_on = True, None
    return await _save(session, fac, by)


# ---- sections ------------------------------------------------------------------------


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
