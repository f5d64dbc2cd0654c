"""What the child passport's API takes and returns.

Input models check types only; impossible values (a weight of 0, a length of
5 m, a date before birth) are refused by the service naming each field, so the
web and FHIR adapters get the same checks.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core import i18n
from salomat.core.text import NameText, OptNotes
from salomat.domains.immunization.schemas import CardOut
from salomat.domains.maternal.schemas import (
    BirthOut,
    PostnatalContactOut,
    PregnancyOut,
)

__all__ = [
    "BirthSummary",
    "Feeding",
    "MeasurementErrorIn",
    "MeasurementIn",
    "MeasurementOut",
    "MotherSide",
    "NewbornIn",
    "NewbornOut",
    "PassportOut",
    "PersonSummary",
    "PregnancyHistory",
    "ScheduledVisit",
    "VisitIn",
    "VisitOut",
    "ZTrend",
]

Feeding = Literal["exclusive_breastfeeding", "mixed", "formula", "complementary"]
Hearing = Literal["pass", "refer", "not_done"]
BloodSpot = Literal["normal", "abnormal", "pending", "not_done"]


class MeasurementIn(BaseModel):
    """One measurement; leave out what was not measured (at least one value)."""

    #: NaN and infinity are refused (they would pass every range check)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    #: default today
    measured_on: date | None = None
    weight_kg: float | None = None
    length_or_height_cm: float | None = None
    #: how the length/height was measured; default: as due for the age (lying under 24 months)
    measured_lying: bool | None = None
    head_circumference_cm: float | None = None
    muac_cm: float | None = None


class MeasurementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    measured_on: date
    age_days: int
    sex: Literal["male", "female"]
    weight_kg: float | None
    length_or_height_cm: float | None
    measured_lying: bool | None
    head_circumference_cm: float | None
    muac_cm: float | None
    bmi: float | None
    wfa_z: float | None
    lhfa_z: float | None
    wfl_or_wfh: Literal["wfl", "wfh"] | None
    wfl_or_wfh_z: float | None
    bmifa_z: float | None
    hcfa_z: float | None
    implausible: list[str]
    classification: list[str]
    facility_id: int | None
    recorded_by: str
    recorded_at: datetime
    #: marked as entered in error: kept in the record, left out of charts, trend and print
    entered_in_error: bool = False
    error_reason: str | None = None
    error_marked_by: str | None = None
    error_marked_at: datetime | None = None
    #: the row's version: send it back in If-Match to mark the measurement entered in error
    version: int


class MeasurementErrorIn(BaseModel):
    """Why the measurement was entered in error (required, as the audit will show it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: OptNotes = Field(default=None, max_length=500)


class ZTrend(BaseModel):
    """The latest plausible z-score of one indicator and its change since the one before."""

    #: wfa, lhfa, wfl, wfh, bmifa or hcfa
    indicator: str
    z: float
    on: date
    previous_z: float | None = None
    previous_on: date | None = None
    #: z - previous_z
    change: float | None = None


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    on: date | None = None
    milestones: list[str] = Field(default_factory=list, max_length=40)
    feeding: Feeding | None = None
    notes: OptNotes = Field(default=None, max_length=2000)
    illnesses: list[NameText] = Field(default_factory=list, max_length=20)


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    on: date
    age_days: int
    milestones: list[str]
    feeding: Feeding | None
    notes: str | None
    illnesses: list[str]
    facility_id: int | None
    recorded_by: str
    recorded_at: datetime


class NewbornIn(BaseModel):
    """Newborn screening results; the birth values only when not born in the system."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    screened_on: date | None = None
    hearing: Hearing | None = None
    hypothyroidism: BloodSpot | None = None
    phenylketonuria: BloodSpot | None = None
    birth_weight_g: int | None = None
    birth_length_cm: float | None = None
    apgar_1: int | None = None
    apgar_5: int | None = None


class NewbornOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: int
    #: False when nothing is stored yet (values read from the birth record only)
    stored: bool = True
    from_birth_record: bool
    birth_weight_g: int | None
    birth_length_cm: float | None
    apgar_1: int | None
    apgar_5: int | None
    ga_days: int | None
    screening: dict[str, str]
    screened_on: date | None
    version: int = 0


class ScheduledVisit(BaseModel):
    """One well-child visit of the national schedule and whether it was made."""

    age_days: int
    #: the visit's name in English (stable)
    label: str
    #: its name per language: the pack's languages and English ("en", "ru", "uz", "kk")
    names: dict[str, str] = Field(default_factory=dict)
    due_on: date
    #: done | due | overdue | upcoming | missed
    status: Literal["done", "due", "overdue", "upcoming", "missed"]
    visit_id: int | None = None

    @property
    def name(self) -> str:
        """The name in the language being rendered (English when the pack has none)."""
        return self.names.get(i18n.current_language()) or self.label


class PersonSummary(BaseModel):
    id: int
    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: date
    sex: Literal["male", "female"]
    deceased_on: date | None = None
    #: set when this record was merged into another (nothing new is recorded on it)
    merged_into_id: int | None = None


class BirthSummary(BaseModel):
    """The baby's birth, when it was recorded in the system (maternal domain)."""

    birth: BirthOut
    #: the mother; None when the user may not open her record (the id is still shown)
    mother: PersonSummary | None
    mother_person_id: int
    birth_order: int
    multiple: bool
    #: the pregnancy's last risk level, when the user may read it
    risk_level: str | None = None
    gravida: int | None = None
    parity: int | None = None
    antenatal_contacts: int | None = None


class PregnancyHistory(BaseModel):
    pregnancy: PregnancyOut
    birth: BirthOut | None = None
    postnatal: list[PostnatalContactOut] = Field(default_factory=list)


class MotherSide(BaseModel):
    """A woman's own pregnancies, births and postnatal contacts, newest first."""

    pregnancies: list[PregnancyHistory]
    children: list[PersonSummary] = Field(default_factory=list)


class PassportOut(BaseModel):
    """The electronic mother-and-child health passport of one person."""

    person: PersonSummary
    as_of: date
    age_days: int
    #: under 18 on ``as_of``: the child sections apply
    is_child: bool
    birth: BirthSummary | None = None
    newborn: NewbornOut | None = None
    #: every measurement, those entered in error too (marked; the charts leave them out)
    measurements: list[MeasurementOut] = Field(default_factory=list)
    #: per indicator, the latest plausible z-score and its change (no measurement in error)
    trend: list[ZTrend] = Field(default_factory=list)
    visits: list[VisitOut] = Field(default_factory=list)
    schedule: list[ScheduledVisit] = Field(default_factory=list)
    #: where the schedule comes from (the country pack's note, for maintainers)
    schedule_source: str | None = None
    #: where the schedule comes from, worded for readers, per language ("en" always)
    schedule_source_names: dict[str, str] = Field(default_factory=dict)
    #: the vaccination card (immunization domain), when the user's role may read it
    vaccinations: CardOut | None = None
    #: the immunization page of the child
    vaccinations_href: str | None = None
    mother: MotherSide | None = None

    @property
    def schedule_source_name(self) -> str | None:
        """Where the schedule comes from, in the language being rendered."""
        names = self.schedule_source_names
        return names.get(i18n.current_language()) or names.get("en") or None
