"""Vital-statistics measures read set-wise from the birth records (issue 20).

One grouped statement per period, keyed by the settlement stored on the pregnancy (where
the mother lived at registration, as the maternal dashboard counts). Counts only: not
audited per person (docs/statistics.md).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.maternal.models import Baby, BirthRecord, Pregnancy

__all__ = ["birth_outcomes"]


async def birth_outcomes(
    session: AsyncSession, start: date, end: date, min_ga_days: int
) -> dict[tuple[int | None, str | None, str], int]:
    """Babies born in [start, end] at ``min_ga_days`` of gestation or more, by
    (settlement, sex, outcome ``live`` | ``stillbirth``)."""
    query = (
        select(Pregnancy.settlement_id, Baby.sex, Baby.outcome, func.count())
        .select_from(Baby)
        .join(BirthRecord, BirthRecord.id == Baby.birth_id)
        .join(Pregnancy, Pregnancy.id == BirthRecord.pregnancy_id)
        .where(
            BirthRecord.born_on >= start,
            BirthRecord.born_on <= end,
            BirthRecord.ga_days >= min_ga_days,
        )
        .group_by(Pregnancy.settlement_id, Baby.sex, Baby.outcome)
    )
    return {(sid, sex, outcome): int(n) for sid, sex, outcome, n in await session.execute(query)}
