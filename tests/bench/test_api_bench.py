"""The API benchmark: the load generator's arithmetic, and the suite end to end (briefly)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from bench.loadgen import summarise
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import BACKEND

WINDOW = (10.0, 20.0)

record = st.tuples(
    st.floats(0, 30, allow_nan=False),
    st.floats(0, 5, allow_nan=False),
    st.sampled_from([0, 200, 201, 404, 409, 500]),
).map(lambda t: (t[0], t[0] + t[1], t[2]))


@settings(deadline=None)  # a busy machine is not a failure
@given(st.lists(record, max_size=200))
def test_only_requests_completed_in_the_window_count(records: list) -> None:
    out = summarise(records, *WINDOW)
    inside = [r for r in records if WINDOW[0] <= r[1] < WINDOW[1]]
    ok = [r for r in inside if 200 <= r[2] < 300]
    assert out["completed"] == len(inside)
    assert out["ok"] == len(ok)
    assert out["errors"] == len(inside) - len(ok)
    assert sum(out["statuses"].values()) == len(inside)
    assert out["throughput"] == pytest.approx(len(ok) / 10, abs=0.01)


def test_latency_is_over_successes_only() -> None:
    # 100 successes of 1..100 ms inside the window, and slow failures that must not count
    records = [(11.0, 11.0 + ms / 1000, 200) for ms in range(1, 101)]
    records += [(12.0, 15.0, 500)] * 50
    records += [(0.0, 9.0, 200), (19.0, 21.0, 200)]  # warm-up and drain
    out = summarise(records, *WINDOW)
    assert out["ok"] == 100
    assert out["errors"] == 50
    assert out["statuses"] == {"200": 100, "500": 50}
    assert out["throughput"] == 10.0
    assert out["latency_ms"]["p50"] == pytest.approx(50.5, abs=0.01)
    assert out["latency_ms"]["p99"] == pytest.approx(99.01, abs=0.01)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarise([], 5.0, 5.0)


@settings(deadline=None)
@given(
    st.dates(date(1901, 1, 1), date(2025, 12, 31)),
    st.sampled_from(["male", "female"]),
    st.sampled_from(["UZ", "KZ"]),
    st.integers(0, 10**6),
)
def test_registrations_carry_valid_national_ids(
    birth: date, sex: str, country: str, serial: int
) -> None:
    from bench.api import national_id

    from salomat.country import national_id as nid

    value = national_id(birth, sex, country, serial)
    if value is None:  # an IIN serial without a check digit: the suite draws another
        assert country == "KZ"
        return
    parsed = nid.parse(value, country)
    assert parsed.birth_date == birth
    assert parsed.sex == sex


@pytest.mark.skipif(BACKEND != "postgresql", reason="the API benchmark runs on PostgreSQL")
def test_the_suite_runs_end_to_end_on_a_demo_database(tmp_path: Path) -> None:
    from bench.common import BenchContext

    from bench import api
    from tests.synth_support import empty_database

    with empty_database() as url:
        ctx = BenchContext(
            url=url.replace("+psycopg_async", "+psycopg"),
            people=35,
            country="UZ",
            seed=1,
            quick=True,
            work=tmp_path,
        )
        salomat = str(Path(sys.executable).parent / "salomat")
        for cmd in (["db", "upgrade"], ["demo", "load", "--no-vital-sample"]):
            subprocess.run([salomat, *cmd], env=ctx.env(), check=True, capture_output=True)
        import psycopg

        with psycopg.connect(ctx.dsn) as conn:
            (demo_people,) = conn.execute("SELECT count(*) FROM person").fetchone()
        figures = api.run(ctx, warmup=0.3, duration=1.0)
        names = {f.name: f for f in figures}
        for name in (
            "register a person",
            "register a person, against the database ceiling",
            "record an antenatal contact (re-evaluated)",
            "issue a prescription",
            "dispense (lookup by code + national id, then dispense)",
            "read a person by id",
            "search a person by national id",
            "read a person by id, against a bare one-select endpoint",
        ):
            f = names[name]
            # a busy machine may finish nothing inside a one-second window: what matters
            # here is that every flow went through, and only with successes
            sent = f.detail["all"]["statuses"]
            assert sent, (name, f.detail)
            assert all(s.startswith("2") for s in sent), (name, sent)
            assert f.baseline_value is not None, (name, f.detail)
            assert f.detail["baseline"]["all"]["statuses"], (name, f.detail)
            if f.value and f.baseline_value:
                assert f.ratio == pytest.approx(f.value / f.baseline_value, rel=0.01)
        assert names["register a person"].met is not None
        # nothing stays behind: the run worked on a copy, dropped at the end
        import psycopg

        with psycopg.connect(ctx.dsn) as conn:
            left = conn.execute("SELECT count(*) FROM app_user WHERE username LIKE 'bench-%'")
            assert left.fetchone() == (0,)
            # the demo's people (and the babies and cancer patients it registers) only
            assert conn.execute("SELECT count(*) FROM person").fetchone() == (demo_people,)
