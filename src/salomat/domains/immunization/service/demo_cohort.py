"""Vaccinations of the demo's synthetic birth cohort (demo.yaml ``vital_statistics``,
``sample``): the children the registry adds for the vital-statistics trends get the
doses ``salomat synth`` would give them, at the pack's coverage and delays
(``immunization.yaml``, ``synth``), so the region's coverage figures stay what a
real region's would be.

``salomat synth`` streams its rows through its own connection, one commit per
table; the demo load is one unit of work (a failed load changes nothing), so the
generator's rows are collected here and inserted through the load's session.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.synth import SynthContext
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.service.synth import synthesize_immunizations
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["vaccinate_synthetic_cohort"]

_CHUNK = 5_000


class _Collector:
    """The part of ``BulkWriter`` the generator uses, keeping the rows in memory."""

    def __init__(self, next_ids: dict[str, int]) -> None:
        self._next = next_ids
        self.rows: list[tuple[Table, Sequence[str], list[Sequence[Any]]]] = []

    def next_id(self, table: Table, count: int = 1) -> int:
        first = self._next[table.name]
        self._next[table.name] = first + count
        return first

    @contextmanager
    def deferred(self, tables: Sequence[str]) -> Iterator[None]:
        yield

    def write(
        self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], progress=None
    ) -> int:
        kept = list(rows)
        self.rows.append((table, columns, kept))
        return len(kept)


async def vaccinate_synthetic_cohort(
    session: AsyncSession, population: SyntheticPopulation, *, seed: int, as_of: date
) -> dict[str, int]:
    """Write the cohort's doses and exemptions; returns rows written per table. A cohort
    whose children already have doses is left alone (a second load adds nothing)."""
    if not len(population):
        return {}
    has = await session.scalar(
        select(Dose.id).where(Dose.person_id.in_(list(population.person_id[:50]))).limit(1)
    )
    if has is not None:
        return {}
    tables: tuple[Table, ...] = (Dose.__table__, Exemption.__table__)  # type: ignore[assignment]
    next_ids = {}
    for t in tables:
        top = await session.scalar(select(func.max(t.c.id)))
        next_ids[t.name] = (top or 0) + 1
    writer = _Collector(next_ids)
    ctx = SynthContext(country=population.country, seed=seed, as_of=as_of, writer=writer)  # type: ignore[arg-type]
    written = synthesize_immunizations(ctx, population)
    for table, columns, rows in writer.rows:
        for lo in range(0, len(rows), _CHUNK):
            await session.execute(
                insert(table), [dict(zip(columns, r, strict=True)) for r in rows[lo : lo + _CHUNK]]
            )
    if session.bind.dialect.name == "postgresql":
        # explicit ids: the sequences move past them, as ``BulkWriter.finish`` does
        for t in tables:
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "  # noqa: S608
                    f'(SELECT COALESCE(MAX(id), 1) FROM "{t.name}"))'
                )
            )
    return written
