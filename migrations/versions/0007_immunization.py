"""immunization registry

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
VALID_DOSE = "valid AND status = 'completed'"


def upgrade() -> None:
    op.create_table(
        "immunization_dose",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("antigen", sa.String(length=32), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("vaccine", sa.String(length=64), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("site", sa.String(length=32), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("place_elsewhere", sa.String(length=300), nullable=True),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("invalid_reason", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "source IN ('entered', 'elsewhere', 'fhir', 'demo')",
            name=op.f("ck_immunization_dose_source"),
        ),
        sa.CheckConstraint(
            "status IN ('completed', 'entered_in_error')",
            name=op.f("ck_immunization_dose_status"),
        ),
        sa.CheckConstraint("dose_number >= 1", name=op.f("ck_immunization_dose_dose_number")),
        sa.CheckConstraint(
            "valid OR invalid_reason IS NOT NULL",
            name=op.f("ck_immunization_dose_invalid_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_immunization_dose_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_immunization_dose_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_immunization_dose_practitioner_id_practitioner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_dose")),
    )
    with op.batch_alter_table("immunization_dose", schema=None) as batch_op:
        batch_op.create_index(
            "ix_immunization_dose_antigen_given",
            ["antigen", "dose_number", "given_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_immunization_dose_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            "ix_immunization_dose_person_antigen",
            ["person_id", "antigen", "given_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_immunization_dose_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "ux_immunization_dose_valid",
            ["person_id", "antigen", "dose_number"],
            unique=True,
            sqlite_where=sa.text(VALID_DOSE),
            postgresql_where=sa.text(VALID_DOSE),
        )

    op.create_table(
        "immunization_exemption",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("antigen", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('contraindication', 'refusal')",
            name=op.f("ck_immunization_exemption_kind"),
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on",
            name=op.f("ck_immunization_exemption_period"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_immunization_exemption_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_immunization_exemption_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_exemption")),
    )
    with op.batch_alter_table("immunization_exemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_immunization_exemption_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("immunization_exemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_immunization_exemption_person_id"))
    op.drop_table("immunization_exemption")

    with op.batch_alter_table("immunization_dose", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_immunization_dose_valid",
            sqlite_where=sa.text(VALID_DOSE),
            postgresql_where=sa.text(VALID_DOSE),
        )
        batch_op.drop_index(batch_op.f("ix_immunization_dose_person_id"))
        batch_op.drop_index("ix_immunization_dose_person_antigen")
        batch_op.drop_index(batch_op.f("ix_immunization_dose_facility_id"))
        batch_op.drop_index("ix_immunization_dose_antigen_given")
    op.drop_table("immunization_dose")
