"""Daily case counts from the notifications, by district or region and by onset or report
date: one set-wise statement, returned as the areas × days array ``rt.estimate_rt`` takes
(docs/epidemic.md "Daily counts").

The counts name no person, but a count of 1-4 in a district can point at one: readers
who do not read notifications (``epidemic:cases``) get them through
``core.suppression``: cells 1-4 as "<5". A region's daily count is published (the
country by region, the situation) beside its districts' (a region by district), so each
day of a region is a line of ``protect_lines``: its districts' cells against the region's
total, complementary cells withheld as "x" so that no "<5" is the region minus the rest;
a day that cannot be protected that way (``[1, 5]`` in a region of 6) withholds the
region's figure too, in every answer that shows it (``protected_cells``).
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
from salomat.core.suppression import SUPPRESS_BELOW, protect_lines
from salomat.domains.epidemic.models import CaseNotification
from salomat.domains.registry import service as registry

__all__ = ["MAX_DAYS", "DailyCounts", "daily_counts", "protected_cells", "published_counts"]

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


#: a published cell: ("region" | "district", the unit's id, the day's index)
Cell = tuple[str, int, int]


async def protected_cells(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    by: str,
    region_ids: tuple[int, ...] | None = None,
) -> tuple[DailyCounts, DailyCounts, set[Cell]]:
    """The region and district counts over ``start..end`` (of ``region_ids``, default
    every region) and the cells a reader without ``epidemic:cases`` does not see: each
    day of a region is a line (its districts' cells, the region's total published), so
    the same cells are withheld whichever answer shows them (the country by region, a
    region by district, a district, the situation). Lines share no cell, so one
    ``protect_lines`` pass is exact: a line's "<5" cells keep 1 to 4 against the
    published sum (tested with ``core.suppression.pinned``), but for the signs' own
    limit (four "<5" districts of a "<5" region are 1 each)."""
    regions = (await registry.list_territory(session, _ALL, level="region")).items
    if region_ids is None:
        region_ids = tuple(r.id for r in regions)
    wanted = set(region_ids)
    region_of_code = {r.code: r.id for r in regions if r.id in wanted}
    districts = (await registry.list_territory(session, _ALL, level="district")).items
    by_region: dict[int, list[int]] = {r: [] for r in region_ids}
    for d in districts:
        rid = region_of_code.get(d.parent_code or "")
        if rid is not None:
            by_region[rid].append(d.id)
    district_ids = tuple(i for r in region_ids for i in by_region[r])
    regions_c = await daily_counts(
        session, level="region", start=start, end=end, by=by, area_ids=region_ids
    )
    districts_c = await daily_counts(
        session, level="district", start=start, end=end, by=by, area_ids=district_ids
    )
    values: dict[Cell, int] = {}
    lines: list[tuple[list[Cell], Cell | None]] = []
    d_row = {a: i for i, a in enumerate(district_ids)}
    for i, rid in enumerate(region_ids):
        total = regions_c.counts[i]
        parts = districts_c.counts[[d_row[d] for d in by_region[rid]]]
        # only the days with a small cell need a line (the others withhold nothing)
        small = (total > 0) & (total < SUPPRESS_BELOW)
        small |= ((parts > 0) & (parts < SUPPRESS_BELOW)).any(axis=0)
        days = np.flatnonzero(small)
        for j in days.tolist():
            whole: Cell = ("region", rid, j)
            values[whole] = int(total[j])
            cells: list[Cell] = []
            for k, d in enumerate(by_region[rid]):
                values[("district", d, j)] = int(parts[k, j])
                cells.append(("district", d, j))
            lines.append((cells, whole))
    hidden = protect_lines(values, lines) if lines else set()
    return regions_c, districts_c, hidden


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
    or one district — every unit listed, zeros included; for readers who do not read
    notifications small counts are "<5" and their complements "x" (``protected_cells``:
    the same cells in every answer)."""
    level = "region"
    region_ids: tuple[int, ...] | None = None
    if area is None:
        units = (await registry.list_territory(session, _ALL, level="region")).items
    else:
        t = await registry.territory_by_code(session, area)
        if t is None or t.level == "settlement":
            raise Invalid.fields(
                [FieldError("area", N_("Unknown region or district: %(code)s"), {"code": area})]
            )
        level = "district"
        if t.level == "region":
            units = (
                await registry.list_territory(session, _ALL, level="district", parent_code=t.code)
            ).items
            region_ids = (t.id,)
        else:
            units = [t]
            parent = (
                await registry.territory_id_by_code(session, t.parent_code)
                if t.parent_code
                else None
            )
            region_ids = (parent,) if parent is not None else ()
    result = await daily_counts(
        session, level=level, start=start, end=end, by=by, area_ids=tuple(u.id for u in units)
    )
    suppress = not allowed(principal.role, "epidemic:cases")
    hidden: set[Cell] = set()
    if suppress:
        _, _, hidden = await protected_cells(
            session, start=start, end=end, by=by, region_ids=region_ids
        )
    out = []
    for i, u in enumerate(units):
        row = [int(x) for x in result.counts[i]]
        cells: list[int | str] = (
            [suppression.mark(n, (level, u.id, j) in hidden) for j, n in enumerate(row)]
            if suppress
            else list(row)
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
