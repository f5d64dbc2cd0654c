"""What this domain's API takes and returns.

Input models check types only; unknown antigens, vaccines and sites, dates in
the future or before birth and doses given too early are refused by the
service, naming each field, so the web and FHIR adapters get the same checks.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import Notes, OptNameText, OptNotes

__all__ = [
    "CardOut",
    "DoseIn",
    "DoseOut",
    "DueDoseOut",
    "EnteredInErrorIn",
    "ExemptionIn",
    "ExemptionOut",
    "ExemptionWithdrawIn",
    "ScheduleOut",
]


class DoseIn(BaseModel):
    """One dose given here (at the user's facility) or, with ``given_elsewhere``, elsewhere."""

    model_config = ConfigDict(extra="forbid")

    antigen: str = Field(max_length=32, description="the pack's series code, e.g. penta")
    dose_number: int = Field(ge=1, le=99)
    given_on: date
    vaccine: str | None = Field(None, max_length=64, description="the pack's vaccine code")
    lot: OptNameText = Field(None, max_length=64)
    expires_on: date | None = None
    site: str | None = Field(None, max_length=32)
    #: who gave it, when known (a practitioner of the registry)
    practitioner_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    #: a dose given elsewhere (another country, a private clinic, a paper card): kept
    #: even when too early, with valid=false and the reason
    given_elsewhere: bool = False
    place: OptNameText = Field(None, max_length=300)


class DoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    antigen: str
    #: the number the clinician recorded
    dose_number: int
    #: the place it counts in its series (valid doses in date order); None: it does not count
    counted_as: int | None = None
    given_on: date
    vaccine: str | None = None
    lot: str | None = None
    expires_on: date | None = None
    site: str | None = None
    facility_id: int | None = None
    place_elsewhere: str | None = None
    practitioner_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    valid: bool
    invalid_reason: str | None = None
    status: str
    source: str
    recorded_by: str
    recorded_at: datetime
    version: int
    label: str | None = None
    #: the recorded number is not the place the dose counts in: check the record
    needs_review: bool = False
    #: the series whose place the dose fills, when another of its chain (a DTP dose in
    #: Penta 1's place: DTP-containing dose 1, without Penta's HepB and Hib)
    counted_in: str | None = None
    counted_in_label: str | None = None


class EnteredInErrorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OptNotes = Field(None, max_length=300)


class ExemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["contraindication", "refusal"]
    #: None: every vaccine
    antigen: str | None = Field(None, max_length=32)
    reason: Notes = Field(min_length=1, max_length=500)
    starts_on: date | None = None
    ends_on: date | None = None


class ExemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    kind: str
    antigen: str | None = None
    reason: str
    starts_on: date
    ends_on: date | None = None
    withdrawn_on: date | None = None
    facility_id: int | None = None
    recorded_by: str
    recorded_at: datetime
    active: bool = True


class ExemptionWithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    withdrawn_on: date | None = None


class DueDoseOut(BaseModel):
    """One calendar dose and its status (see service.schedule for the definitions)."""

    model_config = ConfigDict(from_attributes=True)

    antigen: str
    label: str
    dose_number: int
    status: Literal["given", "due", "overdue", "upcoming", "not_eligible", "exempt", "not_needed"]
    due_on: date
    earliest_on: date
    overdue_on: date
    latest_on: date | None = None
    given_on: date | None = None
    #: "penta/3": the dose that must be given first
    waiting_for: str | None = None
    exemption: str | None = None
    booster: bool = False


class ScheduleOut(BaseModel):
    person_id: int
    birth_date: date
    sex: str
    country: str
    on: date
    overdue_after_days: int
    doses: list[DueDoseOut]


class CardOut(BaseModel):
    """The vaccination card: every dose recorded (invalid ones with their reason) and the plan."""

    person_id: int
    birth_date: date
    sex: str
    doses: list[DoseOut]
    schedule: list[DueDoseOut]
    exemptions: list[ExemptionOut]


# ---- worklist and coverage (issue 5; service.worklists, service.coverage) ------------------


class WorklistDose(BaseModel):
    """One dose a child is due or overdue."""

    antigen: str
    label: str
    dose_number: int
    due_on: date
    overdue_on: date
    #: due | overdue
    status: str


class ImmunizationWorklistRow(BaseModel):
    """A child of the facility with at least one dose due or overdue by the week's end."""

    person_id: int
    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: date
    sex: str
    phone: str | None
    address: str | None
    section_code: str | None
    section_name: str | None
    doses: list[WorklistDose]


class ImmunizationWorklist(BaseModel):
    facility_code: str | None
    section: str | None
    week_start: date
    week_end: date
    rows: list[ImmunizationWorklistRow]


class CoverageFigure(BaseModel):
    """One indicator for one unit: ``covered`` of ``eligible`` children, in per cent."""

    code: str
    covered: int = 0
    eligible: int = 0
    pct: float | None = None
    #: revaccination indicators: the target in per cent and whether it is met
    target: float | None = None
    meets_target: bool | None = None


class CoverageRow(BaseModel):
    code: str | None
    name: str
    level: str | None
    figures: dict[str, CoverageFigure]
    #: dropout code -> per cent (None: no child had the first dose)
    dropout: dict[str, float | None]


class CoverageIndicator(BaseModel):
    code: str
    label: str
    antigens: list[str]
    #: the place counted; None for a series-complete indicator
    dose: int | None
    #: the series complete under the child's plan (the calendar's or a catch-up plan's)
    series_complete: bool = False
    by_days: int
    among: str | None = None
    target: float | None = None
    #: every child of the cohort has reached the indicator's age (else the figure still grows)
    complete: bool


class ImmunizationCoverage(BaseModel):
    area_code: str | None
    area_name: str | None
    area_level: str | None
    cohort: int
    as_of: datetime
    indicators: list[CoverageIndicator]
    total: CoverageRow
    rows: list[CoverageRow]
    definitions: dict[str, str]
