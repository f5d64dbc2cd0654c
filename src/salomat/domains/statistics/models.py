"""The computed indicators (``indicator_value``): one row per indicator, period, area and
stratum, written by the aggregate job and read by every output.

Rows hold the raw counts (numerator, denominator), small ones included: the table is
internal; every public output masks a cell whose numerator is below five
(service/values.py). No person data: counts only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class IndicatorValue(Base):
    __tablename__ = "indicator_value"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    indicator: Mapped[str] = mapped_column(String(40))
    #: YYYY or YYYY-MM
    period: Mapped[str] = mapped_column(String(7))
    #: a region's or district's territory code, or the country's code (e.g. UZ)
    area: Mapped[str] = mapped_column(String(32))
    #: the stratum's dimension ("" the whole area): sex | urban_rural | age_group
    by: Mapped[str] = mapped_column(String(16), default="")
    stratum: Mapped[str] = mapped_column(String(16), default="")
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ux_indicator_value_cell", "indicator", "period", "area", "by", "stratum", unique=True
        ),
        Index("ix_indicator_value_period", "period"),
    )
