"""epidemic: each region's zone by day, and the alerts raised from it

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 14:00:00

``epidemic_zone_day`` (a region's zone on a day: the edition, the rule that decided it,
the indicators not known, Rt and incidence; one row per region and day) and
``epidemic_alert`` (a zone change, or intensive-care or infectious beds projected to be
exceeded within 14 days; one row per region, day and kind) and
``epidemic_reader_region`` (the region a reader's alerts are limited to); domains/epidemic
(models_situation.py), docs/epidemic.md "Situation, zones and alerts".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    t = "epidemic_zone_day"
    op.create_table(
        t,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.Integer(), nullable=True),
        sa.Column("missing", sa.String(length=200), nullable=False),
        sa.Column("rt", sa.Float(), nullable=True),
        sa.Column("incidence_per_100k", sa.Float(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        _fk(t, "region_id", "territory"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("region_id", "day", name=op.f(f"uq_{t}_region_id_day")),
    )
    op.create_index("ix_epidemic_zone_day_day", t, ["day"])

    t = "epidemic_alert"
    op.create_table(
        t,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("zone_from", sa.String(length=32), nullable=True),
        sa.Column("zone_to", sa.String(length=32), nullable=True),
        sa.Column("exceeds_on", sa.Date(), nullable=True),
        sa.Column("beds", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk(t, "region_id", "territory"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("region_id", "day", "kind", name=op.f(f"uq_{t}_region_id_day_kind")),
    )
    op.create_index("ix_epidemic_alert_region_day", t, ["region_id", "day"])

    t = "epidemic_reader_region"
    op.create_table(
        t,
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        _fk(t, "region_id", "territory"),
        sa.PrimaryKeyConstraint("user_id", name=op.f(f"pk_{t}")),
    )


def downgrade() -> None:
    op.drop_table("epidemic_reader_region")
    op.drop_index("ix_epidemic_alert_region_day", table_name="epidemic_alert")
    op.drop_table("epidemic_alert")
    op.drop_index("ix_epidemic_zone_day_day", table_name="epidemic_zone_day")
    op.drop_table("epidemic_zone_day")
