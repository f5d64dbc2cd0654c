"""The national registries: territory, facilities, practitioners, people.

Person-level rows carry ``person_id`` so that, on Citus, it can be the
distribution key; territory and facilities are small reference tables.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

PERSON_ID = BigInteger().with_variant(Integer, "sqlite")


# ---- territory -------------------------------------------------------------


class Territory(Base):
    """Region, district or settlement; codes are the national classifier's (SOATO, KATO)."""

    __tablename__ = "territory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    level: Mapped[str] = mapped_column(String(16))  # region | district | settlement
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the name in each language of the pack: {"uz": ..., "ru": ..., "en": ...}
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    is_rural: Mapped[bool | None] = mapped_column(Boolean)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("level IN ('region', 'district', 'settlement')", name="level"),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude"),
    )


class Population(Base):
    """Residents of a settlement on 1 January of ``year``, by sex and 5-year age band."""

    __tablename__ = "territory_population"

    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    sex: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: lower bound of the band: 0, 5, ..., 85 (85 = 85 and over)
    age_from: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("sex IN ('male', 'female')", name="sex"),
        CheckConstraint("age_from >= 0 AND age_from <= 85 AND age_from % 5 = 0", name="age_from"),
        CheckConstraint("count >= 0", name="count"),
    )


# ---- facilities --------------------------------------------------------------


class Facility(Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: a facility type of the country pack (``facility_types``)
    kind: Mapped[str] = mapped_column(String(64))
    perinatal_level: Mapped[int | None] = mapped_column(Integer)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            "perinatal_level IS NULL OR perinatal_level IN (1, 2, 3)", name="perinatal_level"
        ),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class Employer(Base):
    """An employer organisation (a company, a school, a ministry): registry data like a
    facility. Its accounts (role ``employer``) check their employees' sick-leave
    certificates; it is identified by the country's business id (KZ BIN, UZ STIR)."""

    __tablename__ = "employer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: normalised by the country pack's ``business_id`` rule (digits only)
    business_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class FacilityBeds(Base):
    """Beds by profile (the pack's ``bed_profiles``): what capacity planning reads."""

    __tablename__ = "facility_beds"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)
    profile: Mapped[str] = mapped_column(String(32), primary_key=True)
    beds: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("beds >= 0", name="beds"),)


class Section(Base):
    """A family-doctor section (uchastok): the families one doctor and nurse look after."""

    __tablename__ = "care_section"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))

    __table_args__ = (UniqueConstraint("facility_id", "code"),)


# ---- practitioners -----------------------------------------------------------------


class Practitioner(Base):
    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(8))
    #: a specialty of the country pack (``specialties``)
    specialty: Mapped[str] = mapped_column(String(64))
    licence_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    licence_valid_until: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PractitionerRole(Base):
    """Who works where, as what, from when; ``section_id`` for family doctors and nurses."""

    __tablename__ = "practitioner_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    #: a position of the country pack (``positions``): family_doctor, obstetrician, ...
    position: Mapped[str] = mapped_column(String(64))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("care_section.id"))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    #: full-time equivalent of the post (1.0 a full post; 0 < fte <= 1.5 for one person):
    #: the filled posts of staffing plans (domains/planning, docs/planning.md)
    fte: Mapped[Decimal] = mapped_column(
        Numeric(4, 2), default=Decimal("1.00"), server_default=text("1")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates"),
        CheckConstraint("fte > 0 AND fte <= 1.5", name="fte"),
    )


# ---- people ------------------------------------------------------------------------


class Person(Base):
    """One person, identified once. Names are kept in both scripts of the country."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    national_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: names as entered, and their transliteration: the search and duplicate keys use both
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str | None] = mapped_column(String(100))
    name_script: Mapped[str] = mapped_column(String(8), default="latn")  # latn | cyrl
    family_name_alt: Mapped[str | None] = mapped_column(String(100))
    given_name_alt: Mapped[str | None] = mapped_column(String(100))
    patronymic_alt: Mapped[str | None] = mapped_column(String(100))
    #: script-insensitive phonetic skeletons ("family given patronymic"), see registry.names
    name_key: Mapped[str] = mapped_column(String(320))
    family_key: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(20))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    attached_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("care_section.id"))
    deceased_on: Mapped[date | None] = mapped_column(Date)
    death_cause: Mapped[str | None] = mapped_column(String(8))  # ICD-10
    #: the death certificate's other lines (ICD-10), after the underlying cause
    death_other_causes: Mapped[list[str] | None] = mapped_column(JSON)
    #: set when a registrar created the person although candidates were shown
    duplicate_reason: Mapped[str | None] = mapped_column(String(500))
    #: a merged person stays as a tombstone pointing at the survivor
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("sex IN ('male', 'female')", name="sex"),
        CheckConstraint("name_script IN ('latn', 'cyrl')", name="name_script"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_own_survivor"),
        Index("ix_person_family_key_birth_date", "family_key", "birth_date"),
    )


class ResourceVersion(Base):
    """Every version of a registry resource as FHIR served it (vread, ``_history``)."""

    __tablename__ = "resource_version"

    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: create | update | delete (FHIR Bundle.entry.request.method: POST | PUT | DELETE)
    action: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(150))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Attachment(Base):
    """Attachment history: a person is attached to one primary-care facility at a time."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("care_section.id"))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # one current attachment per person, whatever two requests do at once
        Index(
            "ux_attachment_current",
            "person_id",
            unique=True,
            sqlite_where=text("end_on IS NULL"),
            postgresql_where=text("end_on IS NULL"),
        ),
    )


class CareRelationship(Base):
    """An open episode that lets a facility other than the attached one see a person.

    Opened by the care programmes (referral, admission, prescription to
    dispense) through the registry service; closed when the episode ends.
    """

    __tablename__ = "care_relationship"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_care_relationship_facility_person", "facility_id", "person_id"),)


class DuplicatePair(Base):
    """A pair the batch linkage (Splink) or a registrar flagged, for review."""

    __tablename__ = "duplicate_pair"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    person_a_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    person_b_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    probability: Mapped[float] = mapped_column(Float)
    #: open | merged | distinct
    status: Mapped[str] = mapped_column(String(16), default="open")
    run_id: Mapped[str | None] = mapped_column(String(32))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(150))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("person_a_id", "person_b_id"),
        CheckConstraint("person_a_id < person_b_id", name="ordered"),
        CheckConstraint("status IN ('open', 'merged', 'distinct')", name="status"),
        Index("ix_duplicate_pair_status_probability", "status", "probability"),
    )


class Merge(Base):
    """One merge: what was re-pointed, so that it can be undone."""

    __tablename__ = "person_merge"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    #: {"table": [row ids re-pointed]} across every domain, and the fields copied over
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_by: Mapped[str] = mapped_column(String(150))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(150))
    note: Mapped[str | None] = mapped_column(Text)


class PersonRelation(Base):
    """A child's mother, father or guardian, as a document shows it.

    What lets a parent or guardian open the child's record in the citizen
    portal (beside the birth record of a child born in the system). A relation
    is open while ``ends_on`` is empty; a court order ends a guardianship.
    """

    __tablename__ = "person_relation"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    #: the child
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the mother, father or guardian
    related_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # mother | father | guardian
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    #: what it rests on: a birth certificate number, a court decision (free text)
    document: Mapped[str] = mapped_column(String(300))
    end_document: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(150))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('mother', 'father', 'guardian')", name="kind"),
        CheckConstraint("related_person_id <> person_id", name="not_self"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        # no duplicate open relation of one kind between the same two people
        Index(
            "ux_person_relation_open",
            "person_id",
            "related_person_id",
            "kind",
            unique=True,
            sqlite_where=text("ends_on IS NULL"),
            postgresql_where=text("ends_on IS NULL"),
        ),
        # one open mother and one open father per child, whatever two requests do at once
        Index(
            "ux_person_relation_one_parent",
            "person_id",
            "kind",
            unique=True,
            sqlite_where=text("ends_on IS NULL AND kind IN ('mother', 'father')"),
            postgresql_where=text("ends_on IS NULL AND kind IN ('mother', 'father')"),
        ),
    )


class SyntheticDuplicate(Base):
    """The truth about a duplicate record ``salomat synth`` injected on purpose.

    ``person_id`` is the injected record, ``original_id`` the person it
    duplicates, ``kind`` how it was made (typo, transliteration, swapped day
    and month, ...). Only synthetic databases have rows: the deduplication
    benchmark measures precision and recall against them.
    """

    __tablename__ = "synthetic_duplicate"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    original_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))


class DeathCertificate(Base):
    """The WHO international medical certificate of cause of death of one person.

    The lines are kept as the certifier wrote and coded them (Part I a-d, Part II); the
    underlying cause is the one selected (service.death_certificate) and, once a
    certificate exists, ``Person.death_cause`` follows it. One certificate per person:
    a correction replaces it (with a new version), so statistics read one cause.
    """

    __tablename__ = "death_certificate"

    id: Mapped[int] = mapped_column(PERSON_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    deceased_on: Mapped[date] = mapped_column(Date)
    #: [{"line": "a", "text", "code", "interval_value", "interval_unit"}, ...]
    part1: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: [{"text", "code"}, ...]
    part2: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    manner: Mapped[str] = mapped_column(String(24))
    external_cause: Mapped[str | None] = mapped_column(String(8))
    injury_on: Mapped[date | None] = mapped_column(Date)
    injury_place: Mapped[str | None] = mapped_column(String(200))
    pregnancy: Mapped[str | None] = mapped_column(String(24))
    place: Mapped[str] = mapped_column(String(16))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    place_detail: Mapped[str | None] = mapped_column(String(200))
    surgery: Mapped[str] = mapped_column(String(8), default="unknown")
    autopsy: Mapped[str] = mapped_column(String(8), default="unknown")
    #: the fetal or infant death block (deaths under one year): see schemas
    perinatal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    certifier_user_id: Mapped[int | None] = mapped_column(Integer)
    certifier_username: Mapped[str] = mapped_column(String(150))
    certifier_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    certified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    underlying_cause: Mapped[str] = mapped_column(String(8))
    review: Mapped[str] = mapped_column(String(16), index=True)
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviewed_by: Mapped[str | None] = mapped_column(String(150))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("review IN ('auto_selected', 'needs_review', 'reviewed')", name="review"),
        CheckConstraint(
            "manner IN ('disease', 'accident', 'self_harm', 'assault', 'legal_intervention', "
            "'war', 'undetermined', 'pending', 'unknown')",
            name="manner",
        ),
        CheckConstraint("place IN ('home', 'facility', 'other', 'unknown')", name="place"),
        CheckConstraint("place <> 'facility' OR facility_id IS NOT NULL", name="place_facility"),
    )
