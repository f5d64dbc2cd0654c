"""The health-insurance fund: payers, contributions, protected categories, claims for
services, provider settlements (issue 17, docs/insurance.md).

Money is kept in minor units (tiyn, tiyin) as integers: sums stay exact and the
database adds them. A person's insured status is not stored: it follows from the
contributions and categories each time (``service.coverage``), so a late payment or a
corrected file changes it without a rebuild.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")
MONEY = BigInteger().with_variant(Integer, "sqlite")

PAYER_KINDS = ("employer", "entrepreneur", "independent", "self_employed", "state", "aggregate")
#: what a contribution line is: the employer's 3 %, the employee's 2 % (withheld and paid
#: by the employer), a person paying for themself, the state for a protected person
CONTRIBUTION_KINDS = (
    "employer",
    "employee",
    "entrepreneur",
    "independent",
    "self_employed",
    "state",
    "aggregate",
)
CLAIM_STATUSES = ("submitted", "settled")
#: a line is entered, flagged by a control rule, or decided by a reviewer
LINE_STATUSES = ("entered", "flagged", "accepted", "reduced", "rejected")
DECIDED = ("accepted", "reduced", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Payer(Base):
    """Who pays contributions: an employer (its business id), an individual entrepreneur
    (business id), an independent or platform self-employed person (national id), the
    state. ``code`` is what a payment file names in its payer column."""

    __tablename__ = "ins_payer"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint(_in("kind", PAYER_KINDS), name="kind"),)


class Employment(Base):
    """A person working for a paying employer from ``start_on`` (to ``end_on``), with the
    monthly wage the expected contributions are computed from."""

    __tablename__ = "ins_employment"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("ins_payer.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    #: minor units a month
    monthly_wage: Mapped[int] = mapped_column(MONEY)
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("monthly_wage >= 0", name="wage"),
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates"),
        UniqueConstraint("payer_id", "person_id", "start_on", name="ux_ins_employment_start"),
    )


class ContributionImport(Base):
    """One payment file taken in whole: the same bytes again add nothing."""

    __tablename__ = "ins_import"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str | None] = mapped_column(String(200))
    lines: Mapped[int] = mapped_column(Integer)
    #: lines already present from an earlier file or call (stored once)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(MONEY)
    imported_by: Mapped[str] = mapped_column(String(150))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Contribution(Base):
    """One month's contribution for one person from one payer, as paid."""

    __tablename__ = "ins_contribution"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("ins_payer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the first day of the month the payment names
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(MONEY)
    paid_on: Mapped[date] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("ins_import.id"), index=True)
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("kind", CONTRIBUTION_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount"),
        # the same payment twice (a file imported again, a retried call) is one row
        UniqueConstraint(
            "person_id",
            "payer_id",
            "kind",
            "month",
            "paid_on",
            "amount",
            name="ux_ins_contribution",
        ),
        Index("ix_ins_contribution_month", "month", "payer_id"),
    )


class CategoryMember(Base):
    """A person in one of the state's protected categories (the pack's list) for a time,
    as the body that keeps the list reported it. Children and pensioners follow from the
    register and are not stored."""

    __tablename__ = "ins_category_member"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates"),
        UniqueConstraint("person_id", "category", "start_on", name="ux_ins_category_start"),
    )


class ServiceClaim(Base):
    """A provider's claim for services (fee-for-service): lines at the pack's tariffs."""

    __tablename__ = "ins_claim"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    #: the first day of the month the services were given in
    month: Mapped[date] = mapped_column(Date)
    #: the sender's own claim number: the same number twice is one claim
    external_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    submitted_by: Mapped[str] = mapped_column(String(150))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        UniqueConstraint("facility_id", "external_id", name="ux_ins_claim_external"),
        Index("ix_ins_claim_month", "month", "facility_id"),
    )


class ClaimLine(Base):
    """One service to one person on one day, with the control rules' flags (each with its
    reason) and the reviewer's decision."""

    __tablename__ = "ins_claim_line"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("ins_claim.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(32))
    package: Mapped[str] = mapped_column(String(16))
    service_on: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    #: the pack's tariff times the quantity, minor units
    amount_claimed: Mapped[int] = mapped_column(MONEY)
    #: what the fund pays: the claimed amount until a reviewer reduces or rejects it
    amount_approved: Mapped[int | None] = mapped_column(MONEY)
    #: the encounter the service belongs to, where the sender has one (its reference)
    encounter_ref: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="entered")
    #: [{"rule": "after_death", "reason": "...", "params": {...}}]
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint(_in("status", LINE_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("amount_claimed >= 0", name="amount_claimed"),
        CheckConstraint(
            "amount_approved IS NULL"
            " OR (amount_approved >= 0 AND amount_approved <= amount_claimed)",
            name="amount_approved",
        ),
        Index("ix_ins_claim_line_day", "service_on", "person_id"),
        Index(
            "ix_ins_claim_line_flagged",
            "status",
            sqlite_where=text("status = 'flagged'"),
            postgresql_where=text("status = 'flagged'"),
        ),
    )


class PharmacyClaim(Base):
    """A pharmacy's monthly reimbursement claim as the e-prescription domain reports it,
    so dispensing joins the same monthly settlement as services (totals only: the lines
    and their review stay with the prescriptions)."""

    __tablename__ = "ins_pharmacy_claim"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    source_claim_id: Mapped[int] = mapped_column(ROW_ID, unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    claimed: Mapped[int] = mapped_column(MONEY)
    approved: Mapped[int] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Settlement(Base):
    """A provider's monthly settlement: per-capita payment, accepted service lines and
    approved pharmacy claims; recomputed until it is closed."""

    __tablename__ = "ins_settlement"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    month: Mapped[date] = mapped_column(Date)
    capitation: Mapped[int] = mapped_column(MONEY, default=0)
    #: attached people counted, by group: {"0-0/male": 12, ...}
    capitation_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    services: Mapped[int] = mapped_column(MONEY, default=0)
    pharmacy: Mapped[int] = mapped_column(MONEY, default=0)
    total: Mapped[int] = mapped_column(MONEY, default=0)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_by: Mapped[str] = mapped_column(String(150))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'closed')", name="status"),
        UniqueConstraint("facility_id", "month", name="ux_ins_settlement_month"),
    )


class SpendingPlan(Base):
    """The fund's plan of spending for a year, by region and package (the dashboards
    compare spending with it)."""

    __tablename__ = "ins_plan"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    package: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(MONEY)
    updated_by: Mapped[str] = mapped_column(String(150))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        UniqueConstraint("year", "region_id", "package", name="ux_ins_plan"),
    )
