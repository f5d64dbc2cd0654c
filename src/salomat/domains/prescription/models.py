"""E-prescriptions with reimbursement: the formulary, prescriptions, dispensings, claims.

Money is kept in minor units (tiyin, tiyn) as integers, so sums are exact on
both backends. Every person-level row carries ``person_id`` (the Citus
distribution key); the formulary is a small reference table.

The one invariant two pharmacies race on, never dispensing more than was
prescribed, is a check constraint (``dispensed_units <= quantity_units``)
plus a conditional UPDATE that adds the units only while they fit, so it
holds whatever two requests do at once (DESIGN rule 9).
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class Medicine(Base):
    """One package of the national formulary: INN, ATC, form, strength, package, price."""

    __tablename__ = "medicine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the national drug register's number for this package (the import's key)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    inn: Mapped[str] = mapped_column(String(200), index=True)
    #: WHO ATC code, level 5 (e.g. C09AA05)
    atc: Mapped[str] = mapped_column(String(7), index=True)
    trade_name: Mapped[str | None] = mapped_column(String(200))
    #: tablet | capsule | solution | injection | inhaler | ...
    form: Mapped[str] = mapped_column(String(32))
    strength: Mapped[str] = mapped_column(String(64))
    #: the unit a dose is counted in (tablet, ml, dose) and how many a package holds
    unit: Mapped[str] = mapped_column(String(16))
    units_per_package: Mapped[int] = mapped_column(Integer)
    #: the fund's reference price of one package, in minor units
    reference_price: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("units_per_package > 0", name="units_per_package"),
        CheckConstraint("reference_price >= 0", name="reference_price"),
    )


PRESCRIPTION_STATUSES = ("active", "dispensed", "cancelled", "expired")


class Prescription(Base):
    """What a doctor prescribed for one person: one INN, a quantity, a validity period."""

    __tablename__ = "prescription"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    #: the short code a person reads out at the pharmacy (unique, no look-alike letters)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    inn: Mapped[str] = mapped_column(String(200))
    #: the package the doctor chose; the pharmacy may substitute within the INN
    medicine_id: Mapped[int] = mapped_column(ForeignKey("medicine.id"))
    #: ICD-10 at its most detailed level; required for a reimbursed item
    diagnosis: Mapped[str | None] = mapped_column(String(8))
    reimbursed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the reimbursement rate (0-100 %) the pack gave at prescribing
    reimbursement_pct: Mapped[int] = mapped_column(Integer, default=0)
    #: regular | reimbursed | narcotic ...: the pack's types, each with its validity
    kind: Mapped[str] = mapped_column(String(24))
    dose_units: Mapped[float] = mapped_column(Float)
    times_per_day: Mapped[int] = mapped_column(Integer)
    days: Mapped[int] = mapped_column(Integer)
    quantity_units: Mapped[int] = mapped_column(Integer)
    dispensed_units: Mapped[int] = mapped_column(Integer, default=0)
    instructions: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    prescriber_username: Mapped[str] = mapped_column(String(150), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    #: local | fhir (submitted by another system)
    source: Mapped[str] = mapped_column(String(16), default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("status IN ('active', 'dispensed', 'cancelled', 'expired')", name="status"),
        CheckConstraint("quantity_units > 0", name="quantity"),
        # never more dispensed than prescribed, whatever two pharmacies do at once
        CheckConstraint(
            "dispensed_units >= 0 AND dispensed_units <= quantity_units", name="dispensed"
        ),
        CheckConstraint("reimbursement_pct BETWEEN 0 AND 100", name="reimbursement_pct"),
        CheckConstraint("NOT reimbursed OR diagnosis IS NOT NULL", name="reimbursed_diagnosis"),
        CheckConstraint("valid_until >= issued_on", name="validity"),
        Index("ix_prescription_person_inn_status", "person_id", "inn", "status"),
        # one active prescription per person and INN, whatever two doctors do at once
        # (a lapsed one is marked expired before a new one is written)
        Index(
            "ux_prescription_active_inn",
            "person_id",
            "inn",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )


class Dispensing(Base):
    """One visit to one pharmacy: units of one package given against a prescription."""

    __tablename__ = "dispensing"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the pharmacy (a facility of the registry)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    pharmacist_username: Mapped[str] = mapped_column(String(150))
    #: the package given (same INN as prescribed; a substitution when it differs)
    medicine_id: Mapped[int] = mapped_column(ForeignKey("medicine.id"))
    units: Mapped[int] = mapped_column(Integer)
    packages: Mapped[float] = mapped_column(Float)
    #: the pharmacy's price for what was given, the fund's share and the patient's
    price: Mapped[int] = mapped_column(Integer)
    reimbursed_amount: Mapped[int] = mapped_column(Integer)
    copayment: Mapped[int] = mapped_column(Integer)
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("units > 0", name="units"),
        CheckConstraint("price >= 0 AND reimbursed_amount >= 0 AND copayment >= 0", name="amounts"),
        Index("ix_dispensing_facility_at", "facility_id", "dispensed_at"),
    )


CLAIM_STATUSES = ("open", "submitted", "approved", "rejected")
LINE_STATUSES = ("entered", "flagged", "approved", "rejected")


class Claim(Base):
    """A pharmacy's monthly claim to the fund; its lines are the month's dispensings."""

    __tablename__ = "reimbursement_claim"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    #: the first day of the month claimed
    month: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("status IN ('open', 'submitted', 'approved', 'rejected')", name="status"),
        # one claim per pharmacy and month
        Index("ux_reimbursement_claim_month", "facility_id", "month", unique=True),
    )


class ClaimLine(Base):
    """The fund's share of one dispensing, with the anomaly flags the rules raised."""

    __tablename__ = "reimbursement_claim_line"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("reimbursement_claim.id"), index=True)
    dispensing_id: Mapped[int] = mapped_column(ForeignKey("dispensing.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="entered")
    #: [{"rule": "after_death", "reason": "..."}]: each flag with its reason
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reviewed_by: Mapped[str | None] = mapped_column(String(150))
    review_note: Mapped[str | None] = mapped_column(String(500))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('entered', 'flagged', 'approved', 'rejected')", name="status"),
        CheckConstraint("amount >= 0", name="amount"),
        Index(
            "ix_reimbursement_claim_line_flagged",
            "status",
            sqlite_where=text("status = 'flagged'"),
            postgresql_where=text("status = 'flagged'"),
        ),
    )
