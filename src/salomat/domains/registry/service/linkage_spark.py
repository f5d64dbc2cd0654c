"""The registry's batch deduplication on Splink's Spark backend.

One DuckDB process holds a few million people; a national registry of
tens of millions, or one that must share a cluster with analytics, runs
the same linkage on Spark (DESIGN.md). Everything that decides which pairs
are found is shared with the DuckDB path in ``linkage``: the columns read
(``_read_people``), the Splink settings and fixed m/u values
(``_settings``), the training (``_train``) and the writing of
``duplicate_pair``. Only the engine differs, so the two backends find the
same pairs on the same registry (tests/domains/registry/test_linkage_spark.py).

People are read from the database in batches (Arrow tables) and handed to
Spark as one DataFrame. Here Spark runs in local mode (``local[2]``: this
machine's two cores); ``SALOMAT_SPARK_MASTER`` points it at a cluster.
pyspark is the optional extra ``spark`` (``pip install -e '.[spark]'``,
Java 17+), imported only when this backend is asked for.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

from salomat.core.errors import InvalidState
from salomat.domains.registry.service.linkage import Progress, _settings, _train

__all__ = ["spark_available"]

#: Splink's intermediate tables are small next to the pairs; a few partitions per core
#: avoid Spark's default of 200 tiny tasks on a two-core machine
_PARTITIONS = 8
_spark: Any = None


def spark_available() -> bool:
    """pyspark is installed (the ``spark`` extra); Java is checked when the session starts."""
    return importlib.util.find_spec("pyspark") is not None


def _schema() -> Any:
    """Fixed Arrow types, so a batch whose column is all null keeps the column's type."""
    import pyarrow as pa

    return pa.schema(
        [
            ("unique_id", pa.int64()),
            ("family_key", pa.string()),
            ("given_key", pa.string()),
            ("patronymic_key", pa.string()),
            ("birth_date", pa.date32()),
            ("birth_swapped", pa.date32()),
            ("birth_text", pa.string()),
            ("birth_year", pa.int32()),
            ("sex", pa.string()),
            ("national_id", pa.string()),
            ("settlement_id", pa.int64()),
        ]
    )


def session() -> Any:
    """The process's Spark session, started once (the JVM takes seconds to start)."""
    global _spark
    if _spark is not None:
        return _spark
    if not spark_available():
        raise InvalidState(
            "The Spark backend needs pyspark: pip install -e '.[spark]' (and Java 17+)."
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise InvalidState(
            "The Spark backend needs a Java runtime (17+): install one (Debian: "
            "openjdk-17-jre-headless) or set JAVA_HOME, or use --backend duckdb."
        )
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    _spark = (
        SparkSession.builder.master(os.environ.get("SALOMAT_SPARK_MASTER", "local[2]"))
        .appName("salomat-dedup")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", os.environ.get("SALOMAT_SPARK_DRIVER_MEMORY", "6g"))
        .config("spark.sql.shuffle.partitions", str(_PARTITIONS))
        .config("spark.default.parallelism", str(_PARTITIONS))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    _spark.sparkContext.setLogLevel("ERROR")
    return _spark


async def link(
    batches: AsyncIterator[dict[str, list[Any]]], total: int, threshold: float, tick: Progress
) -> tuple[list[tuple[int, int, float]], int, bool]:
    """(pairs at or above the threshold, pairs compared, trained), as ``linkage._link``."""
    import pyarrow as pa

    schema = _schema()
    tables = [pa.table(cols, schema=schema) async for cols in batches]
    tick("link", 0, 1)
    if total < 2:
        found: tuple[list[tuple[int, int, float]], int, bool] = ([], 0, False)
    else:
        people = pa.concat_tables(tables) if tables else schema.empty_table()
        del tables
        found = await asyncio.to_thread(_link, people, total, threshold)
    tick("link", 1, 1)
    return found


def _link(
    people: Any, total: int, threshold: float
) -> tuple[list[tuple[int, int, float]], int, bool]:
    from pyspark.sql import functions as F
    from splink import Linker
    from splink.backends.spark import SparkAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    spark = session()
    frame = spark.createDataFrame(people).repartition(_PARTITIONS).cache()
    # "persist" keeps Splink's intermediate tables in Spark's cache: no checkpoint
    # directory to manage, and a single machine's memory holds them
    db_api = SparkAPI(
        spark_session=spark,
        break_lineage_method="persist",
        num_partitions_on_repartition=_PARTITIONS,
    )
    predictions = None
    try:
        table = db_api.register(frame, table_name="salomat_people")
        linker = Linker(table, _settings(total), log_level=None)
        trained = _train(linker, total)
        predictions = linker.inference.predict(
            threshold_match_probability=0.0, warning_mode="never"
        )
        scored = predictions.as_spark_dataframe()
        compared = int(scored.count())
        rows = (
            scored.where(F.col("match_probability") >= threshold)
            .select("unique_id_l", "unique_id_r", "match_probability")
            .orderBy("unique_id_l", "unique_id_r")
            .collect()
        )
    finally:
        if predictions is not None:
            predictions.drop_table_from_database_and_remove_from_cache()
        frame.unpersist()
        # the session outlives the run (the JVM is slow to start): a second run in this
        # process registers the table again
        spark.catalog.dropTempView("salomat_people")
        spark.catalog.clearCache()
    return [(int(a), int(b), float(p)) for a, b, p in rows], compared, trained
