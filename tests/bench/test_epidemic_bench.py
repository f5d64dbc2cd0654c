"""The epidemic benchmark at a tiny size (``salomat synth``'s registry of 3,000 people and
its synthetic epidemic with beds): the situation reads the same counts as the
hand-written statement, every region's zone is recorded, Rt is compared with the
synthetic R, and each run is rolled back (no zone stays). No timing is asserted. The
benchmark database is PostgreSQL's."""

from __future__ import annotations

import pytest
from bench.common import BenchContext

from bench import epidemic as bench_epidemic
from salomat.core import synth
from salomat.domains.epidemic.service.synth import synthesize_epidemic
from salomat.domains.registry import service as registry
from tests.conftest import BACKEND
from tests.domains.maternal.test_synth import Silent
from tests.synth_support import AS_OF, empty_database, sync_url

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="the benchmark is PostgreSQL's")

PEOPLE = 3000


def test_the_situation_reads_the_hand_written_counts_and_nothing_stays(tmp_path) -> None:
    import psycopg

    with empty_database() as url:
        with synth.run(
            url, country="UZ", people=PEOPLE, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            synthesize_epidemic(
                ctx, population, r=bench_epidemic.EPIDEMIC_R, days=30, seed_cases=40
            )
        bench = BenchContext(
            url=sync_url(url), people=PEOPLE, country="UZ", seed=3, quick=True, work=tmp_path
        )
        situation, recorded = bench_epidemic.run(bench)
        with psycopg.connect(bench.dsn) as conn:
            zones = conn.execute("SELECT count(*) FROM epidemic_zone_day").fetchone()
            regions = conn.execute(
                "SELECT count(*) FROM territory WHERE level = 'region'"
            ).fetchone()
    d = situation.detail
    assert d["agree"], (d["hand_cases"], d["cases_in_window"])
    assert d["hand_cases"] > 0
    assert d["regions"] == regions[0]
    assert recorded.detail["zones_written"] == regions[0]
    assert d["beds_rows"] > 0
    assert d["occupancy_rows"] > 0
    assert d["infectious_beds"] > 0
    assert d["rt_national"] > 0  # a few hundred cases: the country's Rt is reported
    assert situation.value > 0
    assert recorded.value > 0
    assert situation.baseline_value > 0
    assert zones == (0,)
