"""What the epidemic situation answers a reader (docs/epidemic.md "Situation, zones and
alerts"): every region on a day, the recorded zones by day and the alerts, shaped for one
reader by ``service.situation_view`` (the REST routes and the dashboard pages alike)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class Band(BaseModel):
    low: list[float | None]
    median: list[float | None]
    high: list[float | None]


class Projection(BaseModel):
    scenario: str
    #: the day of the Rt projected from: the last with one reported (None: none, no
    #: projection)
    rt_day: date | None
    cases: Band
    admissions: Band
    infectious_beds: Band
    icu_beds: Band
    #: the first day the median passes the region's beds (None: not within the horizon)
    infectious_exceeded_on: date | None
    icu_exceeded_on: date | None


class RtOut(BaseModel):
    day: date
    mean: float | None = None
    lower: float | None = None
    upper: float | None = None
    #: why there is no number, in the reader's language
    reason: str | None = None


class ZoneOut(BaseModel):
    code: str | None
    name: str | None
    colour: str | None
    #: the index of the rule that decided it (None: the edition's "otherwise" or unknown)
    rule: int | None
    reason: str | None = None
    missing: list[str] = []


class RegionSituation(BaseModel):
    code: str
    name: str
    counts: list[int | str]
    rt: RtOut
    population: int | None
    incidence_per_100k: float | None
    hospitalised_per_100k: float | None
    beds: dict[str, int | None]
    occupied: dict[str, int]
    zone: ZoneOut
    forecast: list[Projection]


class SituationOut(BaseModel):
    on: date
    by: str
    edition: str
    edition_name: str
    edition_unverified: bool
    population_year: int | None
    days: list[date]
    forecast_days: list[date]
    hospital_illustrative: bool
    truncation_note: str | None
    #: counts of 1-4 shown as "<5" (readers without ``epidemic:cases``)
    suppressed: bool
    regions: list[RegionSituation]


class RegionDetail(BaseModel):
    """One region's situation with its Rt on every day of the counts (the region page)."""

    situation: SituationOut
    #: one per day of ``situation.days``: a number with its interval, or the reason
    rt_days: list[RtOut]
    #: the last days left out of Rt as incomplete (right truncation)
    truncate_days: int


class ZoneDayOut(BaseModel):
    region: str
    region_name: str
    day: date
    edition: str
    zone: str | None
    #: the zone's name in the reader's language, from the edition recorded with it
    zone_name: str | None
    rule: int | None
    missing: list[str]
    rt: float | None
    incidence_per_100k: float | None


class AlertOut(BaseModel):
    region: str
    region_name: str
    day: date
    kind: str
    message: str
    zone_from: str | None
    zone_to: str | None
    #: the zones' names in the reader's language (the editions in force on the day before
    #: and on the day: an alert records no edition)
    zone_from_name: str | None
    zone_to_name: str | None
    exceeds_on: date | None
    beds: int | None
