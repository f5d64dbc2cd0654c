"""growth measurements a clinician marks as entered in error

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ERROR_MARKED = (
    "(error_marked_at IS NULL AND error_marked_by IS NULL AND error_reason IS NULL)"
    " OR (error_marked_at IS NOT NULL AND error_marked_by IS NOT NULL"
    " AND error_reason IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("error_marked_by", sa.String(length=150), nullable=True))
        batch_op.add_column(
            sa.Column("error_marked_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint("error_marked", _ERROR_MARKED)


def downgrade() -> None:
    # the marks are lost with the columns: the rows they marked come back as plain measurements
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_growth_measurement_error_marked"), type_="check")
        batch_op.drop_column("error_marked_at")
        batch_op.drop_column("error_marked_by")
        batch_op.drop_column("error_reason")
