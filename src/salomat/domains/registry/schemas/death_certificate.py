"""The WHO international medical certificate of cause of death (ICD-10 Volume 2, 2019,
§4.1.3 and the form in §4.1.3, Figure 1; the fetal or infant block of the 2016 form).

Codes are written as the certifier (or the coding clerk at her side) coded each line; the
service checks them against WHO ICD-10 2019 and selects the underlying cause.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CertificateLine",
    "CertificateLineOut",
    "CertificateReviewIn",
    "CertificateToReview",
    "ContributingCondition",
    "DeathCertificateIn",
    "DeathCertificateOut",
    "DeathWithoutCertificate",
    "IntervalUnit",
    "Manner",
    "PerinatalBlock",
    "PlaceOfDeath",
    "Pregnancy",
    "Review",
    "YesNo",
]


class IntervalUnit(StrEnum):
    minutes = "minutes"
    hours = "hours"
    days = "days"
    months = "months"
    years = "years"


class Manner(StrEnum):
    disease = "disease"
    accident = "accident"
    self_harm = "self_harm"
    assault = "assault"
    legal_intervention = "legal_intervention"
    war = "war"
    undetermined = "undetermined"
    pending = "pending"
    unknown = "unknown"


class Pregnancy(StrEnum):
    not_pregnant = "not_pregnant"
    at_death = "at_death"
    within_42_days = "within_42_days"
    within_year = "within_year"
    unknown = "unknown"


class PlaceOfDeath(StrEnum):
    home = "home"
    facility = "facility"
    other = "other"
    unknown = "unknown"


class YesNo(StrEnum):
    yes = "yes"
    no = "no"
    unknown = "unknown"


class Review(StrEnum):
    auto_selected = "auto_selected"
    needs_review = "needs_review"
    reviewed = "reviewed"


class CertificateLine(BaseModel):
    """One line of Part I: a condition in the chain leading directly to death."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: as the doctor wrote it
    text: str = Field(min_length=1, max_length=300)
    #: ICD-10 (WHO 2019), e.g. I21.9
    code: str = Field(min_length=3, max_length=8)
    #: interval between onset and death
    interval_value: int | None = Field(default=None, ge=0, le=100_000)
    interval_unit: IntervalUnit | None = None


class CertificateLineOut(CertificateLine):
    model_config = ConfigDict(extra="ignore")

    #: a, b, c or d
    line: str


class ContributingCondition(BaseModel):
    """Part II: a significant condition contributing to death, not in the chain."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=300)
    code: str = Field(min_length=3, max_length=8)


class PerinatalBlock(BaseModel):
    """Fetal or infant death (under one year): the baby's and the mother's facts."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    multiple_pregnancy: YesNo = YesNo.unknown
    stillborn: bool = False
    #: when the baby died within 24 hours of birth
    hours_survived: int | None = Field(default=None, ge=0, le=23)
    birth_weight_g: int | None = Field(default=None, ge=100, le=8000)
    gestation_weeks: int | None = Field(default=None, ge=20, le=45)
    mother_age: int | None = Field(default=None, ge=10, le=65)
    #: conditions of the mother that affected the fetus or newborn (ICD-10)
    mother_conditions: list[str] = Field(default_factory=list, max_length=4)


class DeathCertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    deceased_on: date
    #: lines a, b, c, d in order (a: the condition leading directly to death); a line left
    #: blank is ``null``
    part1: list[CertificateLine | None] = Field(min_length=1, max_length=4)
    part2: list[ContributingCondition] = Field(default_factory=list, max_length=6)
    manner: Manner = Manner.disease
    #: V01-Y98: how the injury happened (required with an injury on the certificate)
    external_cause: str | None = Field(default=None, min_length=3, max_length=8)
    injury_on: date | None = None
    injury_place: str | None = Field(default=None, max_length=200)
    #: women aged 10-54 only
    pregnancy: Pregnancy | None = None
    place: PlaceOfDeath = PlaceOfDeath.unknown
    #: the facility's code when the place is a health facility
    facility_code: str | None = Field(default=None, max_length=32)
    place_detail: str | None = Field(default=None, max_length=200)
    surgery: YesNo = YesNo.unknown
    autopsy: YesNo = YesNo.unknown
    #: deaths under one year (and stillbirths) only
    perinatal: PerinatalBlock | None = None


class CertificateReviewIn(BaseModel):
    """A mortality coder's decision on the underlying cause."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    underlying_cause: str = Field(min_length=3, max_length=8)
    reason: str = Field(min_length=3, max_length=500)


class DeathCertificateOut(BaseModel):
    person_id: int
    deceased_on: date
    part1: list[CertificateLineOut | None]
    part2: list[ContributingCondition]
    manner: Manner
    external_cause: str | None
    injury_on: date | None
    injury_place: str | None
    pregnancy: Pregnancy | None
    place: PlaceOfDeath
    facility_code: str | None
    place_detail: str | None
    surgery: YesNo
    autopsy: YesNo
    perinatal: PerinatalBlock | None
    certifier: str
    certified_at: datetime
    underlying_cause: str
    review: Review
    #: why the selection went to a coder (codes: docs/mortality.md)
    review_reasons: list[str]
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    version: int


class DeathWithoutCertificate(BaseModel):
    """A registered death that has no certificate yet (the certifier's worklist)."""

    person_id: int
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    deceased_on: date


class CertificateToReview(BaseModel):
    """A certificate in the coders' queue."""

    person_id: int
    family_name: str
    given_name: str
    deceased_on: date
    underlying_cause: str
    review_reasons: list[str]
    certified_at: datetime
    version: int
