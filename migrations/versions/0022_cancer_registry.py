"""cancer registry: notifications, tumours, first treatments, follow-up contacts;
the death certificate's other lines on the person

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:31:50

The tables of the population-based cancer registry (issue 16, docs/cancer.md). A
death's other certificate lines (Part I b-d, Part II) are kept beside the underlying
cause, so a cancer named on any line reaches the registry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salomat.core.db import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cancer_tumour",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("topography", sa.String(length=8), nullable=False),
        sa.Column("histology", sa.Integer(), nullable=False),
        sa.Column("behaviour", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("laterality", sa.Integer(), nullable=True),
        sa.Column("icd10", sa.String(length=8), nullable=False),
        sa.Column("organ", sa.String(length=16), nullable=False),
        sa.Column("histology_group", sa.Integer(), nullable=False),
        sa.Column("basis", sa.Integer(), nullable=False),
        sa.Column("incidence_date", sa.Date(), nullable=False),
        sa.Column("incidence_level", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("tnm_edition", sa.String(length=4), nullable=True),
        sa.Column("tnm_t", sa.String(length=8), nullable=True),
        sa.Column("tnm_n", sa.String(length=8), nullable=True),
        sa.Column("tnm_m", sa.String(length=8), nullable=True),
        sa.Column("stage_group", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pending_checks", sa.JSON(), nullable=False),
        sa.Column("confirmations", sa.JSON(), nullable=False),
        sa.Column("mp_reason", sa.String(length=32), nullable=False),
        sa.Column("vital_status", sa.String(length=8), nullable=False),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("death_cause", sa.String(length=8), nullable=True),
        sa.Column("last_contact_on", sa.Date(), nullable=False),
        sa.Column("next_follow_up_on", sa.Date(), nullable=True),
        sa.Column("followed_by_facility_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("sex IN ('male', 'female')", name=op.f("ck_cancer_tumour_sex")),
        sa.CheckConstraint(
            "status IN ('registered', 'to_confirm')", name=op.f("ck_cancer_tumour_status")
        ),
        sa.CheckConstraint(
            "vital_status IN ('alive', 'dead')", name=op.f("ck_cancer_tumour_vital_status")
        ),
        sa.CheckConstraint("age >= 0", name=op.f("ck_cancer_tumour_age")),
        sa.CheckConstraint(
            "basis IN (0, 1, 2, 4, 5, 6, 7, 9)", name=op.f("ck_cancer_tumour_basis")
        ),
        sa.CheckConstraint("behaviour IN (0, 1, 2, 3)", name=op.f("ck_cancer_tumour_behaviour")),
        sa.CheckConstraint(
            "death_date IS NULL OR death_date >= incidence_date",
            name=op.f("ck_cancer_tumour_death_after_incidence"),
        ),
        sa.CheckConstraint(
            "histology BETWEEN 8000 AND 9993", name=op.f("ck_cancer_tumour_histology")
        ),
        sa.CheckConstraint(
            "incidence_level BETWEEN 1 AND 6", name=op.f("ck_cancer_tumour_incidence_level")
        ),
        sa.ForeignKeyConstraint(
            ["followed_by_facility_id"],
            ["facility.id"],
            name=op.f("fk_cancer_tumour_followed_by_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_cancer_tumour_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["territory.id"], name=op.f("fk_cancer_tumour_region_id_territory")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["territory.id"],
            name=op.f("fk_cancer_tumour_settlement_id_territory"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancer_tumour")),
    )
    with op.batch_alter_table("cancer_tumour", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cancer_tumour_followed_next",
            ["followed_by_facility_id", "next_follow_up_on"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_cancer_tumour_icd10"), ["icd10"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cancer_tumour_incidence_date"), ["incidence_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cancer_tumour_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cancer_tumour_region_id"), ["region_id"], unique=False)

    op.create_table(
        "cancer_follow_up",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "tumour_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("contact_on", sa.Date(), nullable=False),
        sa.Column("disease_status", sa.String(length=16), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "disease_status IN ('no_evidence', 'with_disease', 'unknown')",
            name=op.f("ck_cancer_follow_up_disease_status"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_cancer_follow_up_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_cancer_follow_up_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["tumour_id"],
            ["cancer_tumour.id"],
            name=op.f("fk_cancer_follow_up_tumour_id_cancer_tumour"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancer_follow_up")),
    )
    with op.batch_alter_table("cancer_follow_up", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancer_follow_up_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cancer_follow_up_tumour_id"), ["tumour_id"], unique=False
        )

    op.create_table(
        "cancer_notification",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=150), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("external_system", sa.String(length=200), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("topography", sa.String(length=8), nullable=False),
        sa.Column("histology", sa.Integer(), nullable=False),
        sa.Column("behaviour", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("laterality", sa.Integer(), nullable=True),
        sa.Column("basis", sa.Integer(), nullable=False),
        sa.Column("diagnosed_on", sa.Date(), nullable=False),
        sa.Column("date_level", sa.Integer(), nullable=False),
        sa.Column("icd10", sa.String(length=8), nullable=True),
        sa.Column("tnm_edition", sa.String(length=4), nullable=True),
        sa.Column("tnm_t", sa.String(length=8), nullable=True),
        sa.Column("tnm_n", sa.String(length=8), nullable=True),
        sa.Column("tnm_m", sa.String(length=8), nullable=True),
        sa.Column("stage_group", sa.String(length=8), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tumour_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decision_reason", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=150), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("rare_checks", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "source IN ('clinician', 'pathology', 'discharge', 'death_certificate', 'system')",
            name=op.f("ck_cancer_notification_source"),
        ),
        sa.CheckConstraint(
            "status <> 'consolidated' OR tumour_id IS NOT NULL",
            name=op.f("ck_cancer_notification_consolidated_has_tumour"),
        ),
        sa.CheckConstraint(
            "status IN ('consolidated', 'to_review', 'rejected')",
            name=op.f("ck_cancer_notification_status"),
        ),
        sa.CheckConstraint(
            "basis IN (0, 1, 2, 4, 5, 6, 7, 9)", name=op.f("ck_cancer_notification_basis")
        ),
        sa.CheckConstraint(
            "behaviour IN (0, 1, 2, 3)", name=op.f("ck_cancer_notification_behaviour")
        ),
        sa.CheckConstraint(
            "date_level BETWEEN 1 AND 6", name=op.f("ck_cancer_notification_date_level")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_cancer_notification_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_cancer_notification_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["tumour_id"],
            ["cancer_tumour.id"],
            name=op.f("fk_cancer_notification_tumour_id_cancer_tumour"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancer_notification")),
        sa.UniqueConstraint(
            "external_system",
            "external_id",
            name=op.f("uq_cancer_notification_external_system_external_id"),
        ),
    )
    with op.batch_alter_table("cancer_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancer_notification_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "ix_cancer_notification_status", ["status", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cancer_notification_tumour_id"), ["tumour_id"], unique=False
        )

    op.create_table(
        "cancer_treatment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "tumour_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column(
            "notification_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('surgery', 'radiotherapy', 'systemic')", name=op.f("ck_cancer_treatment_kind")
        ),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on", name=op.f("ck_cancer_treatment_dates")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_cancer_treatment_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["cancer_notification.id"],
            name=op.f("fk_cancer_treatment_notification_id_cancer_notification"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_cancer_treatment_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["tumour_id"],
            ["cancer_tumour.id"],
            name=op.f("fk_cancer_treatment_tumour_id_cancer_tumour"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancer_treatment")),
    )
    with op.batch_alter_table("cancer_treatment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancer_treatment_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cancer_treatment_tumour_id"), ["tumour_id"], unique=False
        )

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("death_other_causes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("death_other_causes")

    with op.batch_alter_table("cancer_treatment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancer_treatment_tumour_id"))
        batch_op.drop_index(batch_op.f("ix_cancer_treatment_person_id"))

    op.drop_table("cancer_treatment")
    with op.batch_alter_table("cancer_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancer_notification_tumour_id"))
        batch_op.drop_index("ix_cancer_notification_status")
        batch_op.drop_index(batch_op.f("ix_cancer_notification_person_id"))

    op.drop_table("cancer_notification")
    with op.batch_alter_table("cancer_follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancer_follow_up_tumour_id"))
        batch_op.drop_index(batch_op.f("ix_cancer_follow_up_person_id"))

    op.drop_table("cancer_follow_up")
    with op.batch_alter_table("cancer_tumour", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancer_tumour_region_id"))
        batch_op.drop_index(batch_op.f("ix_cancer_tumour_person_id"))
        batch_op.drop_index(batch_op.f("ix_cancer_tumour_incidence_date"))
        batch_op.drop_index(batch_op.f("ix_cancer_tumour_icd10"))
        batch_op.drop_index("ix_cancer_tumour_followed_next")

    op.drop_table("cancer_tumour")
