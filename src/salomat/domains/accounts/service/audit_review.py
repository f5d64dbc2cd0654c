"""The auditor reads the audit trail: filtered, newest first, paged by id, exportable.

Paging is by keyset (``before``: rows with a lower id), so a page never shifts
when rows are written meanwhile and a deep page costs what the first does; no
total is counted (a count over a national trail would scan it). Every reading,
the export included, is itself an audit row (``AuditEvent``, "audit review"),
written after the rows are read so that it is not on the page it produced.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.audit import ACTIONS, AuditQuery, ChainHead
from salomat.core.config import get_settings
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import gettext
from salomat.core.params import MAX_INT
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.accounts.schemas import AuditFilter, AuditTrailPage
from salomat.domains.accounts.service import labels
from salomat.domains.accounts.service.audit_rows import (
    N_,
    local_zone,
    parse_local_time,
    read_rows,
)
from salomat.domains.registry import service as registry

__all__ = [
    "EXPORT_MAX_ROWS",
    "audit_chain_head",
    "audit_trail",
    "audit_trail_csv",
]

#: rows in one CSV export at most (narrow the filters for more)
EXPORT_MAX_ROWS = 10_000
_DIGITS = re.compile(r"^[0-9]{1,19}$")


async def _query(session: AsyncSession, f: AuditFilter, before: int | None) -> AuditQuery:
    errors: list[FieldError] = []
    since = parse_local_time(f.since, "from", errors) if f.since else None
    until = parse_local_time(f.until, "to", errors, end=True) if f.until else None
    if since and until and until <= since:
        errors.append(FieldError("to", N_("must be later than from")))
    if f.action and f.action not in ACTIONS:
        errors.append(FieldError("action", N_("not an audit action")))
    if f.outcome and f.outcome not in labels.OUTCOMES:
        errors.append(FieldError("outcome", N_("must be success or failure")))
    patient_id = None
    if f.person:
        patient_id = await _person(session, f.person, errors)
    if errors:
        raise Invalid.fields(errors)
    return AuditQuery(
        since=since,
        until=until,
        username=f.actor.lower() if f.actor else None,
        action=f.action or None,
        patient_id=patient_id,
        resource_type=f.resource_type or None,
        outcome=f.outcome or None,
        facility_code=f.facility or None,
        break_glass=f.break_glass,
        before_id=before,
    )


async def _person(session: AsyncSession, value: str, errors: list[FieldError]) -> int | None:
    """A national id (the pack's length and pattern) or a record id."""
    nid = pack.load(get_settings().country)["national_id"]
    if re.fullmatch(str(nid["pattern"]), value):
        found = await registry.person_id_by_national_id(session, value)
        if found is None:
            errors.append(
                FieldError("person", N_("no person has this %(id_name)s"), {"id_name": nid["name"]})
            )
        return found
    if _DIGITS.match(value) and int(value) <= MAX_INT:
        return int(value)
    errors.append(FieldError("person", N_("a national id or a record number")))
    return None


def _detail(f: AuditFilter, extra: str = "") -> str | None:
    text = " ".join(f"{k}={v}" for k, v in f.given().items())
    return (extra + text)[:500] or None


async def _record(
    session: AsyncSession, principal: Principal, q: AuditQuery, detail: str | None
) -> None:
    await audit.record(
        session,
        principal,
        action="search",
        resource_type="AuditEvent",
        patient_id=q.patient_id,
        purpose="audit review",
        detail=detail,
    )


async def audit_trail(
    session: AsyncSession,
    principal: Principal,
    f: AuditFilter,
    *,
    before: int | None = None,
    limit: int | None = None,
) -> AuditTrailPage:
    """One page of the filtered trail, newest first; the reading is audited."""
    size = limit or get_settings().default_page_size
    q = await _query(session, f, before)
    rows = await read_rows(session, q, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    await _record(session, principal, q, _detail(f, f"before={before} " if before else ""))
    return AuditTrailPage(
        items=rows,
        limit=size,
        before=before,
        next_before=rows[-1].id if more and rows else None,
        time_zone=str(local_zone()),
    )


_CSV_COLUMNS = (
    N_("Row"),
    N_("Time (local)"),
    N_("Time (UTC)"),
    N_("User"),
    N_("Full name"),
    N_("Role"),
    N_("Facility code"),
    N_("Facility"),
    N_("Action"),
    N_("Record type"),
    N_("Record number"),
    N_("Person"),
    N_("Reason"),
    N_("Outcome"),
    N_("Emergency access"),
    N_("Client address"),
    N_("Request"),
    N_("Detail"),
)


async def audit_trail_csv(session: AsyncSession, principal: Principal, f: AuditFilter) -> CsvFile:
    """The filtered rows as CSV, newest first, at most ``EXPORT_MAX_ROWS``; audited.

    Headers and labels in the current language (``core.i18n``: the page's language
    on the page, English on the API unless set).
    """
    q = await _query(session, f, None)
    rows = await read_rows(session, q, EXPORT_MAX_ROWS)
    await _record(session, principal, q, _detail(f, "export: "))
    body = [
        [
            r.id,
            r.occurred_at_local.strftime("%Y-%m-%d %H:%M:%S"),
            r.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            r.username or "",
            r.full_name or "",
            labels.role_label(r.role),
            r.facility_code or "",
            r.facility_name or r.employer_name or "",
            labels.action_label(r.action),
            labels.resource_label(r.resource_type, r.resource_id, r.action),
            r.resource_id or "",
            r.patient_id if r.patient_id is not None else "",
            labels.purpose_label(r.purpose),
            labels.outcome_label(r.outcome),
            gettext("yes") if r.break_glass else "",
            r.client_address or "",
            r.request_id or "",
            r.detail or "",
        ]
        for r in rows
    ]
    stamp = datetime.now(local_zone()).strftime("%Y%m%d-%H%M")
    return CsvFile(f"audit-trail-{stamp}.csv", csv_text([gettext(c) for c in _CSV_COLUMNS], body))


async def audit_chain_head(session: AsyncSession) -> ChainHead:
    """How far the hash chain is sealed (cheap); the full check is ``salomat audit verify``."""
    return await audit.chain_head(session)
