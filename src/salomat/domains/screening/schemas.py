"""What the screening domain takes in and gives out (API, pages, FHIR mappers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Result = Literal["normal", "abnormal"]
NextStep = Literal["none", "refer", "enrol"]
EndReason = Literal["died", "transferred", "withdrawn", "recovered"]


class MeasurementIn(BaseModel):
    """One measurement: a blood pressure (``systolic``/``diastolic``, mm Hg), a value with
    its UCUM unit (glucose 6.8 mmol/L or 122 mg/dL, HbA1c 7.4 % or 57 mmol/mol), or a
    coded result (smoking ``current``, cytology ``lsil``, mammography BI-RADS ``4``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str = Field(min_length=1, max_length=24)
    systolic: int | None = None
    diastolic: int | None = None
    value: float | None = None
    unit: str | None = Field(default=None, max_length=16)
    code: str | None = Field(default=None, max_length=16)


class ScreeningVisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    programme: str = Field(min_length=1, max_length=32)
    performed_on: date
    result: Result
    next_step: NextStep = "none"
    measurements: list[MeasurementIn] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=2000)


class ObservationOut(BaseModel):
    id: int
    person_id: int
    observed_on: date
    kind: str
    systolic: int | None
    diastolic: int | None
    value: float | None
    unit: str | None
    value_entered: str | None
    unit_entered: str | None
    code: str | None
    loinc: str | None
    screening_visit_id: int | None
    enrolment_id: int | None


class ScreeningVisitOut(BaseModel):
    id: int
    person_id: int
    facility_id: int | None
    programme: str
    performed_on: date
    opportunistic: bool
    #: why the visit is opportunistic (outside the age or sex, not yet due, under DMP)
    opportunistic_reason: str | None = None
    result: str
    next_step: str
    notes: str | None
    recorded_by: str
    measurements: list[ObservationOut]


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    programme: str = Field(min_length=1, max_length=32)
    diagnosis_code: str = Field(min_length=3, max_length=8)
    enrolled_on: date
    #: a prior heart attack or stroke (the high-risk rule); None: not asked
    prior_mi_stroke: bool | None = None
    #: the first visit: defaults to the programme's interval after enrolment
    next_visit_due: date | None = None


class EnrolmentEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_on: date
    end_reason: EndReason


class EnrolmentOut(BaseModel):
    id: int
    person_id: int
    facility_id: int
    programme: str
    diagnosis_code: str
    enrolled_on: date
    next_visit_due: date | None
    prior_mi_stroke: bool | None
    ended_on: date | None
    end_reason: str | None
    version: int
    created_at: datetime


class DmpVisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    visited_on: date
    measurements: list[MeasurementIn] = Field(default_factory=list, max_length=20)
    #: defaults to the programme's visit interval after the visit
    next_visit_due: date | None = None
    notes: str | None = Field(default=None, max_length=2000)


class Control(BaseModel):
    """The latest reading's control: ``controlled`` against the pack's target;
    ``lenient_controlled`` by Simple's sugar threshold (HbA1c < 9 per cent)."""

    kind: str
    observed_on: date
    shown: str
    controlled: bool
    lenient_controlled: bool | None = None


class DmpVisitOut(BaseModel):
    id: int
    enrolment_id: int
    person_id: int
    visited_on: date
    next_visit_due: date
    measurements: list[ObservationOut]
    control: list[Control]


class TrendPoint(BaseModel):
    observed_on: date
    systolic: int | None = None
    diastolic: int | None = None
    value: float | None = None
    unit: str | None = None
    controlled: bool


class ProgrammeCard(BaseModel):
    """A patient's screenings and programmes: enrolments, their control and trend."""

    person_id: int
    enrolments: list[EnrolmentOut]
    visits: list[ScreeningVisitOut]
    control: list[Control]
    bp_trend: list[TrendPoint]
    sugar_trend: list[TrendPoint]
    due: list[DueItem]


class DueItem(BaseModel):
    programme: str
    name: str
    #: None: never screened (due now)
    last_on: date | None
    due_on: date | None
    #: due on or before the day asked
    due_now: bool


class TargetGroupCount(BaseModel):
    """A programme's target group in an area. The user's own facility: every count. A
    district or region (an aggregate): a count of 1 to 4 is withheld (None) and named in
    ``suppressed`` and ``small`` (shown as "<5"; ``core.suppression``), and the row's other
    non-zero counts with it (in ``suppressed`` only: "x"), as they add up to each other."""

    programme: str
    name: str
    on: date
    area: str
    eligible: int | None
    due: int | None
    #: screened in the interval before ``on``, not opportunistic (coverage's numerator)
    screened: int | None
    suppressed: list[str] = []
    #: the withheld counts that are small (1 to 4: "<5"); the others are "x"
    small: list[str] = []


class InvitationRow(BaseModel):
    person_id: int
    name: str
    birth_date: date
    sex: str
    phone: str | None
    address: str | None
    section_code: str | None
    programme: str
    last_on: date | None
    due_on: date | None


class DmpRow(BaseModel):
    person_id: int
    name: str
    birth_date: date
    phone: str | None
    enrolment_id: int
    programme: str
    next_visit_due: date | None
    days_overdue: int
    last_bp: str | None = None
    last_bp_on: date | None = None
    last_sugar: str | None = None
    #: why the row is high-risk (bp_180_110, prior_event_bp, sugar)
    reasons: list[str] = Field(default_factory=list)


class Worklist(BaseModel):
    kind: Literal["invitations", "overdue", "uncontrolled", "high_risk"]
    facility_code: str | None
    on: date
    section: str | None = None
    invitations: list[InvitationRow] = Field(default_factory=list)
    patients: list[DmpRow] = Field(default_factory=list)
    #: what the list cannot say (the high-risk list's unknown prior events)
    notes: list[str] = Field(default_factory=list)


ProgrammeCard.model_rebuild()
