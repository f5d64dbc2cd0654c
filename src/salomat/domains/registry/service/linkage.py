"""Batch deduplication of the whole person index with Splink (DuckDB backend).

Live people (not merged) are read from the database in batches into an
in-memory DuckDB table: id, the name skeletons of ``country.names`` (family,
given, patronymic; script-insensitive), birth date and its day/month-swapped
reading, sex, national id, settlement. Splink compares the pairs that share
a block:

- the same birth date;
- the same family skeleton and birth year;
- a birth date equal to the other's with day and month swapped.

Comparisons: Jaro-Winkler on the family and given skeletons, Levenshtein on
the patronymic skeleton (one edit), birth date (exact, swapped, one digit off, within a
year), sex, national id, settlement. Pairs whose match probability reaches the
threshold go to ``duplicate_pair`` under one run id: a new pair is added, an
open pair gets the new probability and run id, a pair a registrar already
marked distinct or merged is left alone.

Training. m probabilities (how often a real duplicate agrees on each
level: clerks' error rates) are the fixed values of ``_MU``: they encode
what a registrar knows (a real duplicate nearly always shares the birth
date or swaps day and month; a re-registration mostly happens at the same
polyclinic). u probabilities (how often two strangers agree) depend on the
registry's own name and date distributions: from ``TRAIN_FROM`` live people
on they are estimated by random sampling, below it (the demo's 20 people, a
new district) the fixed u values of ``_MU`` are used. m is not estimated by
expectation maximisation: on a registry whose names are concentrated (a few
hundred family and given names cover most of Uzbekistan and Kazakhstan), a
session blocked on the names is dominated by namesakes, and EM converged to
them instead of to duplicates (measured by bench/dedup.py on 20,200 people:
m(birth date exact) fell to 0.004, and every duplicate without a patronymic
was missed). The summary's ``trained`` says whether u was estimated.

On one machine DuckDB handles a few million people; beyond that the same
settings run on Splink's Spark backend (``linkage_spark``, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid
from salomat.domains.registry.models import DuplicatePair, Person
from salomat.domains.registry.schemas import DedupSummary
from salomat.domains.registry.service.search import swapped_day_month

__all__ = ["BACKENDS", "DEFAULT_THRESHOLD", "TRAIN_FROM", "dedup_registry"]

DEFAULT_THRESHOLD = 0.9
#: where the linkage runs: DuckDB in this process, or Spark (local mode or a cluster)
BACKENDS = ("duckdb", "spark")
#: fewer live people than this: fixed m/u values instead of training (see the module doc)
TRAIN_FROM = 1000
_BATCH = 50_000

#: Progress callback: (stage, done, total); stages "read", "link", "write".
Progress = Callable[[str, int, int], None]

#: m and u probabilities per comparison level (the null level excluded), most similar first
_MU: dict[str, tuple[list[float], list[float]]] = {
    # exact, JW >= 0.92, JW >= 0.8, else
    "family_key": ([0.80, 0.12, 0.05, 0.03], [0.01, 0.01, 0.03, 0.95]),
    "given_key": ([0.85, 0.10, 0.03, 0.02], [0.02, 0.01, 0.03, 0.94]),
    # exact, Levenshtein <= 1, else: father's names under one Russian-style suffix are
    # two edits apart as often as not (nodirovna / botirovna), so 2 edits says little
    "patronymic_key": ([0.80, 0.12, 0.08], [0.03, 0.02, 0.95]),
    # exact, day/month swapped, one character off, within a year, else
    "birth_date": ([0.86, 0.04, 0.05, 0.03, 0.02], [0.00005, 0.00005, 0.0005, 0.03, 0.96995]),
    # exact, else
    "sex": ([0.97, 0.03], [0.5, 0.5]),
    # exact, else: two different valid ids on one person are rare (the check digit
    # rejects most typos), so disagreeing ids are strong evidence of two people
    "national_id": ([0.99, 0.01], [0.0001, 0.9999]),
    # the same settlement, else: a person re-registered mostly at the same polyclinic
    "settlement_id": ([0.8, 0.2], [0.01, 0.99]),
}


def _settings(people: int) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def mu(name: str, comparison: Any) -> Any:
        m, u = _MU[name]
        return comparison.configure(m_probabilities=m, u_probabilities=u)

    m, u = _MU["birth_date"]
    levels = [
        cll.NullLevel("birth_date"),
        cll.ExactMatchLevel("birth_date"),
        cll.CustomLevel("birth_date_l = birth_swapped_r", "day and month swapped"),
        cll.LevenshteinLevel("birth_text", 1),
        cll.AbsoluteDateDifferenceLevel(
            "birth_date", input_is_string=False, threshold=1, metric="year"
        ),
        cll.ElseLevel(),
    ]
    for level, mp, up in zip(levels[1:], m, u, strict=True):
        level.configure(m_probability=mp, u_probability=up)
    birth = cl.CustomComparison(levels, output_column_name="birth_date")
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        # about one person in a hundred registered twice
        probability_two_random_records_match=min(0.01, max(1e-9, 0.02 / max(people, 2))),
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("family_key", "birth_year"),
            "l.birth_date = r.birth_swapped",
        ],
        comparisons=[
            mu("family_key", cl.JaroWinklerAtThresholds("family_key", [0.92, 0.8])),
            mu("given_key", cl.JaroWinklerAtThresholds("given_key", [0.92, 0.8])),
            mu("patronymic_key", cl.LevenshteinAtThresholds("patronymic_key", [1])),
            birth,
            mu("sex", cl.ExactMatch("sex")),
            mu("national_id", cl.ExactMatch("national_id")),
            mu("settlement_id", cl.ExactMatch("settlement_id")),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _rows(batch: list[Any]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "unique_id",
            "family_key",
            "given_key",
            "patronymic_key",
            "birth_date",
            "birth_swapped",
            "birth_text",
            "birth_year",
            "sex",
            "national_id",
            "settlement_id",
        )
    }
    for r in batch:
        parts = (r.name_key or "").split(" ")
        given = parts[1] if len(parts) > 1 else None
        patronymic = " ".join(parts[2:]) or None
        cols["unique_id"].append(r.id)
        cols["family_key"].append(r.family_key or None)
        cols["given_key"].append(given)
        cols["patronymic_key"].append(patronymic)
        cols["birth_date"].append(r.birth_date)
        cols["birth_swapped"].append(swapped_day_month(r.birth_date))
        cols["birth_text"].append(r.birth_date.isoformat())
        cols["birth_year"].append(r.birth_date.year)
        cols["sex"].append(r.sex)
        cols["national_id"].append(r.national_id)
        cols["settlement_id"].append(r.settlement_id)
    return cols


_DDL = """CREATE TABLE people (
    unique_id BIGINT, family_key VARCHAR, given_key VARCHAR, patronymic_key VARCHAR,
    birth_date DATE, birth_swapped DATE, birth_text VARCHAR, birth_year INTEGER,
    sex VARCHAR, national_id VARCHAR, settlement_id INTEGER)"""


def _train(linker: Any, people: int) -> bool:
    """u by random sampling (see the module doc); the same on every backend."""
    if people < TRAIN_FROM:
        return False
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(5e6, people * (people - 1) / 2), seed=1
    )
    return True


def _link(
    con: Any, people: int, threshold: float
) -> tuple[list[tuple[int, int, float]], int, bool]:
    """Splink on the loaded table: (pairs at or above the threshold, pairs compared, trained)."""
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    db_api = DuckDBAPI(connection=con)
    table = db_api.register("people")
    linker = Linker(table, _settings(people), log_level=None)
    trained = _train(linker, people)
    predictions = linker.inference.predict(threshold_match_probability=0.0, warning_mode="never")
    name = predictions.physical_name
    compared = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # noqa: S608
    rows = con.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability FROM {name} "  # noqa: S608
        "WHERE match_probability >= ? ORDER BY unique_id_l, unique_id_r",
        [threshold],
    ).fetchall()
    return [(int(a), int(b), float(p)) for a, b, p in rows], compared, trained


async def _read_people(
    session: AsyncSession, total: int, batch_size: int, tick: Progress
) -> AsyncIterator[dict[str, list[Any]]]:
    """Live people in id order, ``batch_size`` at a time, as the columns Splink compares."""
    live = Person.merged_into_id.is_(None)
    cols = (
        Person.id,
        Person.name_key,
        Person.family_key,
        Person.birth_date,
        Person.sex,
        Person.national_id,
        Person.settlement_id,
    )
    last, done = 0, 0
    tick("read", 0, total)
    while True:
        batch = (
            await session.execute(
                select(*cols).where(live, Person.id > last).order_by(Person.id).limit(batch_size)
            )
        ).all()
        if not batch:
            break
        yield _rows(batch)
        last, done = batch[-1].id, done + len(batch)
        tick("read", done, total)


async def dedup_registry(
    session: AsyncSession,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
    batch_size: int = _BATCH,
    backend: str = "duckdb",
) -> DedupSummary:
    """One batch run over every live person; returns what it found and wrote.

    ``backend`` "spark" runs the same settings on Splink's Spark backend (the ``spark``
    extra), for registries beyond what one DuckDB process holds.
    """
    if not 0 < threshold <= 1:
        raise Invalid.fields([FieldError("threshold", "must be above 0 and at most 1")])
    if backend not in BACKENDS:
        raise Invalid.fields([FieldError("backend", f"one of {', '.join(BACKENDS)}")])
    started = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    live = Person.merged_into_id.is_(None)
    total = int(await session.scalar(select(func.count()).select_from(Person).where(live)) or 0)
    run_id = f"{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    if backend == "spark":
        from salomat.domains.registry.service import linkage_spark

        pairs, compared, trained = await linkage_spark.link(
            _read_people(session, total, batch_size, tick), total, threshold, tick
        )
    else:
        pairs, compared, trained = await _link_duckdb(
            _read_people(session, total, batch_size, tick), total, threshold, tick
        )
    counts = await _write_pairs(session, pairs, run_id, tick)
    return DedupSummary(
        run_id=run_id,
        people=total,
        compared=compared,
        above_threshold=len(pairs),
        threshold=threshold,
        trained=trained,
        seconds=round(time.perf_counter() - started, 2),
        **counts,
    )


async def _link_duckdb(
    batches: AsyncIterator[dict[str, list[Any]]], total: int, threshold: float, tick: Progress
) -> tuple[list[tuple[int, int, float]], int, bool]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(":memory:")
    try:
        con.execute(_DDL)
        async for cols in batches:
            arrow = pa.table(cols)  # noqa: F841  (read by DuckDB by name)
            con.execute("INSERT INTO people SELECT * FROM arrow")
        tick("link", 0, 1)
        if total >= 2:
            found = await asyncio.to_thread(_link, con, total, threshold)
        else:
            found = [], 0, False
        tick("link", 1, 1)
    finally:
        con.close()
    return found


async def _write_pairs(
    session: AsyncSession, pairs: list[tuple[int, int, float]], run_id: str, tick: Progress
) -> dict[str, int]:
    """New pairs inserted, open ones updated, reviewed ones (distinct, merged) left alone."""
    new = updated = alone = 0
    now = utcnow()
    ordered = sorted({(min(a, b), max(a, b)): p for a, b, p in pairs}.items())
    tick("write", 0, len(ordered))
    for i in range(0, len(ordered), 1000):
        chunk = [(a, b, p) for (a, b), p in ordered[i : i + 1000]]
        firsts = sorted({a for a, _, _ in chunk})
        existing = {
            (r.person_a_id, r.person_b_id): r
            for r in (
                await session.execute(
                    select(
                        DuplicatePair.id,
                        DuplicatePair.person_a_id,
                        DuplicatePair.person_b_id,
                        DuplicatePair.status,
                    ).where(DuplicatePair.person_a_id.in_(firsts))
                )
            ).all()
        }
        inserts: list[dict[str, Any]] = []
        for a, b, p in chunk:
            row = existing.get((a, b))
            if row is None:
                inserts.append(
                    {
                        "person_a_id": a,
                        "person_b_id": b,
                        "probability": round(p, 6),
                        "status": "open",
                        "run_id": run_id,
                        "found_at": now,
                    }
                )
            elif row.status == "open":
                await session.execute(
                    update(DuplicatePair)
                    .where(DuplicatePair.id == row.id)
                    .values(probability=round(p, 6), run_id=run_id, found_at=now)
                )
                updated += 1
            else:
                alone += 1
        if inserts:
            await session.execute(insert(DuplicatePair), inserts)
            new += len(inserts)
        tick("write", i + len(chunk), len(ordered))
    await session.flush()
    return {"new_pairs": new, "updated_pairs": updated, "left_alone": alone}
