"""Facilities: what the API takes and returns."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from salomat.core.params import MAX_SMALL_ID
from salomat.core.text import NameText, OptNameText

__all__ = [
    "FacilityClose",
    "FacilityIn",
    "FacilityOut",
    "FacilityPatch",
    "FacilityQuery",
    "SectionIn",
    "SectionOut",
]

_CODE = r"^[A-Za-z0-9._-]+$"


def _blank_is_none(v: str | None) -> str | None:
    return v or None


class FacilityIn(BaseModel):
    """A facility of the network. ``kind``, ``perinatal_level`` and ``beds`` follow the pack."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=32, pattern=_CODE)
    name: NameText = Field(min_length=1, max_length=300)
    kind: str = Field(min_length=1, max_length=64)
    names: dict[str, NameText] = Field(default_factory=dict)
    perinatal_level: int | None = Field(default=None, ge=1, le=3)
    settlement_code: str | None = Field(default=None, max_length=32)
    parent_code: str | None = Field(default=None, max_length=32)
    #: bed profile (pack ``bed_profiles``) -> number of beds
    beds: dict[str, int] = Field(default_factory=dict)
    address: OptNameText = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    opened_on: date | None = None

    _blank = field_validator("settlement_code", "parent_code", "address", "phone")(_blank_is_none)


class FacilityPatch(BaseModel):
    """A change: only the fields sent change (send ``null`` to clear one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: OptNameText = Field(default=None, min_length=1, max_length=300)
    kind: str | None = Field(default=None, min_length=1, max_length=64)
    names: dict[str, NameText] | None = None
    perinatal_level: int | None = Field(default=None, ge=1, le=3)
    settlement_code: str | None = Field(default=None, max_length=32)
    parent_code: str | None = Field(default=None, max_length=32)
    #: replaces the whole bed list; a profile with 0 beds is dropped
    beds: dict[str, int] | None = None
    address: OptNameText = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    opened_on: date | None = None


class FacilityClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closed_on: date | None = None


class FacilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    is_open: bool
    names: dict[str, str] = Field(default_factory=dict)
    perinatal_level: int | None = None
    settlement_code: str | None = None
    parent_code: str | None = None
    beds: dict[str, int] = Field(default_factory=dict)
    address: str | None = None
    phone: str | None = None
    opened_on: date | None = None
    closed_on: date | None = None
    version: int = 1


class FacilityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str | None = Field(default=None, max_length=32)
    kind: str | None = Field(default=None, max_length=64)
    #: a territory code: facilities in that settlement, or in the district or region
    territory_code: str | None = Field(default=None, max_length=32)
    parent_code: str | None = Field(default=None, max_length=32)
    is_open: bool | None = None


class SectionIn(BaseModel):
    """A family-doctor section (uchastok) of a primary-care facility."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=16, pattern=_CODE)
    name: NameText = Field(min_length=1, max_length=200)
    practitioner_id: int | None = Field(default=None, ge=1, le=MAX_SMALL_ID)


class SectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    facility_id: int
    code: str
    name: str
    practitioner_id: int | None
