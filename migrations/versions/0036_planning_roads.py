"""planning: an imported road network per region (OpenStreetMap)

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 10:10:00

``road_node`` (an OpenStreetMap node used by a road: its coordinates, scoped to a region)
and ``road_edge`` (a road segment between two nodes by OSM id: km, minutes, one-way);
domains/planning (service/roads.py), docs/planning.md "Road network".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "road_node",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_node")),
        sa.UniqueConstraint(
            "region_code", "osm_id", name=op.f("uq_road_node_region_code_osm_id")
        ),
    )
    op.create_table(
        "road_edge",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("from_osm", sa.BigInteger(), nullable=False),
        sa.Column("to_osm", sa.BigInteger(), nullable=False),
        sa.Column("km", sa.Float(), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("oneway", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edge")),
    )
    op.create_index("ix_road_edge_region_code", "road_edge", ["region_code"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_road_edge_region_code", table_name="road_edge")
    op.drop_table("road_edge")
    op.drop_table("road_node")
