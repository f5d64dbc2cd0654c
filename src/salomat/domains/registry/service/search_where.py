"""A search of people by what a FHIR Patient search may give (fhir/patient_api.py): ids,
national ids, names (each with alternatives), intervals of birth dates and of last
changes with the R4 date prefixes, sexes, facilities, sorted or not, counted only or
paged. ``search.py`` keeps the registry's own searches (REST, pages); this one reads
the same people, by the same name matching, under the same scope and audit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import FieldError, Invalid
from salomat.core.pagination import Page
from salomat.core.security import Principal
from salomat.domains.registry.models import Person
from salomat.domains.registry.schemas import PersonOut
from salomat.domains.registry.service.people import (
    audit_listing,
    people_with_codes,
    person_out,
    visible_ids,
)
from salomat.domains.registry.service.search import _terms, name_matches, name_similarity

__all__ = ["MAX_ALTERNATIVES", "SORTS", "PersonFilter", "birth_date_condition", "search_where"]

#: name alternatives (the product of name, family and given's commas) one search may try
MAX_ALTERNATIVES = 10
#: what a search may be sorted by
SORTS = ("birthdate", "family", "_lastUpdated")
#: (prefix, start, end): a date search value as core.fhir_dates reads it
Dated = tuple[str, datetime, datetime]

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PersonFilter:
    """Every field given must hold; a list's items are alternatives (any of them), a
    list of lists (``*_any``) one group each. Names as ``search_persons`` matches them
    (either script, slips), each alternative a whole query."""

    ids: list[int] | None = None
    national_ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    givens: list[str] = field(default_factory=list)
    birth: list[Dated] = field(default_factory=list)
    birth_any: list[list[Dated]] = field(default_factory=list)
    sexes: list[str] = field(default_factory=list)
    facility_ids: list[int] = field(default_factory=list)
    updated: list[Dated] = field(default_factory=list)
    updated_any: list[list[Dated]] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)


def _day_from(at: datetime) -> date | None:
    """The first day starting at or after ``at`` (None past the last one)."""
    day = at.astimezone(UTC).date()
    if at.astimezone(UTC).replace(tzinfo=None) == datetime.combine(day, datetime.min.time()):
        return day
    return None if day == date.max else day + timedelta(days=1)


def _approximately(lower: datetime, upper: datetime) -> tuple[datetime, datetime]:
    """[lower, upper) widened as the shared record widens ``ap``: a tenth of the distance
    from now, at least a day."""
    now = datetime.now(UTC)
    margin = max(max(abs(now - lower), abs(now - upper)) / 10, timedelta(days=1))
    lo = lower - margin if lower - _EARLIEST > margin else _EARLIEST
    hi = upper + margin if _LATEST - upper > margin else _LATEST
    return lo, hi


def birth_date_condition(column: Any, prefix: str, lower: datetime, upper: datetime) -> Any:
    """R4 search "date" on a column holding a day, the interval [day, day + 1) in UTC,
    against the value's [lower, upper): eq the day within it, ne not; gt / lt some of the
    day after / before it; ge / le as gt / lt, or eq; sa / eb the day wholly after /
    before it; ap the day overlapping it widened (as the shared record widens)."""

    def starts_from(at: datetime) -> Any:  # day >= at
        day = _day_from(at)
        return column >= day if day is not None else false()

    def starts_before(at: datetime) -> Any:
        return not_(starts_from(at)) if _day_from(at) is not None else true()

    def ends_after(at: datetime) -> Any:  # day + 1 > at, i.e. day >= at's day
        return column >= at.astimezone(UTC).date()

    def ends_by(at: datetime) -> Any:
        return column < at.astimezone(UTC).date()

    within = and_(starts_from(lower), ends_by(upper))
    if prefix == "eq":
        return within
    if prefix == "ne":
        return not_(within)
    if prefix == "gt":
        return ends_after(upper)
    if prefix == "lt":
        return starts_before(lower)
    if prefix == "ge":
        return or_(ends_after(upper), within)
    if prefix == "le":
        return or_(starts_before(lower), within)
    if prefix == "sa":
        return starts_from(upper)
    if prefix == "eb":
        return ends_by(lower)
    lo, hi = _approximately(lower, upper)
    return and_(starts_before(hi), ends_after(lo))


def _instant_condition(column: Any, prefix: str, lower: datetime, upper: datetime) -> Any:
    """The same comparison against one instant (the last change)."""
    within = and_(column >= lower, column < upper)
    if prefix == "eq":
        return within
    if prefix == "ne":
        return not_(within)
    if prefix in ("gt", "sa"):
        return column >= upper
    if prefix in ("lt", "eb"):
        return column < lower
    if prefix == "ge":
        return column >= lower
    if prefix == "le":
        return column < upper
    lo, hi = _approximately(lower, upper)
    return and_(column >= lo, column < hi)


def _conditions(f: PersonFilter) -> list[Any]:
    cond: list[Any] = []
    if f.ids is not None:
        cond.append(Person.id.in_(sorted({i for i in f.ids if 0 < i < 2**63})))
    else:
        cond.append(Person.merged_into_id.is_(None))
    if f.national_ids:
        cond.append(Person.national_id.in_(sorted({v.strip() for v in f.national_ids})))
    if f.sexes:
        cond.append(Person.sex.in_(sorted(set(f.sexes))))
    if f.facility_ids:
        cond.append(Person.attached_facility_id.in_(sorted(set(f.facility_ids))))
    for v in f.birth:
        cond.append(birth_date_condition(Person.birth_date, *v))
    for group in f.birth_any:
        cond.append(or_(*(birth_date_condition(Person.birth_date, *v) for v in group)))
    for v in f.updated:
        cond.append(_instant_condition(Person.updated_at, *v))
    for group in f.updated_any:
        cond.append(or_(*(_instant_condition(Person.updated_at, *v) for v in group)))
    return cond


def _name_queries(f: PersonFilter) -> list[tuple[str | None, str | None, str | None]]:
    alternatives = list(
        itertools.product(f.names or [None], f.families or [None], f.givens or [None])
    )
    if len(alternatives) > MAX_ALTERNATIVES:
        raise Invalid.fields(
            [
                FieldError(
                    n,
                    f"at most {MAX_ALTERNATIVES} name alternatives in one search "
                    "(the commas of name, family and given multiplied)",
                )
                for n, given in (("name", f.names), ("family", f.families), ("given", f.givens))
                if len(given) > 1
            ]
        )
    return alternatives


def _one_day(f: PersonFilter) -> list[date] | None:
    """The day a search by one exact birth date names (the name search then scores
    everyone born that day), else None."""
    if len(f.birth) != 1 or f.birth_any:
        return None
    prefix, lower, upper = f.birth[0]
    if prefix != "eq" or upper - lower != timedelta(days=1) or _day_from(lower) is None:
        return None
    return [lower.date()]


async def _ranked(session: AsyncSession, f: PersonFilter) -> list[int]:
    """The ids the names match, best first (each alternative's matches, the best score
    of any counting)."""
    best: dict[int, float] = {}
    for name, family, given in _name_queries(f):
        terms = _terms(name, family, given)
        if not terms:
            continue
        found = await name_matches(
            session,
            terms,
            birth_dates=_one_day(f),
            sex=f.sexes[0] if len(f.sexes) == 1 else None,
            facility_id=f.facility_ids[0] if len(f.facility_ids) == 1 else None,
        )
        for pid, score in found:
            best[pid] = max(score, best.get(pid, 0.0))
    return [pid for pid, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))]


def _named(f: PersonFilter, key: str) -> bool:
    """Whether ``key`` (a name_key) matches some alternative of the names."""
    for name, family, given in _name_queries(f):
        terms = _terms(name, family, given)
        if not terms or name_similarity(terms, key, prefix=True) > 0:
            return True
    return False


_ORDER = {
    "birthdate": Person.birth_date,
    "family": Person.family_key,
    "_lastUpdated": Person.updated_at,
}


async def search_where(
    session: AsyncSession, principal: Principal, f: PersonFilter, *, limit: int, offset: int
) -> Page[PersonOut]:
    """The people ``f`` names, only those the user may see (each shown audited as a
    search hit); ``limit`` 0: the total only, nobody shown. ``f`` must name people: ids,
    national ids or a name (else 422 naming ``_id``, ``identifier`` and ``name``). Sorted
    by ``f.sort`` (then by id), else by how well the name matches, else by id."""
    has_names = bool(f.names or f.families or f.givens)
    if f.ids is None and not f.national_ids and not has_names:
        raise Invalid.fields(
            [FieldError(n, "give _id, identifier or a name") for n in ("_id", "identifier", "name")]
        )
    for key, _desc in f.sort:
        if key not in _ORDER:
            raise Invalid.fields([FieldError("_sort", f"must be one of {', '.join(SORTS)}")])
    cond = _conditions(f)
    ranked: list[int] | None = None
    if f.ids is None and not f.national_ids:
        ranked = await _ranked(session, f)
        cond.append(Person.id.in_(ranked))
    stmt = select(Person.id, Person.name_key).where(*cond)
    for key, desc in f.sort:
        stmt = stmt.order_by(_ORDER[key].desc() if desc else _ORDER[key].asc())
    stmt = stmt.order_by(Person.id)
    rows = [(int(pid), key) for pid, key in await session.execute(stmt)]
    if ranked is None and has_names:
        rows = [(pid, key) for pid, key in rows if _named(f, key)]
    ids = [pid for pid, _ in rows]
    if ranked is not None and not f.sort:
        place = {pid: i for i, pid in enumerate(ranked)}
        ids.sort(key=lambda pid: place[pid])
    allowed = await visible_ids(session, principal, ids)
    shown = allowed[offset : offset + limit] if limit else []
    people = await people_with_codes(session, [pid for pid, _ in shown])
    why = dict(shown)
    await audit_listing(session, principal, [(p, why[p.id]) for p, _ in people])
    items = [await person_out(session, p, codes=codes) for p, codes in people]
    return Page[PersonOut](items=items, total=len(allowed), limit=max(limit, 1), offset=offset)
