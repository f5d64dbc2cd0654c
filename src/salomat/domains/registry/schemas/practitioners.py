"""Practitioners and their roles at facilities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salomat.core.params import MAX_SMALL_ID
from salomat.core.text import NameText, OptNameText

__all__ = [
    "MAX_FTE",
    "PractitionerIn",
    "PractitionerLink",
    "PractitionerLinkOut",
    "PractitionerOut",
    "PractitionerPatch",
    "PractitionerQuery",
    "PractitionerRoleIn",
    "PractitionerRoleOut",
    "PractitionerRolePatch",
]

_NAME = {"min_length": 1, "max_length": 100}

#: the most one person works, summed over their roles at one time (full-time equivalents);
#: the column's own check (migration 0034) holds each role to it too
MAX_FTE = Decimal("1.5")
#: a role's full-time equivalent: above 0, at most ``MAX_FTE``, in hundredths
Fte = Annotated[Decimal, Field(gt=0, le=MAX_FTE, max_digits=4, decimal_places=2)]


def _blank_is_none(v: str | None) -> str | None:
    return v or None


class PractitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32)
    family_name: NameText = Field(**_NAME)
    given_name: NameText = Field(**_NAME)
    patronymic: OptNameText = Field(default=None, max_length=100)
    sex: Literal["male", "female"] | None = None
    #: a specialty of the country pack (``specialties``)
    specialty: str = Field(min_length=1, max_length=64)
    licence_number: OptNameText = Field(default=None, max_length=64)
    licence_valid_until: date | None = None
    phone: str | None = Field(default=None, max_length=32)

    _blank = field_validator("national_id", "patronymic", "licence_number", "phone")(_blank_is_none)


class PractitionerPatch(BaseModel):
    """A change: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, max_length=32)
    family_name: OptNameText = Field(default=None, **_NAME)
    given_name: OptNameText = Field(default=None, **_NAME)
    patronymic: OptNameText = Field(default=None, max_length=100)
    sex: Literal["male", "female"] | None = None
    specialty: str | None = Field(default=None, min_length=1, max_length=64)
    licence_number: OptNameText = Field(default=None, max_length=64)
    licence_valid_until: date | None = None
    phone: str | None = Field(default=None, max_length=32)
    #: false when the practitioner leaves the profession (their roles are ended)
    active: bool | None = None


class PractitionerRoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facility_code: str = Field(min_length=1, max_length=32)
    #: a position of the country pack (``positions``)
    position: str = Field(min_length=1, max_length=64)
    #: a section of that facility (family doctors, patronage nurses)
    section_code: str | None = Field(default=None, max_length=16)
    start_on: date
    end_on: date | None = None
    #: full-time equivalent (1 a full post); one person's roles at one time sum to at most
    #: 1.5 (the service checks the sum)
    fte: Fte = Decimal("1")

    _blank = field_validator("section_code")(_blank_is_none)

    @model_validator(mode="after")
    def _dates(self) -> PractitionerRoleIn:
        if self.end_on is not None and self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        return self


class PractitionerRolePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    position: str | None = Field(default=None, min_length=1, max_length=64)
    section_code: str | None = Field(default=None, max_length=16)
    start_on: date | None = None
    end_on: date | None = None
    fte: Fte | None = None


class PractitionerRoleOut(BaseModel):
    id: int
    practitioner_id: int
    facility_id: int
    facility_code: str
    position: str
    section_code: str | None
    start_on: date
    end_on: date | None
    #: full-time equivalent of the post (stored versions from before FTE read as 1)
    fte: float = 1.0
    #: started and not ended today
    current: bool
    version: int


class PractitionerOut(BaseModel):
    id: int
    national_id: str | None
    family_name: str
    given_name: str
    patronymic: str | None
    sex: str | None
    specialty: str
    licence_number: str | None
    licence_valid_until: date | None
    phone: str | None
    active: bool
    version: int
    roles: list[PractitionerRoleOut] = Field(default_factory=list)


class PractitionerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=2, max_length=100)
    specialty: str | None = Field(default=None, max_length=64)
    facility_code: str | None = Field(default=None, max_length=32)
    licence_number: str | None = Field(default=None, max_length=64)
    active: bool | None = None


class PractitionerLink(BaseModel):
    """Links a user account to its practitioner record (``null`` unlinks)."""

    model_config = ConfigDict(extra="forbid")

    practitioner_id: int | None = Field(ge=1, le=MAX_SMALL_ID)


class PractitionerLinkOut(BaseModel):
    user_id: int
    username: str
    practitioner_id: int | None
