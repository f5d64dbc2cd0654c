"""Beds, arrival periods, referrals (queue entries), offers, stays and the queue's log.

That a bed never holds two overlapping stays is the database's to keep (DESIGN rule 9),
not only the booking's check: on PostgreSQL an exclusion constraint on the bed and the
stay's half-open date range (``[starts_on, ends_on)``, btree_gist), on SQLite triggers
that refuse the same overlap on insert and update. Both are made by migration 0020
(the metadata cannot carry a per-dialect constraint). Bookings of one period also hold
the period's row, so its capacity is counted by one writer at a time.

The queue's log (``sanatorium_queue_event``) is append-only: triggers refuse updates and
deletes on both databases.
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

REFERRAL_STATUSES = (
    "pending_indication",
    "referred",
    "queued",
    "offered",
    "booked",
    "arrived",
    "discharged",
    "noshow",
    "cancelled",
)
#: entries that stand in a queue (counted for positions)
IN_QUEUE = ("queued", "offered")
#: referrals not yet over: a person has one at a time
ACTIVE = ("pending_indication", "referred", "queued", "offered", "booked", "arrived")
OFFER_STATUSES = ("open", "accepted", "declined", "lapsed", "withdrawn")
STAY_STATUSES = ("booked", "arrived", "fulfilled", "cancelled", "noshow")
#: stays that hold their bed
HOLDING = ("booked", "arrived", "fulfilled")
EVENT_KINDS = (
    "joined",
    "referred",
    "indication_confirmed",
    "offered",
    "declined",
    "lapsed",
    "offer_withdrawn",
    "requeued",
    "reordered",
    "booked",
    "arrived",
    "discharged",
    "noshow",
    "cancelled",
    "withdrawn",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SanatoriumBed(Base):
    """One bed of a sanatorium, for one treatment profile."""

    __tablename__ = "sanatorium_bed"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    profile: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        UniqueConstraint("facility_id", "label"),
        Index("ix_sanatorium_bed_facility_profile", "facility_id", "profile"),
    )


class SanatoriumPeriod(Base):
    """An arrival period (заезд): one profile's course at one sanatorium, with its places.

    ``ends_on`` is the departure day (the range is half-open), so a course of 18 nights
    from 1 June ends on 19 June and the next may start that day."""

    __tablename__ = "sanatorium_period"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    profile: Mapped[str] = mapped_column(String(32))
    #: the region's territory code (the queue a freed place is offered to), or ''
    region: Mapped[str] = mapped_column(String(32), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    #: open | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="dates"),
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("status IN ('open', 'cancelled')", name="status"),
        Index("ix_sanatorium_period_profile_starts", "profile", "starts_on"),
        Index("ix_sanatorium_period_facility_starts", "facility_id", "starts_on"),
    )


class SanatoriumReferral(Base):
    """A referral (voucher application) and, while it waits, its entry in one queue.

    The queue is (profile, region); its order is (tier, applied_at, id): ``id`` is the
    sequence number. Re-queued at the end, an entry gets a new ``applied_at``."""

    __tablename__ = "sanatorium_referral"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    #: printed and read out: 10 digits grouped 3-3-4, unique
    number: Mapped[str] = mapped_column(String(16), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    profile: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32), default="")
    category: Mapped[str] = mapped_column(String(32))
    tier: Mapped[int] = mapped_column(Integer)
    #: not queued: the referring doctor books a free place at once (after-care)
    direct: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ICD-10 (none while a self-application waits for a doctor's confirmation)
    indication: Mapped[str | None] = mapped_column(String(8))
    #: the person's current conditions the doctor listed (checked for contraindications)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the clinician's override of a contraindication: what they attest, and who
    attestation: Mapped[str | None] = mapped_column(String(500))
    attested_by: Mapped[str | None] = mapped_column(String(150))
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the end of the last stay (ours, or a paper record given at referral)
    last_stay_ended_on: Mapped[date | None] = mapped_column(Date)
    entitled_from: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the facility that referred (or the citizen's attached facility)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    referred_by: Mapped[str | None] = mapped_column(String(150))
    #: local | portal | fhir
    source: Mapped[str] = mapped_column(String(16), default="local")
    #: the reason a referral was cancelled, by whom
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(_in("status", REFERRAL_STATUSES), name="status"),
        CheckConstraint("tier >= 0", name="tier"),
        CheckConstraint(
            "status = 'pending_indication' OR indication IS NOT NULL", name="indication"
        ),
        # one referral at a time per person, whatever two doctors do at once
        Index(
            "ux_sanatorium_referral_active",
            "person_id",
            unique=True,
            sqlite_where=text(_in("status", ACTIVE)),
            postgresql_where=text(_in("status", ACTIVE)),
        ),
        # the queue: entries in line, in order (the position is a count over this index)
        Index(
            "ix_sanatorium_referral_queue",
            "profile",
            "region",
            "tier",
            "applied_at",
            "id",
            sqlite_where=text("status IN ('queued', 'offered')"),
            postgresql_where=text("status IN ('queued', 'offered')"),
        ),
    )


class SanatoriumQueueDay(Base):
    """How many entries stand in one queue with one tier and one (UTC) application day.

    Kept by the database's own triggers on ``sanatorium_referral`` (migration 0021), so
    no code path can forget it: a position is the sum of the days before the entry's
    plus the few entries of its own day before it, instead of a count over everybody
    ahead (a million index entries in a queue of a million)."""

    __tablename__ = "sanatorium_queue_day"

    profile: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("n >= 0", name="n"),)


class SanatoriumOffer(Base):
    """A place in a period held for one queued person until ``expires_at``."""

    __tablename__ = "sanatorium_offer"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_referral.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_period.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(150))

    __table_args__ = (
        CheckConstraint(_in("status", OFFER_STATUSES), name="status"),
        CheckConstraint("expires_at > offered_at", name="hold"),
        Index("ix_sanatorium_offer_referral", "referral_id"),
        Index("ix_sanatorium_offer_period_status", "period_id", "status"),
        # one open offer per referral, whatever two sweeps do at once
        Index(
            "ux_sanatorium_offer_open",
            "referral_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class SanatoriumStay(Base):
    """A booked bed for a period (the voucher), then the stay itself."""

    __tablename__ = "sanatorium_stay"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_referral.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_period.id"))
    bed_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_bed.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    #: the departure day (half-open range)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    #: printed on the voucher beside the number, for the public check of its QR code
    voucher_code: Mapped[str] = mapped_column(String(8))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("sanatorium_offer.id"))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    booked_by: Mapped[str] = mapped_column(String(150))
    arrived_on: Mapped[date | None] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    #: the short summary sent back to the referring doctor at discharge
    summary: Mapped[str | None] = mapped_column(String(2000))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    care_relationship_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(_in("status", STAY_STATUSES), name="status"),
        CheckConstraint("ends_on > starts_on", name="dates"),
        CheckConstraint("arrived_on IS NULL OR arrived_on >= starts_on", name="arrived_on"),
        CheckConstraint(
            "discharged_on IS NULL OR (arrived_on IS NOT NULL AND discharged_on >= arrived_on)",
            name="discharged_on",
        ),
        Index("ix_sanatorium_stay_period_status", "period_id", "status"),
        Index("ix_sanatorium_stay_bed", "bed_id", "starts_on"),
        Index("ix_sanatorium_stay_facility_starts", "facility_id", "starts_on"),
        # the last months' releases of a queue (the waiting-time range)
        Index("ix_sanatorium_stay_booked_at", "booked_at"),
        # one stay holding a bed per referral
        Index(
            "ux_sanatorium_stay_referral",
            "referral_id",
            unique=True,
            sqlite_where=text("status IN ('booked', 'arrived', 'fulfilled')"),
            postgresql_where=text("status IN ('booked', 'arrived', 'fulfilled')"),
        ),
    )


class SanatoriumQueueEvent(Base):
    """Append-only: every change of a queue entry and its order, with the reason."""

    __tablename__ = "sanatorium_queue_event"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("sanatorium_referral.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(500))
    #: what changed (tier, applied_at, period, offer) before and after
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(150))

    __table_args__ = (CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),)
