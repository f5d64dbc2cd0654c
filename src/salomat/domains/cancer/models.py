"""Notifications, tumours, first treatments and follow-up contacts of the cancer registry.

A notification is what one source said about a person's cancer (a clinician, a pathology
report, a hospital discharge, a death certificate, another system); tumours are what the
registry made of them: one row per primary tumour by the IARC/IACR 2004 rules, its codes
taken from the most valid notification and its date of incidence from the ENCR hierarchy
(docs/cancer.md). A tumour's residence (settlement, region), sex and age are copied at
registration: the statistics count by residence at diagnosis, which a later move must not
change, and read one table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base, UTCDateTime

ROW_ID = BigInteger().with_variant(Integer, "sqlite")

SOURCES = ("clinician", "pathology", "discharge", "death_certificate", "system")
#: consolidated into a tumour; waiting for the registrar's decision; set aside by her
NOTIFICATION_STATUSES = ("consolidated", "to_review", "rejected")
#: counted in the statistics; waiting for a registrar to confirm a rare combination
TUMOUR_STATUSES = ("registered", "to_confirm")
TREATMENT_KINDS = ("surgery", "radiotherapy", "systemic")
VITAL_STATUSES = ("alive", "dead")
FOLLOW_UP_STATUSES = ("no_evidence", "with_disease", "unknown")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CancerTumour(Base):
    """One primary tumour of one person (IARC/IACR 2004), as the registry holds it."""

    __tablename__ = "cancer_tumour"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    #: ICD-O-3 topography (C18.2), histology (8140), behaviour (3), grade (1-9)
    topography: Mapped[str] = mapped_column(String(8))
    histology: Mapped[int] = mapped_column(Integer)
    behaviour: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int | None] = mapped_column(Integer)
    #: 1 right, 2 left, 3 one side unknown, 4 bilateral, 9 unknown (paired organs only)
    laterality: Mapped[int | None] = mapped_column(Integer)
    #: ICD-10 of the tumour (converted from ICD-O-3): the statistics' site groups
    icd10: Mapped[str] = mapped_column(String(8), index=True)
    #: the multiple-primary keys: the organ (C33-C34) and the histology group (1-17)
    organ: Mapped[str] = mapped_column(String(16))
    histology_group: Mapped[int] = mapped_column(Integer)
    #: IARC basis of diagnosis (0 DCO ... 7 histology of the primary, 9 unknown)
    basis: Mapped[int] = mapped_column(Integer)
    incidence_date: Mapped[date] = mapped_column(Date, index=True)
    #: the level of the ENCR hierarchy the date came from (1 histology ... 6 DCO)
    incidence_level: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(8))
    #: completed years at incidence
    age: Mapped[int] = mapped_column(Integer)
    #: residence at diagnosis (territory ids)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    #: TNM: edition ("8"), the categories as written (T2a, N1, M0) and the stage group
    tnm_edition: Mapped[str | None] = mapped_column(String(4))
    tnm_t: Mapped[str | None] = mapped_column(String(8))
    tnm_n: Mapped[str | None] = mapped_column(String(8))
    tnm_m: Mapped[str | None] = mapped_column(String(8))
    stage_group: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="registered")
    #: rare combinations (check ids) still waiting for a registrar's confirmation
    pending_checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: confirmations given: [{"rule", "by", "at", "note"}], kept for good
    confirmations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: why the registry made this a new primary (primaries.Decision.reason)
    mp_reason: Mapped[str] = mapped_column(String(32))
    vital_status: Mapped[str] = mapped_column(String(8), default="alive")
    death_date: Mapped[date | None] = mapped_column(Date)
    death_cause: Mapped[str | None] = mapped_column(String(8))
    last_contact_on: Mapped[date] = mapped_column(Date)
    next_follow_up_on: Mapped[date | None] = mapped_column(Date)
    #: the facility that follows the patient up (its oncologists' worklist)
    followed_by_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(_in("status", TUMOUR_STATUSES), name="status"),
        CheckConstraint(_in("vital_status", VITAL_STATUSES), name="vital_status"),
        CheckConstraint(_in("sex", ("male", "female")), name="sex"),
        CheckConstraint("behaviour IN (0, 1, 2, 3)", name="behaviour"),
        CheckConstraint("basis IN (0, 1, 2, 4, 5, 6, 7, 9)", name="basis"),
        CheckConstraint("incidence_level BETWEEN 1 AND 6", name="incidence_level"),
        CheckConstraint("histology BETWEEN 8000 AND 9993", name="histology"),
        CheckConstraint("age >= 0", name="age"),
        CheckConstraint(
            "death_date IS NULL OR death_date >= incidence_date", name="death_after_incidence"
        ),
        Index("ix_cancer_tumour_followed_next", "followed_by_facility_id", "next_follow_up_on"),
    )


class CancerNotification(Base):
    """One source's report of a cancer, kept as it came (source, date, reporter)."""

    __tablename__ = "cancer_notification"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    source: Mapped[str] = mapped_column(String(24))
    #: the day the source reported it
    reported_on: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: who: a user's name, or "registry" for a death certificate
    reported_by: Mapped[str] = mapped_column(String(150))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    #: another system's identifier of its report (FHIR submissions): one notification each
    external_system: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(100))
    topography: Mapped[str] = mapped_column(String(8))
    histology: Mapped[int] = mapped_column(Integer)
    behaviour: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int | None] = mapped_column(Integer)
    laterality: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[int] = mapped_column(Integer)
    #: the date this source gives, and its level in the ENCR hierarchy
    diagnosed_on: Mapped[date] = mapped_column(Date)
    date_level: Mapped[int] = mapped_column(Integer)
    #: a death certificate's cause (ICD-10), as registered
    icd10: Mapped[str | None] = mapped_column(String(8))
    tnm_edition: Mapped[str | None] = mapped_column(String(4))
    tnm_t: Mapped[str | None] = mapped_column(String(8))
    tnm_n: Mapped[str | None] = mapped_column(String(8))
    tnm_m: Mapped[str | None] = mapped_column(String(8))
    stage_group: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))
    tumour_id: Mapped[int | None] = mapped_column(ForeignKey("cancer_tumour.id"), index=True)
    #: the multiple-primary decision: its reason, and who took it ("rules" or a registrar)
    decision_reason: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: rare combinations found when it arrived (check ids)
    rare_checks: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("status", NOTIFICATION_STATUSES), name="status"),
        CheckConstraint("behaviour IN (0, 1, 2, 3)", name="behaviour"),
        CheckConstraint("basis IN (0, 1, 2, 4, 5, 6, 7, 9)", name="basis"),
        CheckConstraint("date_level BETWEEN 1 AND 6", name="date_level"),
        CheckConstraint(
            "status <> 'consolidated' OR tumour_id IS NOT NULL", name="consolidated_has_tumour"
        ),
        UniqueConstraint("external_system", "external_id"),
        Index("ix_cancer_notification_status", "status", "received_at"),
    )


class CancerTreatment(Base):
    """A first treatment of a tumour: surgery, radiotherapy or systemic therapy."""

    __tablename__ = "cancer_treatment"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    #: empty while its notification waits for the registrar's decision
    tumour_id: Mapped[int | None] = mapped_column(ForeignKey("cancer_tumour.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("cancer_notification.id"))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("kind", TREATMENT_KINDS), name="kind"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="dates"),
    )


class CancerFollowUp(Base):
    """A follow-up contact: the patient seen (or heard of) alive on a day."""

    __tablename__ = "cancer_follow_up"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    tumour_id: Mapped[int] = mapped_column(ForeignKey("cancer_tumour.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    contact_on: Mapped[date] = mapped_column(Date)
    disease_status: Mapped[str] = mapped_column(String(16))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    note: Mapped[str | None] = mapped_column(String(1000))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("disease_status", FOLLOW_UP_STATUSES), name="disease_status"),
    )
