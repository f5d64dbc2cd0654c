"""Who is due a revaccination (issue 23, item 6; docs/epidemic.md, "Revaccination"): the
worklist of a facility's people per section, and the citizen's own notice.

Due on a day: primary series completed at least the pack's interval before it
(``revaccination_sql`` defines it) and no revaccination dose by then. The worklist is one
statement (the people attached to the user's facility joined to one row per person of
``per_person_query``); every person listed is an audited read with the registry's scope
reason, as the immunization worklist does.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Forbidden, Invalid
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.epidemic.service.revaccination import months_before
from salomat.domains.epidemic.service.revaccination_sql import (
    definition,
    parse_on,
    per_person_query,
)
from salomat.domains.registry.service.mpi_queries import (
    canonical_person_ids,
    living_people_query,
)

__all__ = [
    "RevaccinationDue",
    "RevaccinationWorklist",
    "WorklistRow",
    "due_for_person",
    "my_revaccination_due",
    "revaccination_worklist",
    "worklist_csv",
]

#: why a nurse of the facility may see the person (the registry's scope rule)
SCOPE_REASON = "attached to the user's facility"
#: the worklist's longest answer (a section has a few thousand people)
WORKLIST_LIMIT = 5000


class WorklistRow(BaseModel):
    person_id: int
    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: date
    phone: str | None
    address: str | None
    section_code: str | None
    section_name: str | None
    primary_completed_on: date
    due_since: date


class RevaccinationWorklist(BaseModel):
    facility_code: str | None
    section: str | None
    on: date
    vaccine: str
    interval_months: int
    rows: list[WorklistRow]
    #: more people are due than the list shows (narrow it by section)
    truncated: bool = False


def _add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, clamped to the month's last day (31 August + 6 months
    is 28 February), as the immunization registry adds an interval (``add_age``)."""
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    m += 1
    return date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def first_due_day(completed: date, interval_months: int) -> date:
    """The first day on which the eligibility rule (``completed <= months_before(day,
    interval_months)``) holds: the completion plus the interval, clamped to the month's end
    (``months_before`` is its inverse, so the rule first holds on that day; the loop only
    guards the inverse)."""
    due = _add_months(completed, interval_months)
    while months_before(due, interval_months) < completed:
        due += timedelta(days=1)
    return due


async def revaccination_worklist(
    session: AsyncSession,
    principal: Principal,
    *,
    section: str | None = None,
    on: str | date | None = None,
    today: date | None = None,
) -> RevaccinationWorklist:
    """The people attached to the user's facility (of one section: its code; ``-``: no
    section) due a revaccination on ``on``, longest due first. Each person listed is an
    audited read."""
    if principal.facility_id is None:
        raise Forbidden(N_("The worklist is a facility's; your account has none."))
    section_code = (section or "").strip() or None
    if section_code is not None and len(section_code) > 16:
        raise Invalid.fields([FieldError("section", N_("is longer than 16 characters"))])
    d = definition()
    day = parse_on(on, today)
    cutoff = months_before(day, d.interval_months)
    per = per_person_query(d, day)
    people = living_people_query(day)
    q = (
        select(
            per.c.person_id,
            per.c.done,
            people.c.family_name,
            people.c.given_name,
            people.c.patronymic,
            people.c.birth_date,
            people.c.phone,
            people.c.address,
            people.c.section_code,
            people.c.section_name,
        )
        .join(people, people.c.person_id == per.c.person_id)
        .where(
            people.c.facility_id == principal.facility_id,
            per.c.rev.is_(None),
            per.c.done <= cutoff,
        )
        .order_by(per.c.done, per.c.person_id)
        .limit(WORKLIST_LIMIT + 1)
    )
    if section_code == "-":
        q = q.where(people.c.section_code.is_(None))
    elif section_code is not None:
        q = q.where(people.c.section_code == section_code)
    found = (await session.execute(q)).all()
    truncated = len(found) > WORKLIST_LIMIT
    rows = []
    for r in found[:WORKLIST_LIMIT]:
        completed = _as_date(r.done)
        rows.append(
            WorklistRow(
                person_id=int(r.person_id),
                family_name=r.family_name,
                given_name=r.given_name,
                patronymic=r.patronymic,
                birth_date=_as_date(r.birth_date),
                phone=r.phone,
                address=r.address,
                section_code=r.section_code,
                section_name=r.section_name,
                primary_completed_on=completed,
                due_since=first_due_day(completed, d.interval_months),
            )
        )
    await audit.record_listing(
        session,
        principal,
        [audit.Access(r.person_id, SCOPE_REASON) for r in rows],
        action="search",
        resource_type="Immunization",
    )
    return RevaccinationWorklist(
        facility_code=principal.facility_code,
        section=section,
        on=day,
        vaccine=d.name(),
        interval_months=d.interval_months,
        rows=rows,
        truncated=truncated,
    )


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


#: the worklist's CSV header (the page's download)
WORKLIST_HEADER = (
    N_("Name"),
    N_("Birth date"),
    N_("Phone"),
    N_("Address"),
    N_("Section"),
    N_("Primary series completed"),
    N_("Due since"),
)


_WORKLIST_COLUMNS = (
    "name",
    "birth_date",
    "phone",
    "address",
    "section",
    "primary_completed_on",
    "due_since",
)


def worklist_csv(w: RevaccinationWorklist, *, localized: bool = False) -> CsvFile:
    """The invitation list: one line per person (cells neutralised)."""
    rows = [
        [
            " ".join(x for x in (r.family_name, r.given_name, r.patronymic) if x),
            r.birth_date.isoformat(),
            r.phone or "",
            r.address or "",
            r.section_code or "",
            r.primary_completed_on.isoformat(),
            r.due_since.isoformat(),
        ]
        for r in w.rows
    ]
    header = [i18n.gettext(h) for h in WORKLIST_HEADER] if localized else list(_WORKLIST_COLUMNS)
    name = f"revaccination-due-{w.facility_code or 'facility'}-{w.on.isoformat()}.csv"
    return CsvFile(name, csv_text(header, rows))


# ---- the citizen's own notice -----------------------------------------------------------


class RevaccinationDue(BaseModel):
    vaccine: str
    primary_completed_on: date
    #: the first day the person is due (today or earlier when ``due_now``, else later)
    due_since: date
    #: due on the day asked; False: not yet, due from ``due_since``
    due_now: bool = True


async def due_for_person(
    session: AsyncSession, person_id: int, *, today: date | None = None
) -> RevaccinationDue | None:
    """Whether the person (their own record: the caller has checked it is theirs and
    audits the read) is due a revaccination today (``due_now``), or from which day when
    not yet; None when that is not known (no completed primary series) or already
    revaccinated."""
    d = definition()
    day = today or pack.today(get_settings().country)
    per = per_person_query(d, day)
    canon = canonical_person_ids()
    row = (
        await session.execute(
            select(per.c.done, per.c.rev)
            .join(canon, canon.c.canonical_id == per.c.person_id)
            .where(canon.c.person_id == person_id)
        )
    ).first()
    if row is None or row.rev is not None:
        return None
    completed = _as_date(row.done)
    return RevaccinationDue(
        vaccine=d.name(),
        primary_completed_on=completed,
        due_since=first_due_day(completed, d.interval_months),
        due_now=completed <= months_before(day, d.interval_months),
    )


async def my_revaccination_due(
    session: AsyncSession, principal: Principal, *, today: date | None = None
) -> RevaccinationDue | None:
    """The citizen's own notice: her own record only (the account's person), the read
    audited on it whatever it finds."""
    if principal.role != "citizen" or principal.person_id is None:
        raise Forbidden(N_("Only a citizen sees her own revaccination notice."))
    due = await due_for_person(session, principal.person_id, today=today)
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="Immunization",
        patient_id=principal.person_id,
        purpose="own record",
        detail="revaccination due" if due and due.due_now else "revaccination not due",
    )
    return due
