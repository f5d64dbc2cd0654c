"""What every benchmark suite of ``make bench`` shares.

A suite is a module of ``bench/`` with ``run(ctx: BenchContext) -> list[Figure]``.
Each figure carries the baseline measured in the same run and the ratio
between the two: that ratio, not the absolute number, is what compares
across machines. ``bench/__main__.py`` prepares the synthetic population,
calls the suites and writes the JSON and markdown results.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "var" / "bench"
#: the PostgreSQL server the bench databases live on (one database per size and country)
PG_SERVER = os.environ.get("SALOMAT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


@dataclass
class BenchContext:
    #: SQLAlchemy URL (sync driver, ``postgresql+psycopg://``) of the database holding the
    #: synthetic population; the app's async URL is ``async_url``
    url: str
    people: int
    country: str
    seed: int
    #: small and quick (fewer requests, shorter runs): for trying the suite, not for figures
    quick: bool = False
    #: where a suite may keep scratch files
    work: Path = DATA
    #: ``--profile``: py-spy records the server during the api suite's main scenarios
    profile: bool = False
    #: ``--workers 1,2``: the api suite's register and read again at each worker count
    workers: tuple[int, ...] = ()

    @property
    def async_url(self) -> str:
        return self.url.replace("+psycopg://", "+psycopg_async://")

    @property
    def dsn(self) -> str:
        """libpq form, for psycopg directly."""
        return self.url.replace("postgresql+psycopg://", "postgresql://")

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a ``salomat`` subprocess (server, CLI) on this database."""
        env = dict(os.environ)
        env.update(
            SALOMAT_DATABASE_URL=self.async_url,
            SALOMAT_COUNTRY=self.country,
            SALOMAT_ENV="development",
            SALOMAT_VAR_DIR=str(self.work / f"var-{self.country}-{self.people}"),
        )
        env.update(extra)
        return env


@dataclass
class Figure:
    """One measured figure beside its same-run baseline."""

    suite: str  # api | search | indicators | dedup
    name: str  # what was measured, in words ("register a person")
    people: int
    value: float
    unit: str  # "req/s", "ms", "s", "" (a proportion)
    #: what it is compared with, measured in the same run ("bare one-insert endpoint")
    baseline: str | None = None
    baseline_value: float | None = None
    #: value / baseline_value for throughputs; baseline_value / value would hide a slow
    #: figure, so for times it is also value / baseline_value (1.3 = 30 % slower)
    ratio: float | None = None
    #: the issue's target for this figure, in words ("ratio >= 0.5", "p95 <= 20 ms")
    target: str | None = None
    met: bool | None = None
    #: p50/p95/p99 in ms, request counts, errors, precision, recall...
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of latencies in milliseconds (rounded to 0.01 ms)."""
    if not samples_ms:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    ordered = sorted(samples_ms)
    if len(ordered) == 1:
        v = round(ordered[0], 2)
        return {"p50": v, "p95": v, "p99": v}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(cuts[94], 2),
        "p99": round(cuts[98], 2),
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


async def synthetic_as_of(s: Any) -> date:
    """The day the newest finished ``salomat synth`` run counted from (today if none)."""
    from sqlalchemy import text

    row = (
        await s.execute(
            text("SELECT as_of FROM synthetic_run WHERE finished_at IS NOT NULL ORDER BY id DESC")
        )
    ).first()
    return row[0] if row else date.today()


async def timed_in_sessions(url: str, fn: Any, repeats: int) -> tuple[float, list[float], Any]:
    """``fn(session)`` run ``repeats`` times after one warm-up, each in a session of its own
    rolled back after: the median and the samples (ms), and the last result."""
    from salomat.core.db import session_factory

    samples, result = [], None
    for k in range(repeats + 1):
        async with session_factory(url)() as s:
            started = time.perf_counter()
            try:
                result = await fn(s)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                await s.rollback()
        if k:  # the first run warms the caches
            samples.append(elapsed)
    return statistics.median(samples), samples, result
