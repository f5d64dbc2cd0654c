from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Sex = Literal["male", "female"]


class FacilityIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=300)
    kind: str = Field(min_length=1, max_length=64)


class FacilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    is_open: bool


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]+$")
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    patronymic: str | None = Field(default=None, max_length=100)
    birth_date: date
    sex: Sex
    attached_facility_code: str | None = Field(default=None, max_length=32)

    @field_validator("birth_date")
    @classmethod
    def _not_future(cls, v: date) -> date:
        if v > date.today():
            raise ValueError("birth date is in the future")
        if v.year < 1880:
            raise ValueError("birth date is before 1880")
        return v


class PersonPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    patronymic: str | None = Field(default=None, max_length=100)
    attached_facility_code: str | None = Field(default=None, max_length=32)


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    national_id: str | None
    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: date
    sex: Sex
    attached_facility_id: int | None
    deceased_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class PersonQuery(BaseModel):
    national_id: str | None = None
    name: str | None = None
    birth_date: date | None = None
