"""Daily case counts from the notifications, by district or region and by onset or report
date: one set-wise statement, returned as the areas × days array ``rt.estimate_rt`` takes
(docs/epidemic.md "Daily counts").

The counts name no person, but a count of 1-4 in a district can point at one: readers
who do not read notifications (``epidemic:cases``) get them through
``core.suppression``: cells 1-4 as "<5"; no total is published beside them, so no
complementary cell is withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, suppression
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.epidemic.models import CaseNotification
from salomat.domains.registry import service as registry

__all__ = ["MAX_DAYS", "DailyCounts", "daily_counts", "published_counts"]

MAX_DAYS = 731
#: every region of a country, or district of a region, on one page
_ALL = PageParams(limit=10_000, offset=0)


@dataclass(frozen=True)
class DailyCounts:
    """``counts[i, j]``: cases of area ``area_ids[i]`` on ``days[j]`` (int64, read-only)."""

    level: str  # district | region
    by: str  # onset | report
    area_ids: tuple[int, ...]
    days: tuple[date, ...]
    counts: np.ndarray


def _days(start: date, end: date) -> tuple[date, ...]:
    if start > end:
        raise Invalid.fields([FieldError("from", N_("The start is after the end"))])
    n = (end - start).days + 1
    if n > MAX_DAYS:
        raise Invalid.fields([FieldError("to", N_("At most %(n)s days at once"), {"n": MAX_DAYS})])
    return tuple(start + timedelta(days=i) for i in range(n))


async def daily_counts(
    session: AsyncSession,
    *,
    level: str,
    start: date,
    end: date,
    by: str = "onset",
    within_region: int | None = None,
    area_ids: tuple[int, ...] | None = None,
) -> DailyCounts:
    """Cases per area and day over ``start..end`` in one ``GROUP BY`` (areas without a
    case in the range are absent unless named in ``area_ids``, whose order is kept)."""
    if level not in ("district", "region"):
        raise Invalid.fields(
            [FieldError("level", N_("Unknown level: %(level)s"), {"level": level})]
        )
    if by not in ("onset", "report"):
        raise Invalid.fields([FieldError("by", N_("Count by onset or report"))])
    days = _days(start, end)
    area = CaseNotification.district_id if level == "district" else CaseNotification.region_id
    day = CaseNotification.onset_date if by == "onset" else CaseNotification.report_date
    q = (
        select(area, day, func.count())
        .where(day >= start, day <= end, area.is_not(None))
        .group_by(area, day)
    )
    if within_region is not None:
        q = q.where(CaseNotification.region_id == within_region)
    if area_ids is not None:
        q = q.where(area.in_(area_ids))
    rows = (await session.execute(q)).all()
    ids = list(area_ids) if area_ids is not None else sorted({r[0] for r in rows})
    index = {a: i for i, a in enumerate(ids)}
    counts = np.zeros((len(ids), len(days)), dtype=np.int64)
    if rows:
        a = np.fromiter((index[r[0]] for r in rows), dtype=np.int64, count=len(rows))
        d = np.fromiter(((r[1] - start).days for r in rows), dtype=np.int64, count=len(rows))
        n = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        counts[a, d] = n
    counts.flags.writeable = False
    return DailyCounts(level, by, tuple(ids), days, counts)


@dataclass(frozen=True)
class PublishedArea:
    code: str
    name: str
    level: str
    counts: list[int | str]


async def published_counts(
    session: AsyncSession,
    principal: Principal,
    *,
    area: str | None,
    start: date,
    end: date,
    by: str,
    language: str = "en",
) -> tuple[DailyCounts, list[PublishedArea], bool]:
    """The counts a reader sees: the country by region (no ``area``), a region by district,
    or one district — every unit listed, zeros included; small counts suppressed for
    readers who do not read notifications."""
    level = "region"
    if area is None:
        units = (await registry.list_territory(session, _ALL, level="region")).items
    else:
        t = await registry.territory_by_code(session, area)
        if t is None or t.level == "settlement":
            raise Invalid.fields(
                [FieldError("area", N_("Unknown region or district: %(code)s"), {"code": area})]
            )
        level = "district"
        units = (
            (
                await registry.list_territory(session, _ALL, level="district", parent_code=t.code)
            ).items
            if t.level == "region"
            else [t]
        )
    result = await daily_counts(
        session, level=level, start=start, end=end, by=by, area_ids=tuple(u.id for u in units)
    )
    suppress = not allowed(principal.role, "epidemic:cases")
    out = []
    for i, u in enumerate(units):
        row = [int(x) for x in result.counts[i]]
        cells: list[int | str] = (
            [suppression.mark(n, suppression.is_small(n)) for n in row] if suppress else list(row)
        )
        out.append(PublishedArea(u.code, u.names.get(language) or u.name, u.level, cells))
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="EpidemicCounts",
        resource_id=area or "country",
        detail=f"{by} {start.isoformat()}..{end.isoformat()}",
    )
    return result, out, suppress
