"""The pregnancy register: pregnancies, antenatal contacts and the advice they gave.

Every row carries ``person_id`` (the Citus distribution key). One current
pregnancy per woman is a partial unique index, so two clinicians registering
her at once cannot both succeed (DESIGN rule 9).
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
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

OUTCOMES = ("live_birth", "stillbirth", "miscarriage", "termination", "maternal_death")


class Pregnancy(Base):
    """One pregnancy of one woman, from registration to its outcome."""

    __tablename__ = "pregnancy"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: current | closed
    status: Mapped[str] = mapped_column(String(16), default="current")
    registered_on: Mapped[date] = mapped_column(Date)
    #: age in full years on the registration date (the risk rules read it)
    age_years: Mapped[int] = mapped_column(Integer)
    lmp: Mapped[date | None] = mapped_column(Date)
    scan_on: Mapped[date | None] = mapped_column(Date)
    ga_days_at_scan: Mapped[int | None] = mapped_column(Integer)
    fundal_height_cm: Mapped[float | None] = mapped_column(Float)
    edd: Mapped[date] = mapped_column(Date)
    #: lmp | ultrasound | fundal_height (dating.date_pregnancy decides)
    dating_method: Mapped[str] = mapped_column(String(16))
    suboptimally_dated: Mapped[bool] = mapped_column(Boolean, default=False)
    dating_discrepancy_days: Mapped[int | None] = mapped_column(Integer)
    gravida: Mapped[int] = mapped_column(Integer)
    parity: Mapped[int] = mapped_column(Integer)
    previous_caesarean: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_pre_eclampsia: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_pph: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_instrumental_birth: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_convulsions: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_severe_tear: Mapped[bool] = mapped_column(Boolean, default=False)
    stillbirths: Mapped[int] = mapped_column(Integer, default=0)
    miscarriages: Mapped[int] = mapped_column(Integer, default=0)
    multiple_pregnancy: Mapped[bool] = mapped_column(Boolean, default=False)
    #: chronic conditions the rules read: autoimmune, diabetes, chronic_hypertension, ...
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: where she was registered
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    #: where she lived at registration (else the registering facility's settlement): the
    #: dashboard counts her there, and a later move does not rewrite past figures
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    registered_by: Mapped[str] = mapped_column(String(150))
    #: low | medium | high, and the level of perinatal care (1-3), from the last evaluation
    risk_level: Mapped[str | None] = mapped_column(String(16))
    care_level: Mapped[int | None] = mapped_column(Integer)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: the planned place of birth (the worklist flags 36+ weeks without one)
    planned_birth_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("status IN ('current', 'closed')", name="status"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN "
            "('live_birth', 'stillbirth', 'miscarriage', 'termination', 'maternal_death')",
            name="outcome",
        ),
        CheckConstraint(
            "(status = 'current' AND closed_on IS NULL AND outcome IS NULL) OR "
            "(status = 'closed' AND closed_on IS NOT NULL AND outcome IS NOT NULL)",
            name="closed_has_outcome",
        ),
        CheckConstraint("gravida >= 1 AND parity >= 0 AND parity < gravida", name="obstetric"),
        CheckConstraint(
            "risk_level IS NULL OR risk_level IN ('low', 'medium', 'high')", name="risk"
        ),
        CheckConstraint("care_level IS NULL OR care_level IN (1, 2, 3)", name="care_level"),
        # one current pregnancy per woman, whatever two requests do at once
        Index(
            "ux_pregnancy_current",
            "person_id",
            unique=True,
            sqlite_where=text("status = 'current'"),
            postgresql_where=text("status = 'current'"),
        ),
    )


class AntenatalContact(Base):
    """What one antenatal contact measured and asked (the rules' ``ContactFacts``)."""

    __tablename__ = "antenatal_contact"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    ga_days: Mapped[int] = mapped_column(Integer)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: blood pressure, first reading and the re-measurement after rest (mmHg)
    systolic_1: Mapped[int | None] = mapped_column(Integer)
    diastolic_1: Mapped[int | None] = mapped_column(Integer)
    systolic_2: Mapped[int | None] = mapped_column(Integer)
    diastolic_2: Mapped[int | None] = mapped_column(Integer)
    temperature_c_1: Mapped[float | None] = mapped_column(Float)
    temperature_c_2: Mapped[float | None] = mapped_column(Float)
    pulse_1: Mapped[int | None] = mapped_column(Integer)
    pulse_2: Mapped[int | None] = mapped_column(Integer)
    spo2: Mapped[int | None] = mapped_column(Integer)
    fetal_heart_rate_1: Mapped[int | None] = mapped_column(Integer)
    fetal_heart_rate_2: Mapped[int | None] = mapped_column(Integer)
    fetal_heartbeat_absent: Mapped[bool] = mapped_column(Boolean, default=False)
    fundal_height_cm: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    #: dipstick: none | + | ++ | +++ | ++++
    urine_protein: Mapped[str | None] = mapped_column(String(8))
    haemoglobin_g_l: Mapped[int | None] = mapped_column(Integer)
    pallor: Mapped[bool] = mapped_column(Boolean, default=False)
    fasting_glucose_mmol_l: Mapped[float | None] = mapped_column(Float)
    ogtt_1h_mmol_l: Mapped[float | None] = mapped_column(Float)
    ogtt_2h_mmol_l: Mapped[float | None] = mapped_column(Float)
    random_glucose_mmol_l: Mapped[float | None] = mapped_column(Float)
    danger_signs: Mapped[list[str]] = mapped_column(JSON, default=list)
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    abnormal_presentation: Mapped[bool] = mapped_column(Boolean, default=False)
    ultrasound_done: Mapped[bool] = mapped_column(Boolean, default=False)
    hiv_test_done: Mapped[bool] = mapped_column(Boolean, default=False)
    syphilis_test_done: Mapped[bool] = mapped_column(Boolean, default=False)
    hiv_positive: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint(
            "urine_protein IS NULL OR urine_protein IN ('none', '+', '++', '+++', '++++')",
            name="urine_protein",
        ),
        CheckConstraint("ga_days >= 0", name="ga_days"),
        Index("ix_antenatal_contact_pregnancy_on", "pregnancy_id", "on"),
    )


class AdviceItem(Base):
    """One piece of advice a rule gave; a re-evaluation retires the previous active set."""

    __tablename__ = "antenatal_advice"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the contact whose recording triggered the evaluation (None: at registration)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("antenatal_contact.id"))
    rule_id: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    action: Mapped[str] = mapped_column(String(500))
    #: emergency | urgent | soon | routine
    urgency: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("urgency IN ('emergency', 'urgent', 'soon', 'routine')", name="urgency"),
        Index("ix_antenatal_advice_pregnancy_active", "pregnancy_id", "active"),
    )


DIAGNOSIS_STATUSES = ("active", "resolved")
RESOLUTIONS = ("resolved", "ruled_out", "entered_in_error")


class Diagnosis(Base):
    """A diagnosis or finding the rules made at one contact, standing on the pregnancy.

    It stays ``active`` through later contacts that lack the test or measure
    normal, until a clinician resolves it with a reason; while it stands its
    ``code`` only escalates (anaemia -> severe_anaemia), never falls. One active
    row per pregnancy and ``family`` is a partial unique index (DESIGN rule 9).
    """

    __tablename__ = "antenatal_diagnosis"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: hypertension | pre_eclampsia | gestational_diabetes | ... (``service.standing``)
    family: Mapped[str] = mapped_column(String(64))
    #: the most severe advice code the family reached while standing, and its advice
    code: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    action: Mapped[str] = mapped_column(String(500))
    urgency: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(300))
    #: the contact that first gave it, and the one that gave its current ``code``
    first_contact_id: Mapped[int] = mapped_column(ForeignKey("antenatal_contact.id"))
    first_on: Mapped[date] = mapped_column(Date)
    contact_id: Mapped[int] = mapped_column(ForeignKey("antenatal_contact.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(150))
    resolution: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("status IN ('active', 'resolved')", name="status"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('resolved', 'ruled_out', 'entered_in_error')",
            name="resolution",
        ),
        CheckConstraint(
            "(status = 'active') = (resolved_at IS NULL)", name="resolved_when_resolved"
        ),
        Index(
            "ux_antenatal_diagnosis_active",
            "pregnancy_id",
            "family",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )


REFERRAL_KINDS = ("screening", "perinatal")
REFERRAL_STATUSES = ("sent", "accepted", "seen", "returned", "declined", "cancelled")


class Referral(Base):
    """A referral of a pregnant woman from primary care to a screening or perinatal centre.

    sent -> accepted -> seen -> returned (with a conclusion); sent -> declined;
    sent or accepted -> cancelled (by the sending facility, with a reason, kept
    in ``conclusion``). Accepting opens a care relationship of the receiving
    facility (its id is kept here), returning, declining or cancelling closes it.
    """

    __tablename__ = "antenatal_referral"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    from_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    to_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    #: screening | perinatal
    kind: Mapped[str] = mapped_column(String(16))
    #: the level of perinatal care required (perinatal referrals)
    required_level: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    #: sent | accepted | seen | returned | declined | cancelled
    status: Mapped[str] = mapped_column(String(16), default="sent")
    conclusion: Mapped[str | None] = mapped_column(String(2000))
    sent_by: Mapped[str] = mapped_column(String(150))
    updated_by: Mapped[str] = mapped_column(String(150))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    care_relationship_id: Mapped[int | None] = mapped_column(ForeignKey("care_relationship.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("kind IN ('screening', 'perinatal')", name="kind"),
        CheckConstraint(
            "status IN ('sent', 'accepted', 'seen', 'returned', 'declined', 'cancelled')",
            name="status",
        ),
        CheckConstraint(
            "required_level IS NULL OR required_level IN (1, 2, 3)", name="required_level"
        ),
        Index("ix_antenatal_referral_to_status", "to_facility_id", "status"),
    )


# ---- birth and after --------------------------------------------------------------------

BIRTH_MODES = (
    "spontaneous_vaginal",
    "vaginal_breech",
    "vacuum",
    "forceps",
    "caesarean_elective",
    "caesarean_emergency",
)


class BirthRecord(Base):
    """The birth that ended a pregnancy: one per pregnancy, its babies in ``Baby``."""

    __tablename__ = "birth_record"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), unique=True)
    #: the mother
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    born_on: Mapped[date] = mapped_column(Date)
    #: one of ``BIRTH_MODES``
    mode: Mapped[str] = mapped_column(String(24))
    #: gestational age at birth, in days
    ga_days: Mapped[int] = mapped_column(Integer)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "mode IN ('spontaneous_vaginal', 'vaginal_breech', 'vacuum', 'forceps', "
            "'caesarean_elective', 'caesarean_emergency')",
            name="mode",
        ),
        CheckConstraint("ga_days BETWEEN 140 AND 315", name="ga_days"),
    )


class Baby(Base):
    """One baby of a birth; a live-born baby is a registered person (``person_id``)."""

    __tablename__ = "birth_baby"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    birth_id: Mapped[int] = mapped_column(ForeignKey("birth_record.id"), index=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    #: the mother (the child passport reads the link from here)
    mother_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the baby as registered (live births only)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    #: 1, 2, ... in the order born
    birth_order: Mapped[int] = mapped_column(Integer)
    #: live | stillbirth
    outcome: Mapped[str] = mapped_column(String(16))
    #: stillbirths: fresh | macerated, when known
    stillbirth_type: Mapped[str | None] = mapped_column(String(16))
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_weight_g: Mapped[int | None] = mapped_column(Integer)
    length_cm: Mapped[float | None] = mapped_column(Float)
    apgar_1: Mapped[int | None] = mapped_column(Integer)
    apgar_5: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("outcome IN ('live', 'stillbirth')", name="outcome"),
        CheckConstraint(
            "stillbirth_type IS NULL OR "
            "(outcome = 'stillbirth' AND stillbirth_type IN ('fresh', 'macerated'))",
            name="stillbirth_type",
        ),
        CheckConstraint(
            "(outcome = 'live' AND person_id IS NOT NULL) OR "
            "(outcome = 'stillbirth' AND person_id IS NULL)",
            name="live_is_registered",
        ),
        CheckConstraint("sex IS NULL OR sex IN ('male', 'female')", name="sex"),
        CheckConstraint(
            "birth_weight_g IS NULL OR birth_weight_g BETWEEN 300 AND 7000", name="weight"
        ),
        CheckConstraint("apgar_1 IS NULL OR apgar_1 BETWEEN 0 AND 10", name="apgar_1"),
        CheckConstraint("apgar_5 IS NULL OR apgar_5 BETWEEN 0 AND 10", name="apgar_5"),
        Index("ux_birth_baby_order", "birth_id", "birth_order", unique=True),
    )


class PostnatalContact(Base):
    """One postnatal contact: the mother's checks and, optionally, one baby's."""

    __tablename__ = "postnatal_contact"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"), index=True)
    #: the mother
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    #: days since the birth
    day: Mapped[int] = mapped_column(Integer)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    pulse: Mapped[int | None] = mapped_column(Integer)
    #: normal | heavy
    bleeding: Mapped[str | None] = mapped_column(String(8))
    danger_signs: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the baby seen (a registered baby of this birth)
    baby_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    baby_weight_g: Mapped[int | None] = mapped_column(Integer)
    baby_temperature_c: Mapped[float | None] = mapped_column(Float)
    breastfeeding: Mapped[bool | None] = mapped_column(Boolean)
    baby_danger_signs: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (
        CheckConstraint("day >= 0", name="day"),
        CheckConstraint("bleeding IS NULL OR bleeding IN ('normal', 'heavy')", name="bleeding"),
    )


EXTERNAL_FIELDS = (
    "systolic",
    "diastolic",
    "temperature_c",
    "pulse",
    "spo2",
    "haemoglobin_g_l",
    "fasting_glucose_mmol_l",
)


class ExternalReading(Base):
    """A reading the antenatal rules take from another system's Observation in the shared
    record (``service.external_readings``): one row per value, in the rules' unit.

    Keyed by the record's resource id (``shr-<n>``) and version: an update of the
    Observation replaces its rows, entered-in-error removes them. Maternal keeps its own
    copy (the record domain is above maternal; maternal never reads the record's tables).
    """

    __tablename__ = "antenatal_external_reading"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("pregnancy.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: the shared record's Observation id (shr-<n>) and the version the values come from
    resource_id: Mapped[str] = mapped_column(String(40))
    resource_version: Mapped[int] = mapped_column(Integer)
    #: the LOINC code the value was sent under (a panel's component code for BP)
    loinc: Mapped[str] = mapped_column(String(16))
    #: which of the rules' readings it is (``EXTERNAL_FIELDS``)
    field: Mapped[str] = mapped_column(String(32))
    #: the value in the rules' unit (``unit``), and as sent (UCUM code)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    sent_value: Mapped[float] = mapped_column(Float)
    sent_unit: Mapped[str] = mapped_column(String(32))
    #: the day the sender gave (its local calendar day) and the instant, when it gave one
    effective_on: Mapped[date] = mapped_column(Date)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the sending facility
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "field IN ('systolic', 'diastolic', 'temperature_c', 'pulse', 'spo2', "
            "'haemoglobin_g_l', 'fasting_glucose_mmol_l')",
            name="field",
        ),
        Index("ix_antenatal_external_reading_pregnancy", "pregnancy_id", "resource_id"),
    )
