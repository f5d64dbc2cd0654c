"""What the epidemic API reads and answers: case notifications, daily counts, registered
beds and daily occupancy (docs/epidemic.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: int = Field(ge=1, le=2**63 - 1)
    #: an ICD-10 code of the pack's notifiable list (``A01.0``, ``U07.1``)
    icd10: str = Field(min_length=3, max_length=8)
    lab_confirmed: bool = False
    #: the laboratory's facility code (only with ``lab_confirmed``)
    lab_facility: Code | None = None
    onset_date: date
    report_date: date
    #: the district (registry territory code) where the case lives
    district: Code
    hospitalised: bool = False
    admission_date: date | None = None
    #: the notifying facility's code (default: the user's own facility)
    reporting_facility: Code | None = None


class NotificationOut(BaseModel):
    id: int
    person_id: int
    icd10: str
    disease: str
    lab_confirmed: bool
    lab_facility: str | None
    onset_date: date
    report_date: date
    district: str
    region: str | None
    hospitalised: bool
    admission_date: date | None
    reporting_facility: str
    reporter_user_id: int


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int


class ImportIssueOut(BaseModel):
    line: int
    field: str
    message: str


class NotificationImportOut(BaseModel):
    lines: int
    imported: int
    ids: list[int]


class AreaCountsOut(BaseModel):
    code: str
    name: str
    level: str
    #: one value per day of ``days``: a number, or "<5" where small counts are suppressed
    counts: list[int | str]


class CountsOut(BaseModel):
    by: Literal["onset", "report"]
    days: list[date]
    areas: list[AreaCountsOut]
    #: small counts (1-4) are shown as "<5" for readers who do not read notifications
    suppressed: bool


class BedsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility: Code
    profile: str = Field(min_length=1, max_length=16)
    beds: int = Field(le=100_000)
    valid_from: date


class BedsOut(BaseModel):
    facility: str
    profile: str
    beds: int
    valid_from: date


class OccupancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility: Code
    day: date
    profile: str = Field(min_length=1, max_length=16)
    occupied: int = Field(le=100_000)
    admitted: int = Field(le=100_000)
    discharged: int = Field(le=100_000)


class OccupancyOut(BaseModel):
    facility: str
    day: date
    profile: str
    profile_name: str
    beds: int | None
    occupied: int
    admitted: int
    discharged: int


class CapacityOut(BaseModel):
    #: a facility code or a region code
    area: str
    day: date
    profiles: list[OccupancyOut]
