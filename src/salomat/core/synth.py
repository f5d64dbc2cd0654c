"""What every domain's synthetic-data generator shares (``salomat synth``).

A synthetic national population is built by each domain for its own tables
(``<domain>.service.synth``), bottom up along the domain graph: the registry
first (territory, facilities, people, households, relations, injected
duplicates), then each programme from the people it is handed. This module
knows no domain: it holds the seed, the day the population is "as of", the
bulk writer, a progress reporter and the run record.

Determinism: every generator draws from ``ctx.rng(name)``, a generator seeded
from the run's seed and the generator's own name, so adding a domain doesn't
change what the others produce, and the same seed gives the same rows.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Date, Integer, String, create_engine, insert, text
from sqlalchemy.orm import Mapped, mapped_column

from salomat.core.bulk import BulkWriter
from salomat.core.db import Base, UTCDateTime

__all__ = ["Progress", "SynthContext", "SynthError", "SyntheticRun", "poisson", "run"]


class Progress(Protocol):
    """``task = progress.start("people", total)``; ``task(n)`` advances it by n."""

    def start(self, label: str, total: int | None) -> Callable[[int], None]: ...


class _Silent:
    def start(self, label: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None


class SyntheticRun(Base):
    """One ``salomat synth`` load: what was asked and what each generator wrote.

    Its presence marks the database as synthetic (benchmarks and the
    deduplication evaluation read it); a production database has no row here.
    """

    __tablename__ = "synthetic_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2))
    people: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: rows written per table, and the seconds each generator took
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass
class SynthContext:
    """Handed to every domain's ``synthesize``."""

    country: str
    seed: int
    as_of: date
    writer: BulkWriter
    progress: Progress = field(default_factory=_Silent)
    #: rows written per table (each generator adds to it)
    counts: dict[str, int] = field(default_factory=dict)
    #: seconds each generator took (the CLI fills it in)
    timings: dict[str, float] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")

    def count(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw of mean ``lam`` from ``rng`` (Knuth's product of uniforms: the
    means a generator draws are small, a few events a person)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class SynthError(Exception):
    """The database can't take a synthetic population (says why)."""


@contextmanager
def run(
    url: str, *, country: str, people: int, seed: int, as_of: date, progress: Progress
) -> Iterator[SynthContext]:
    """Open the bulk writer on ``url`` for one load; record the run when it ends.

    Refuses a database that already holds people: synthetic records must never
    mix with real ones, and a half-finished load is redone on an empty database.
    """
    from salomat.core import migrate

    migrate.upgrade(url)
    engine = create_engine(url.replace("+aiosqlite", "").replace("+psycopg_async", "+psycopg"))
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM person LIMIT 1")).first() is not None:
                raise SynthError(
                    "the database already has people: synthetic data goes into an empty "
                    "database only (a new SALOMAT_DATABASE_URL, then `salomat synth`)"
                )
        ctx = SynthContext(
            country=country, seed=seed, as_of=as_of, writer=BulkWriter(engine), progress=progress
        )
        started = datetime.now(UTC)
        timings = ctx.timings
        yield ctx
        ctx.writer.finish()
        analysed = time.perf_counter()
        ctx.writer.analyze()
        timings["analyze"] = round(time.perf_counter() - analysed, 1)
        with engine.begin() as conn:
            conn.execute(
                insert(SyntheticRun.__table__).values(
                    country=country,
                    people=people,
                    seed=seed,
                    as_of=as_of,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    counts={"rows": ctx.counts, "seconds": timings},
                )
            )
    finally:
        engine.dispose()
