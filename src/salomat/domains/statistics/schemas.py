"""What the statistics domain answers: the catalogue, values, trends and targets.

Public outputs carry masked cells only: a cell whose numerator is below five has
``suppressed`` set and its value, numerator and interval withheld (None)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "BY",
    "Indicator",
    "IndicatorValue",
    "LiveBirthCriterion",
    "MortalityDataQuality",
    "Target",
    "Trend",
    "TrendPoint",
    "ValueSet",
]

#: the breakdowns a value query accepts
BY = ("sex", "urban_rural", "age_group", "region", "district")
By = Literal["sex", "urban_rural", "age_group", "region", "district"]


class Target(BaseModel):
    indicator: str
    #: territory code; None: the country
    area: str | None = None
    kind: Literal["ceiling", "reduction"]
    #: ceiling: the value to reach; reduction: computed from the baseline (None: no baseline)
    value: float | None = None
    reduction: float | None = None
    baseline_year: int | None = None
    baseline_value: float | None = None
    year: int
    source: str
    unverified: bool = False


class Indicator(BaseModel):
    code: str
    name: str
    method: Literal["count", "rate", "sdg_3_4_1", "life_expectancy", "linked"]
    numerator: str | list[str] | None = None
    denominator: str | None = None
    multiplier: float | None = None
    unit: str
    sources: list[str]
    reference: str
    note: str | None = None
    by: list[str]
    yearly_only: bool = False
    linked: str | None = None
    targets: list[Target] = []


class LiveBirthCriterion(BaseModel):
    text: str
    stillbirth_min_ga_days: int
    source: str


class IndicatorValue(BaseModel):
    """One cell: an indicator for a period, an area and a stratum."""

    indicator: str
    period: str
    area: str
    area_name: str | None = None
    #: the stratum's dimension ("" for the whole area) and value (e.g. sex=female)
    by: str = ""
    stratum: str = ""
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    suppressed: bool = False


class ValueSet(BaseModel):
    indicator: Indicator
    period: str
    area: str
    by: str | None
    computed_at: datetime | None
    values: list[IndicatorValue]


class TrendPoint(BaseModel):
    year: int
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    suppressed: bool = False
    #: the target's path for that year (None: no target)
    target_path: float | None = None


class Trend(BaseModel):
    indicator: Indicator
    area: str
    points: list[TrendPoint]
    target: Target | None
    #: achieved | on_track | off_track | insufficient_data | no_target
    status: str
    #: the value the linear trend of the last years projects for the target's year
    projected: float | None = None


class MortalityDataQuality(BaseModel):
    """The cause-of-death data behind the mortality indicators of a period (national):
    deaths registered, with a certificate, waiting for a coder, with an ill-defined
    underlying cause (R00-R99). A count below five is withheld (None, ``suppressed``)."""

    period: str
    deaths: int | None
    certified: int | None
    certified_pct: float | None
    needs_review: int | None
    ill_defined: int | None
    ill_defined_pct: float | None
    suppressed: list[str] = []
