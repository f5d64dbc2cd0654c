"""FHIR subscriptions (R4 rest-hook) and the log of each delivery attempt.

A subscription belongs to the account that made it (a facility's system, or a person
acting for it); what it is told is decided by searching *as that account*, so the
owner's identity is kept here (the username and, for a client system, its scopes at the
time it subscribed). The delivery log holds ids and outcomes only, never a resource.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class Subscription(Base):
    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: the name the owner acts under (a client system's client id), for the audit
    owner_username: Mapped[str] = mapped_column(String(150))
    #: a client system's granted scopes when it subscribed (space-separated); None: a person
    owner_scopes: Mapped[str | None] = mapped_column(Text)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    #: requested, active, error, off (FHIR R4 subscription-status)
    status: Mapped[str] = mapped_column(String(16))
    resource_type: Mapped[str] = mapped_column(String(64))
    criteria: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(Text)
    #: None: id-only notification; else the MIME type of the resource sent
    payload: Mapped[str | None] = mapped_column(String(64))
    #: channel.header, as a JSON list of "Name: value" strings
    headers: Mapped[str] = mapped_column(Text, default="[]")
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    #: two updates with one If-Match: the second finds the version moved (412)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (Index("ix_subscription_status_type", "status", "resource_type"),)


class Delivery(Base):
    """One attempt to deliver one notification (a retried notification has several)."""

    __tablename__ = "subscription_delivery"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ROW_ID, ForeignKey("subscription.id"))
    #: the job that delivers the notification (its attempts share it)
    job_id: Mapped[int | None] = mapped_column(ROW_ID)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: delivered (a 2xx answer) or failed
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_subscription_delivery_subscription", "subscription_id", "id"),)
