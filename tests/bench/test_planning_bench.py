"""The planning benchmark at a tiny size (``salomat synth``'s registry of 2,000 people and
``synthesize_planning``'s villages: the country's thousands): the norm's hand-written SQL
counts what the gap report counts, the country's access and staffing run, and the mobile
team's route covers the district's settlements without a unit in no more kilometres per
stop than makes sense beside the greedy tour. No timing is asserted. The SQL is
PostgreSQL's (DISTINCT ON, FILTER), as is the benchmark database."""

from __future__ import annotations

import pytest
from bench.common import BenchContext

from bench import planning as bench_planning
from salomat.core import synth
from salomat.domains.planning.service.synth import settings, synthesize_planning
from salomat.domains.registry import service as registry
from tests.conftest import BACKEND
from tests.domains.maternal.test_synth import Silent
from tests.synth_support import AS_OF, empty_database, sync_url

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="the baseline is PostgreSQL SQL")

PEOPLE = 2000


@pytest.mark.parametrize("country", ["KZ", "UZ"])
def test_every_figure_runs_and_the_norm_agrees_with_its_sql(tmp_path, country) -> None:
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            counts = synthesize_planning(ctx, registry.synthesize_population(ctx, PEOPLE))
        assert counts["settlement_census"] > settings(country)["rural_settlements"] * 0.9
        bench = BenchContext(
            url=sync_url(url), people=PEOPLE, country=country, seed=3, quick=True, work=tmp_path
        )
        figures = bench_planning.run(bench)
    assert len(figures) == 4
    norm, access, staffing, route = figures
    assert norm.detail["agree"], (norm.detail["counts"], norm.detail.get("product_counts"))
    assert norm.detail["settlements"] >= settings(country)["rural_settlements"] * 0.9
    assert sum(norm.detail["counts"]["gaps"].values()) > 0  # the synthetic gaps are there
    assert access.detail["settlements"] == norm.detail["settlements"]
    assert 0 < access.detail["beyond"] <= access.detail["population"]
    assert staffing.detail["required"] > 0
    assert route.detail["stops"] > 0
    assert route.detail["unreachable"] == 0
    assert route.value > 0
    assert route.ratio is not None
