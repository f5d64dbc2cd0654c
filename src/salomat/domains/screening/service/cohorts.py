"""The quarterly (or monthly) cohort outcomes of Simple / WHO HEARTS set-wise in SQL: the
patients registered in the cohort period, alive, by their latest blood pressure in the
follow-up (``hearts.cohort_followup``), per assigned facility.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.screening.service.control_counts import (
    _assignment,
    _facility_filter,
    _latest,
    _seen,
)
from salomat.domains.screening.service.hearts import (
    HEARTS_BP,
    BPTarget,
    CohortOutcome,
    CohortReport,
    Period,
    cohort_followup,
)

__all__ = ["cohort_counts", "cohort_of"]


def cohort_of(period: Period) -> Period:
    """The cohort whose follow-up ends with ``period``: the previous quarter, or the month
    two months before (Simple's monthly cohort: the two following months)."""
    index = period.start.year * 12 + period.start.month - 1
    if period.kind == "quarter":
        index -= 3
        return Period.quarter(index // 12, (index % 12) // 3 + 1)
    index -= 2
    return Period.month(index // 12, index % 12 + 1)


async def cohort_counts(
    session: AsyncSession,
    programme: str,
    cohort: Period,
    *,
    facility_ids: list[int] | None = None,
    target: BPTarget = HEARTS_BP,
) -> dict[int, CohortReport]:
    """Unmasked cohort outcomes per assigned facility (``hearts.cohort_outcome``)."""
    first, last = cohort_followup(cohort)
    patients = _assignment(programme, last)
    latest = _latest(("bp",), first, last)
    ok = and_(latest.c.systolic < target.systolic, latest.c.diastolic < target.diastolic)
    pid = patients.c.person_id
    outcome = case(
        (pid.not_in(_seen(("bp",), first, last, visits=False)), CohortOutcome.NO_VISIT.value),
        (pid.in_(select(latest.c.person_id).where(ok)), CohortOutcome.CONTROLLED.value),
        else_=CohortOutcome.UNCONTROLLED.value,
    ).label("outcome")
    q = (
        select(patients.c.facility_id, outcome, func.count().label("n"))
        .where(
            patients.c.registered_on >= cohort.start,
            patients.c.registered_on <= cohort.end,
            patients.c.dead == 0,
        )
        .group_by(patients.c.facility_id, outcome)
    )
    q = _facility_filter(q, patients.c.facility_id, facility_ids)
    out: dict[int, dict[str, int]] = defaultdict(lambda: {o.value: 0 for o in CohortOutcome})
    for fid, o, n in await session.execute(q):
        out[int(fid)][o] = int(n)
    return {fid: CohortReport(**counts) for fid, counts in out.items()}
