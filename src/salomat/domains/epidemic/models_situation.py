"""Each region's zone by day and the alerts raised from it (docs/epidemic.md
"Situation, zones and alerts"). Aggregates only: no row names a person.

``epidemic_zone_day`` holds one row per region and day, written by
``service.alerts.record_day`` with one upsert for all regions (run again for a day, it
replaces the day's rows). ``epidemic_alert`` holds one row per region, day and kind: a
zone change from the previous recorded day, or intensive-care (or infectious) beds
projected to be exceeded within 14 days; a re-run raises nothing twice.
``epidemic_reader_region`` limits a reader (an epidemiologist of a region's service) to
one region's alerts: accounts carry no region of their own.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime, utcnow
from salomat.domains.epidemic.models import ROW_ID


class ZoneDay(Base):
    __tablename__ = "epidemic_zone_day"
    __table_args__ = (
        UniqueConstraint("region_id", "day"),
        Index("ix_epidemic_zone_day_day", "day"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    region_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    day: Mapped[date] = mapped_column(Date)
    edition: Mapped[str] = mapped_column(String(64))
    #: None: not determined (an indicator the rules need is not known)
    zone: Mapped[str | None] = mapped_column(String(32))
    #: the index of the rule that decided it in the edition (None: ``otherwise``/unknown)
    rule: Mapped[int | None] = mapped_column(Integer)
    #: the indicators not known, comma-separated
    missing: Mapped[str] = mapped_column(String(200), default="")
    rt: Mapped[float | None] = mapped_column(Float)
    incidence_per_100k: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    __tablename__ = "epidemic_alert"
    __table_args__ = (
        UniqueConstraint("region_id", "day", "kind"),
        Index("ix_epidemic_alert_region_day", "region_id", "day"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    region_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    day: Mapped[date] = mapped_column(Date)
    #: zone_change | icu_beds | infectious_beds
    kind: Mapped[str] = mapped_column(String(32))
    zone_from: Mapped[str | None] = mapped_column(String(32))
    zone_to: Mapped[str | None] = mapped_column(String(32))
    #: the first day the beds are projected to be exceeded, and their number
    exceeds_on: Mapped[date | None] = mapped_column(Date)
    beds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReaderRegion(Base):
    """The one region a reader of the epidemic situation is limited to (no row: every
    region, as for the ministry's epidemiologists)."""

    __tablename__ = "epidemic_reader_region"

    #: accounts' user id (no FK across domains' ownership)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
