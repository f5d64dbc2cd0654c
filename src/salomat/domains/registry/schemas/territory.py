"""Territory: regions, districts and settlements, with their population."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from salomat.core.text import NameText, OptNameText

__all__ = [
    "AGE_BANDS",
    "ImportIssue",
    "ImportReport",
    "Level",
    "PopulationIn",
    "PopulationOut",
    "TerritoryIn",
    "TerritoryOut",
    "TerritoryPatch",
    "TerritoryRow",
]

Level = Literal["region", "district", "settlement"]
#: lower bounds of the 5-year age bands; 85 means 85 and over
AGE_BANDS: tuple[int, ...] = tuple(range(0, 90, 5))
CODE = r"^[A-Za-z0-9._-]+$"


class TerritoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: the national classifier's code (SOATO in Uzbekistan, KATO in Kazakhstan)
    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    level: Level
    parent_code: str | None = Field(default=None, max_length=32)
    name: NameText = Field(min_length=1, max_length=200)
    #: the name in each language of the pack
    names: dict[str, NameText] = Field(default_factory=dict)
    #: settlements only: rural (village) or urban (town, city)
    is_rural: bool | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class TerritoryPatch(BaseModel):
    """A correction; the code, level and parent stay (a reform makes new units)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: OptNameText = Field(default=None, min_length=1, max_length=200)
    names: dict[str, NameText] | None = None
    is_rural: bool | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class TerritoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    level: Level
    parent_code: str | None = None
    name: str
    names: dict[str, str]
    is_rural: bool | None
    latitude: float | None
    longitude: float | None
    version: int


class PopulationIn(BaseModel):
    """Residents of a settlement on 1 January of ``year``, one count per band of AGE_BANDS."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1900, le=2100)
    male: list[int] = Field(min_length=len(AGE_BANDS), max_length=len(AGE_BANDS))
    female: list[int] = Field(min_length=len(AGE_BANDS), max_length=len(AGE_BANDS))

    @model_validator(mode="after")
    def _not_negative(self) -> PopulationIn:
        if any(n < 0 for n in self.male + self.female):
            raise ValueError("counts must not be negative")
        return self


class PopulationOut(BaseModel):
    """A unit's population: a settlement's own, or the sum of the settlements below it."""

    code: str
    year: int | None
    bands: list[int] = Field(default_factory=lambda: list(AGE_BANDS))
    male: list[int]
    female: list[int]
    total: int
    rural: int
    urban: int
    settlements: int


class TerritoryRow(BaseModel):
    """One valid row of a territory CSV (``line`` is the file's line number)."""

    line: int
    unit: TerritoryIn
    population: PopulationIn | None = None


class ImportIssue(BaseModel):
    line: int
    column: str
    message: str


class ImportReport(BaseModel):
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    populations: int = 0
    dry_run: bool = False
    #: true when the rows were written (no issue, not a dry run)
    stored: bool = False
    issues: list[ImportIssue] = Field(default_factory=list)
