"""Employer organisations: what the API takes and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from salomat.core.text import NameText, OptNameText

__all__ = ["EmployerIn", "EmployerOut", "EmployerPatch"]


def _blank_is_none(v: str | None) -> str | None:
    return v or None


class EmployerIn(BaseModel):
    """An employer. ``business_id`` follows the pack's ``business_id`` rule (KZ BIN, UZ
    STIR); spaces and hyphens typed inside it are dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    business_id: str = Field(min_length=1, max_length=32)
    name: NameText = Field(min_length=1, max_length=300)
    names: dict[str, NameText] = Field(default_factory=dict)
    settlement_code: str | None = Field(default=None, max_length=32)
    active: bool = True

    _blank = field_validator("settlement_code")(_blank_is_none)


class EmployerPatch(BaseModel):
    """A change: only the fields sent change (send ``null`` to clear the settlement). The
    business id identifies the organisation and does not change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: OptNameText = Field(default=None, min_length=1, max_length=300)
    names: dict[str, NameText] | None = None
    settlement_code: str | None = Field(default=None, max_length=32)
    active: bool | None = None


class EmployerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    business_id: str
    name: str
    names: dict[str, str] = Field(default_factory=dict)
    settlement_code: str | None = None
    active: bool
    created_at: datetime
    updated_at: datetime | None = None
    version: int = 1
