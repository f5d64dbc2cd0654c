"""What the planning domain gives out (API, pages): norm editions, settlements with their
population and gap, the gap list by district, staffing, the census import's result."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class UnitOut(BaseModel):
    code: str
    level: int
    name: str
    names: dict[str, str]


class BandOut(BaseModel):
    min_population: int
    #: None: no upper bound (both bounds included)
    max_population: int | None
    unit: str | None


class NormEditionOut(BaseModel):
    code: str
    title: str
    source: str
    valid_from: date
    in_force: bool
    bands: list[BandOut]


class PostRatioOut(BaseModel):
    position: str
    ratio: int
    of: str


class StaffingEditionOut(BaseModel):
    code: str
    title: str
    source: str
    valid_from: date
    in_force: bool
    brigade_population: int | None
    per_population: list[PostRatioOut]
    per_unit: dict[str, dict[str, Decimal]]


class NormsOut(BaseModel):
    country: str
    units: list[UnitOut]
    facility_units: dict[str, str]
    editions: list[NormEditionOut]
    staffing: list[StaffingEditionOut]
    access_threshold_km: float
    access_threshold_level: str
    detour_factor: float
    currency: str
    unit_costs: dict[str, Decimal]
    cost_source: str
    #: the unit costs are illustrative figures: no costing was sourced
    costs_illustrative: bool


class SettlementOut(BaseModel):
    code: str
    name: str
    names: dict[str, str]
    district_code: str | None
    district_name: str | None
    is_rural: bool | None
    latitude: float | None
    longitude: float | None
    #: the figure the norm reads (census, else the registry's population table)
    population: int | None
    population_source: str | None
    population_as_of: date | None
    #: census | registry | None
    population_origin: str | None
    #: living people of the registry resident here and attached to a facility
    attached: int
    required_unit: str | None
    existing_units: list[str]
    gap: bool
    cost: Decimal | None
    #: above the edition's range: the norm sets no unit (no gap is counted)
    above_range: bool = False
    #: needs a visiting medical worker (no premises): listed apart, no gap, no cost
    visiting_worker: bool = False


class DistrictGapsOut(BaseModel):
    district_code: str | None
    district_name: str | None
    settlements: int
    unknown_population: int
    with_gap: int
    population_in_gap: int
    by_unit: dict[str, int]
    cost: Decimal
    uncosted: int
    #: settlements above the edition's range (the norm sets no unit), their population
    above_range: int
    population_above_range: int
    #: settlements that need a visiting medical worker (no gap, no cost), their population
    visiting_worker: int
    population_visiting_worker: int


class GapReportOut(BaseModel):
    territory: str | None
    edition: str
    edition_source: str
    currency: str
    cost_source: str
    costs_illustrative: bool
    districts: list[DistrictGapsOut]
    total: DistrictGapsOut
    gaps: list[SettlementOut]
    #: settlements above the edition's range: the norm sets no unit
    above_range: list[SettlementOut]
    #: settlements that need a visiting medical worker (no premises): not gaps, not costed
    visiting_worker: list[SettlementOut]


class StaffingLineOut(BaseModel):
    position: str
    district_code: str | None
    district_name: str | None
    rural: bool | None
    population: int
    exact_fte: Decimal
    required: int
    filled: Decimal
    deficit: Decimal
    surplus: Decimal
    #: counted per child: the settlements (and people) whose children are not known
    of_children: bool
    children_unknown_settlements: int
    children_unknown_population: int


class StaffingOut(BaseModel):
    territory: str | None
    edition: str
    edition_source: str
    on: date
    population: int
    children: Decimal
    #: settlements (and people) whose children are not known: left out of per-child posts
    children_unknown_settlements: int
    children_unknown_population: int
    brigades: int | None
    by_district: list[StaffingLineOut]
    by_rurality: list[StaffingLineOut]
    by_position: list[StaffingLineOut]
    total: StaffingLineOut


class CensusImportOut(BaseModel):
    lines: int
    imported: int
    replaced: int
    coordinates: int


class ProposedUnitIn(BaseModel):
    """A unit the planner would open: a unit code of the pack in a settlement."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    settlement: str = Field(min_length=1, max_length=32)
    unit: str = Field(min_length=1, max_length=32)


class ScenarioSaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    territory: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    edition: str | None = Field(default=None, max_length=32)
    proposed: list[ProposedUnitIn] = Field(min_length=1, max_length=200)


class ScenarioOut(BaseModel):
    """A saved scenario: post ``territory``, ``edition`` and ``proposed`` to
    ``/api/v1/planning/scenario`` to compare it with today's network."""

    id: int
    territory: str
    name: str
    edition: str | None
    proposed: list[dict[str, str]]
    created_by: str
    created_at: datetime
