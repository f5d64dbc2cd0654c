"""Read, version read, history and search. Every resource shown is of a person in the
caller's scope, or one the caller's facility sent (``scope``), audited; any other answers
as a missing one would (404 on a read, left out of a search), and its refusal is
audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import Scope
from salomat.core.security import Principal
from salomat.domains.record.models import (
    RecordIdentifier,
    RecordResource,
    RecordToken,
    RecordVersion,
)
from salomat.domains.record.schemas import RecordPage, RecordQuery, StoredResource
from salomat.domains.record.service.common import (
    RESOURCE_TYPES,
    row_id,
    stored,
)
from salomat.domains.record.service.common import (
    fhir_id as to_fhir_id,
)
from salomat.domains.record.service.scope import REASON as SENDER_REASON
from salomat.domains.record.service.scope import audit_withheld, people_in_scope, resource_scope
from salomat.domains.record.service.validation import unstorable

__all__ = [
    "people_with",
    "read_resource",
    "resource_history",
    "resource_history_page",
    "search_resources",
    "sent_for",
]

#: a search without a patient reads the people its matches belong to, at most this many
MAX_PEOPLE = 1000


def _missing(resource_type: str, fhir_id: str) -> NotFound:
    return NotFound(N_("%(type)s %(id)s not found."), params={"type": resource_type, "id": fhir_id})


async def scope_or_404(
    session: AsyncSession, principal: Principal, resource_type: str, row: RecordResource
) -> Scope:
    """Why the caller may see ``row`` (its person in scope, or her facility sent it);
    else 404 as for a missing id, the refusal audited."""
    scope = await resource_scope(session, principal, row.person_id, row.sender_facility_id)
    if scope is None:
        await audit.denied(
            session,
            principal,
            resource_type=resource_type,
            resource_id=to_fhir_id(row.id),
            patient_id=row.person_id,
            detail="outside the user's scope",
        )
        raise _missing(resource_type, to_fhir_id(row.id))
    return scope


async def row_or_404(session: AsyncSession, resource_type: str, fhir_id: str) -> RecordResource:
    """The stored row of ``<resource_type>/<fhir_id>``; 404 when there is none."""
    rid = row_id(fhir_id)
    row = await session.get(RecordResource, rid) if rid is not None else None
    if row is None or row.resource_type != resource_type:
        raise _missing(resource_type, fhir_id)
    return row


async def load_in_scope(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    rid: int,
    *,
    audit_it: bool = True,
) -> StoredResource:
    """The current version, the person in scope (else 404, the refusal audited); read
    audited unless the caller audits its own action."""
    row = await row_or_404(session, resource_type, to_fhir_id(rid))
    scope = await scope_or_404(session, principal, resource_type, row)
    if audit_it:
        await audit_read(session, principal, row, scope)
    return stored(row)


async def audit_read(
    session: AsyncSession, principal: Principal, row: RecordResource, scope: Scope
) -> None:
    """A read of ``row`` audited under the reason ``scope`` gives."""
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=row.resource_type,
        resource_id=to_fhir_id(row.id),
        patient_id=row.person_id,
        purpose=scope.reason,
        break_glass_grant=scope.break_glass_grant,
    )


async def read_resource(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    fhir_id: str,
    *,
    version: int | None = None,
) -> StoredResource:
    """The resource (``version``: that version of it), audited."""
    row = await row_or_404(session, resource_type, fhir_id)
    scope = await scope_or_404(session, principal, resource_type, row)
    await audit_read(session, principal, row, scope)
    if version is None or version == row.version:
        return stored(row)
    old = await session.get(RecordVersion, (row.id, version)) if 0 < version < 2**31 else None
    if old is None:
        raise NotFound(
            N_("%(type)s %(id)s has no version %(version)s."),
            params={"type": resource_type, "id": fhir_id, "version": version},
        )
    return stored(
        row, body=old.body, version=old.version, last_updated=old.changed_at, sender=old.changed_by
    )


async def resource_history(
    session: AsyncSession, principal: Principal, resource_type: str, fhir_id: str
) -> list[StoredResource]:
    """Every version, newest first (audited as one read)."""
    return (await resource_history_page(session, principal, resource_type, fhir_id)).items


async def resource_history_page(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    fhir_id: str,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> RecordPage:
    """One page of the versions, newest first, and how many there are (audited as one
    read). Only the page's bodies are read: a document's versions may be megabytes
    each."""
    row = await row_or_404(session, resource_type, fhir_id)
    scope = await scope_or_404(session, principal, resource_type, row)
    await audit_read(session, principal, row, scope)
    q = (
        select(RecordVersion)
        .where(RecordVersion.resource_id == row.id)
        .order_by(RecordVersion.version.desc())
        .offset(max(0, offset))
    )
    if limit is not None:
        q = q.limit(max(0, limit))
    versions = await session.scalars(q) if limit != 0 else []
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(RecordVersion)
            .where(RecordVersion.resource_id == row.id)
        )
        or 0
    )
    return RecordPage(
        items=[
            stored(row, body=v.body, version=v.version, last_updated=v.changed_at,
                   sender=v.changed_by)
            for v in versions
        ],
        total=total,
    )  # fmt: skip


# ---- search ---------------------------------------------------------------------------

_PREFIXES = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap"})


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _approximately(lower: datetime, upper: datetime) -> tuple[datetime, datetime]:
    """[lower, upper) widened as far as "approximately" reaches: a tenth of the distance
    from now, at least a day (FHIR leaves the amount to the server); at most to the first
    and last instants a datetime holds."""
    now = datetime.now(UTC)
    gap = max(abs(now - lower), abs(now - upper))
    margin = max(gap / 10, timedelta(days=1))
    lo = lower - margin if lower - _EARLIEST > margin else _EARLIEST
    hi = upper + margin if _LATEST - upper > margin else _LATEST
    return lo, hi


def _period_condition(prefix: str, lower: datetime, upper: datetime) -> Any:
    """The FHIR comparison of the resource's interval [start, end) with the value's
    [lower, upper) (R4 search, "date"): eq within it, gt / lt some of it after / before
    it, ge / le some of it from its start on / up to its end (a stay that ends on the
    7th is found by ge the 7th), sa / eb wholly after / before it, ap overlapping it
    widened. A missing start reaches back without end, a missing end forward; a
    resource with neither has no time and matches no date."""
    rs, re_ = RecordResource.effective_start, RecordResource.effective_end
    has_time = or_(rs.is_not(None), re_.is_not(None))

    def starts_at_or_after(at: datetime) -> Any:
        return and_(rs.is_not(None), rs >= at)

    def starts_before(at: datetime) -> Any:
        return or_(rs.is_(None), rs < at)

    def ends_after(at: datetime) -> Any:
        return or_(re_.is_(None), re_ > at)

    def ends_at_or_before(at: datetime) -> Any:
        return and_(re_.is_not(None), re_ <= at)

    within = and_(starts_at_or_after(lower), ends_at_or_before(upper))
    if prefix == "eq":
        cond = within
    elif prefix == "ne":
        cond = not_(within)
    elif prefix == "gt":
        cond = ends_after(upper)
    elif prefix == "lt":
        cond = starts_before(lower)
    elif prefix == "ge":
        cond = ends_after(lower)
    elif prefix == "le":
        cond = starts_before(upper)
    elif prefix == "sa":
        cond = starts_at_or_after(upper)
    elif prefix == "eb":
        cond = ends_at_or_before(lower)
    else:  # ap: overlaps the value widened by the margin
        lo, hi = _approximately(lower, upper)
        cond = and_(starts_before(hi), ends_after(lo))
    return and_(has_time, cond)


def _instant_condition(prefix: str, lower: datetime, upper: datetime) -> Any:
    """The same comparison against one instant (the last update)."""
    at = RecordResource.last_updated
    within = and_(at >= lower, at < upper)
    if prefix == "eq":
        return within
    if prefix == "ne":
        return not_(within)
    if prefix in ("gt", "sa"):
        return at >= upper
    if prefix in ("lt", "eb"):
        return at < lower
    if prefix == "ge":
        return at >= lower
    if prefix == "le":
        return at < upper
    lo, hi = _approximately(lower, upper)
    return and_(at >= lo, at < hi)


def _token_exists(param: str, tokens: list[tuple[str | None, str]]) -> Any:
    alts = []
    for system, code in tokens:
        # code "" (``<system>|``): any code of that system
        cond = [RecordToken.code == code] if code or not system else []
        if system is not None:
            cond.append(RecordToken.system == system if system else RecordToken.system.is_(None))
        alts.append(and_(*cond))
    return (
        select(RecordToken.id)
        .where(
            RecordToken.resource_id == RecordResource.id,
            RecordToken.param == param,
            or_(*alts),
        )
        .exists()
    )


def _identifier_exists(pairs: list[tuple[str | None, str]]) -> Any:
    alts = []
    for system, value in pairs:
        # value "" (``<system>|``): any identifier of that system
        cond = [RecordIdentifier.value == value] if value or not system else []
        if system is not None:
            cond.append(RecordIdentifier.system == system)
        alts.append(and_(*cond))
    return (
        select(RecordIdentifier.id)
        .where(RecordIdentifier.resource_id == RecordResource.id, or_(*alts))
        .exists()
    )


#: what a resource has when a parameter is not missing (``<param>:missing=false``)
_MISSING: dict[str, Any] = {
    "code": lambda: (
        select(RecordToken.id)
        .where(RecordToken.resource_id == RecordResource.id, RecordToken.param == "code")
        .exists()
    ),
    "category": lambda: (
        select(RecordToken.id)
        .where(RecordToken.resource_id == RecordResource.id, RecordToken.param == "category")
        .exists()
    ),
    "status": lambda: RecordResource.status.is_not(None),
    "date": lambda: or_(
        RecordResource.effective_start.is_not(None), RecordResource.effective_end.is_not(None)
    ),
    "encounter": lambda: RecordResource.encounter_id.is_not(None),
    "identifier": lambda: (
        select(RecordIdentifier.id)
        .where(RecordIdentifier.resource_id == RecordResource.id)
        .exists()
    ),
}


def _conditions(resource_type: str, q: RecordQuery, *, anyone: bool = False) -> list[Any]:
    """The WHERE of ``q``; a search of everyone refused naming ``patient`` unless
    ``anyone`` (``people_with``, which shows nobody itself)."""
    errors: list[FieldError] = []
    if resource_type not in RESOURCE_TYPES:
        errors.append(
            FieldError(
                "resourceType",
                N_("The shared record keeps %(types)s; not %(type)s."),
                {"types": ", ".join(RESOURCE_TYPES), "type": resource_type},
            )
        )
    if (
        not anyone
        and q.person_id is None
        and not q.person_ids
        and not q.ids
        and not q.identifiers
        and not q.encounter_ids
    ):
        errors.append(
            FieldError(
                "patient",
                N_("Name the patient (or the resources' ids or identifiers) to search."),
            )
        )
    for name, items in (
        ("date", [*q.date, *(v for group in q.date_any for v in group)]),
        ("_lastUpdated", [*q.last_updated, *(v for group in q.last_updated_any for v in group)]),
    ):
        for prefix, lower, upper in items:
            if prefix not in _PREFIXES:
                errors.append(
                    FieldError(name, N_("Unknown prefix %(prefix)s."), {"prefix": prefix})
                )
            elif lower.tzinfo is None or upper.tzinfo is None:
                errors.append(FieldError(name, N_("A time needs a zone: Z or +hh:mm")))
    for name in sorted(set(q.missing) - set(_MISSING)):
        errors.append(FieldError(f"{name}:missing", N_("Not a parameter that can be missing.")))
    for name, tokens in (
        ("identifier", q.identifiers),
        ("code", q.codes),
        ("category", q.categories),
        ("status", [(None, v) for v in q.statuses]),
        ("code:not", q.not_codes),
        ("category:not", q.not_categories),
        ("status:not", [(None, v) for v in q.not_statuses]),
    ):
        if any(unstorable(t or "") for pair in tokens for t in pair):
            errors.append(FieldError(name, N_("Contains a character that cannot be stored.")))
    if q.offset < 0:
        errors.append(FieldError("_offset", N_("Give a whole number, 0 or more.")))
    if q.limit < 0:
        errors.append(FieldError("_count", N_("Give a whole number, 0 or more.")))
    for key, _desc in q.sort:
        if key not in ("date", "_lastUpdated", "_id"):
            errors.append(
                FieldError("_sort", N_("Sorting by %(key)s is not supported."), {"key": key})
            )
    if errors:
        raise Invalid.fields(errors)
    cond: list[Any] = [RecordResource.resource_type == resource_type]
    if q.person_id is not None:
        cond.append(RecordResource.person_id == q.person_id)
    if q.person_ids:
        cond.append(RecordResource.person_id.in_(sorted(set(q.person_ids))))
    if q.ids:
        cond.append(RecordResource.id.in_(sorted(set(q.ids))))
    if q.identifiers:
        cond.append(_identifier_exists(q.identifiers))
    if q.codes:
        cond.append(_token_exists("code", q.codes))
    if q.categories:
        cond.append(_token_exists("category", q.categories))
    if q.statuses:
        cond.append(RecordResource.status.in_(sorted(set(q.statuses))))
    if q.encounter_id is not None:
        cond.append(RecordResource.encounter_id == q.encounter_id)
    if q.encounter_ids:
        cond.append(RecordResource.encounter_id.in_(sorted(set(q.encounter_ids))))
    for name, missing in sorted(q.missing.items()):
        has = _MISSING[name]()
        cond.append(not_(has) if missing else has)
    if q.not_codes:
        cond.append(not_(_token_exists("code", q.not_codes)))
    if q.not_categories:
        cond.append(not_(_token_exists("category", q.not_categories)))
    if q.not_statuses:
        cond.append(
            or_(
                RecordResource.status.is_(None),
                RecordResource.status.not_in(sorted(set(q.not_statuses))),
            )
        )
    for prefix, lower, upper in q.date:
        cond.append(_period_condition(prefix, lower, upper))
    for prefix, lower, upper in q.last_updated:
        cond.append(_instant_condition(prefix, lower, upper))
    for group in q.date_any:
        cond.append(or_(*(_period_condition(*v) for v in group)))
    for group in q.last_updated_any:
        cond.append(or_(*(_instant_condition(*v) for v in group)))
    return cond


def _order(q: RecordQuery) -> list[Any]:
    out: list[Any] = []
    for key, desc in q.sort:
        col: Any = {
            "date": RecordResource.effective_start,
            "_lastUpdated": RecordResource.last_updated,
            "_id": RecordResource.id,
        }[key]
        out.append(col.desc().nulls_last() if desc else col.asc().nulls_last())
    out.append(RecordResource.id.desc() if q.sort and q.sort[-1][1] else RecordResource.id)
    return out


async def search_resources(
    session: AsyncSession, principal: Principal, resource_type: str, q: RecordQuery
) -> RecordPage:
    """One page of ``resource_type`` matching ``q`` (every given criterion; the items of
    a list are alternatives) and the total. Only people in the caller's scope: the
    others are left out, their refusal audited; each person shown is audited once.
    Sorted by ``q.sort``, then by id (the default: ascending id)."""
    possible = [i for i in q.ids if 0 < i < 2**63]
    encounters = [i for i in q.encounter_ids if 0 < i < 2**63]
    persons = [i for i in q.person_ids if 0 < i < 2**63]
    if (
        (q.ids and not possible)
        or (q.encounter_ids and not encounters)
        or (q.person_ids and not persons)
        or not all(0 < i < 2**63 for i in (q.person_id or 1, q.encounter_id or 1))
    ):
        # only ids no row can have (the database would refuse to compare with them)
        _conditions(resource_type, q)
        await audit.record_listing(session, principal, [], resource_type=resource_type)
        return RecordPage(items=[], total=0)
    cond = _conditions(
        resource_type,
        q.model_copy(update={"ids": possible, "encounter_ids": encounters, "person_ids": persons}),
    )
    if q.person_id is not None:
        people = [q.person_id]
    else:
        people = list(
            await session.scalars(
                select(RecordResource.person_id)
                .where(*cond)
                .distinct()
                .order_by(RecordResource.person_id)
                .limit(MAX_PEOPLE)
            )
        )
    allowed, out_of_scope = await people_in_scope(session, principal, people)
    # besides the people in scope: what the caller's facility sent, and only that
    sent = (
        RecordResource.sender_facility_id == principal.facility_id
        if principal.facility_id is not None
        else None
    )
    if out_of_scope:
        withheld = select(RecordResource.person_id).where(
            *cond, RecordResource.person_id.in_(out_of_scope)
        )
        if sent is not None:
            withheld = withheld.where(
                or_(
                    RecordResource.sender_facility_id.is_(None),
                    RecordResource.sender_facility_id != principal.facility_id,
                )
            )
        left_out = await session.scalars(withheld.distinct().order_by(RecordResource.person_id))
        await audit_withheld(session, principal, ((pid, resource_type) for pid in left_out))
    if not allowed and sent is None:
        await audit.record_listing(session, principal, [], resource_type=resource_type)
        return RecordPage(items=[], total=0)
    if allowed and sent is not None:
        cond.append(or_(RecordResource.person_id.in_(sorted(allowed)), sent))
    elif allowed:
        cond.append(RecordResource.person_id.in_(sorted(allowed)))
    else:
        cond.append(sent)
    total = int(
        await session.scalar(select(func.count()).select_from(RecordResource).where(*cond)) or 0
    )
    rows: list[RecordResource] = []
    if q.limit and total > q.offset:
        rows = list(
            await session.scalars(
                select(RecordResource).where(*cond).order_by(*_order(q)).offset(q.offset)
                .limit(q.limit)
            )
        )  # fmt: skip
        shown = list(dict.fromkeys(r.person_id for r in rows))
    elif total:
        shown = list(
            await session.scalars(
                select(RecordResource.person_id).where(*cond).distinct()
                .order_by(RecordResource.person_id)
            )
        )  # fmt: skip
    else:
        shown = []
    await audit.record_listing(
        session,
        principal,
        [
            audit.Access(pid, allowed[pid].reason, allowed[pid].break_glass_grant)
            if pid in allowed
            else audit.Access(pid, SENDER_REASON, None)
            for pid in shown
        ],
        resource_type=resource_type,
    )
    return RecordPage(items=[stored(r) for r in rows], total=total)


async def people_with(
    session: AsyncSession,
    resource_type: str,
    q: RecordQuery,
    *,
    limit: int = MAX_PEOPLE,
) -> list[int]:
    """The persons who have a ``resource_type`` matching ``q`` (a Patient search's
    ``_has``), ascending, at most ``limit`` + 1 (one more tells the caller there are more).
    One statement; only ids, none of the matches, so not audited: the caller shows no
    person it has not checked the scope of (the registry's search does)."""
    persons = [i for i in q.person_ids if 0 < i < 2**63]
    if q.person_ids and not persons:
        return []
    cond = _conditions(resource_type, q.model_copy(update={"person_ids": persons}), anyone=True)
    found = await session.scalars(
        select(RecordResource.person_id)
        .where(*cond)
        .distinct()
        .order_by(RecordResource.person_id)
        .limit(limit + 1)
    )
    return list(found)


async def sent_for(session: AsyncSession, principal: Principal, person_id: int) -> bool:
    """Whether the caller's facility sent any resource of the record for ``person_id``:
    the sender's right (``scope``) lets it find those again, so a search by that person
    answers them even where the person is out of the caller's scope. A yes or no about
    the caller's own sending, one statement, no resource read: not audited."""
    if principal.facility_id is None or not 0 < person_id < 2**63:
        return False
    found = await session.scalar(
        select(RecordResource.id)
        .where(
            RecordResource.person_id == person_id,
            RecordResource.sender_facility_id == principal.facility_id,
        )
        .limit(1)
    )
    return found is not None
