from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
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


class ClientSystem(Base):
    """A registered client system (SMART Backend Services): a hospital, laboratory or
    pharmacy information system, or the statistics office, that logs in as itself.

    It acts through its own ``app_user`` row (username = ``client_id``, a password that no
    hash matches, the role and facility below), so every permission check, person scope
    and audit row treats it as it treats people, under its own name.
    """

    __tablename__ = "client_system"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(150), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    #: the scopes it may ask for, space-separated (``system/Patient.read ...``)
    scopes: Mapped[str] = mapped_column(Text)
    #: the browser origins allowed to call the API for it (CORS), space-separated
    origins: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClientKey(Base):
    """One registered public key (a JWK) of a client system, found by its ``kid``."""

    __tablename__ = "client_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_system_id: Mapped[int] = mapped_column(ForeignKey("client_system.id"))
    kid: Mapped[str] = mapped_column(String(200))
    alg: Mapped[str] = mapped_column(String(8))
    #: the public JWK as JSON (no private member)
    jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("client_system_id", "kid"),)


class ClientAssertionJti(Base):
    """A client assertion's ``jti``, kept until the assertion expires: the primary key
    refuses a second use, also by two requests at the same moment."""

    __tablename__ = "client_assertion_jti"

    client_system_id: Mapped[int] = mapped_column(ForeignKey("client_system.id"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (PrimaryKeyConstraint("client_system_id", "jti"),)
