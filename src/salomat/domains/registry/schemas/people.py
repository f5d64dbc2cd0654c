"""The person index: what the API takes and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from salomat.core.text import NameText, OptNameText, OptNotes

__all__ = [
    "AttachIn",
    "AttachmentOut",
    "Candidate",
    "CareRelationshipOut",
    "DeathIn",
    "PersonIn",
    "PersonOut",
    "PersonPatch",
    "PersonQuery",
    "PersonVersionOut",
    "Sex",
]

Sex = Literal["male", "female"]
Script = Literal["latn", "cyrl"]
_NAME = {"min_length": 1, "max_length": 100}


def _check_birth_date(v: date | None) -> date | None:
    if v is None:
        return v
    if v > date.today():
        raise ValueError("birth date is in the future")
    if v.year < 1880:
        raise ValueError("birth date is before 1880")
    return v


class PersonIn(BaseModel):
    """A registration. The national id is checked against the country pack."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]*$")
    family_name: NameText = Field(**_NAME)
    given_name: NameText = Field(**_NAME)
    patronymic: OptNameText = Field(default=None, max_length=100)
    birth_date: date
    sex: Sex
    phone: str | None = Field(default=None, max_length=32)
    settlement_code: str | None = Field(default=None, max_length=32)
    address: OptNameText = Field(default=None, max_length=300)
    attached_facility_code: str | None = Field(default=None, max_length=32)
    section_code: str | None = Field(default=None, max_length=16)
    #: needed when the registration resembles people already registered
    duplicate_reason: OptNotes = Field(default=None, min_length=5, max_length=500)

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, v: date | None) -> date | None:
        return _check_birth_date(v)

    @field_validator("national_id", "patronymic", "phone", "address", "settlement_code")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None


class PersonPatch(BaseModel):
    """A correction: only the fields sent change; identity fields are re-checked together."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]*$")
    family_name: OptNameText = Field(default=None, **_NAME)
    given_name: OptNameText = Field(default=None, **_NAME)
    patronymic: OptNameText = Field(default=None, max_length=100)
    birth_date: date | None = None
    sex: Sex | None = None
    phone: str | None = Field(default=None, max_length=32)
    settlement_code: str | None = Field(default=None, max_length=32)
    address: OptNameText = Field(default=None, max_length=300)

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, v: date | None) -> date | None:
        return _check_birth_date(v)


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    national_id: str | None
    family_name: str
    given_name: str
    patronymic: str | None
    #: the script the names were entered in; ``*_alt`` are the same names in the other
    name_script: Script
    family_name_alt: str | None
    given_name_alt: str | None
    patronymic_alt: str | None
    birth_date: date
    sex: Sex
    phone: str | None
    settlement_code: str | None = None
    address: str | None
    attached_facility_id: int | None
    attached_facility_code: str | None = None
    section_code: str | None = None
    deceased_on: date | None
    death_cause: str | None
    death_other_causes: list[str] | None = None
    merged_into_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    #: what the country pack let through (a check digit it treats as a warning)
    warnings: list[str] = Field(default_factory=list)


class PersonVersionOut(BaseModel):
    version: int
    action: Literal["create", "update", "delete"]
    recorded_at: datetime
    recorded_by: str
    person: PersonOut


class PersonQuery(BaseModel):
    """A search: a national id, or a name (either script, fuzzy) with or without more."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, min_length=2, max_length=200)
    family: str | None = Field(default=None, min_length=1, max_length=100)
    given: str | None = Field(default=None, min_length=1, max_length=100)
    birth_date: date | None = None
    sex: Sex | None = None
    #: facility code: only people attached there
    attached_to: str | None = Field(default=None, max_length=32)


class Candidate(BaseModel):
    """A registered person who may be the one being registered."""

    person: PersonOut
    score: float = Field(ge=0, le=1)
    reasons: list[str]


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facility_code: str = Field(min_length=1, max_length=32)
    section_code: str | None = Field(default=None, max_length=16)
    start_on: date | None = None
    reason: OptNotes = Field(default=None, max_length=200)


class AttachmentOut(BaseModel):
    facility_id: int
    facility_code: str
    section_code: str | None
    start_on: date
    end_on: date | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime


class DeathIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    deceased_on: date
    #: ICD-10 code of the underlying cause (WHO 2019 edition), e.g. I21.9
    cause: str = Field(min_length=3, max_length=8)
    #: the certificate's other lines (Part I b-d, Part II), ICD-10, at most six: a cancer
    #: named on any line reaches the cancer registry
    other_causes: list[str] = Field(default_factory=list, max_length=6)


class CareRelationshipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    facility_id: int
    kind: str
    source: str | None
    opened_at: datetime
    closed_at: datetime | None
