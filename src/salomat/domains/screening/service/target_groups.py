"""Target groups computed set-wise in SQL: who a programme invites, for one facility or
every facility of a district or region, on a day.

A person is in the target group on day D when she is attached to the facility (living,
not merged: the registry's ``attached_ids_query``), her age in whole years on D is within
the programme's bounds (both included) and her sex matches, and she is not under dynamic
observation (an open DMP enrolment on D) for a condition the programme excludes. She is
*due* when she was never screened for the programme or her last screening (on or before
D) was at least the interval ago (last + interval <= D). *Screened* counts the people of
the group with a screening in the interval that was not opportunistic: coverage's
numerator. One statement per chunk of facilities.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.core.suppression import is_small
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, ScreeningVisit
from salomat.domains.screening.schemas import TargetGroupCount
from salomat.domains.screening.service import common
from salomat.domains.screening.service.rules import Programme

__all__ = [
    "Due",
    "birth_bounds",
    "due_among",
    "interval_cutoff",
    "raw_target_group_counts",
    "target_group_counts",
]

#: facilities per statement (a region has a few hundred)
FACILITY_CHUNK = 100


def interval_cutoff(day: date, years: int) -> date:
    """The latest last-screening day that is due again on ``day``: ``last + years <= day``
    (a leap day's anniversary falls on 1 March, ``rules.add_years``)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def birth_bounds(p: Programme, day: date) -> tuple[date | None, date | None]:
    """(born_from, born_to), inclusive, for ages ``min_age..max_age`` on ``day``."""
    born_to = interval_cutoff(day, p.min_age) if p.min_age is not None else None
    born_from = (
        interval_cutoff(day, p.max_age + 1) + timedelta(days=1) if p.max_age is not None else None
    )
    return born_from, born_to


def _under_observation(p: Programme, day: date) -> Any:
    """The people with an open enrolment on ``day`` in a DMP the programme excludes."""
    return select(DmpEnrolment.person_id).where(
        DmpEnrolment.programme.in_(p.excluded_by_dmp),
        DmpEnrolment.enrolled_on <= day,
        or_(DmpEnrolment.ended_on.is_(None), DmpEnrolment.ended_on > day),
    )


def _screened_since(p: Programme, cutoff: date, day: date, *, counted_only: bool = False) -> Any:
    """The people screened for the programme after ``cutoff`` and on or before ``day``
    (``counted_only``: not opportunistically): the last screening is within the interval
    exactly when one is."""
    q = select(ScreeningVisit.person_id).where(
        ScreeningVisit.programme == p.code,
        ScreeningVisit.performed_on > cutoff,
        ScreeningVisit.performed_on <= day,
    )
    if counted_only:
        q = q.where(ScreeningVisit.opportunistic.is_(False))
    return q


def _attached(facility_ids: list[int], p: Programme, day: date) -> Any:
    born_from, born_to = birth_bounds(p, day)
    sex = None if p.sex == "any" else p.sex
    parts = [
        registry.attached_ids_query(fid, sex=sex, born_from=born_from, born_to=born_to).add_columns(
            literal(fid).label("facility_id")
        )
        for fid in facility_ids
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("attached")


async def _count(
    session: AsyncSession, facility_ids: list[int], p: Programme, day: date
) -> tuple[int, int, int]:
    """(eligible, due, screened) of the facilities: the attached people of the ages and
    sex, each asked whether a screening falls within the interval (``EXISTS`` on the
    person's screenings, an index probe; two outer joins to per-person last screenings
    made PostgreSQL estimate millions of rows and compile the statement, and ``IN`` sets
    were hashed again by every parallel worker)."""
    assert p.interval_years is not None
    cutoff = interval_cutoff(day, p.interval_years)
    people = _attached(facility_ids, p, day)
    pid = people.c[0]
    due = ~_screened_since(p, cutoff, day).where(ScreeningVisit.person_id == pid).exists()
    screened = (
        _screened_since(p, cutoff, day, counted_only=True)
        .where(ScreeningVisit.person_id == pid)
        .exists()
    )
    q = select(
        func.count(),
        func.coalesce(func.sum(case((due, 1), else_=0)), 0),
        func.coalesce(func.sum(case((screened, 1), else_=0)), 0),
    ).select_from(people)
    if p.excluded_by_dmp:
        q = q.where(pid.not_in(_under_observation(p, day)))
    row = (await session.execute(q)).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _facilities_in(session: AsyncSession, area: str) -> list[int]:
    settlements = set(await registry.settlement_ids_under(session, area))
    return sorted(
        f for f, s in (await registry.facility_settlements(session)).items() if s in settlements
    )


async def target_group_counts(
    session: AsyncSession,
    principal: Principal,
    day: date,
    *,
    area: str | None = None,
    programme: str | None = None,
) -> list[TargetGroupCount]:
    """Eligible, due and screened people per inviting programme: of the user's facility
    (``area`` None), or of every facility in a district or region (territory code).
    Counts only: no person is shown, no audit row.

    The user's own facility is answered in full (its staff see these people on the
    worklist anyway); a district or region is an aggregate, and its counts of 1 to 4 are
    withheld (``core.suppression``). One answer publishes no total of its rows (the
    programmes' groups overlap), but a row's counts are tied (eligible: the due, the
    screened and the few screened opportunistically), so beside a small count the row's
    other non-zero counts are withheld too ("x": eligible less due would give the
    screened)."""
    counts = await raw_target_group_counts(session, principal, day, area=area, programme=programme)
    if area is None:
        return counts
    return [masked_target_group(c) for c in counts]


def masked_target_group(c: TargetGroupCount) -> TargetGroupCount:
    """The row as an aggregate publishes it: its counts of 1 to 4 ``small``, and with any
    of them every other non-zero count of the row withheld (``suppressed``)."""
    keys = ("eligible", "due", "screened")
    small = [k for k in keys if is_small(getattr(c, k))]
    if not small:
        return c
    withheld = [k for k in keys if getattr(c, k)]
    return c.model_copy(update={**dict.fromkeys(withheld), "suppressed": withheld, "small": small})


async def raw_target_group_counts(
    session: AsyncSession,
    principal: Principal,
    day: date,
    *,
    area: str | None = None,
    programme: str | None = None,
) -> list[TargetGroupCount]:
    """``target_group_counts`` before any count is withheld: for the services that
    protect a table of areas as a whole (``coverage``), never published as is."""
    common.report_day(day)
    r = common.rules()
    edition = r.edition(day)
    if area is None:
        fid = common.facility_of(principal)
        facilities = [fid]
        area_code = principal.facility_code or str(fid)
    else:
        facilities = await _facilities_in(session, area)
        area_code = area
    if programme is not None:
        programmes = [r.programme(programme, day)]
    else:
        programmes = [p for p in edition.programmes.values() if p.invites]
    out = []
    for p in programmes:
        if not p.invites:
            raise Invalid.fields(
                [
                    FieldError(
                        "programme",
                        N_("%(value)s has no target group in this country's pack"),
                        {"value": p.code},
                    )
                ]
            )
        eligible = due = screened = 0
        for i in range(0, len(facilities), FACILITY_CHUNK):
            e, d, s = await _count(session, facilities[i : i + FACILITY_CHUNK], p, day)
            eligible, due, screened = eligible + e, due + d, screened + s
        out.append(
            TargetGroupCount(
                programme=p.code,
                name=p.name(_language()),
                on=day,
                area=area_code,
                eligible=eligible,
                due=due,
                screened=screened,
            )
        )
    return out


def _language() -> str:
    return i18n.current_language()


@dataclass(frozen=True)
class Due:
    person_id: int
    last_on: date | None
    due_on: date | None


async def due_among(
    session: AsyncSession, person_ids: Iterable[int], p: Programme, day: date
) -> dict[int, Due]:
    """Of ``person_ids`` (already of the right age, sex and facility: a page of the
    registry's attached people), those due for the programme on ``day`` and not excluded
    by a DMP enrolment: one statement (their last screenings and exclusions, as rows of
    one ``UNION ALL`` grouped by person)."""
    ids = sorted(set(person_ids))
    if not ids or p.interval_years is None:
        return {}
    cutoff = interval_cutoff(day, p.interval_years)
    parts = [
        select(
            ScreeningVisit.person_id.label("person_id"),
            ScreeningVisit.performed_on.label("last_on"),
            literal(0).label("excluded"),
        ).where(
            ScreeningVisit.programme == p.code,
            ScreeningVisit.person_id.in_(ids),
            ScreeningVisit.performed_on <= day,
        )
    ]
    if p.excluded_by_dmp:
        parts.append(
            select(DmpEnrolment.person_id, null(), literal(1)).where(
                DmpEnrolment.person_id.in_(ids),
                DmpEnrolment.programme.in_(p.excluded_by_dmp),
                DmpEnrolment.enrolled_on <= day,
                or_(DmpEnrolment.ended_on.is_(None), DmpEnrolment.ended_on > day),
            )
        )
    facts = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    known = {
        pid: (last_on, excluded)
        for pid, last_on, excluded in await session.execute(
            select(
                facts.c.person_id, func.max(facts.c.last_on), func.max(facts.c.excluded)
            ).group_by(facts.c.person_id)
        )
    }
    out = {}
    for pid in ids:
        last_on, excluded = known.get(pid, (None, 0))
        if excluded:
            continue
        if last_on is None or last_on <= cutoff:
            out[pid] = Due(pid, last_on, p.due_on(last_on))
    return out
