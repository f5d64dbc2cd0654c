"""The bulk exports' tables (prefix ``bulk_``): an export request and the files it wrote.

The request keeps who asked (the user, role and facility: the job that runs it acts for
them, and only they may poll and download), what was asked (level, group, types,
``_since``, the patients), and when it and its files expire. The files are NDJSON under
``var/bulk/<export id>/``; a row per finished file, written when the export completes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class BulkExport(Base):
    __tablename__ = "bulk_export"

    #: random, in the status and download URLs (not guessable, not a count of exports)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the core job that runs it (core/jobs.py)
    job_id: Mapped[int] = mapped_column(ROW_ID)
    user_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(32))
    facility_id: Mapped[int | None] = mapped_column(Integer)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    #: system | patient | group
    level: Mapped[str] = mapped_column(String(16))
    #: the Group's id (a facility's attached population)
    group_id: Mapped[int | None] = mapped_column(Integer)
    #: the resource types, comma-separated, in the order they are written
    types: Mapped[str] = mapped_column(String(500))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the ``patient`` parameter's ids, comma-separated (None: the whole population)
    patients: Mapped[str | None] = mapped_column(Text)
    output_format: Mapped[str] = mapped_column(String(64))
    request_url: Mapped[str] = mapped_column(String(2000))
    transaction_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_bulk_export_user_id", "user_id"),
        Index("ix_bulk_export_expires_at", "expires_at"),
        Index("ix_bulk_export_job_id", "job_id"),
    )


class BulkExportFile(Base):
    __tablename__ = "bulk_export_file"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    export_id: Mapped[str] = mapped_column(ForeignKey("bulk_export.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    #: the file's name in the export's directory (``Patient-1.ndjson``)
    name: Mapped[str] = mapped_column(String(100))
    #: resources (lines) in the file
    count: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(ROW_ID)

    __table_args__ = (UniqueConstraint("export_id", "name"),)
