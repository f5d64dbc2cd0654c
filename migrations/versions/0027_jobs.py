"""core: the persisted background jobs (bulk exports, subscription deliveries)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 22:20:00

One table for every kind of background work (core/jobs.py): a job survives a restart of
the server, and a worker that dies mid-run loses only its lease.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress_done", ID, nullable=False),
        sa.Column("progress_total", ID, nullable=True),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=150), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index("ix_job_status_run_at", "job", ["status", "run_at"])
    op.create_index("ix_job_kind_created_at", "job", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_job_kind_created_at", table_name="job")
    op.drop_index("ix_job_status_run_at", table_name="job")
    op.drop_table("job")
