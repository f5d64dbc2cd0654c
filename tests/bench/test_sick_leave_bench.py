"""The sick-leave benchmark: its inputs, and the suite end to end (briefly) on a small
synthetic population."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench.sick_leave import _business_id

from tests.conftest import BACKEND


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_employer_it_registers_has_a_valid_business_id(country: str) -> None:
    import random

    from salomat.country.business_id import validate_business_id

    rng = random.Random(3)
    for _ in range(50):
        value = _business_id(country, rng)
        assert validate_business_id(country, value) == value


@pytest.mark.skipif(BACKEND != "postgresql", reason="the benchmark runs on PostgreSQL")
def test_the_suite_runs_end_to_end_on_a_synthetic_population(tmp_path: Path) -> None:
    import psycopg
    from bench.common import BenchContext

    from bench import sick_leave
    from tests.synth_support import empty_database

    with empty_database() as url:
        ctx = BenchContext(
            url=url.replace("+psycopg_async", "+psycopg"),
            people=3000,
            country="UZ",
            seed=1,
            quick=True,
            work=tmp_path,
        )
        salomat = str(Path(sys.executable).parent / "salomat")
        subprocess.run(
            [salomat, "synth", "--people", "3000", "--country", "UZ"],
            env=ctx.env(),
            check=True,
            capture_output=True,
        )
        figures = {f.name: f for f in sick_leave.run(ctx, warmup=0.3, duration=1.0)}
        for name in (
            "open a sick-leave certificate",
            "employer check by certificate number and national id",
            "public verification of a number and check code",
        ):
            f = figures[name]
            # a busy machine may finish nothing inside a one-second window: what matters
            # here is that every flow went through, and only with successes
            sent = f.detail["all"]["statuses"]
            assert sent, (name, f.detail)
            assert all(s.startswith("2") for s in sent), (name, sent)
            assert f.detail["baseline"]["all"]["statuses"], (name, f.detail)
        [analytics] = [f for f in figures.values() if f.name.startswith("ministry analytics")]
        assert analytics.detail["agree"] is True
        # the writes went to a copy, dropped at the end
        with psycopg.connect(ctx.dsn) as conn:
            left = conn.execute("SELECT count(*) FROM app_user WHERE username LIKE 'bench-%'")
            assert left.fetchone() == (0,)
            opened = conn.execute(
                "SELECT count(*) FROM sick_leave_certificate WHERE issued_by LIKE 'bench-%'"
            )
            assert opened.fetchone() == (0,)
