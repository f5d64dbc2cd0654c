"""``salomat db upgrade`` leaves the planner statistics (PostgreSQL): a table without any
(a database restored from a dump, a new table) is analyzed, and every table after a
migration ran. Without them the duplicate-candidate query walked a whole index."""

from __future__ import annotations

import psycopg
import pytest

from salomat.core import migrate
from tests.conftest import BACKEND, scratch_database

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="statistics for PostgreSQL's planner (SQLite: nothing to do)"
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _person_statistics(url: str) -> int:
    with psycopg.connect(_dsn(url)) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'person'").fetchone()
        return int(row[0]) if row else 0


def test_upgrade_analyzes_the_tables_without_statistics_then_only_new_ones():
    with scratch_database("stats") as url:
        with psycopg.connect(_dsn(url)) as conn:
            conn.execute(
                "INSERT INTO person (family_name, given_name, birth_date, sex, version, "
                "created_at, updated_at, name_script, name_key, family_key) "
                "SELECT 'Karimova', 'Nilufar', DATE '1980-01-01' + i, 'female', 1, now(), "
                "now(), 'latn', 'karimova nilufar', 'karimova' FROM generate_series(1, 500) i"
            )
        assert _person_statistics(url) == 0  # a copy made without them, as a restore is

        analyzed = migrate.upgrade(url, analyze=True)  # at head already: no migration runs

        assert "public.person" in analyzed
        assert _person_statistics(url) > 0
        assert migrate.upgrade(url, analyze=True) == []  # safe to repeat, and quick
        assert migrate.upgrade(url) == []  # tests and loaders migrate without it


def test_a_migration_that_ran_gets_every_table_analyzed():
    with scratch_database("stats") as url:
        migrate.downgrade(url, "-1")
        assert migrate.upgrade(url, analyze=True) == ["*"]
