"""e-prescriptions: formulary, prescriptions, dispensings, claims

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 17:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "medicine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("inn", sa.String(length=200), nullable=False),
        sa.Column("atc", sa.String(length=7), nullable=False),
        sa.Column("trade_name", sa.String(length=200), nullable=True),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("strength", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("units_per_package", sa.Integer(), nullable=False),
        sa.Column("reference_price", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("reference_price >= 0", name=op.f("ck_medicine_reference_price")),
        sa.CheckConstraint("units_per_package > 0", name=op.f("ck_medicine_units_per_package")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medicine")),
        sa.UniqueConstraint("code", name=op.f("uq_medicine_code")),
    )
    with op.batch_alter_table("medicine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medicine_atc"), ["atc"], unique=False)
        batch_op.create_index(batch_op.f("ix_medicine_inn"), ["inn"], unique=False)

    op.create_table(
        "reimbursement_claim",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'submitted', 'approved', 'rejected')",
            name=op.f("ck_reimbursement_claim_status"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_reimbursement_claim_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reimbursement_claim")),
    )
    with op.batch_alter_table("reimbursement_claim", schema=None) as batch_op:
        batch_op.create_index("ux_reimbursement_claim_month", ["facility_id", "month"], unique=True)

    op.create_table(
        "prescription",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("inn", sa.String(length=200), nullable=False),
        sa.Column("medicine_id", sa.Integer(), nullable=False),
        sa.Column("diagnosis", sa.String(length=8), nullable=True),
        sa.Column("reimbursed", sa.Boolean(), nullable=False),
        sa.Column("reimbursement_pct", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dose_units", sa.Float(), nullable=False),
        sa.Column("times_per_day", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("quantity_units", sa.Integer(), nullable=False),
        sa.Column("dispensed_units", sa.Integer(), nullable=False),
        sa.Column("instructions", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("prescriber_username", sa.String(length=150), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'dispensed', 'cancelled', 'expired')",
            name=op.f("ck_prescription_status"),
        ),
        sa.CheckConstraint(
            "NOT reimbursed OR diagnosis IS NOT NULL",
            name=op.f("ck_prescription_reimbursed_diagnosis"),
        ),
        sa.CheckConstraint(
            "dispensed_units >= 0 AND dispensed_units <= quantity_units",
            name=op.f("ck_prescription_dispensed"),
        ),
        sa.CheckConstraint("quantity_units > 0", name=op.f("ck_prescription_quantity")),
        sa.CheckConstraint(
            "reimbursement_pct BETWEEN 0 AND 100", name=op.f("ck_prescription_reimbursement_pct")
        ),
        sa.CheckConstraint("valid_until >= issued_on", name=op.f("ck_prescription_validity")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_prescription_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["medicine_id"], ["medicine.id"], name=op.f("fk_prescription_medicine_id_medicine")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_prescription_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_prescription_practitioner_id_practitioner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescription")),
        sa.UniqueConstraint("code", name=op.f("uq_prescription_code")),
    )
    with op.batch_alter_table("prescription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prescription_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_prescription_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "ix_prescription_person_inn_status", ["person_id", "inn", "status"], unique=False
        )
        batch_op.create_index(
            "ux_prescription_active_inn",
            ["person_id", "inn"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.create_index(
            batch_op.f("ix_prescription_prescriber_username"), ["prescriber_username"], unique=False
        )

    op.create_table(
        "dispensing",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("prescription_id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("pharmacist_username", sa.String(length=150), nullable=False),
        sa.Column("medicine_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("packages", sa.Float(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("reimbursed_amount", sa.Integer(), nullable=False),
        sa.Column("copayment", sa.Integer(), nullable=False),
        sa.Column("dispensed_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "price >= 0 AND reimbursed_amount >= 0 AND copayment >= 0",
            name=op.f("ck_dispensing_amounts"),
        ),
        sa.CheckConstraint("units > 0", name=op.f("ck_dispensing_units")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_dispensing_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["medicine_id"], ["medicine.id"], name=op.f("fk_dispensing_medicine_id_medicine")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_dispensing_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescription.id"],
            name=op.f("fk_dispensing_prescription_id_prescription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispensing")),
    )
    with op.batch_alter_table("dispensing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispensing_facility_at", ["facility_id", "dispensed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispensing_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dispensing_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dispensing_prescription_id"), ["prescription_id"], unique=False
        )

    op.create_table(
        "reimbursement_claim_line",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", ROW_ID, nullable=False),
        sa.Column("dispensing_id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=150), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("reviewed_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('entered', 'flagged', 'approved', 'rejected')",
            name=op.f("ck_reimbursement_claim_line_status"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_reimbursement_claim_line_amount")),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["reimbursement_claim.id"],
            name=op.f("fk_reimbursement_claim_line_claim_id_reimbursement_claim"),
        ),
        sa.ForeignKeyConstraint(
            ["dispensing_id"],
            ["dispensing.id"],
            name=op.f("fk_reimbursement_claim_line_dispensing_id_dispensing"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_reimbursement_claim_line_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reimbursement_claim_line")),
        sa.UniqueConstraint(
            "dispensing_id", name=op.f("uq_reimbursement_claim_line_dispensing_id")
        ),
    )
    with op.batch_alter_table("reimbursement_claim_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reimbursement_claim_line_claim_id"), ["claim_id"], unique=False
        )
        batch_op.create_index(
            "ix_reimbursement_claim_line_flagged",
            ["status"],
            unique=False,
            sqlite_where=sa.text("status = 'flagged'"),
            postgresql_where=sa.text("status = 'flagged'"),
        )
        batch_op.create_index(
            batch_op.f("ix_reimbursement_claim_line_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reimbursement_claim_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reimbursement_claim_line_person_id"))
        batch_op.drop_index(
            "ix_reimbursement_claim_line_flagged",
            sqlite_where=sa.text("status = 'flagged'"),
            postgresql_where=sa.text("status = 'flagged'"),
        )
        batch_op.drop_index(batch_op.f("ix_reimbursement_claim_line_claim_id"))

    op.drop_table("reimbursement_claim_line")
    with op.batch_alter_table("dispensing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispensing_prescription_id"))
        batch_op.drop_index(batch_op.f("ix_dispensing_person_id"))
        batch_op.drop_index(batch_op.f("ix_dispensing_facility_id"))
        batch_op.drop_index("ix_dispensing_facility_at")

    op.drop_table("dispensing")
    with op.batch_alter_table("prescription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prescription_prescriber_username"))
        batch_op.drop_index("ux_prescription_active_inn")
        batch_op.drop_index("ix_prescription_person_inn_status")
        batch_op.drop_index(batch_op.f("ix_prescription_person_id"))
        batch_op.drop_index(batch_op.f("ix_prescription_facility_id"))

    op.drop_table("prescription")
    with op.batch_alter_table("reimbursement_claim", schema=None) as batch_op:
        batch_op.drop_index("ux_reimbursement_claim_month")

    op.drop_table("reimbursement_claim")
    with op.batch_alter_table("medicine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medicine_inn"))
        batch_op.drop_index(batch_op.f("ix_medicine_atc"))

    op.drop_table("medicine")
