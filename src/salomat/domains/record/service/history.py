"""The versions of many resources at once: FHIR's type-level and system-level
``_history`` over the record's types, newest first, optionally since an instant.

Scope and audit are those of a read: a version is shown when its resource's person is
in the caller's scope or the caller's facility sent the resource (``scope``); each
resource shown is audited as a read of it (with its reason and break-the-glass grant),
and each person left out is audited as a refusal. The versions are found with one query
(and one count), whatever the page holds; the people's scope is asked once per person,
as a search does. A window holding versions of more than ``MAX_PEOPLE`` people the
caller did not send is refused (422, naming ``_since``) rather than cut silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import Scope
from salomat.core.security import Principal
from salomat.domains.record.models import RecordResource, RecordVersion
from salomat.domains.record.schemas import RecordPage
from salomat.domains.record.service.common import RESOURCE_TYPES, stored
from salomat.domains.record.service.reads import audit_read, row_or_404, scope_or_404
from salomat.domains.record.service.scope import REASON as SENDER_REASON
from salomat.domains.record.service.scope import audit_withheld, people_in_scope

__all__ = ["history_of_types", "resource_history_since"]

#: the most people (besides those whose resources the caller sent) one history asks
#: the scope of
MAX_PEOPLE = 1000


async def history_of_types(
    session: AsyncSession,
    principal: Principal,
    resource_types: Sequence[str],
    *,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> RecordPage:
    """One page of the versions of ``resource_types`` (changed at or after ``since``)
    the caller may read, newest first, and how many there are."""
    errors = [
        FieldError(
            "resourceType",
            N_("The shared record keeps %(types)s; not %(type)s."),
            {"types": ", ".join(RESOURCE_TYPES), "type": t},
        )
        for t in resource_types
        if t not in RESOURCE_TYPES
    ]
    if since is not None and since.tzinfo is None:
        errors.append(FieldError("_since", N_("A time needs a zone: Z or +hh:mm")))
    if errors:
        raise Invalid.fields(errors)
    window = [RecordResource.resource_type.in_(list(resource_types))]
    #: what an empty history is audited as
    listing = resource_types[0] if len(resource_types) == 1 else "Bundle"
    if since is not None:
        window.append(RecordVersion.changed_at >= since)
    facility = principal.facility_id
    sent = RecordResource.sender_facility_id == facility if facility is not None else None
    others = select(RecordResource.person_id).join(
        RecordVersion, RecordVersion.resource_id == RecordResource.id
    )
    others = others.where(*window)
    if sent is not None:
        by = RecordResource.sender_facility_id
        others = others.where(or_(by.is_(None), by != facility))
    people = list(
        await session.scalars(
            others.distinct().order_by(RecordResource.person_id).limit(MAX_PEOPLE + 1)
        )
    )
    if len(people) > MAX_PEOPLE:
        raise Invalid.fields(
            [
                FieldError(
                    "_since",
                    N_(
                        "The history since then holds the records of more than %(max)s "
                        "people; give a later _since."
                    ),
                    {"max": MAX_PEOPLE},
                )
            ]
        )
    allowed, refused = await people_in_scope(session, principal, people)
    if refused:
        # each person left out, once per type of hers in the window (as a search does)
        withheld = others.where(RecordResource.person_id.in_(refused)).with_only_columns(
            RecordResource.person_id, RecordResource.resource_type
        )
        pairs = await session.execute(
            withheld.distinct().order_by(RecordResource.person_id, RecordResource.resource_type)
        )
        await audit_withheld(session, principal, ((pid, rtype) for pid, rtype in pairs))
    visible = [c for c in (RecordResource.person_id.in_(sorted(allowed)) if allowed else None, sent)
               if c is not None]  # fmt: skip
    if not visible:
        await audit.record_listing(session, principal, [], action="read", resource_type=listing)
        return RecordPage(items=[], total=0)
    cond = and_(*window, or_(*visible))
    base = select(RecordResource, RecordVersion).join(
        RecordVersion, RecordVersion.resource_id == RecordResource.id
    )
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(RecordVersion)
            .join(RecordResource, RecordVersion.resource_id == RecordResource.id)
            .where(cond)
        )
        or 0
    )
    rows = []
    if limit > 0 and total > offset:
        rows = list(
            await session.execute(
                base.where(cond)
                .order_by(
                    RecordVersion.changed_at.desc(),
                    RecordVersion.resource_id.desc(),
                    RecordVersion.version.desc(),
                )
                .offset(offset)
                .limit(limit)
            )
        )
    shown: dict[int, RecordResource] = {}
    for row, _ in rows:
        shown.setdefault(row.id, row)
    if not shown:
        await audit.record_listing(session, principal, [], action="read", resource_type=listing)
    for row in shown.values():
        scope = allowed.get(row.person_id)
        if (
            row.sender_facility_id is not None
            and row.sender_facility_id == facility
            and (scope is None or scope.break_glass_grant is not None)
        ):
            scope = Scope(SENDER_REASON)
        if scope is None:  # the query admits none such
            continue
        await audit_read(session, principal, row, scope)
    return RecordPage(
        items=[
            stored(row, body=v.body, version=v.version, last_updated=v.changed_at,
                   sender=v.changed_by)
            for row, v in rows
        ],
        total=total,
    )  # fmt: skip


async def resource_history_since(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    fhir_id: str,
    *,
    since: datetime,
    offset: int = 0,
    limit: int = 50,
) -> RecordPage:
    """One page of one resource's versions stored at or after ``since``, newest first,
    and how many there are: the instance ``_history`` with ``_since``. Seen and audited
    as a read of the resource (else 404, the refusal audited)."""
    if since.tzinfo is None:
        raise Invalid.fields([FieldError("_since", N_("A time needs a zone: Z or +hh:mm"))])
    row = await row_or_404(session, resource_type, fhir_id)
    scope = await scope_or_404(session, principal, resource_type, row)
    await audit_read(session, principal, row, scope)
    cond = and_(RecordVersion.resource_id == row.id, RecordVersion.changed_at >= since)
    total = int(
        await session.scalar(select(func.count()).select_from(RecordVersion).where(cond)) or 0
    )
    versions = []
    if limit > 0 and total > offset:
        versions = list(
            await session.scalars(
                select(RecordVersion)
                .where(cond)
                .order_by(RecordVersion.version.desc())
                .offset(offset)
                .limit(limit)
            )
        )
    return RecordPage(
        items=[
            stored(row, body=v.body, version=v.version, last_updated=v.changed_at,
                   sender=v.changed_by)
            for v in versions
        ],
        total=total,
    )  # fmt: skip
