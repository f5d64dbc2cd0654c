"""The immunization registry: every dose given to a person, and what stands against a dose.

Every row carries ``person_id`` (the Citus distribution key). Doses are never
deleted: a dose entered by mistake is marked ``entered_in_error`` (FHIR
Immunization.status), and a dose given before its minimum age or interval is
kept with ``valid = false`` and the reason, as WHO counts it (it does not
count towards the series; the schedule asks for it again).

Doses count in order (``service.counting``): ``dose_number`` is what the
clinician recorded, ``counted_as`` the place the dose fills in its series,
derived from the person's valid doses in date order and recomputed on every
write to the person's card. ``valid`` and ``invalid_reason`` are the same
verdict; all three are a stored copy of what the engine says, kept so that
coverage counts in SQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

#: completed | entered_in_error (FHIR Immunization.status; not-done is an ``Exemption``)
DOSE_STATUSES = ("completed", "entered_in_error")
#: where the record came from
DOSE_SOURCES = ("entered", "elsewhere", "fhir", "demo")
#: the rows of ``ux_immunization_dose_counted``
COUNTED_DOSE = "counted_as IS NOT NULL AND status = 'completed'"


class Dose(Base):
    """One dose of one antigen series given to one person."""

    __tablename__ = "immunization_dose"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the pack's series code: hepb, bcg, opv, penta, pcv, rota, ipv, mmr, dtp, td, hpv, covid19
    antigen: Mapped[str] = mapped_column(String(32))
    #: the dose number the clinician recorded (1, 2, ..., as the calendar numbers doses)
    dose_number: Mapped[int] = mapped_column(Integer)
    #: the place it counts in its series (valid doses in date order); None: it does not
    #: count (invalid, entered in error, or an antigen outside the calendar)
    counted_as: Mapped[int | None] = mapped_column(Integer)
    given_on: Mapped[date] = mapped_column(Date)
    #: the product given (the pack's vaccine code), its lot and expiry
    vaccine: Mapped[str | None] = mapped_column(String(64))
    lot: Mapped[str | None] = mapped_column(String(64))
    expires_on: Mapped[date | None] = mapped_column(Date)
    #: left_arm | right_arm | left_thigh | right_thigh | oral | ... (the pack's list)
    site: Mapped[str | None] = mapped_column(String(32))
    #: where it was given: a facility of the registry, or a free-text place elsewhere
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    place_elsewhere: Mapped[str | None] = mapped_column(String(300))
    #: who gave it (a practitioner of the registry) when known
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    #: false: given before the minimum age or interval, or once the series was complete;
    #: the reason says which
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(24), default="completed")
    source: Mapped[str] = mapped_column(String(16), default="entered")
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("dose_number >= 1", name="dose_number"),
        CheckConstraint("status IN ('completed', 'entered_in_error')", name="status"),
        CheckConstraint("source IN ('entered', 'elsewhere', 'fhir', 'demo')", name="source"),
        CheckConstraint("valid OR invalid_reason IS NOT NULL", name="invalid_has_reason"),
        CheckConstraint("counted_as IS NULL OR (valid AND counted_as >= 1)", name="counted_valid"),
        Index("ix_immunization_dose_person_antigen", "person_id", "antigen", "given_on"),
        Index("ix_immunization_dose_antigen_given", "antigen", "dose_number", "given_on"),
        # one dose counts in each place of a series, whatever two requests do at once
        Index(
            "ux_immunization_dose_counted",
            "person_id",
            "antigen",
            "counted_as",
            unique=True,
            sqlite_where=text(COUNTED_DOSE),
            postgresql_where=text(COUNTED_DOSE),
        ),
    )


#: contraindication (medical) | refusal (by the person or parent)
EXEMPTION_KINDS = ("contraindication", "refusal")


class Exemption(Base):
    """A contraindication or a refusal: the schedule does not ask for the antigen meanwhile."""

    __tablename__ = "immunization_exemption"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the antigen it concerns; None: every vaccine
    antigen: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    starts_on: Mapped[date] = mapped_column(Date)
    #: None: permanent (or until withdrawn)
    ends_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('contraindication', 'refusal')", name="kind"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),
    )
