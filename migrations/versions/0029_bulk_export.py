"""exchange: bulk data export files

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 22:20:00

FHIR Bulk Data export (docs/exchange.md): an export request (who asked, what, until when)
and a row per NDJSON file it wrote; the job that runs it is core's ``job`` (0027).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bulk_export",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job_id", ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("types", sa.String(length=500), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patients", sa.Text(), nullable=True),
        sa.Column("output_format", sa.String(length=64), nullable=False),
        sa.Column("request_url", sa.String(length=2000), nullable=False),
        sa.Column("transaction_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_export")),
    )
    op.create_index("ix_bulk_export_user_id", "bulk_export", ["user_id"])
    op.create_index("ix_bulk_export_expires_at", "bulk_export", ["expires_at"])
    op.create_index("ix_bulk_export_job_id", "bulk_export", ["job_id"])
    op.create_table(
        "bulk_export_file",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("export_id", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("size", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["bulk_export.id"],
            name=op.f("fk_bulk_export_file_export_id_bulk_export"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_export_file")),
        sa.UniqueConstraint("export_id", "name", name=op.f("uq_bulk_export_file_export_id_name")),
    )


def downgrade() -> None:
    op.drop_table("bulk_export_file")
    op.drop_index("ix_bulk_export_job_id", table_name="bulk_export")
    op.drop_index("ix_bulk_export_expires_at", table_name="bulk_export")
    op.drop_index("ix_bulk_export_user_id", table_name="bulk_export")
    op.drop_table("bulk_export")
