"""What the indicator pages share: the rule that withholds small counts (``core.suppression``,
the rule of the sick-leave analytics), the closed
period asked for, the area and its levels, and the rows they show (``indicators``
fills them, ``indicators_csv`` writes them).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.suppression import SUPPRESS_BELOW
from salomat.domains.registry import service as registry
from salomat.domains.screening.service.hearts import (
    Period,
)

__all__ = [
    "LEVEL_BELOW",
    "LEVEL_RANK",
    "SUPPRESS_BELOW",
    "AreaIndicators",
    "IndicatorRow",
    "parse_period",
]


LEVEL_BELOW = {"country": "region", "region": "district", "district": "facility"}
LEVEL_RANK = {"country": 0, "region": 1, "district": 2, "facility": 3}


class IndicatorRow(BaseModel):
    """One facility, district or region (or the area's total). A count of 1 to 4 is
    withheld (None) with every rate computed from it, and so is any count withheld so
    that it cannot be worked out from a total (``core.suppression``): ``suppressed``
    names them all, ``small`` those shown as "<5" (the others are "x")."""

    code: str | None
    name: str
    level: str
    registered: int | None = None
    assigned: int | None = None
    dead: int | None = None
    new: int | None = None
    ltfu: int | None = None
    under_care: int | None = None
    controlled: int | None = None
    uncontrolled: int | None = None
    visited_no_bp: int | None = None
    missed: int | None = None
    #: Simple since 2021: registered before the last 3 months, alive, not lost
    denominator: int | None = None
    #: the same with the lost to follow-up kept (they count as missed visits)
    denominator_with_ltfu: int | None = None
    controlled_pct: float | None = None
    uncontrolled_pct: float | None = None
    visited_no_bp_pct: float | None = None
    missed_pct: float | None = None
    controlled_pct_with_ltfu: float | None = None
    uncontrolled_pct_with_ltfu: float | None = None
    visited_no_bp_pct_with_ltfu: float | None = None
    missed_pct_with_ltfu: float | None = None
    ltfu_pct: float | None = None
    cohort: int | None = None
    cohort_controlled: int | None = None
    cohort_uncontrolled: int | None = None
    cohort_no_visit: int | None = None
    cohort_controlled_pct: float | None = None
    cohort_uncontrolled_pct: float | None = None
    cohort_no_visit_pct: float | None = None
    #: diabetes programmes: sugar control by DHIS2 / WHO HEARTS and by Simple (lenient)
    sugar_denominator: int | None = None
    sugar_controlled_dhis2: int | None = None
    sugar_controlled_dhis2_pct: float | None = None
    sugar_controlled_simple: int | None = None
    sugar_controlled_simple_pct: float | None = None
    suppressed: list[str] = []
    small: list[str] = []


class AreaIndicators(BaseModel):
    programme: str
    programme_name: str
    period: str
    period_start: date
    period_end: date
    #: first day of the last 3 months (registered on or after it: new)
    recent_start: date
    #: first day of the last 12 months (no blood pressure since: lost to follow-up)
    year_start: date
    cohort_period: str
    cohort_followup_start: date
    cohort_followup_end: date
    area_code: str | None
    area_name: str | None
    area_level: str
    by: str
    target_systolic: int
    target_diastolic: int
    sugar: bool
    rows: list[IndicatorRow]
    total: IndicatorRow
    #: each definition with its denominator, in the request's language
    definitions: dict[str, str]
    suppress_below: int = SUPPRESS_BELOW


def parse_period(text: str, today: date) -> Period:
    """A closed month or quarter; 422 naming ``period`` otherwise."""
    try:
        period = Period.parse(text)
    except ValueError as e:
        raise Invalid.fields(
            [FieldError("period", N_("is a month (YYYY-MM) or a quarter (YYYY-Qn)"))]
        ) from e
    if period.start.year < 1900:
        raise Invalid.fields([FieldError("period", N_("must be 1900 or later"))])
    if period.end >= today:
        raise Invalid.fields(
            [
                FieldError(
                    "period",
                    N_("%(period)s is not closed yet: its figures are ready from %(day)s"),
                    {"period": period.code, "day": f"{_next_day(period.end):%d.%m.%Y}"},
                )
            ]
        )
    return period


def _next_day(d: date) -> date:
    return date.fromordinal(d.toordinal() + 1)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def _area(session: AsyncSession, area: str | None) -> tuple[str, str | None, dict]:
    """(level, name, every region and district) of the area; 422 naming ``area``."""
    areas = await registry.statistics_areas(session)
    if area is None or area == "":
        return "country", None, areas
    found = areas.get(area)
    if found is None:
        raise Invalid.fields(
            [FieldError("area", N_("no region or district has code %(code)s"), {"code": area})]
        )
    return found[0], found[1], areas
