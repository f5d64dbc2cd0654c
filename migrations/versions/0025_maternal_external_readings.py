"""maternal: readings the antenatal rules take from other systems' Observations

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 18:50:00

A hospital's blood pressure or haemoglobin sent to the shared record (issue 18) is taken
by maternal into ``antenatal_external_reading`` (docs/maternal.md, "Readings from other
systems"), one row per value in the rules' unit, keyed by the record's Observation id
and version, so that the antenatal rules run on it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salomat.core.db import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "antenatal_external_reading",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("pregnancy_id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("resource_id", sa.String(length=40), nullable=False),
        sa.Column("resource_version", sa.Integer(), nullable=False),
        sa.Column("loinc", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("sent_value", sa.Float(), nullable=False),
        sa.Column("sent_unit", sa.String(length=32), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("effective_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "field IN ('systolic', 'diastolic', 'temperature_c', 'pulse', 'spo2', "
            "'haemoglobin_g_l', 'fasting_glucose_mmol_l')",
            name=op.f("ck_antenatal_external_reading_field"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_antenatal_external_reading_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_antenatal_external_reading_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["pregnancy.id"],
            name=op.f("fk_antenatal_external_reading_pregnancy_id_pregnancy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antenatal_external_reading")),
    )
    with op.batch_alter_table("antenatal_external_reading", schema=None) as batch_op:
        batch_op.create_index(
            "ix_antenatal_external_reading_pregnancy",
            ["pregnancy_id", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_antenatal_external_reading_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("antenatal_external_reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_antenatal_external_reading_person_id"))
        batch_op.drop_index("ix_antenatal_external_reading_pregnancy")
    op.drop_table("antenatal_external_reading")
