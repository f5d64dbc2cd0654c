"""Screening visits, their measurements, and the disease-management enrolments.

Every row is a person's and carries ``person_id`` (the distribution key on Citus).
Measurements of a screening and of a DMP follow-up share one table
(``screening_observation``): the value in the canonical UCUM unit for comparisons and
indicators, and the value and unit as entered for the record. One open enrolment per
person and programme is a partial unique index, not only a check.
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

RESULTS = ("normal", "abnormal")
NEXT_STEPS = ("none", "refer", "enrol")
END_REASONS = ("died", "transferred", "withdrawn", "recovered", "merged")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ScreeningVisit(Base):
    """One screening of one person under one programme of the pack."""

    __tablename__ = "screening_visit"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    #: a screening programme of the pack (cvd_risk, cervical, ...)
    programme: Mapped[str] = mapped_column(String(32))
    performed_on: Mapped[date] = mapped_column(Date)
    #: outside the target group on the day: kept, never counted as coverage
    opportunistic: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str] = mapped_column(String(16))
    next_step: Mapped[str] = mapped_column(String(16), default="none")
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("result", RESULTS), name="result"),
        CheckConstraint(_in("next_step", NEXT_STEPS), name="next_step"),
        CheckConstraint("result = 'abnormal' OR next_step = 'none'", name="normal_no_step"),
        Index("ix_screening_visit_person_programme", "person_id", "programme", "performed_on"),
    )


class DmpEnrolment(Base):
    """A person under dynamic observation in one disease-management programme."""

    __tablename__ = "dmp_enrolment"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    #: the facility the patient is assigned to (Simple's "assigned facility")
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    #: a DMP programme of the pack (hypertension, t2dm, chf, ...)
    programme: Mapped[str] = mapped_column(String(32))
    #: the qualifying ICD-10 code (I10, E11.9, ...)
    diagnosis_code: Mapped[str] = mapped_column(String(8))
    #: registration date: the indicators' cohorts count from it
    enrolled_on: Mapped[date] = mapped_column(Date)
    next_visit_due: Mapped[date | None] = mapped_column(Date)
    #: a prior heart attack or stroke (Simple's high-risk rule); None: not asked
    prior_mi_stroke: Mapped[bool | None] = mapped_column(Boolean)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(16))
    recorded_by: Mapped[str] = mapped_column(String(150))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            "(ended_on IS NULL AND end_reason IS NULL) OR "
            f"(ended_on IS NOT NULL AND {_in('end_reason', END_REASONS)})",
            name="ended",
        ),
        Index(
            "ux_dmp_enrolment_open",
            "person_id",
            "programme",
            unique=True,
            sqlite_where=text("ended_on IS NULL"),
            postgresql_where=text("ended_on IS NULL"),
        ),
        Index("ix_dmp_enrolment_facility_due", "facility_id", "next_visit_due"),
        Index("ix_dmp_enrolment_person", "person_id"),
    )


class DmpVisit(Base):
    """A follow-up visit of an enrolled patient; its readings are observations."""

    __tablename__ = "dmp_visit"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("dmp_enrolment.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    visited_on: Mapped[date] = mapped_column(Date)
    next_visit_due: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_dmp_visit_person_on", "person_id", "visited_on"),)


class ScreeningObservation(Base):
    """One measurement (a blood pressure, an HbA1c, a cytology result, ...)."""

    __tablename__ = "screening_observation"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    observed_on: Mapped[date] = mapped_column(Date)
    #: bp, hba1c, glucose_fasting, cholesterol, bmi, smoking, iop, cytology, hpv, ...
    kind: Mapped[str] = mapped_column(String(24))
    #: blood pressure, mm[Hg]
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    #: the value in the canonical unit (``unit``); a coded result keeps it in ``code``
    value: Mapped[float | None] = mapped_column(Float)
    #: canonical UCUM unit (mmol/L, %, mm[Hg], kg/m2)
    unit: Mapped[str | None] = mapped_column(String(16))
    #: as entered
    value_entered: Mapped[str | None] = mapped_column(String(32))
    unit_entered: Mapped[str | None] = mapped_column(String(16))
    #: a coded result (normal, abnormal, positive, BI-RADS 0-6, current, never, ...)
    code: Mapped[str | None] = mapped_column(String(16))
    loinc: Mapped[str | None] = mapped_column(String(16))
    screening_visit_id: Mapped[int | None] = mapped_column(ForeignKey("screening_visit.id"))
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("dmp_enrolment.id"))
    dmp_visit_id: Mapped[int | None] = mapped_column(ForeignKey("dmp_visit.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "kind <> 'bp' OR (systolic IS NOT NULL AND diastolic IS NOT NULL)", name="bp_values"
        ),
        Index("ix_screening_observation_person_kind_on", "person_id", "kind", "observed_on"),
        Index("ix_screening_observation_visit", "screening_visit_id"),
        Index("ix_screening_observation_enrolment", "enrolment_id"),
    )
