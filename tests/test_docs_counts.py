"""The numbers the documentation states about the demo are what `salomat demo load` makes.

Each country's demo is loaded by the real commands into a throwaway SQLite database
(its own ``SALOMAT_VAR_DIR``), then counted; a change to a pack's demo.yaml that
changes a count fails here until the documentation says the new number.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND, migrated_sqlite

# The demo is loaded into SQLite files of its own whatever the run's backend: the same
# work twice when `make test` runs the SQLite and the PostgreSQL suites side by side.
pytestmark = pytest.mark.skipif(
    BACKEND == "postgresql", reason="counts SQLite demo loads: the SQLite suite runs it"
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SALOMAT = Path(sys.executable).with_name("salomat")
COUNTRIES = ("UZ", "KZ")

#: the rows of the table in docs/operations.md, "The demo region" -> how to count them
COUNTS = {
    "facilities": "SELECT count(*) FROM facility",
    "user accounts": "SELECT count(*) FROM app_user",
    # the synthetic birth cohort of the vital statistics grows with the year of the load
    # and its doses with the day (docs/operations.md states it apart, as "about")
    "people (besides the synthetic birth cohort)": (
        "SELECT count(*) FROM person "
        "WHERE coalesce(address, '') <> 'demo vital statistics (synthetic sample)'"
    ),
    "people attached to the demo polyclinic": (
        "SELECT count(*) FROM attachment a JOIN facility f ON f.id = a.facility_id "
        "WHERE a.end_on IS NULL AND f.code LIKE '%-FP-001'"
    ),
    "pregnancies": "SELECT count(*) FROM pregnancy",
    "births recorded": "SELECT count(*) FROM birth_record",
    "immunization doses (besides the cohort's)": (
        "SELECT count(*) FROM immunization_dose WHERE recorded_by <> 'synth'"
    ),
    "formulary packages": "SELECT count(*) FROM medicine",
    "districts and cities": "SELECT count(*) FROM territory WHERE level = 'district'",
}


def _load(country: str, where: Path) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALOMAT_")}
    env |= {
        "SALOMAT_COUNTRY": country,
        "SALOMAT_VAR_DIR": str(where),
        "SALOMAT_DATABASE_URL": f"sqlite+aiosqlite:///{where / 'demo.sqlite3'}",
        "SALOMAT_ENV": "development",
    }
    # at head: a copy of the run's migrated template, which `salomat db upgrade` makes
    # the same (tests/test_cli.py runs the command on an empty file)
    migrated_sqlite(where / "demo.sqlite3")
    # the table's rows leave the synthetic birth cohort out (it grows with the year of the
    # load), so the load does too: tests/test_demo_vital.py checks the cohort
    command = ["demo", "load", "--no-vital-sample"]
    done = subprocess.run(
        [str(SALOMAT), *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
    assert (where / "demo-logins.txt").exists()
    with sqlite3.connect(where / "demo.sqlite3") as db:
        return {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, int]]:
    return {c: _load(c, tmp_path_factory.mktemp(f"demo-{c.lower()}")) for c in COUNTRIES}


def _table() -> dict[str, dict[str, int]]:
    """The demo table of docs/operations.md: row name -> {country: number}."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    block = text.split("<!-- demo-counts -->", 2)
    assert len(block) == 3, "docs/operations.md lost its <!-- demo-counts --> table"
    rows: dict[str, dict[str, int]] = {}
    for line in block[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].isdigit():
            rows[cells[0]] = {"UZ": int(cells[1]), "KZ": int(cells[2])}
    return rows


def test_the_operations_table_names_every_count() -> None:
    assert set(_table()) == set(COUNTS)


@pytest.mark.parametrize("country", COUNTRIES)
def test_the_operations_table_matches_a_demo_load(loaded, country: str) -> None:
    stated = {name: numbers[country] for name, numbers in _table().items()}
    assert stated == loaded[country]


def test_the_maternal_page_states_the_pregnancies_loaded(loaded) -> None:
    text = " ".join((DOCS / "maternal.md").read_text(encoding="utf-8").split())
    uz = re.search(r"The UZ demo has (\d+) pregnancies", text)
    kz = re.search(r"the KZ demo has (\d+)", text)
    assert uz is not None
    assert kz is not None
    assert int(uz.group(1)) == loaded["UZ"]["pregnancies"]
    assert int(kz.group(1)) == loaded["KZ"]["pregnancies"]


def test_the_registries_page_states_the_districts_loaded(loaded) -> None:
    text = " ".join((DOCS / "registries.md").read_text(encoding="utf-8").split())
    uz = re.search(r"with its (\d+) districts \(tumanlar\) and the cities of \w+ and", text)
    kz = re.search(r": (\d+) districts \(аудандар\) and the city of", text)
    assert uz is not None
    assert kz is not None
    # and the two cities (UZ) or the one city (KZ) named after them
    assert int(uz.group(1)) + 2 == loaded["UZ"]["districts and cities"]
    assert int(kz.group(1)) + 1 == loaded["KZ"]["districts and cities"]
