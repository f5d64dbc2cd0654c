"""An imported road network, per region: its nodes (OpenStreetMap nodes used by roads) and
its edges (a road segment between two of them, its length and travel minutes).

Edges name their ends by OpenStreetMap node id within the region (``from_osm``,
``to_osm``), so an import is inserted set-wise without reading generated ids back; an
import replaces the region's previous one (service/roads.py, docs/planning.md). No row
here is a person's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.db import Base

ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class RoadNode(Base):
    __tablename__ = "road_node"
    __table_args__ = (UniqueConstraint("region_code", "osm_id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    region_code: Mapped[str] = mapped_column(String(32))
    osm_id: Mapped[int] = mapped_column(BigInteger)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class RoadEdge(Base):
    __tablename__ = "road_edge"
    __table_args__ = (Index("ix_road_edge_region_code", "region_code"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(String(32))
    from_osm: Mapped[int] = mapped_column(BigInteger)
    to_osm: Mapped[int] = mapped_column(BigInteger)
    km: Mapped[float] = mapped_column(Float)
    minutes: Mapped[float] = mapped_column(Float)
    #: the way is one-way (this edge is its direction of travel)
    oneway: Mapped[bool] = mapped_column(Boolean, default=False)
