"""Mobile medical teams: the team (its base facility and members), its planned visits to
settlements (the visit calendar), and the visits it recorded with the people it saw.

A team is the registry's facility's: its members are the registry's practitioners. A
planned visit is one settlement on one day, in the order of the day's tour. A recorded
visit is an encounter at a settlement on a day (optionally the planned one); each person
seen is one row per service given (``mobile_visit_person``), carrying ``person_id`` (the
distribution key on Citus, like every person's row).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class MobileTeam(Base):
    """A mobile medical team (a mobile medical complex's crew) based at a facility."""

    __tablename__ = "mobile_team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MobileTeamMember(Base):
    __tablename__ = "mobile_team_member"

    team_id: Mapped[int] = mapped_column(ForeignKey("mobile_team.id"), primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id"), primary_key=True, index=True
    )


class MobileVisitPlan(Base):
    """One settlement on one day of a team's calendar (``sequence``: its place in the
    day's tour, from 1)."""

    __tablename__ = "mobile_visit_plan"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("mobile_team.id"))
    #: a territory of level ``settlement``
    settlement_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    planned_on: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    #: the day's tour in km and minutes (travel + service), as planned
    day_km: Mapped[float] = mapped_column(Float)
    day_minutes: Mapped[float] = mapped_column(Float)
    #: "road" or "estimate" (service/geo.py)
    method: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("team_id", "settlement_id", "planned_on"),
        CheckConstraint("sequence >= 1", name="sequence"),
        CheckConstraint("method IN ('road', 'estimate')", name="method"),
        Index("ix_mobile_visit_plan_team_day", "team_id", "planned_on"),
    )


class MobileVisit(Base):
    """A visit a team made: an encounter at a settlement on a day."""

    __tablename__ = "mobile_visit"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("mobile_team.id"))
    settlement_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("mobile_visit_plan.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mobile_visit_team_day", "team_id", "visited_on"),)


class MobileVisitPerson(Base):
    """A person seen during a visit and a service given (one row per service)."""

    __tablename__ = "mobile_visit_person"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("mobile_visit.id"), index=True)
    person_id: Mapped[int] = mapped_column(ROW_ID, ForeignKey("person.id"), index=True)
    #: consultation | screening | vaccination | prescription | referral
    service: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("visit_id", "person_id", "service"),)
