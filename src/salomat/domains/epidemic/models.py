"""The epidemic domain's own rows: case notifications of notifiable diseases, the beds
each hospital has registered by profile, and the occupancy it reports each day
(docs/epidemic.md "Case notifications", "Hospital capacity").

A notification is a person's diagnosis: it carries ``person_id`` (the Citus
distribution key) and is read only through the service, which audits every access. Its
district and region are kept as territory ids (the region denormalised on entry) so that
the daily counts are one ``GROUP BY`` over an index. Beds and occupancy name no person.
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime, utcnow

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class CaseNotification(Base):
    __tablename__ = "epidemic_notification"
    __table_args__ = (
        CheckConstraint("onset_date <= report_date", name="onset_before_report"),
        CheckConstraint(
            "admission_date IS NULL OR hospitalised", name="admission_only_if_hospitalised"
        ),
        Index("ix_epidemic_notification_district_onset", "district_id", "onset_date"),
        Index("ix_epidemic_notification_district_report", "district_id", "report_date"),
        Index("ix_epidemic_notification_region_onset", "region_id", "onset_date"),
        Index("ix_epidemic_notification_region_report", "region_id", "report_date"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    icd10: Mapped[str] = mapped_column(String(8))
    lab_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    lab_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    onset_date: Mapped[date] = mapped_column(Date)
    report_date: Mapped[date] = mapped_column(Date)
    district_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    hospitalised: Mapped[bool] = mapped_column(Boolean, default=False)
    admission_date: Mapped[date | None] = mapped_column(Date)
    reporting_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    #: the user who notified (accounts' user id; no FK across domains' ownership)
    reporter_user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BedCapacity(Base):
    """Beds of one profile registered at a facility from a day on; the row in force on a
    day is the latest ``valid_from`` on or before it."""

    __tablename__ = "epidemic_bed_capacity"
    __table_args__ = (
        UniqueConstraint("facility_id", "profile", "valid_from"),
        CheckConstraint("beds >= 0", name="beds_not_negative"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    profile: Mapped[str] = mapped_column(String(16))
    beds: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)


class OccupancyReport(Base):
    """A hospital's count for one day and profile; reported again, it replaces the day's."""

    __tablename__ = "epidemic_occupancy"
    __table_args__ = (
        UniqueConstraint("facility_id", "day", "profile"),
        CheckConstraint(
            "occupied >= 0 AND admitted >= 0 AND discharged >= 0", name="counts_not_negative"
        ),
        Index("ix_epidemic_occupancy_day", "day"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    day: Mapped[date] = mapped_column(Date)
    profile: Mapped[str] = mapped_column(String(16))
    occupied: Mapped[int] = mapped_column(Integer)
    admitted: Mapped[int] = mapped_column(Integer)
    discharged: Mapped[int] = mapped_column(Integer)
    reporter_user_id: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
