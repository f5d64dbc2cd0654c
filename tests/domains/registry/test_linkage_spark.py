"""The Spark backend finds the pairs the DuckDB backend finds (``registry dedup --backend``).

Skipped unless pyspark (the ``spark`` extra: ``.venv/bin/pip install -e '.[spark]'``)
and a Java runtime are installed; ``make test`` installs neither.

What may differ. Below ``TRAIN_FROM`` both backends score with the same
fixed m/u values, so the only engine-dependent step is the string
similarity: DuckDB's ``jaro_winkler_similarity`` against the Scala UDF
Splink ships for Spark. They are different implementations and disagree on
about one pair of random names in six (measured: 278 of 1,770, always by
less than 0.05), so a pair can land in another level at the 0.92 / 0.8
edges. So: the planted duplicates are found by both, a pair found by both
gets the same probability to 1e-6, and every pair found by one backend only
is one whose family or given skeletons the two engines put in different
Jaro-Winkler levels: each difference is explained, none is tolerated.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from salomat.core.db import session_factory
from salomat.domains.registry import service
from salomat.domains.registry.models import DuplicatePair, Person
from tests.domains.registry.test_linkage import GIVEN, _to_cyrl, register
from tests.factories import unique_name

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        __import__("importlib").util.find_spec("pyspark") is None,
        reason="pyspark is not installed: .venv/bin/pip install -e '.[spark]' (Java 17+)",
    ),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime"),
]


async def planted_population(n: int, seed: int) -> set[tuple[int, int]]:
    """``n`` people, some sharing birth dates and family names, plus four planted duplicates."""
    rng = random.Random(seed)
    families = [unique_name("Sp") for _ in range(12)]
    days = [date(1950, 1, 1) + timedelta(days=rng.randrange(25_000)) for _ in range(40)]
    planted: set[tuple[int, int]] = set()
    async with session_factory()() as s:
        for _ in range(n):
            await register(
                s,
                rng.choice(families),
                rng.choice(GIVEN),
                rng.choice(days),
                sex=rng.choice(["male", "female"]),
                patronymic=rng.choice(["Rustamovich", "Alisherovich", None]),
            )
        fam = unique_name("Du")
        a = await register(
            s, fam, "Dilnoza", date(1988, 3, 9), sex="female", patronymic="Karimovna"
        )
        b = await register(
            s, _to_cyrl(fam), "Дилноза", date(1988, 3, 9), sex="female", patronymic="Каримовна"
        )
        c = await register(s, fam + "ov", "Jamshid", date(1975, 11, 4), patronymic="Olimovich")
        d = await register(s, fam + "ov", "Jamshid", date(1975, 4, 11))  # swap, no patronymic
        await s.commit()
    planted |= {(min(a, b), max(a, b)), (min(c, d), max(c, d))}
    return planted


async def run(backend: str) -> tuple[object, dict[tuple[int, int], float]]:
    async with session_factory()() as s:
        summary = await service.dedup_registry(s, threshold=0.5, backend=backend)
        await s.commit()
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(
                    DuplicatePair.person_a_id, DuplicatePair.person_b_id, DuplicatePair.probability
                ).where(DuplicatePair.run_id == summary.run_id)
            )
        ).all()
    return summary, {(a, b): p for a, b, p in rows}


def _jw_level(similarity: float) -> int:
    """The level of ``JaroWinklerAtThresholds(..., [0.92, 0.8])`` below exact match."""
    return 0 if similarity >= 0.92 else 1 if similarity >= 0.8 else 2


async def _engines_disagree_on_names(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The pairs whose family or given skeletons DuckDB and Spark put in other JW levels."""
    import duckdb

    from salomat.domains.registry.service import linkage_spark

    ids = sorted({i for pair in pairs for i in pair})
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(Person.id, Person.family_key, Person.name_key).where(Person.id.in_(ids))
            )
        ).all()
    keys = {r.id: (r.family_key, r.name_key.split(" ")[1]) for r in rows}
    strings = sorted(
        {(keys[a][k], keys[b][k]) for a, b in pairs for k in (0, 1) if keys[a][k] != keys[b][k]}
    )
    if not strings:
        return set()
    con = duckdb.connect()
    duck = {
        (x, y): con.execute("SELECT jaro_winkler_similarity(?, ?)", [x, y]).fetchone()[0]
        for x, y in strings
    }
    spark = linkage_spark.session()
    frame = spark.createDataFrame(strings, ["x", "y"])
    frame.createOrReplaceTempView("salomat_jw_check")
    try:
        on_spark = {
            (r.x, r.y): r.jw
            for r in spark.sql(
                "SELECT x, y, jaro_winkler(x, y) AS jw FROM salomat_jw_check"
            ).collect()
        }
    finally:
        spark.catalog.dropTempView("salomat_jw_check")
    differs = {xy for xy in strings if _jw_level(duck[xy]) != _jw_level(on_spark[xy])}
    return {(a, b) for a, b in pairs if any((keys[a][k], keys[b][k]) in differs for k in (0, 1))}


async def test_spark_finds_the_pairs_duckdb_finds(monkeypatch):
    from salomat.domains.registry.service import linkage

    # the registry is shared with the other tests and may pass TRAIN_FROM; u by random
    # sampling draws differently on each engine, so keep both on the fixed m/u values
    monkeypatch.setattr(linkage, "TRAIN_FROM", 10**9)
    planted = await planted_population(400, seed=7)
    duck, duck_pairs = await run("duckdb")
    spark, spark_pairs = await run("spark")
    # fixed m/u: the same model on both
    assert not duck.trained
    assert not spark.trained
    assert spark.people == duck.people
    assert duck.compared > 0
    # the same blocking rules on the same people: the same pairs compared
    assert spark.compared == duck.compared
    # pairs a registrar already reviewed (other tests share the registry) keep their run id
    assert spark.above_threshold == len(spark_pairs) + spark.left_alone
    assert planted <= set(duck_pairs)
    assert planted <= set(spark_pairs)
    differ = set(duck_pairs) ^ set(spark_pairs)
    assert differ <= await _engines_disagree_on_names(differ), sorted(differ)
    for pair in set(duck_pairs) & set(spark_pairs):
        assert spark_pairs[pair] == pytest.approx(duck_pairs[pair], abs=1e-6), pair
    # the second run re-found the first run's open pairs: nothing new, only updates
    assert spark.new_pairs == len(set(spark_pairs) - set(duck_pairs))
    # the Spark session outlives a run: a second run in the same process works the same
    again, again_pairs = await run("spark")
    assert set(again_pairs) == set(spark_pairs)
    assert again.new_pairs == 0


async def test_an_unknown_backend_is_refused():
    from salomat.core.errors import Invalid

    async with session_factory()() as s:
        with pytest.raises(Invalid):
            await service.dedup_registry(s, backend="oracle")


async def test_without_java_the_spark_backend_says_what_to_install(monkeypatch):
    from salomat.core.errors import InvalidState
    from salomat.domains.registry.service import linkage_spark

    monkeypatch.setattr(linkage_spark, "_spark", None)
    monkeypatch.setattr(linkage_spark.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(InvalidState, match="Java runtime"):
        linkage_spark.session()
