"""Screening coverage by programme: the target group on the last day of a closed period
and the people of it screened in the programme's interval, per region or district.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.i18n import N_
from salomat.core.security import Principal
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
    people of it screened in the programme's interval (not opportunistic); counts below
    five withheld with the rate."""

    programme: str
    name: str
    code: str | None
    unit_name: str
    eligible: int | None
    screened: int | None
    coverage_pct: float | None
    suppressed: list[str] = []


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
    programme: str, name: str, code: str | None, unit: str, eligible: int, screened: int
) -> CoverageRow:
    withheld = [
        k for k, n in (("eligible", eligible), ("screened", screened)) if n < SUPPRESS_BELOW
    ]
    if withheld:
        withheld.append("coverage_pct")
    return CoverageRow(
        programme=programme,
        name=name,
        code=code,
        unit_name=unit,
        eligible=None if "eligible" in withheld else eligible,
        screened=None if "screened" in withheld else screened,
        coverage_pct=None if withheld else _pct(screened, eligible),
        suppressed=withheld,
    )


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
    own single unit. Counts come from ``target_groups.target_group_counts``, summed."""
    from salomat.domains.screening.service.target_groups import target_group_counts

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
    rows: list[CoverageRow] = []
    totals: dict[str, list[Any]] = {}
    for unit in units:
        for c in await target_group_counts(session, principal, p.end, area=unit):
            rows.append(
                _coverage_row(c.programme, c.name, unit, areas[unit][1], c.eligible, c.screened)
            )
            t = totals.setdefault(c.programme, [c.name, 0, 0])
            t[1] += c.eligible
            t[2] += c.screened
    where = area_name or i18n.gettext("whole country")
    total = [_coverage_row(k, n, area, where, e, s) for k, (n, e, s) in totals.items()]
    if level == "district":  # its own single unit: the total says it all
        rows = []
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
