"""Certificates of temporary incapacity for work, their periods, VKK decisions and shares.

A certificate is made of consecutive periods. That they never overlap and never
leave a gap is the database's to keep, not only a check in Python (DESIGN rule
9): each period after the first names the one before it (``prev_seq``,
``prev_ends_on``) through a foreign key to that period's (certificate, seq,
end), ``(certificate_id, seq)`` is unique, and a check says it starts the day
after ``prev_ends_on``. So the chain is linear (two doctors adding period n+1
at once: one of them hits the unique index), and every start is the previous
end plus one day. The check's date arithmetic differs by backend, hence one
constraint per dialect.

Nothing is deleted: a correction, a cancellation, a duplicate or a closure
writes a new ``SickLeaveVersion`` with its reason and the certificate as it
became.
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
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

KINDS = ("illness", "care", "maternity")
REASONS = ("own_illness", "injury", "care", "quarantine", "maternity", "sanatorium_aftercare")
STATUSES = ("open", "closed", "cancelled")
CLOSURES = ("return_to_work", "disability_referral", "death", "end_of_leave")
#: who granted a period: a doctor, a mid-level practitioner, the VKK, or the platform
#: acting on a birth record (the maternity extension)
GRANTED_AS = ("doctor", "mid_level", "vkk", "birth_record")

# the period starts the day after the one before it (per dialect: SQLite keeps dates
# as ISO text, PostgreSQL as dates); the previous period's keys may not be NULL, which
# would make the check NULL (passing) and skip the foreign key (MATCH SIMPLE)
CHAIN_SQLITE = (
    "(seq = 1 AND prev_seq IS NULL AND prev_ends_on IS NULL) OR "
    "(seq > 1 AND prev_seq IS NOT NULL AND prev_ends_on IS NOT NULL "
    "AND prev_seq = seq - 1 AND starts_on = date(prev_ends_on, '+1 day'))"
)
CHAIN_POSTGRESQL = (
    "(seq = 1 AND prev_seq IS NULL AND prev_ends_on IS NULL) OR "
    "(seq > 1 AND prev_seq IS NOT NULL AND prev_ends_on IS NOT NULL "
    "AND prev_seq = seq - 1 AND starts_on = prev_ends_on + 1)"
)


class SickLeaveCertificate(Base):
    """One certificate of temporary incapacity for work of one person."""

    __tablename__ = "sick_leave_certificate"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    #: the number printed and read out (12 digits, grouped 4-4-4), unique
    number: Mapped[str] = mapped_column(String(16), unique=True)
    #: the code printed beside the number for public verification; a duplicate draws anew
    check_code: Mapped[str] = mapped_column(String(8))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: what an employer sees: illness | care | maternity
    kind: Mapped[str] = mapped_column(String(16))
    #: the pack's reason (own_illness, injury, care, quarantine, maternity, ...): clinical
    reason: Mapped[str] = mapped_column(String(24))
    #: ICD-10 at its most detailed level (none for maternity leave)
    diagnosis: Mapped[str | None] = mapped_column(String(8))
    #: the sick child cared for (a registry relation of the person)
    cared_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    #: the pregnancy of the maternity leave (the pregnancy register)
    pregnancy_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    #: maternity: the woman lives in a former nuclear-test zone (pack rule), with the document
    zone_document: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    starts_on: Mapped[date] = mapped_column(Date)
    #: the last day of the last period
    ends_on: Mapped[date] = mapped_column(Date)
    #: the last day of incapacity when closed (at most ``ends_on``)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closure: Mapped[str | None] = mapped_column(String(24))
    return_to_work_on: Mapped[date | None] = mapped_column(Date)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    issued_by: Mapped[str] = mapped_column(String(150), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    #: 0 for the original; 1, 2, ... for each duplicate issued after a loss
    duplicate_no: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    #: local | fhir (opened by another system through the API)
    source: Mapped[str] = mapped_column(String(16), default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("kind IN ('illness', 'care', 'maternity')", name="kind"),
        CheckConstraint("status IN ('open', 'closed', 'cancelled')", name="status"),
        CheckConstraint(
            "closure IS NULL OR closure IN "
            "('return_to_work', 'disability_referral', 'death', 'end_of_leave')",
            name="closure",
        ),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint(
            "status <> 'closed' OR (closed_on IS NOT NULL AND closure IS NOT NULL)",
            name="closed",
        ),
        CheckConstraint("closed_on IS NULL OR closed_on <= ends_on", name="closed_on"),
        CheckConstraint("(kind = 'care') = (cared_person_id IS NOT NULL)", name="care"),
        CheckConstraint("kind = 'maternity' OR diagnosis IS NOT NULL", name="diagnosis"),
        CheckConstraint("duplicate_no >= 0", name="duplicate_no"),
        Index("ix_sick_leave_certificate_person_status", "person_id", "status"),
        Index("ix_sick_leave_certificate_starts_on", "starts_on"),
        # one maternity leave per pregnancy, whatever two doctors do at once
        Index(
            "ux_sick_leave_certificate_pregnancy",
            "pregnancy_id",
            unique=True,
            sqlite_where=text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
            postgresql_where=text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
        ),
    )


class SickLeavePeriod(Base):
    """One period of a certificate: its dates and who granted it (on what authority)."""

    __tablename__ = "sick_leave_period"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("sick_leave_certificate.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: 1, 2, ... in order
    seq: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    #: the period before this one (None for the first): the chain's foreign key
    prev_seq: Mapped[int | None] = mapped_column(Integer)
    prev_ends_on: Mapped[date | None] = mapped_column(Date)
    #: one of ``GRANTED_AS``
    granted_as: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(150))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    #: the commission's decision that allowed a period past one practitioner's limit
    vkk_decision_id: Mapped[int | None] = mapped_column(ForeignKey("sick_leave_vkk_decision.id"))
    #: the head of department who co-signed (where the pack asks for it)
    cosigned_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("certificate_id", "seq", name="uq_sick_leave_period_seq"),
        UniqueConstraint("certificate_id", "seq", "ends_on", name="uq_sick_leave_period_end"),
        ForeignKeyConstraint(
            ["certificate_id", "prev_seq", "prev_ends_on"],
            [
                "sick_leave_period.certificate_id",
                "sick_leave_period.seq",
                "sick_leave_period.ends_on",
            ],
            name="fk_sick_leave_period_prev",
        ),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint(
            "granted_as IN ('doctor', 'mid_level', 'vkk', 'birth_record')", name="granted_as"
        ),
        CheckConstraint(CHAIN_SQLITE, name="chain_sqlite").ddl_if(dialect="sqlite"),
        CheckConstraint(CHAIN_POSTGRESQL, name="chain_postgresql").ddl_if(dialect="postgresql"),
    )


class VkkDecision(Base):
    """A decision of the medical advisory commission (VKK) on a certificate."""

    __tablename__ = "sick_leave_vkk_decision"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("sick_leave_certificate.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    decided_on: Mapped[date] = mapped_column(Date)
    #: extend | refer_disability
    decision: Mapped[str] = mapped_column(String(24))
    #: extend: the last day the commission allows the certificate to run to
    extend_until: Mapped[date | None] = mapped_column(Date)
    protocol_number: Mapped[str] = mapped_column(String(64))
    chair: Mapped[str] = mapped_column(String(200))
    #: the members' names, chair included
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("decision IN ('extend', 'refer_disability')", name="decision"),
        CheckConstraint("decision <> 'extend' OR extend_until IS NOT NULL", name="extend_until"),
    )


class SickLeaveVersion(Base):
    """What a change did to a certificate, with its reason and the certificate after it."""

    __tablename__ = "sick_leave_version"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("sick_leave_certificate.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: opened | extended | vkk | closed | corrected | cancelled | duplicate | death
    change: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    by: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SickLeaveShare(Base):
    """The holder let an employer see a certificate (until she withdraws it)."""

    __tablename__ = "sick_leave_share"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("sick_leave_certificate.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id"), index=True)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ux_sick_leave_share_live",
            "certificate_id",
            "employer_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )
