"""The register's reads and writes for the planning domain's synthetic generator
(``salomat synth``, domains/planning/service/synth.py): settlements and facilities as
they stand, new villages and primary-care units written, settlements past the country's
edge moved onto it, part-time roles.

Territory, facilities and practitioner roles belong to the registry (DESIGN, rules of
direction): the planning generator asks here instead of touching the tables. Synchronous,
on the bulk writer's engine, like the generators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from salomat.domains.registry.models import Facility, PractitionerRole, Territory

__all__ = [
    "FACILITY_COLUMNS",
    "TERRITORY_COLUMNS",
    "facility_first_id",
    "move_settlements",
    "open_facility_kinds",
    "role_ids",
    "set_fte",
    "territory_first_id",
    "territory_rows",
    "write_facilities",
    "write_territory_rows",
]

TERRITORY_COLUMNS = ("id", "code", "level", "parent_id", "name", "names", "is_rural",
                     "latitude", "longitude", "version")  # fmt: skip
FACILITY_COLUMNS = ("id", "code", "name", "names", "kind", "perinatal_level", "settlement_id",
                    "is_open", "opened_on", "version", "updated_at")  # fmt: skip
_CHUNK = 5000


def territory_rows(engine: Engine) -> list[Any]:
    """Every territory row (id, code, level, parent_id, names, is_rural, latitude,
    longitude), in id order."""
    t = Territory.__table__
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    t.c.id, t.c.code, t.c.level, t.c.parent_id, t.c.names, t.c.is_rural,
                    t.c.latitude, t.c.longitude,
                ).order_by(t.c.id)
            )
        )  # fmt: skip


def open_facility_kinds(engine: Engine) -> list[tuple[int | None, str]]:
    """(settlement id, kind) of every open facility."""
    f = Facility.__table__
    with engine.connect() as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(
                select(f.c.settlement_id, f.c.kind).where(f.c.is_open.is_(True)).order_by(f.c.id)
            )
        ]


def role_ids(engine: Engine) -> list[int]:
    pr = PractitionerRole.__table__
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(pr.c.id).order_by(pr.c.id))]


def territory_first_id(writer: Any, count: int) -> int:
    return int(writer.next_id(Territory.__table__, count))


def facility_first_id(writer: Any, count: int) -> int:
    return int(writer.next_id(Facility.__table__, count))


def write_territory_rows(writer: Any, rows: Iterable[Sequence[Any]]) -> int:
    return int(writer.write(Territory.__table__, list(TERRITORY_COLUMNS), rows))


def write_facilities(writer: Any, rows: Iterable[Sequence[Any]]) -> int:
    return int(writer.write(Facility.__table__, list(FACILITY_COLUMNS), rows))


def move_settlements(engine: Engine, moves: Sequence[tuple[int, float, float]]) -> None:
    """Set (territory id, latitude, longitude) for each move."""
    if not moves:
        return
    t = Territory.__table__
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.id == bindparam("i"))
            .values(latitude=bindparam("a"), longitude=bindparam("o")),
            [{"i": i, "a": a, "o": o} for i, a, o in moves],
        )


def set_fte(engine: Engine, by_fte: dict[float, list[int]]) -> int:
    """Set each listed role's FTE (a statement per FTE and 5,000 ids); the roles set."""
    pr = PractitionerRole.__table__
    n = 0
    with engine.begin() as conn:
        for fte, ids in sorted(by_fte.items()):
            for lo in range(0, len(ids), _CHUNK):
                chunk = ids[lo : lo + _CHUNK]
                conn.execute(
                    update(pr).where(pr.c.id.in_(bindparam("ids", expanding=True))).values(fte=fte),
                    {"ids": chunk},
                )
                n += len(chunk)
    return n
