"""What providers' claims, the reviewer's decisions, the control runs and the monthly
settlements take in and give out. Money is in minor units (tiyn, tiyin) as integers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import OptNotes

__all__ = [
    "ClaimIn",
    "ClaimLineIn",
    "ClaimLineOut",
    "ClaimOut",
    "ClaimSummary",
    "ControlRun",
    "Decision",
    "DecisionIn",
    "FlagOut",
    "SettlementOut",
]

Decision = Literal["accept", "reduce", "reject"]

#: at most this many lines in one claim (a month's services of one department)
MAX_LINES = 1000


class ClaimLineIn(BaseModel):
    """One service to one person on one day."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str = Field(min_length=1, max_length=32)
    service_code: str = Field(min_length=1, max_length=32)
    service_on: date
    quantity: int = Field(default=1, ge=1, le=999)
    #: the encounter in the sender's system the service belongs to, where there is one
    encounter_ref: str | None = Field(default=None, max_length=128)


class ClaimIn(BaseModel):
    """A provider's claim: the sender's own number (sent again: the stored claim) and its
    lines, all in one month."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(default=None, min_length=1, max_length=64)
    lines: list[ClaimLineIn] = Field(min_length=1, max_length=MAX_LINES)


class FlagOut(BaseModel):
    """A control rule that fired on a line, with its reason in the request's language."""

    rule: str
    rule_label: str
    reason: str
    params: dict[str, Any] = Field(default_factory=dict)


class ClaimLineOut(BaseModel):
    id: int
    claim_id: int
    facility_id: int
    person_id: int
    national_id: str | None = None
    person_name: str | None = None
    service_code: str
    service_name: str
    package: str
    service_on: date
    quantity: int
    amount_claimed: int
    amount_approved: int | None
    encounter_ref: str | None
    status: str
    status_label: str
    flags: list[FlagOut]
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class ClaimOut(BaseModel):
    id: int
    facility_id: int
    facility_code: str | None = None
    month: date
    external_id: str | None
    status: str
    submitted_by: str
    submitted_at: datetime
    amount_claimed: int
    lines: list[ClaimLineOut]
    #: False when the same external id was sent before: the stored claim, nothing added
    created: bool = True


class ClaimSummary(BaseModel):
    """A claim in a list: totals only, no person data."""

    id: int
    facility_id: int
    month: date
    external_id: str | None
    status: str
    submitted_at: datetime
    lines: int
    flagged: int
    amount_claimed: int


class DecisionIn(BaseModel):
    """The reviewer's decision on a line: accept it, reduce it to ``amount_approved``
    (less than claimed, minor units) or reject it; a reduction or rejection says why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Decision
    amount_approved: int | None = Field(default=None, ge=0, le=10**15)
    reason: OptNotes = Field(default=None, max_length=500)


class ControlRun(BaseModel):
    """One run of the control rules over a month's lines."""

    month: date
    lines: int
    #: lines each rule fires on (whether or not they were already flagged or decided)
    fired: dict[str, int]
    #: lines that got a flag they did not carry
    newly_flagged: int


class SettlementOut(BaseModel):
    id: int
    facility_id: int
    facility_code: str | None = None
    facility_name: str | None = None
    month: date
    capitation: int
    #: attached people counted on the month's first day by group: {"0-0/male": 12, ...}
    capitation_detail: dict[str, int]
    services: int
    pharmacy: int
    total: int
    status: str
    computed_at: datetime
    computed_by: str
    #: flagged lines not yet decided (counted once decided)
    pending_lines: int = 0
