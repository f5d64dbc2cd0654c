"""What maternity leave needs to know of a woman's pregnancy, for the sick-leave domain.

No scope check or audit here: the caller (sick leave) has opened the woman's
record under its own resource type and audited it; this reads only the dates
and the birth's shape (mode, how many babies, how many born alive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.maternal.models import Baby, BirthRecord, Pregnancy

__all__ = ["MaternityFacts", "maternity_facts"]


@dataclass(frozen=True)
class MaternityFacts:
    pregnancy_id: int
    status: str
    edd: date
    multiple_pregnancy: bool
    born_on: date | None = None
    birth_mode: str | None = None
    birth_ga_days: int | None = None
    babies: int = 0
    live_births: int = 0

    def ga_days_on(self, day: date) -> int:
        """Gestational age in days on ``day`` (280 days at the expected date of delivery)."""
        return 280 - (self.edd - day).days


async def maternity_facts(
    session: AsyncSession, person_id: int, pregnancy_id: int | None = None
) -> MaternityFacts | None:
    """The given pregnancy of the woman, else her current one, else her latest; None if none."""
    q = select(Pregnancy).where(Pregnancy.person_id == person_id)
    if pregnancy_id is not None:
        q = q.where(Pregnancy.id == pregnancy_id)
    else:
        q = q.order_by((Pregnancy.status == "current").desc(), Pregnancy.edd.desc())
    p = (await session.execute(q.limit(1))).scalar_one_or_none()
    if p is None:
        return None
    birth = (
        await session.execute(select(BirthRecord).where(BirthRecord.pregnancy_id == p.id))
    ).scalar_one_or_none()
    if birth is None:
        return MaternityFacts(p.id, p.status, p.edd, bool(p.multiple_pregnancy))
    counts = (
        await session.execute(
            select(
                func.count(Baby.id),
                func.count(Baby.id).filter(Baby.outcome == "live"),
            ).where(Baby.birth_id == birth.id)
        )
    ).one()
    return MaternityFacts(
        p.id,
        p.status,
        p.edd,
        bool(p.multiple_pregnancy),
        born_on=birth.born_on,
        birth_mode=birth.mode,
        birth_ga_days=birth.ga_days,
        babies=int(counts[0]),
        live_births=int(counts[1]),
    )
