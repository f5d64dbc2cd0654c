"""child health passport and growth

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "growth_measurement",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("length_or_height_cm", sa.Float(), nullable=True),
        sa.Column("measured_lying", sa.Boolean(), nullable=True),
        sa.Column("head_circumference_cm", sa.Float(), nullable=True),
        sa.Column("muac_cm", sa.Float(), nullable=True),
        sa.Column("bmi", sa.Float(), nullable=True),
        sa.Column("wfa_z", sa.Float(), nullable=True),
        sa.Column("lhfa_z", sa.Float(), nullable=True),
        sa.Column("wfl_or_wfh", sa.String(length=3), nullable=True),
        sa.Column("wfl_or_wfh_z", sa.Float(), nullable=True),
        sa.Column("bmifa_z", sa.Float(), nullable=True),
        sa.Column("hcfa_z", sa.Float(), nullable=True),
        sa.Column("implausible", sa.JSON(), nullable=False),
        sa.Column("classification", sa.JSON(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sex IN ('male', 'female')", name=op.f("ck_growth_measurement_sex")),
        sa.CheckConstraint(
            "wfl_or_wfh IS NULL OR wfl_or_wfh IN ('wfl', 'wfh')",
            name=op.f("ck_growth_measurement_wfl_or_wfh"),
        ),
        sa.CheckConstraint("age_days >= 0", name=op.f("ck_growth_measurement_age_days")),
        sa.CheckConstraint(
            "length_or_height_cm IS NULL OR length_or_height_cm BETWEEN 30 AND 230",
            name=op.f("ck_growth_measurement_length"),
        ),
        sa.CheckConstraint(
            "weight_kg IS NULL OR (weight_kg > 0 AND weight_kg <= 200)",
            name=op.f("ck_growth_measurement_weight"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_growth_measurement_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_growth_measurement_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_measurement")),
    )
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_growth_measurement_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "ix_growth_measurement_person_on", ["person_id", "measured_on"], unique=False
        )

    op.create_table(
        "newborn_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("from_birth_record", sa.Boolean(), nullable=False),
        sa.Column("birth_weight_g", sa.Integer(), nullable=True),
        sa.Column("birth_length_cm", sa.Float(), nullable=True),
        sa.Column("apgar_1", sa.Integer(), nullable=True),
        sa.Column("apgar_5", sa.Integer(), nullable=True),
        sa.Column("ga_days", sa.Integer(), nullable=True),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("screened_on", sa.Date(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("updated_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "apgar_1 IS NULL OR apgar_1 BETWEEN 0 AND 10", name=op.f("ck_newborn_record_apgar_1")
        ),
        sa.CheckConstraint(
            "apgar_5 IS NULL OR apgar_5 BETWEEN 0 AND 10", name=op.f("ck_newborn_record_apgar_5")
        ),
        sa.CheckConstraint(
            "birth_weight_g IS NULL OR birth_weight_g BETWEEN 300 AND 7000",
            name=op.f("ck_newborn_record_weight"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_newborn_record_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_newborn_record_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newborn_record")),
        sa.UniqueConstraint("person_id", name=op.f("uq_newborn_record_person_id")),
    )
    op.create_table(
        "well_child_visit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("feeding", sa.String(length=24), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("illnesses", sa.JSON(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "feeding IS NULL OR feeding IN "
            "('exclusive_breastfeeding', 'mixed', 'formula', 'complementary')",
            name=op.f("ck_well_child_visit_feeding"),
        ),
        sa.CheckConstraint("age_days >= 0", name=op.f("ck_well_child_visit_age_days")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_well_child_visit_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_well_child_visit_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_well_child_visit")),
    )
    with op.batch_alter_table("well_child_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_well_child_visit_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index("ix_well_child_visit_person_on", ["person_id", "on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("well_child_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_well_child_visit_person_on")
        batch_op.drop_index(batch_op.f("ix_well_child_visit_person_id"))

    op.drop_table("well_child_visit")
    op.drop_table("newborn_record")
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.drop_index("ix_growth_measurement_person_on")
        batch_op.drop_index(batch_op.f("ix_growth_measurement_person_id"))

    op.drop_table("growth_measurement")
