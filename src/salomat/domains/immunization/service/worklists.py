"""The immunization worklist of a primary-care facility (nurse, family doctor).

Children (under 18 at the end of the week) attached to the user's facility,
optionally of one family-doctor section, with at least one dose ``due`` or
``overdue`` by the schedule engine as of the last day of the week: a dose
whose due date falls in or before the week, not given, not exempted (a
refusal or contraindication in force) and still within its catch-up age.
Each row names the doses (antigen, dose, due date, status); the CSV is the
invitation list (name, birth date, phone, address, what is due).

Attached children are read page by page from the registry (never a whole
country), their doses and exemptions one query per page. Every child listed
is audited as shown, with why the user may see them (attached to the user's
facility: the registry's scope rule).

Doses count in order (``counting``): the dose a child is due is the next
place of the series after the valid doses given, whatever numbers were
recorded on them, and a late starter's series follows its catch-up plan (a
PCV begun at 14 months asks for one more dose 8 weeks later, not two).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.db import dialect_name
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import FieldError, Forbidden, Invalid
from salomat.core.i18n import N_
from salomat.core.security import Principal
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.schemas import (
    ImmunizationWorklist,
    ImmunizationWorklistRow,
    WorklistDose,
)
from salomat.domains.immunization.service import schedule
from salomat.domains.immunization.service.labels import Labels
from salomat.domains.registry import service as registry

__all__ = ["immunization_worklist", "parse_week", "worklist_csv"]

#: children: under this age (years) at the end of the week
CHILD_UNDER_YEARS = 18
#: children per page: one statement each for the people, their doses and exemptions
PAGE = 2000
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
#: why a nurse of the facility may see the child (the registry's scope rule)
SCOPE_REASON = "attached to the user's facility"


def parse_week(value: str | None, today: date | None = None) -> date:
    """The Monday of a week given as ``2026-W48`` or any of its days (``2026-11-25``)."""
    day = today or date.today()
    raw = (value or "").strip()
    if raw:
        try:
            m = _ISO_WEEK.match(raw)
            day = date.fromisocalendar(int(m[1]), int(m[2]), 1) if m else date.fromisoformat(raw)
        except ValueError:
            raise Invalid.fields(
                [FieldError("week", f"{raw!r} is not a week (2026-W48) or a date (YYYY-MM-DD)")]
            ) from None
    return day - timedelta(days=day.weekday())


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


#: between two doses in a child's aggregated string (no calendar antigen code holds it)
_SEP = "\x1e"


async def _records(
    session: AsyncSession, facility_id: int, born_from: date, born_to: date, antigens: list[str]
) -> tuple[dict[int, list[tuple[str, date]]], dict[int, list[Any]]]:
    """The doses and exemptions of the facility's children, one statement each.

    The children are the registry's (``attached_ids_query``, the people
    ``attached_people`` pages through) joined in SQL: no id list is sent. The doses
    the engine counts (``antigens``: the calendar's; entered in error left out)
    come as one row per child, ``<given_on><antigen>`` joined by ``_SEP``: a
    twentieth of the rows a row per dose would make the driver and SQLAlchemy turn
    into Python objects. They are ``(antigen, given_on)`` for
    ``DueOn.next_due_rows``, which counts them itself in date order: the recorded
    number and stored verdict are not read.
    """
    children = registry.attached_ids_query(facility_id, born_from=born_from, born_to=born_to)
    d = Dose.__table__.c
    if dialect_name(session) == "postgresql":
        day = func.to_char(d.given_on, "YYYY-MM-DD", type_=String)  # whatever the DateStyle
    else:
        day = type_coerce(d.given_on, String)  # SQLite stores a date as YYYY-MM-DD
    per_child = (
        select(d.person_id, func.aggregate_strings(day + d.antigen, _SEP))
        .where(
            d.person_id.in_(children),
            d.status != "entered_in_error",
            d.antigen.in_(antigens),
        )
        .group_by(d.person_id)
    )
    parse = date.fromisoformat
    doses: dict[int, list[tuple[str, date]]] = {
        person_id: [(x[10:], parse(x[:10])) for x in joined.split(_SEP)]
        for person_id, joined in await session.execute(per_child)
    }
    e = Exemption.__table__.c
    exemptions: dict[int, list[Any]] = defaultdict(list)
    for row in await session.execute(
        select(e.person_id, e.antigen, e.kind, e.starts_on, e.ends_on, e.withdrawn_on).where(
            e.person_id.in_(children)
        )
    ):
        exemptions[row.person_id].append(row)
    return doses, exemptions


async def immunization_worklist(
    session: AsyncSession,
    principal: Principal,
    *,
    section: str | None = None,
    week: str | None = None,
    today: date | None = None,
) -> ImmunizationWorklist:
    """The children of the user's facility due or overdue a dose in the week, oldest due first.

    ``section``: a section code of the facility (``""`` or None: all; ``"-"``:
    children with no section). ``week``: ``2026-W48`` or a day of it
    (default: this week).
    """
    if principal.facility_id is None:
        raise Forbidden(N_("The worklist is a facility's; your account has none."))
    start = parse_week(week, today)
    end = start + timedelta(days=6)
    section_code = (section or "").strip() or None
    if section_code is not None and len(section_code) > 16:
        raise Invalid.fields([FieldError("section", N_("is longer than 16 characters"))])
    if section_code == "-":
        section_code = ""
    born_from = _years_before(end, CHILD_UNDER_YEARS) + timedelta(days=1)
    due_on = schedule.DueOn(get_settings().country, end)
    children: list[Any] = []
    after = 0
    while True:
        page = await registry.attached_people(
            session,
            principal.facility_id,
            born_from=born_from,
            born_to=end,
            section_code=section_code,
            after_id=after,
            limit=PAGE,
        )
        if not page:
            break
        after = page[-1].id
        children.append(page)
    # the doses read after the children: a child attached (or merged into one) between
    # the two reads is on the list with the doses recorded by then, never with none
    doses, exemptions = await _records(
        session, principal.facility_id, born_from, end, due_on.antigens
    )
    no_doses: list[tuple[str, date]] = []
    no_exemptions: list[Any] = []
    rows: list[ImmunizationWorklistRow] = []
    for page in children:
        for p in page:
            due = due_on.next_due_rows(
                p.birth_date, p.sex, doses.get(p.id, no_doses), exemptions.get(p.id, no_exemptions)
            )
            if not due:
                continue
            rows.append(
                ImmunizationWorklistRow(
                    person_id=p.id,
                    family_name=p.family_name,
                    given_name=p.given_name,
                    patronymic=p.patronymic,
                    birth_date=p.birth_date,
                    sex=p.sex,
                    phone=p.phone,
                    address=p.address,
                    section_code=p.section_code,
                    section_name=p.section_name,
                    doses=[
                        WorklistDose(
                            antigen=d.antigen,
                            label=d.label,
                            dose_number=d.dose_number,
                            due_on=d.due_on,
                            overdue_on=d.overdue_on,
                            status=d.status,
                        )
                        for d in due
                    ],
                )
            )
        if len(page) < PAGE:
            break
    rows.sort(key=lambda r: (r.doses[0].due_on, r.birth_date, r.person_id))
    await audit.record_listing(
        session,
        principal,
        [audit.Access(r.person_id, SCOPE_REASON) for r in rows],
        action="search",
        resource_type="Immunization",
    )
    return ImmunizationWorklist(
        facility_code=principal.facility_code,
        section=section,
        week_start=start,
        week_end=end,
        rows=rows,
    )


def _what(row: ImmunizationWorklistRow) -> str:
    return "; ".join(
        f"{d.label} {d.dose_number} ({d.status}, due {d.due_on.isoformat()})" for d in row.doses
    )


def _what_in_language(row: Any, labels: Labels) -> str:
    words = {"due": i18n.gettext("due"), "overdue": i18n.gettext("overdue")}
    since = i18n.gettext("since")
    return "; ".join(
        f"{labels.series(d.antigen)} {d.dose_number} "
        f"({words.get(d.status, d.status)}, {since} {d.due_on.isoformat()})"
        for d in row.doses
    )


def worklist_csv(w: ImmunizationWorklist, *, localized: bool = False) -> CsvFile:
    """The invitation list: one line per child.

    ``localized``: the header and the vaccines in the current language (the page's
    download); without it the stable English column names and labels (the REST API's).
    """
    labels = Labels() if localized else None
    rows = [
        [
            " ".join(x for x in (r.family_name, r.given_name, r.patronymic) if x),
            r.birth_date.isoformat(),
            r.phone or "",
            r.address or "",
            r.section_code or "",
            _what_in_language(r, labels) if labels else _what(r),
        ]
        for r in w.rows
    ]
    name = f"immunization-invitations-{w.facility_code or 'facility'}-{w.week_start}.csv"
    header = ["name", "birth_date", "phone", "address", "section", "due"]
    if localized:
        header = [i18n.gettext(h) for h in WORKLIST_HEADER]
    return CsvFile(name, csv_text(header, rows))


#: the page's CSV header, in the order of the columns
WORKLIST_HEADER = (
    N_("Child"),
    N_("Birth date"),
    N_("Phone"),
    N_("Address"),
    N_("Section"),
    N_("Due"),
)
