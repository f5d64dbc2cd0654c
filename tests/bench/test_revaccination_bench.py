"""The revaccination benchmark at a tiny size (``salomat synth``'s registry of 2,000
people): the doses it seeds are counted alike by the product's path and the hand-written
statement, and the transaction is rolled back (no dose stays). No timing is asserted. The
SQL is PostgreSQL's (FILTER, casts), as is the benchmark database."""

from __future__ import annotations

import pytest
from bench.common import BenchContext

from bench import revaccination as bench_revaccination
from salomat.core import synth
from salomat.domains.registry import service as registry
from tests.conftest import BACKEND
from tests.domains.maternal.test_synth import Silent
from tests.synth_support import AS_OF, empty_database, sync_url

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="the baseline is PostgreSQL SQL")

PEOPLE = 2000


def test_the_product_and_the_hand_written_sql_agree_and_nothing_stays(tmp_path) -> None:
    import psycopg

    with empty_database() as url:
        with synth.run(
            url, country="KZ", people=PEOPLE, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            registry.synthesize_population(ctx, PEOPLE)
        bench = BenchContext(
            url=sync_url(url), people=PEOPLE, country="KZ", seed=3, quick=True, work=tmp_path
        )
        (figure,) = bench_revaccination.run(bench)
        with psycopg.connect(bench.dsn) as conn:
            left = conn.execute(
                "SELECT count(*) FROM immunization_dose WHERE antigen = 'covid19'"
            ).fetchone()
    assert figure.detail["agree"], (figure.detail["product"], figure.detail["hand"])
    completed, eligible, revaccinated = figure.detail["product"]
    assert 0 < revaccinated <= eligible <= completed
    assert figure.detail["doses_seeded"] > 0
    assert figure.value > 0
    assert left == (0,)
