"""The family doctor's view of a person's shared record: every resource, newest first,
with who sent it (the sending facility named in the reader's language).

It reads the columns the writes filled (``display``), never a body: a person's
documents may hold megabytes of attachments each."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.errors import N_, NotFound
from salomat.core.policy import Scope, person_scope
from salomat.core.security import Principal
from salomat.domains.record.models import RecordResource
from salomat.domains.record.schemas import TimelineEntry
from salomat.domains.record.service.common import fhir_id
from salomat.domains.record.service.scope import REASON as SENDER_REASON
from salomat.domains.registry import service as registry

__all__ = ["timeline"]


async def timeline(
    session: AsyncSession, principal: Principal, person_id: int, *, limit: int = 200
) -> list[TimelineEntry]:
    """The newest ``limit`` entries (by clinical time, else last update), audited once as
    a read of the person's record under the reader's scope (404 when out of scope). A
    facility that sent resources for a person out of its scope sees those alone."""
    r = RecordResource
    scope = await person_scope(session, principal, person_id)
    if scope is None and principal.facility_id is not None:
        # a facility that sent her something sees what it sent, nothing more
        has_sent = await session.scalar(
            select(r.id)
            .where(r.person_id == person_id, r.sender_facility_id == principal.facility_id)
            .limit(1)
        )
        if has_sent is not None:
            scope = Scope(SENDER_REASON)
    if scope is None:
        await audit.denied(
            session,
            principal,
            resource_type="Patient",
            resource_id=str(person_id),
            patient_id=person_id,
            detail="outside the user's scope",
        )
        raise NotFound(
            N_("%(type)s %(id)s not found."), params={"type": "Patient", "id": person_id}
        )
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="Patient",
        resource_id=str(person_id),
        patient_id=person_id,
        purpose=scope.reason,
        break_glass_grant=scope.break_glass_grant,
    )
    which = [r.person_id == person_id]
    if scope.reason == SENDER_REASON:
        which.append(r.sender_facility_id == principal.facility_id)
    rows = await session.execute(
        select(
            r.id,
            r.resource_type,
            r.status,
            r.code,
            r.code_system,
            r.code_text,
            r.category,
            r.effective_start,
            r.shown_end,
            r.last_updated,
            r.sender,
            r.source,
            r.encounter_id,
            r.value_text,
            r.attachment_title,
            registry.facility_code_of(r.sender_facility_id).label("fcode"),
            registry.facility_name_of(r.sender_facility_id).label("fname"),
            registry.facility_names_of(r.sender_facility_id).label("fnames"),
        )
        .where(*which)
        .order_by(r.effective_start.desc().nulls_last(), r.last_updated.desc(), r.id.desc())
        .limit(max(0, limit))
    )
    lang = i18n.current_language()
    out: list[TimelineEntry] = []
    for row in rows:
        fcode, fnames = row.fcode, row.fnames
        names = fnames if isinstance(fnames, dict) else json.loads(fnames) if fnames else {}
        out.append(
            TimelineEntry(
                fhir_id=fhir_id(row.id),
                resource_type=row.resource_type,
                status=row.status,
                code=row.code,
                code_system=row.code_system,
                text=row.code_text,
                category=row.category,
                start=row.effective_start,
                end=row.shown_end,
                last_updated=row.last_updated,
                sender=row.sender,
                sender_facility_code=fcode,
                sender_facility_name=(names.get(lang) or row.fname) if fcode else None,
                source=row.source,
                encounter_fhir_id=fhir_id(row.encounter_id) if row.encounter_id else None,
                value=row.value_text,
                attachment_title=row.attachment_title,
            )
        )
    return out
