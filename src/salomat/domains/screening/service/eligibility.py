"""Whether one person is in a programme's target group on a day, and when each of her
screenings is due (the per-person form of ``target_groups``' SQL, for the screening
form, the programme card and the citizen's "my screenings due")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.screening.models import DmpEnrolment, ScreeningVisit
from salomat.domains.screening.service.rules import Programme

__all__ = ["Eligibility", "eligibility", "last_screenings", "open_programmes"]


@dataclass(frozen=True)
class Eligibility:
    in_group: bool
    #: why not: age_or_sex | not_due | under_dmp | no_target_group | deceased
    reason: str | None
    last_on: date | None
    due_on: date | None


async def open_programmes(session: AsyncSession, person_id: int, day: date) -> set[str]:
    """The DMP programmes the person is enrolled in on ``day``."""
    rows = await session.scalars(
        select(DmpEnrolment.programme).where(
            DmpEnrolment.person_id == person_id,
            DmpEnrolment.enrolled_on <= day,
            or_(DmpEnrolment.ended_on.is_(None), DmpEnrolment.ended_on > day),
        )
    )
    return set(rows)


async def last_screenings(
    session: AsyncSession, person_id: int, before: date, *, exclude_visit: int | None = None
) -> dict[str, date]:
    """The last screening of each programme on or before ``before``."""
    q = (
        select(ScreeningVisit.programme, func.max(ScreeningVisit.performed_on))
        .where(ScreeningVisit.person_id == person_id, ScreeningVisit.performed_on <= before)
        .group_by(ScreeningVisit.programme)
    )
    if exclude_visit is not None:
        q = q.where(ScreeningVisit.id != exclude_visit)
    return {p: d for p, d in (await session.execute(q)).all()}


def eligibility(
    programme: Programme,
    *,
    sex: str,
    birth: date,
    deceased_on: date | None,
    day: date,
    last_on: date | None,
    under_dmp: set[str],
) -> Eligibility:
    """In the target group on ``day``: the programme invites, age (whole years) and sex in
    its bounds, alive, not under dynamic observation for an excluding condition, and due
    (never screened, or the interval since the last screening has passed)."""
    due = programme.due_on(last_on)
    if not programme.invites:
        return Eligibility(False, "no_target_group", last_on, due)
    if deceased_on is not None and deceased_on < day:
        return Eligibility(False, "deceased", last_on, due)
    if not programme.in_age_and_sex(sex, birth, day):
        return Eligibility(False, "age_or_sex", last_on, due)
    if under_dmp & set(programme.excluded_by_dmp):
        return Eligibility(False, "under_dmp", last_on, due)
    if due is not None and due > day:
        return Eligibility(False, "not_due", last_on, due)
    return Eligibility(True, None, last_on, due)
