"""Facilities: the organisations of the national network; reading them.

Types, perinatal levels and bed profiles come from the country pack; a
facility lies in a settlement and may belong to a parent organisation (a
feldsher point under its district hospital). Here: a facility and the list,
and what the other domains ask of a facility (its code and names in a
statement of theirs, the people attached to it, the scope rule for many
people). Creating, editing, closing and reopening are ``facility_changes``;
family-doctor sections are ``facility_sections``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import Scope
from salomat.country import pack
from salomat.domains.registry.models import (
    CareRelationship,
    Facility,
    FacilityBeds,
    Person,
    Territory,
)
from salomat.domains.registry.schemas import FacilityOut, FacilityQuery
from salomat.domains.registry.service.territory import settlement_ids_under

__all__ = [
    "attached_ids_query",
    "facility_by_code",
    "facility_code",
    "facility_code_of",
    "facility_id_by_code",
    "facility_name_of",
    "facility_names",
    "facility_names_of",
    "facility_regions",
    "facility_scopes",
    "facility_settlements",
    "facility_types",
    "get_facility",
    "list_facilities",
]

RESOURCE = "Organization"


def _pack() -> dict[str, Any]:
    return pack.load(get_settings().country)


def facility_types() -> dict[str, dict[str, Any]]:
    """The pack's facility types by code."""
    return {t["code"]: t for t in _pack()["facility_types"]}


def _bed_profiles() -> list[str]:
    return [b["code"] for b in _pack().get("bed_profiles", [])]


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


async def facility_regions(session: AsyncSession, ids: Iterable[int]) -> dict[int, str | None]:
    """The region (territory code) of each facility, through its settlement's district:
    one statement (a settlement sits in a district, a district in a region)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    s, d, r = aliased(Territory), aliased(Territory), aliased(Territory)
    rows = await session.execute(
        select(Facility.id, s.level, s.code, d.level, d.code, r.level, r.code)
        .outerjoin(s, s.id == Facility.settlement_id)
        .outerjoin(d, d.id == s.parent_id)
        .outerjoin(r, r.id == d.parent_id)
        .where(Facility.id.in_(wanted))
    )
    out: dict[int, str | None] = {}
    for fid, *levels in rows:
        pairs = [(levels[i], levels[i + 1]) for i in (0, 2, 4)]
        out[fid] = next((code for level, code in pairs if level == "region"), None)
    return out


async def facility_settlements(
    session: AsyncSession, ids: Iterable[int] | None = None
) -> dict[int, int | None]:
    """The settlement of each facility (of ``ids``, else of all), by facility id, in one
    statement: figures grouped by facility in SQL are folded into territorial units with
    ``area_breakdown`` (a country has a few thousand facilities)."""
    q = select(Facility.id, Facility.settlement_id)
    if ids is not None:
        q = q.where(Facility.id.in_(sorted(set(ids))))
    return {r.id: r.settlement_id for r in await session.execute(q)}


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
