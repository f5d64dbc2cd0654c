"""Batch deduplication at national scale: time, precision and recall.

    .venv/bin/python -m bench --suites dedup                 # inside make bench
    .venv/bin/python -m bench.dedup --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
    .venv/bin/python -m bench.dedup --people 100000          # a throw-away population

The registry's ``dedup_registry`` runs exactly as ``salomat registry dedup``
runs it (read every live person, Splink, write ``duplicate_pair``) on a
database holding a synthetic population whose injected duplicates are
recorded in ``synthetic_duplicate(person_id, original_id, kind)``. The
session is rolled back at the end, so the bench database is left as found
(the pairs were written and flushed, only the commit is skipped).

Time: reading, linking and writing are timed from the run's progress
callback. The baseline of the same run is reading the same people out of
PostgreSQL into DuckDB with the same code and nothing else: the floor any
linkage pays. Ratio = dedup time / read time.

Precision and recall, at the default threshold: a pair found counts as true
if both people belong to one injected cluster (an original and its
duplicates: so {duplicate, original} and two duplicates of one original
count). Recall = injected {duplicate, original} pairs found / injected
pairs, overall and per kind. False and missed pairs are printed with the
records, so a miss can be explained.

The Spark backend (``registry dedup --backend spark``) runs too when
pyspark is importable, on at most ``SPARK_PEOPLE`` people: above that, on
a sample of whole clusters (the same sample for DuckDB, so the two compare),
and the figure's detail says so.

``--people N`` without ``--url`` runs on the database ``make bench`` loads
for that size (``salomat synth``, once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import BenchContext, Figure

SUITE = "dedup"
TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95
#: "1M people deduplicated in minutes": ten of them
TARGET_SECONDS_1M = 600.0
#: largest population the Spark backend runs on in full (local[2] on two cores);
#: above it, a sample of whole clusters
SPARK_PEOPLE = 100_000
EXAMPLES = 12


# ---- evaluation (pure: tests/bench/test_dedup_eval.py) ------------------------------------


@dataclass
class Evaluation:
    found: int
    true_found: int
    false_found: int
    injected: int
    injected_found: int
    #: kind -> (injected, found)
    by_kind: dict[str, tuple[int, int]]
    false_pairs: list[tuple[int, int]] = field(default_factory=list)
    missed: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_found / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.injected_found / self.injected if self.injected else 1.0

    def recall_by_kind(self) -> dict[str, dict[str, float | int]]:
        return {
            kind: {"injected": n, "found": k, "recall": round(k / n, 4) if n else 1.0}
            for kind, (n, k) in sorted(self.by_kind.items())
        }


def clusters(truth: Iterable[tuple[int, int, str]]) -> dict[int, int]:
    """person id -> its cluster's root (the first original), for every injected record.

    A duplicate of a duplicate joins its original's cluster, so any two records
    of one real person count as a true pair.
    """
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for dup, original, _ in truth:
        a, b = root(dup), root(original)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {x: root(x) for x in list(parent)}


def evaluate(found: Iterable[tuple[int, int]], truth: Sequence[tuple[int, int, str]]) -> Evaluation:
    """Precision of ``found`` pairs and recall of the injected (duplicate, original) pairs."""
    cluster = clusters(truth)
    pairs = {(min(a, b), max(a, b)) for a, b in found if a != b}
    false_pairs = sorted(
        (a, b) for a, b in pairs if a not in cluster or cluster[a] != cluster.get(b)
    )
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[tuple[int, int, str]] = []
    injected = {(min(d, o), max(d, o)): kind for d, o, kind in truth}
    hit = 0
    for pair, kind in sorted(injected.items()):
        by_kind[kind][0] += 1
        if pair in pairs:
            by_kind[kind][1] += 1
            hit += 1
        else:
            missed.append((pair[0], pair[1], kind))
    return Evaluation(
        found=len(pairs),
        true_found=len(pairs) - len(false_pairs),
        false_found=len(false_pairs),
        injected=len(injected),
        injected_found=hit,
        by_kind={k: (n, f) for k, (n, f) in by_kind.items()},
        false_pairs=false_pairs,
        missed=missed,
    )


# ---- one run of the product's deduplication -------------------------------------------


@dataclass
class Run:
    backend: str
    people: int
    seconds: float
    stages: dict[str, float]
    summary: dict[str, Any]
    pairs: list[tuple[int, int]]
    sample: str | None = None


class _Stages:
    """Seconds per stage of ``dedup_registry`` from its progress callback."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.first.setdefault(stage, time.perf_counter())

    def seconds(self, started: float, ended: float) -> dict[str, float]:
        order = [s for s in ("read", "link", "write") if s in self.first]
        marks = [self.first[s] for s in order] + [ended]
        out = {s: round(marks[i + 1] - marks[i], 2) for i, s in enumerate(order)}
        out["other"] = round(marks[0] - started, 2) if order else 0.0
        return out


def _engine(async_url: str) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(async_url, pool_size=2)


async def _dedup(async_url: str, backend: str, sample: set[int] | None) -> Run:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from salomat.domains.registry import service
    from salomat.domains.registry.models import DuplicatePair
    from salomat.domains.registry.service import linkage

    engine = _engine(async_url)
    stages = _Stages()
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            restore = None
            if sample is not None:
                restore = _restrict_reading(linkage, sample)
            try:
                started = time.perf_counter()
                summary = await service.dedup_registry(session, backend=backend, progress=stages)
                ended = time.perf_counter()
            finally:
                if restore:
                    restore()
            rows = (
                await session.execute(
                    select(DuplicatePair.person_a_id, DuplicatePair.person_b_id).where(
                        DuplicatePair.run_id == summary.run_id
                    )
                )
            ).all()
            await session.rollback()
    finally:
        await engine.dispose()
    return Run(
        backend=backend,
        people=summary.people,
        seconds=round(ended - started, 2),
        stages=stages.seconds(started, ended),
        summary=summary.model_dump(),
        pairs=[(int(a), int(b)) for a, b in rows],
    )


def _restrict_reading(linkage: Any, sample: set[int]) -> Callable[[], None]:
    """Make the run read only ``sample``'s people (a bench-only wrapper, undone after)."""
    original = linkage._read_people

    async def sampled(*args: Any, **kw: Any) -> AsyncIterator[dict[str, list[Any]]]:
        async for cols in original(*args, **kw):
            keep = [i for i, pid in enumerate(cols["unique_id"]) if pid in sample]
            yield {k: [v[i] for i in keep] for k, v in cols.items()}

    linkage._read_people = sampled
    return lambda: setattr(linkage, "_read_people", original)


async def _read_only(async_url: str) -> tuple[float, int]:
    """The baseline: the same people, read the same way into DuckDB, and nothing else."""
    import duckdb
    import pyarrow as pa
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from salomat.domains.registry.models import Person
    from salomat.domains.registry.service import linkage

    engine = _engine(async_url)
    con = duckdb.connect(":memory:")
    try:
        async with async_sessionmaker(engine)() as session:
            started = time.perf_counter()
            live = Person.merged_into_id.is_(None)
            total = int(await session.scalar(select(func.count()).select_from(Person).where(live)))
            con.execute(linkage._DDL)
            async for cols in linkage._read_people(session, total, linkage._BATCH, _noop):
                arrow = pa.table(cols)  # noqa: F841  (read by DuckDB by name)
                con.execute("INSERT INTO people SELECT * FROM arrow")
            loaded = int(con.execute("SELECT count(*) FROM people").fetchone()[0])
            seconds = time.perf_counter() - started
            await session.rollback()
    finally:
        con.close()
        await engine.dispose()
    return round(seconds, 2), loaded


def _noop(stage: str, done: int, total: int) -> None:
    pass


# ---- the truth and the records, for evidence --------------------------------------------


def read_truth(dsn: str) -> list[tuple[int, int, str]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [
            (int(a), int(b), str(k))
            for a, b, k in conn.execute(
                "SELECT person_id, original_id, kind FROM synthetic_duplicate ORDER BY person_id"
            )
        ]


def _records(dsn: str, ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    import psycopg

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, family_name, given_name, patronymic, birth_date, sex, national_id, "
            "settlement_id FROM person WHERE id = ANY(%s)",
            (wanted,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _show(rec: tuple[Any, ...] | None) -> str:
    if rec is None:
        return "?"
    family, given, patronymic, birth, sex, nid, settlement = rec
    return (
        f"{family} {given} {patronymic or '-'} | {birth} {sex[:1]} | "
        f"nid {nid or '-'} | settl {settlement}"
    )


def _false_kinds(dsn: str, pairs: Sequence[tuple[int, int]]) -> dict[str, int]:
    """Why false pairs were linked: namesakes born the same day are indistinguishable."""
    recs = _records(dsn, [x for p in pairs for x in p])
    out: Counter[str] = Counter()
    for a, b in pairs:
        ra, rb = recs.get(a), recs.get(b)
        if ra is None or rb is None:
            out["unknown"] += 1
            continue
        same_birth = ra[3] == rb[3]
        same_names = (ra[0], ra[1]) == (rb[0], rb[1])
        same_patronymic = ra[2] == rb[2]
        if same_birth and same_names and same_patronymic:
            out["identical name, patronymic and birth date"] += 1
        elif same_birth and same_names:
            out["same family, given name and birth date"] += 1
        elif same_birth:
            out["same birth date, similar names"] += 1
        else:
            out["different birth dates"] += 1
    return dict(out.most_common())


def explain(dsn: str, run: Run, ev: Evaluation, out: Callable[[str], None] = print) -> None:
    out(
        f"-- {run.backend}: {run.people:,} people, {ev.found:,} pairs found, "
        f"precision {ev.precision:.4f}, recall {ev.recall:.4f}"
    )
    for kind, d in ev.recall_by_kind().items():
        out(f"   {kind:<40} {d['found']:>7,} / {d['injected']:>7,}  recall {d['recall']:.3f}")
    rng = random.Random(1)
    false = rng.sample(ev.false_pairs, min(EXAMPLES, len(ev.false_pairs)))
    missed = rng.sample(ev.missed, min(EXAMPLES, len(ev.missed)))
    recs = _records(dsn, [x for p in false for x in p] + [x for m in missed for x in m[:2]])
    if false:
        out(f"   false pairs ({ev.false_found:,}), e.g.:")
        for a, b in false:
            out(f"     {a}: {_show(recs.get(a))}\n     {b}: {_show(recs.get(b))}\n")
    if missed:
        out(f"   missed injected pairs ({len(ev.missed):,}), e.g.:")
        for a, b, kind in missed:
            out(f"     [{kind}]\n     {a}: {_show(recs.get(a))}\n     {b}: {_show(recs.get(b))}\n")


# ---- figures -----------------------------------------------------------------------------


def _sample(truth: Sequence[tuple[int, int, str]], dsn: str, size: int) -> set[int]:
    """About ``size`` people: every k-th person by id, with the whole cluster of any injected
    record kept together (so no injected pair is cut in half)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        total = int(conn.execute("SELECT count(*) FROM person").fetchone()[0])
        step = max(1, math.ceil(total / size))
        ids = {int(r[0]) for r in conn.execute("SELECT id FROM person WHERE id %% %s = 0", (step,))}
    cluster = clusters(truth)
    members: dict[int, list[int]] = defaultdict(list)
    for pid, root in cluster.items():
        members[root].append(pid)
    for root, group in members.items():
        if root % step == 0 or any(p in ids for p in group):
            ids.update(group)
    return ids


def _figures(
    run: Run, ev: Evaluation, read_seconds: float, read_people: int, false_why: dict[str, int]
) -> list[Figure]:
    label = "DuckDB" if run.backend == "duckdb" else "Spark local[2]"
    common = {"backend": run.backend, "threshold": run.summary["threshold"]}
    if run.sample:
        common["sample"] = run.sample
    scale = run.people / 1_000_000
    return [
        Figure(
            suite=SUITE,
            name=f"deduplicate the registry ({label}: read, link, write)",
            people=run.people,
            value=run.seconds,
            unit="s",
            baseline="read the same people from PostgreSQL into DuckDB",
            baseline_value=read_seconds,
            ratio=round(run.seconds / read_seconds, 2) if read_seconds else None,
            target=f"1M people in minutes (<= {TARGET_SECONDS_1M:.0f} s at 1M)",
            met=run.seconds <= TARGET_SECONDS_1M * max(scale, 1.0) if scale >= 0.999 else None,
            detail={
                **common,
                "stages_s": run.stages,
                "baseline_people": read_people,
                "compared_pairs": run.summary["compared"],
                "pairs_found": run.summary["above_threshold"],
                "trained": run.summary["trained"],
            },
        ),
        Figure(
            suite=SUITE,
            name=f"precision of the pairs found ({label})",
            people=run.people,
            value=round(ev.precision, 4),
            unit="",
            target=f"precision >= {TARGET_PRECISION}",
            met=ev.precision >= TARGET_PRECISION,
            detail={
                **common,
                "found": ev.found,
                "true": ev.true_found,
                "false": ev.false_found,
                "false_pairs_why": false_why,
            },
        ),
        Figure(
            suite=SUITE,
            name=f"recall of the injected duplicates ({label})",
            people=run.people,
            value=round(ev.recall, 4),
            unit="",
            target=f"recall >= {TARGET_RECALL}",
            met=ev.recall >= TARGET_RECALL,
            detail={
                **common,
                "injected": ev.injected,
                "found": ev.injected_found,
                "by_kind": ev.recall_by_kind(),
            },
        ),
    ]


def _measure(
    ctx: BenchContext, backend: str, truth: Sequence[tuple[int, int, str]], sample: set[int] | None
) -> tuple[Run, Evaluation, dict[str, int]]:
    run = asyncio.run(_dedup(ctx.async_url, backend, sample))
    if sample is not None:
        run.sample = (
            f"{len(sample):,} of the registry's {run.people:,} people (whole clusters, every "
            "k-th id); the prior still assumes the full registry's size"
        )
        run.people = len(sample)
        truth = [t for t in truth if t[0] in sample and t[1] in sample]
    ev = evaluate(run.pairs, truth)
    explain(ctx.dsn, run, ev)
    return run, ev, _false_kinds(ctx.dsn, ev.false_pairs)


def run(ctx: BenchContext, *, spark: bool = True) -> list[Figure]:
    from salomat.domains.registry.service import linkage_spark

    truth = read_truth(ctx.dsn)
    if not truth:
        print("!! dedup: synthetic_duplicate is empty: no truth to measure precision and recall")
    read_seconds, read_people = asyncio.run(_read_only(ctx.async_url))
    print(f"-- baseline: {read_people:,} people read into DuckDB in {read_seconds:.1f} s")
    figures: list[Figure] = []
    duck = _measure(ctx, "duckdb", truth, None)
    figures += _figures(*duck[:2], read_seconds, read_people, duck[2])
    if not spark:
        return figures
    if not linkage_spark.spark_available():
        print(
            "!! dedup: Spark SKIPPED: pyspark is not installed "
            "(.venv/bin/pip install -e '.[spark]')"
        )
        figures.append(
            Figure(
                suite=SUITE,
                name="deduplicate the registry (Spark local[2])",
                people=ctx.people,
                value=float("nan"),
                unit="s",
                detail={
                    "skipped": "pyspark is not installed",
                    "enable": ".venv/bin/pip install -e '.[spark]' (needs Java 17+)",
                },
            )
        )
        return figures
    people = duck[0].people
    sample = None
    if people > 1.1 * SPARK_PEOPLE or ctx.quick:
        sample = _sample(truth, ctx.dsn, SPARK_PEOPLE)
        # DuckDB on the same sample, so the two backends compare like for like
        duck_s = _measure(ctx, "duckdb", truth, sample)
        for f in _figures(*duck_s[:2], read_seconds, read_people, duck_s[2]):
            f.name += " on the Spark sample"
            figures.append(f)
    on_spark = _measure(ctx, "spark", truth, sample)
    figures += _figures(*on_spark[:2], read_seconds, read_people, on_spark[2])
    return figures


# ---- a population of its own (developing without salomat synth) -------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dedup", description=__doc__)
    parser.add_argument("--url", help="sync SQLAlchemy URL of a database with a population")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--country", default="UZ")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-spark", action="store_true", help="DuckDB only")
    args = parser.parse_args(argv)
    url = args.url
    if not url:
        # the same database `make bench` uses (salomat synth, loaded once per size)
        from bench.__main__ import prepare

        url, _ = prepare(args.country.upper(), args.people, args.seed, fresh=False)
    ctx = BenchContext(
        url=url, people=args.people, country=args.country, seed=args.seed, quick=args.quick
    )
    figures = run(ctx, spark=not args.no_spark)
    print(json.dumps([f.as_dict() for f in figures], indent=1, default=str))


if __name__ == "__main__":
    main()
