"""planning: settlement census figures, saved scenarios, practitioner_role.fte

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 08:50:00

``settlement_census`` (a settlement's population on a date, with its source; one figure
per settlement and date), ``planning_scenario`` (a planner's proposed units) and the
full-time equivalent of each practitioner role (``practitioner_role.fte``, 1 for the rows
that exist, 0 < fte <= 1.5); domains/planning, docs/planning.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settlement_census",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("imported_by", sa.String(length=150), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.CheckConstraint("population >= 0", name=op.f("ck_settlement_census_population")),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territory.id"],
            name=op.f("fk_settlement_census_territory_id_territory"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_census")),
        sa.UniqueConstraint(
            "territory_id", "as_of", name=op.f("uq_settlement_census_territory_id_as_of")
        ),
    )
    with op.batch_alter_table("settlement_census", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_census_territory_id"), ["territory_id"], unique=False
        )
    op.create_table(
        "planning_scenario",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("edition", sa.String(length=32), nullable=True),
        sa.Column("proposed", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territory.id"],
            name=op.f("fk_planning_scenario_territory_id_territory"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_scenario")),
    )
    with op.batch_alter_table("planning_scenario", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_scenario_territory_id"), ["territory_id"], unique=False
        )
    with op.batch_alter_table("practitioner_role", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "fte", sa.Numeric(precision=4, scale=2), server_default=sa.text("1"), nullable=False
            )
        )
        batch_op.create_check_constraint("fte", "fte > 0 AND fte <= 1.5")


def downgrade() -> None:
    with op.batch_alter_table("practitioner_role", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_practitioner_role_fte"), type_="check")
        batch_op.drop_column("fte")
    with op.batch_alter_table("planning_scenario", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_scenario_territory_id"))
    op.drop_table("planning_scenario")
    with op.batch_alter_table("settlement_census", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_census_territory_id"))
    op.drop_table("settlement_census")
