"""Duplicate pairs found by the batch linkage, merges and their undoing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.params import MAX_ROW_ID, MAX_SMALL_ID
from salomat.core.text import Notes
from salomat.domains.registry.schemas.people import PersonOut

__all__ = [
    "DedupSummary",
    "DuplicatePairOut",
    "MergeIn",
    "MergeOut",
    "PairStatus",
    "UnmergeIn",
]

PairStatus = Literal["open", "merged", "distinct"]


class DuplicatePairOut(BaseModel):
    """Two records that may be one person, for a registrar to review."""

    id: int
    person_a: PersonOut
    person_b: PersonOut
    #: Splink's match probability (0-1) from the batch run that found the pair
    probability: float
    #: the registration-time score of ``score_pair`` (0-1) and its reasons, for the reviewer
    score: float
    reasons: list[str]
    status: PairStatus
    run_id: str | None
    found_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    #: the merge that joined the two (a merged pair), for undoing it
    merge_id: int | None = None


class MergeIn(BaseModel):
    """Merge ``merged_id`` into the person of the URL (the survivor keeps its id)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: a person-level row id (64-bit); a larger number is invalid input, not a 500
    merged_id: int = Field(ge=1, le=MAX_ROW_ID)
    reason: Notes = Field(min_length=10, max_length=500)
    #: the versions the registrar reviewed; a record changed since is refused (412)
    survivor_version: int | None = Field(default=None, ge=1, le=MAX_SMALL_ID)
    merged_version: int | None = Field(default=None, ge=1, le=MAX_SMALL_ID)


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Notes = Field(min_length=10, max_length=500)


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survivor_id: int
    merged_id: int
    reason: str
    #: what moved: row ids per table (every domain), fields copied to the survivor
    moved: dict[str, Any]
    merged_at: datetime
    merged_by: str
    undone_at: datetime | None
    undone_by: str | None
    note: str | None


class DedupSummary(BaseModel):
    """What one batch run of the linkage did."""

    run_id: str
    people: int
    compared: int
    above_threshold: int
    new_pairs: int
    updated_pairs: int
    left_alone: int
    threshold: float
    trained: bool
    seconds: float
