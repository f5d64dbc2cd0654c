"""The planning domain's own rows: census figures of settlements and saved scenarios.

Settlements, facilities and staff are the registry's (``registry.models``); a settlement's
population from a census or an estimate is kept here with its source and date, beside
(never instead of) the count of people the registry attaches to its facilities: attachment
is not residence (docs/planning.md). No row here is a person's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime


class SettlementCensus(Base):
    """The resident population of one settlement on one date, with where it comes from."""

    __tablename__ = "settlement_census"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: a territory of level ``settlement``
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    population: Mapped[int] = mapped_column(Integer)
    #: the census, register or estimate the figure is from (shown beside it)
    source: Mapped[str] = mapped_column(String(300))
    imported_by: Mapped[str] = mapped_column(String(150))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("territory_id", "as_of"),
        CheckConstraint("population >= 0", name="population"),
    )


class PlanningScenario(Base):
    """A planner's saved "what if": units proposed in settlements of a territory, compared
    under one norm edition (service/access.py computes it; only the inputs are stored)."""

    __tablename__ = "planning_scenario"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the region (or district) the scenario is about
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    edition: Mapped[str | None] = mapped_column(String(32))
    #: [{"settlement": code, "unit": unit code}, ...]
    proposed: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
