"""The child health passport's tables: growth measurements, well-child visits, newborn data.

Every row carries ``person_id`` (the child; the Citus distribution key). The
z-scores are stored as computed at recording time, with the age and sex they
were computed for, so a later correction of the registry (a birth date typed
wrong) shows up as a difference rather than silently rewriting old charts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

FEEDING = ("exclusive_breastfeeding", "mixed", "formula", "complementary")


class GrowthMeasurement(Base):
    """One anthropometric measurement of a child and its WHO z-scores."""

    __tablename__ = "growth_measurement"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    measured_on: Mapped[date] = mapped_column(Date)
    #: age in days on ``measured_on`` and the sex the z-scores were computed for
    age_days: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(8))
    weight_kg: Mapped[float | None] = mapped_column(Float)
    length_or_height_cm: Mapped[float | None] = mapped_column(Float)
    #: True: recumbent length; False: standing height (as measured, not as due for the age)
    measured_lying: Mapped[bool | None] = mapped_column(Boolean)
    head_circumference_cm: Mapped[float | None] = mapped_column(Float)
    muac_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    wfa_z: Mapped[float | None] = mapped_column(Float)
    lhfa_z: Mapped[float | None] = mapped_column(Float)
    #: ``wfl`` (under 24 months) or ``wfh``: which of the two ``wfl_or_wfh_z`` is
    wfl_or_wfh: Mapped[str | None] = mapped_column(String(3))
    wfl_or_wfh_z: Mapped[float | None] = mapped_column(Float)
    bmifa_z: Mapped[float | None] = mapped_column(Float)
    hcfa_z: Mapped[float | None] = mapped_column(Float)
    #: indicators whose |z| is biologically implausible (wfa, lhfa, wfl_or_wfh, ...)
    implausible: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: stunting, severe_stunting, wasting, ..., from the plausible z-scores
    classification: Mapped[list[str]] = mapped_column(JSON, default=list)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: entered in error: why, who and when (all three or none); the row stays, out of the charts
    error_reason: Mapped[str | None] = mapped_column(String(500))
    error_marked_by: Mapped[str | None] = mapped_column(String(150))
    error_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the row's version (the ETag); marking it entered in error takes it in If-Match
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def entered_in_error(self) -> bool:
        return self.error_marked_at is not None

    __table_args__ = (
        CheckConstraint("age_days >= 0", name="age_days"),
        CheckConstraint("sex IN ('male', 'female')", name="sex"),
        CheckConstraint(
            "(error_marked_at IS NULL AND error_marked_by IS NULL AND error_reason IS NULL)"
            " OR (error_marked_at IS NOT NULL AND error_marked_by IS NOT NULL"
            " AND error_reason IS NOT NULL)",
            name="error_marked",
        ),
        CheckConstraint("weight_kg IS NULL OR (weight_kg > 0 AND weight_kg <= 200)", name="weight"),
        CheckConstraint(
            "length_or_height_cm IS NULL OR length_or_height_cm BETWEEN 30 AND 230",
            name="length",
        ),
        CheckConstraint("wfl_or_wfh IS NULL OR wfl_or_wfh IN ('wfl', 'wfh')", name="wfl_or_wfh"),
        Index("ix_growth_measurement_person_on", "person_id", "measured_on"),
    )


class WellChildVisit(Base):
    """A preventive (well-child) visit: development, feeding and what the child had."""

    __tablename__ = "well_child_visit"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    age_days: Mapped[int] = mapped_column(Integer)
    #: codes of the developmental milestones seen achieved
    milestones: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: one of ``FEEDING``
    feeding: Mapped[str | None] = mapped_column(String(24))
    notes: Mapped[str | None] = mapped_column(String(2000))
    #: illnesses since the last visit (free text, short)
    illnesses: Mapped[list[str]] = mapped_column(JSON, default=list)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("age_days >= 0", name="age_days"),
        CheckConstraint(
            "feeding IS NULL OR feeding IN "
            "('exclusive_breastfeeding', 'mixed', 'formula', 'complementary')",
            name="feeding",
        ),
        Index("ix_well_child_visit_person_on", "person_id", "on"),
    )


class NewbornRecord(Base):
    """The newborn's data: birth measurements and the newborn screening results.

    One per child (a unique ``person_id``). Birth weight, length and Apgar are
    copied from the maternal birth record when the baby was born in the system
    (``from_birth_record``); otherwise entered from the discharge summary.
    """

    __tablename__ = "newborn_record"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    from_birth_record: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_weight_g: Mapped[int | None] = mapped_column(Integer)
    birth_length_cm: Mapped[float | None] = mapped_column(Float)
    apgar_1: Mapped[int | None] = mapped_column(Integer)
    apgar_5: Mapped[int | None] = mapped_column(Integer)
    ga_days: Mapped[int | None] = mapped_column(Integer)
    #: test -> result, e.g. {"hearing": "pass", "hypothyroidism": "normal"}
    screening: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    screened_on: Mapped[date | None] = mapped_column(Date)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            "birth_weight_g IS NULL OR birth_weight_g BETWEEN 300 AND 7000", name="weight"
        ),
        CheckConstraint("apgar_1 IS NULL OR apgar_1 BETWEEN 0 AND 10", name="apgar_1"),
        CheckConstraint("apgar_5 IS NULL OR apgar_5 BETWEEN 0 AND 10", name="apgar_5"),
    )
