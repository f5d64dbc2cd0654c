from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str | None] = mapped_column(String(200))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    #: the practitioner record of a clinician's account (registry)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"), unique=True)
    #: the employer organisation an ``employer`` account acts for (registry)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthSession(Base):
    """One login: an API refresh-token family or a web cookie session."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # api | web
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: the refresh token this one replaced; presenting it again means it was stolen
    previous_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_address: Mapped[str | None] = mapped_column(String(64))


class LoginFailure(Base):
    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150))
    client_address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_login_failure_username_at", "username", "at"),
        Index("ix_login_failure_client_at", "client_address", "at"),
    )


class BreakGlassGrant(Base):
    __tablename__ = "break_glass_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    reason: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_break_glass_grant_user_person", "user_id", "person_id"),)
