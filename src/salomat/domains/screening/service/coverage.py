"""Screening coverage by programme: the target group on the last day of a closed period
and the people of it screened in the programme's interval, per region or district.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.i18n import N_
from salomat.core.security import Principal
from salomat.core.suppression import is_small, protect_lines
from salomat.domains.screening.service import common
from salomat.domains.screening.service.indicator_common import (
    SUPPRESS_BELOW,
    _area,
    _pct,
    parse_period,
)

__all__ = ["COVERAGE_DEFINITION", "AreaCoverage", "CoverageRow", "screening_coverage"]

# ---- screening coverage by programme ---------------------------------------------------


class CoverageRow(BaseModel):
    """One programme in one unit: the target group on the last day of the period and the
    people of it screened in the programme's interval (not opportunistic); counts of 1 to 4
    withheld with the rate, and complements of them ("x")."""

    programme: str
    name: str
    code: str | None
    unit_name: str
    eligible: int | None
    screened: int | None
    coverage_pct: float | None
    suppressed: list[str] = []
    #: the withheld cells that are small (1 to 4: "<5"); the others are "x"
    small: list[str] = []


class AreaCoverage(BaseModel):
    period: str
    on: date
    area_code: str | None
    area_name: str | None
    by: str
    rows: list[CoverageRow]
    total: list[CoverageRow]
    definition: str
    suppress_below: int = SUPPRESS_BELOW


COVERAGE_DEFINITION = N_(
    "Screening coverage: people of the programme's target group on %(day)s (attached, of its "
    "ages and sex, not under observation for a condition it excludes) screened within its "
    "interval, opportunistic screenings not counted. Denominator: the target group."
)


def _coverage_row(
    programme: str,
    name: str,
    code: str | None,
    unit: str,
    eligible: int,
    screened: int,
    hidden: set[str],
) -> CoverageRow:
    """The row as published: the ``hidden`` counts withheld, and the rate with them."""
    counts = {"eligible": eligible, "screened": screened}
    withheld = [k for k in counts if k in hidden]
    small = [k for k in withheld if is_small(counts[k])]
    if withheld:
        withheld.append("coverage_pct")
        if small:
            small.append("coverage_pct")
    return CoverageRow(
        programme=programme,
        name=name,
        code=code,
        unit_name=unit,
        eligible=None if "eligible" in withheld else eligible,
        screened=None if "screened" in withheld else screened,
        coverage_pct=None if withheld else _pct(screened, eligible),
        suppressed=withheld,
        small=small,
    )


def _protected(
    units: list[tuple[str, int, int]], total: tuple[int, int]
) -> tuple[list[set[str]], set[str]]:
    """The counts to withhold in one programme's table (``core.suppression``): the units'
    eligible and screened against the published total of each column."""
    values: dict[tuple[int, str], int] = {}
    for i, (_, e, s) in enumerate([*units, ("", *total)]):
        values[(i, "eligible")] = e
        values[(i, "screened")] = s
    t = len(units)
    lines: list[tuple[list[tuple[int, str]], tuple[int, str] | None]] = []
    if units:
        lines = [([(i, k) for i in range(t)], (t, k)) for k in ("eligible", "screened")]
    hidden = protect_lines(values, lines)
    cells = [{k for k in ("eligible", "screened") if (i, k) in hidden} for i in range(t + 1)]
    return cells[:-1], cells[-1]


async def screening_coverage(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    area: str | None = None,
    today: date | None = None,
) -> AreaCoverage:
    """Coverage of every inviting programme on the last day of a closed period, for each
    region (the country) or district (a region), and the area's total; a district is its
    own single unit. Counts come from ``target_groups.raw_target_group_counts``, summed,
    and are withheld as a table (``core.suppression``): counts of 1 to 4, and complements
    in their column so that the total does not give them away."""
    from salomat.domains.screening.service.target_groups import raw_target_group_counts

    today = today or common.today()
    p = parse_period(period, today)
    level, area_name, areas = await _area(session, area)
    if level == "district":
        units = [area]
    else:
        units = sorted(c for c, (lvl, _n, parent) in areas.items()
                       if lvl == ("region" if level == "country" else "district")
                       and (level == "country" or parent == area))  # fmt: skip
    by = "district" if level != "country" else "region"
    # programme -> (name, [(unit, eligible, screened)]), the counts before masking
    tables: dict[str, tuple[str, list[tuple[str, int, int]]]] = {}
    for unit in units:
        for c in await raw_target_group_counts(session, principal, p.end, area=unit):
            tables.setdefault(c.programme, (c.name, []))[1].append(
                (unit, c.eligible or 0, c.screened or 0)
            )
    where = area_name or i18n.gettext("whole country")
    rows: list[CoverageRow] = []
    total: list[CoverageRow] = []
    for code, (name, cells) in tables.items():
        sums = (sum(c[1] for c in cells), sum(c[2] for c in cells))
        if level == "district":  # its own single unit: the total says it all
            cells = []
        hidden, total_hidden = _protected(cells, sums)
        for (unit, e, s), h in zip(cells, hidden, strict=True):
            rows.append(_coverage_row(code, name, unit, areas[unit][1], e, s, h))
        total.append(_coverage_row(code, name, area, where, *sums, total_hidden))
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="ScreeningCoverage",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=p.code,
    )
    return AreaCoverage(
        period=p.code,
        on=p.end,
        area_code=area or None,
        area_name=area_name,
        by=by,
        rows=rows,
        total=total,
        definition=i18n.gettext(COVERAGE_DEFINITION) % {"day": f"{p.end:%d.%m.%Y}"},
    )
