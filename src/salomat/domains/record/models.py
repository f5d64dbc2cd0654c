"""The shared record's tables (prefix ``record_``).

A resource is kept as the JSON its sender sent (``body``), with the few columns a search
or the timeline needs beside it. Every version is kept (``record_version``). One
business identifier names one resource of a type: the database refuses a second
(``record_identifier``'s unique key), so two conditional creates racing on one identifier
store one resource.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class RecordResource(Base):
    __tablename__ = "record_resource"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(64))
    code_system: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(200))
    #: what the timeline shows: code.text, else the first coding's display, else the code
    code_text: Mapped[str | None] = mapped_column(String(1000))
    #: the first category coding's code
    category: Mapped[str | None] = mapped_column(String(200))
    effective_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("record_resource.id"))
    #: the sending account's username, and its facility
    sender: Mapped[str] = mapped_column(String(150))
    sender_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    #: meta.source as sent
    source: Mapped[str | None] = mapped_column(String(500))
    #: what the timeline shows beside the code, taken from the body when it is written
    #: (so the timeline never reads a body): the value as short text, a document's
    #: attachment title, the end of a period as sent
    value_text: Mapped[str | None] = mapped_column(String(120))
    attachment_title: Mapped[str | None] = mapped_column(String(120))
    shown_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_record_resource_person", "person_id", "resource_type"),
        Index("ix_record_resource_encounter_id", "encounter_id"),
        # what a facility sent for a person: the sender reads back and updates its own rows
        Index("ix_record_resource_sender", "sender_facility_id", "person_id", "created_at"),
    )


class RecordVersion(Base):
    """Every version as it was stored (the current one too): history and vread."""

    __tablename__ = "record_version"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("record_resource.id"), primary_key=True, autoincrement=False
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(150))

    #: type- and system-level _history since an instant, newest first
    __table_args__ = (Index("ix_record_version_changed_at", "changed_at"),)


class RecordIdentifier(Base):
    __tablename__ = "record_identifier"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("record_resource.id"), index=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(500))
    value: Mapped[str] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("resource_type", "system", "value", name="ux_record_identifier"),
        Index("ix_record_identifier_value", "value"),
    )


class RecordToken(Base):
    """Every coding of a resource's code and category: a search by any of them finds it."""

    __tablename__ = "record_token"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("record_resource.id"), index=True)
    param: Mapped[str] = mapped_column(String(16))
    system: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_record_token_code", "param", "code"),)


class RecordNamingSystem(Base):
    """An identifier system another information system uses, registered before its
    identifiers are taken."""

    __tablename__ = "record_naming_system"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the FHIR NamingSystem as its registrar sent it (JSON, without id and the server's
    #: meta), returned as sent; None for one registered through the service alone
    body: Mapped[str | None] = mapped_column(Text)
