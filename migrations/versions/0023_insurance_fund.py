"""insurance fund: payers, employment, contributions and their imports, protected
categories, service claims and their lines, pharmacy claim totals, settlements, plans

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 12:01:00

The compulsory health-insurance fund (issue 17, docs/insurance.md). Money is in minor
units (integers); insured status is computed from the contributions, not stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salomat.core.db import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ins_import",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("imported_by", sa.String(length=150), nullable=False),
        sa.Column("imported_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_import")),
        sa.UniqueConstraint("sha256", name=op.f("uq_ins_import_sha256")),
    )
    op.create_table(
        "ins_plan",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ins_plan_amount")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["territory.id"], name=op.f("fk_ins_plan_region_id_territory")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_plan")),
        sa.UniqueConstraint("year", "region_id", "package", name="ux_ins_plan"),
    )
    op.create_table(
        "ins_claim",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=150), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('submitted', 'settled')", name=op.f("ck_ins_claim_status")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_ins_claim_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_claim")),
        sa.UniqueConstraint("facility_id", "external_id", name="ux_ins_claim_external"),
    )
    with op.batch_alter_table("ins_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ins_claim_facility_id"), ["facility_id"], unique=False)
        batch_op.create_index("ix_ins_claim_month", ["month", "facility_id"], unique=False)

    op.create_table(
        "ins_pharmacy_claim",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "source_claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("approved", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_ins_pharmacy_claim_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_pharmacy_claim")),
        sa.UniqueConstraint("source_claim_id", name=op.f("uq_ins_pharmacy_claim_source_claim_id")),
    )
    with op.batch_alter_table("ins_pharmacy_claim", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ins_pharmacy_claim_facility_id"), ["facility_id"], unique=False
        )

    op.create_table(
        "ins_settlement",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "capitation", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("capitation_detail", sa.JSON(), nullable=False),
        sa.Column("services", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pharmacy", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("computed_by", sa.String(length=150), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'closed')", name=op.f("ck_ins_settlement_status")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_ins_settlement_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_settlement")),
        sa.UniqueConstraint("facility_id", "month", name="ux_ins_settlement_month"),
    )
    op.create_table(
        "ins_category_member",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "end_on IS NULL OR end_on >= start_on", name=op.f("ck_ins_category_member_dates")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ins_category_member_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_category_member")),
        sa.UniqueConstraint("person_id", "category", "start_on", name="ux_ins_category_start"),
    )
    with op.batch_alter_table("ins_category_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ins_category_member_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "ins_claim_line",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("service_code", sa.String(length=32), nullable=False),
        sa.Column("package", sa.String(length=16), nullable=False),
        sa.Column("service_on", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "amount_claimed", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "amount_approved", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("encounter_ref", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=150), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('entered', 'flagged', 'accepted', 'reduced', 'rejected')",
            name=op.f("ck_ins_claim_line_status"),
        ),
        sa.CheckConstraint(
            "amount_approved IS NULL"
            " OR (amount_approved >= 0 AND amount_approved <= amount_claimed)",
            name=op.f("ck_ins_claim_line_amount_approved"),
        ),
        sa.CheckConstraint("amount_claimed >= 0", name=op.f("ck_ins_claim_line_amount_claimed")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_ins_claim_line_quantity")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["ins_claim.id"], name=op.f("fk_ins_claim_line_claim_id_ins_claim")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_ins_claim_line_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ins_claim_line_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_claim_line")),
    )
    with op.batch_alter_table("ins_claim_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ins_claim_line_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index("ix_ins_claim_line_day", ["service_on", "person_id"], unique=False)
        batch_op.create_index(
            "ix_ins_claim_line_flagged",
            ["status"],
            unique=False,
            sqlite_where=sa.text("status = 'flagged'"),
            postgresql_where=sa.text("status = 'flagged'"),
        )
        batch_op.create_index(
            batch_op.f("ix_ins_claim_line_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "ins_payer",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('employer', 'entrepreneur', 'independent', 'self_employed', 'state',"
            " 'aggregate')",
            name=op.f("ck_ins_payer_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_ins_payer_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ins_payer_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_payer")),
        sa.UniqueConstraint("code", name=op.f("uq_ins_payer_code")),
    )
    with op.batch_alter_table("ins_payer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ins_payer_employer_id"), ["employer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ins_payer_person_id"), ["person_id"], unique=False)

    op.create_table(
        "ins_contribution",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("payer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('employer', 'employee', 'entrepreneur', 'independent', 'self_employed',"
            " 'state', 'aggregate')",
            name=op.f("ck_ins_contribution_kind"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ins_contribution_amount")),
        sa.ForeignKeyConstraint(
            ["import_id"], ["ins_import.id"], name=op.f("fk_ins_contribution_import_id_ins_import")
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["ins_payer.id"], name=op.f("fk_ins_contribution_payer_id_ins_payer")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ins_contribution_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_contribution")),
        sa.UniqueConstraint(
            "person_id",
            "payer_id",
            "kind",
            "month",
            "paid_on",
            "amount",
            name="ux_ins_contribution",
        ),
    )
    with op.batch_alter_table("ins_contribution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ins_contribution_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index("ix_ins_contribution_month", ["month", "payer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ins_contribution_payer_id"), ["payer_id"], unique=False
        )

    op.create_table(
        "ins_employment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column(
            "monthly_wage", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "end_on IS NULL OR end_on >= start_on", name=op.f("ck_ins_employment_dates")
        ),
        sa.CheckConstraint("monthly_wage >= 0", name=op.f("ck_ins_employment_wage")),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["ins_payer.id"], name=op.f("fk_ins_employment_payer_id_ins_payer")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ins_employment_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_employment")),
        sa.UniqueConstraint("payer_id", "person_id", "start_on", name="ux_ins_employment_start"),
    )
    with op.batch_alter_table("ins_employment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ins_employment_payer_id"), ["payer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ins_employment_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ins_employment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_employment_person_id"))
        batch_op.drop_index(batch_op.f("ix_ins_employment_payer_id"))

    op.drop_table("ins_employment")
    with op.batch_alter_table("ins_contribution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_contribution_payer_id"))
        batch_op.drop_index("ix_ins_contribution_month")
        batch_op.drop_index(batch_op.f("ix_ins_contribution_import_id"))

    op.drop_table("ins_contribution")
    with op.batch_alter_table("ins_payer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_payer_person_id"))
        batch_op.drop_index(batch_op.f("ix_ins_payer_employer_id"))

    op.drop_table("ins_payer")
    with op.batch_alter_table("ins_claim_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_claim_line_person_id"))
        batch_op.drop_index(
            "ix_ins_claim_line_flagged",
            sqlite_where=sa.text("status = 'flagged'"),
            postgresql_where=sa.text("status = 'flagged'"),
        )
        batch_op.drop_index("ix_ins_claim_line_day")
        batch_op.drop_index(batch_op.f("ix_ins_claim_line_claim_id"))

    op.drop_table("ins_claim_line")
    with op.batch_alter_table("ins_category_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_category_member_person_id"))

    op.drop_table("ins_category_member")
    op.drop_table("ins_settlement")
    with op.batch_alter_table("ins_pharmacy_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ins_pharmacy_claim_facility_id"))

    op.drop_table("ins_pharmacy_claim")
    with op.batch_alter_table("ins_claim", schema=None) as batch_op:
        batch_op.drop_index("ix_ins_claim_month")
        batch_op.drop_index(batch_op.f("ix_ins_claim_facility_id"))

    op.drop_table("ins_claim")
    op.drop_table("ins_plan")
    op.drop_table("ins_import")
