"""A child's mother, father or guardian: what the API takes and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import NameText, OptNameText

__all__ = ["RelationEndIn", "RelationIn", "RelationKind", "RelationOut"]

RelationKind = Literal["mother", "father", "guardian"]


class RelationIn(BaseModel):
    """``related_person_id`` is the mother, father or guardian of the person in the path."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    related_person_id: int = Field(gt=0)
    kind: RelationKind
    #: default: the child's birth date for a mother or father, today for a guardian
    starts_on: date | None = None
    #: a birth certificate number, a court decision: what the relation rests on
    document: NameText = Field(min_length=3, max_length=300)


class RelationEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: default: today; never in the future
    ends_on: date | None = None
    #: the court decision that ends a guardianship, for example
    document: OptNameText = Field(default=None, max_length=300)


class RelationOut(BaseModel):
    """One relation, seen from either side; names only of people the user may see."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    related_person_id: int
    kind: RelationKind
    starts_on: date
    ends_on: date | None = None
    document: str
    end_document: str | None = None
    recorded_by: str
    recorded_at: datetime
    ended_by: str | None = None
    #: "child" when the person asked about is the child, "parent" when they are the parent
    side: Literal["child", "parent"] | None = None
    #: the other person's name, when the user may see them
    other_name: str | None = None
