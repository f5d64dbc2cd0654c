"""statistics: indicator values computed by the aggregate job

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 02:10:00

``indicator_value``: one row per indicator, period (YYYY or YYYY-MM), area (territory
code or the country) and stratum, with the raw counts; domains/statistics,
docs/statistics.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "indicator_value",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("indicator", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("stratum", sa.String(length=16), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_value")),
    )
    op.create_index(
        "ux_indicator_value_cell",
        "indicator_value",
        ["indicator", "period", "area", "by", "stratum"],
        unique=True,
    )
    op.create_index("ix_indicator_value_period", "indicator_value", ["period"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_indicator_value_period", table_name="indicator_value")
    op.drop_index("ux_indicator_value_cell", table_name="indicator_value")
    op.drop_table("indicator_value")
