"""Audit rows as people read them: who (name and role), where (facility name, in the
language being spoken: ``i18n.current_language()``, else the registry's main name), when
(in the country's time zone). Shared by the auditor's listing and the citizen's list.

One statement reads a page of rows with the acting user's account joined (accounts'
own table); one more names the page's facilities through the registry (rule 8: no
join into another domain's tables). Never one read per row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.audit import AuditEvent, AuditQuery, where
from salomat.core.config import get_settings
from salomat.core.errors import FieldError
from salomat.core.i18n import N_
from salomat.country import pack
from salomat.domains.accounts.models import User
from salomat.domains.accounts.schemas import AuditRow
from salomat.domains.registry import service as registry

__all__ = ["local_zone", "parse_local_time"]


def local_zone() -> tzinfo:
    return pack.time_zone(get_settings().country)


BAD_TIME = N_("a date (2026-03-09) or a date and time (2026-03-09T14:30)")


def parse_local_time(
    text: str, field: str, errors: list[FieldError], *, end: bool = False
) -> datetime | None:
    """A time a person typed, in the country's zone unless it names an offset (UTC).

    A date alone is the start of that day, or for ``end`` the start of the next (so
    "to 2026-03-09" takes in the whole of the 9th); ``2026-03-09T14:30`` is that
    wall-clock minute in the country's zone. A wrong value adds to ``errors``.
    """
    value = text.strip()
    zone = local_zone()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(), zone).astimezone(UTC)
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        errors.append(FieldError(field, BAD_TIME))
        return None


async def read_rows(
    session: AsyncSession, q: AuditQuery, limit: int, *extra: Any
) -> list[AuditRow]:
    """Up to ``limit`` rows, newest first, with names and local times.

    Facility names are in the current language (set by the caller: a page or a CSV in
    the page's language), falling back to the facility's main name.
    """
    e = AuditEvent
    stmt = (
        select(e, User.full_name, User.employer_id)
        .outerjoin(User, User.id == e.user_id)
        .where(*where(q), *extra)
        .order_by(e.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    facilities = await registry.facility_names(
        session, {r[0].facility_id for r in rows if r[0].facility_id is not None}
    )
    zone = local_zone()
    lang = i18n.current_language()
    employers = await registry.employer_names(
        session, {r[2] for r in rows if r[2] is not None}, lang
    )
    out = []
    for event, full_name, employer_id in rows:
        fac = facilities.get(event.facility_id) if event.facility_id is not None else None
        out.append(
            AuditRow(
                id=event.id,
                occurred_at=event.occurred_at,
                occurred_at_local=event.occurred_at.astimezone(zone),
                user_id=event.user_id,
                username=event.username,
                full_name=full_name,
                role=event.role,
                facility_code=event.facility_code,
                facility_name=(fac.names.get(lang) or fac.name) if fac else None,
                employer_name=employers.get(employer_id) if employer_id is not None else None,
                action=event.action,
                resource_type=event.resource_type,
                resource_id=event.resource_id,
                patient_id=event.patient_id,
                purpose=event.purpose,
                outcome=event.outcome,
                break_glass=event.break_glass,
                client_address=event.client_address,
                request_id=event.request_id,
                detail=event.detail,
            )
        )
    return out
