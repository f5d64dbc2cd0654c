"""synthetic populations: the run record and the truth about injected duplicates

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "synthetic_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("started_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synthetic_run")),
    )
    op.create_table(
        "synthetic_duplicate",
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("original_id", ROW_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_synthetic_duplicate_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["original_id"], ["person.id"], name=op.f("fk_synthetic_duplicate_original_id_person")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_synthetic_duplicate")),
    )
    op.create_index(
        op.f("ix_synthetic_duplicate_original_id"),
        "synthetic_duplicate",
        ["original_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_synthetic_duplicate_original_id"), table_name="synthetic_duplicate")
    op.drop_table("synthetic_duplicate")
    op.drop_table("synthetic_run")
