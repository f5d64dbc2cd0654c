"""The screening benchmark's hand-written SQL counts what the services count: on a small
synthetic population with the screening domain's records (``salomat synth``'s registry and
``synthesize_screening``), the suite's figures agree with their baselines: the region's
target groups (eligible, due, screened), the quarter's national HEARTS counts (BP classes,
the cohort, both sugar definitions) and the facility's overdue worklist. No timing is
asserted. The SQL is PostgreSQL's (DISTINCT ON, FILTER, LATERAL), as is the benchmark
database."""

from __future__ import annotations

import pytest
from bench.common import BenchContext

from bench import screening as bench_screening
from salomat.core import synth
from salomat.domains.registry import service as registry
from salomat.domains.screening.service.synth import synthesize_screening
from tests.conftest import BACKEND
from tests.domains.maternal.test_synth import Silent
from tests.synth_support import AS_OF, empty_database, sync_url

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="the baseline is PostgreSQL SQL")

PEOPLE = 4000


def test_every_figure_agrees_with_its_hand_written_sql(tmp_path) -> None:
    with empty_database() as url:
        with synth.run(
            url, country="UZ", people=PEOPLE, seed=5, as_of=AS_OF, progress=Silent()
        ) as ctx:
            counts = synthesize_screening(ctx, registry.synthesize_population(ctx, PEOPLE))
        assert counts["dmp_enrolment"] > 0
        bench = BenchContext(
            url=sync_url(url), people=PEOPLE, country="UZ", seed=5, quick=True, work=tmp_path
        )
        figures = bench_screening.run(bench)
    assert len(figures) == 5
    compared = [f for f in figures if "agree" in f.detail]
    assert len(compared) == 4
    for f in compared:
        assert f.detail["agree"], (f.name, f.detail.get("differences"))
    groups = next(f for f in figures if f.name.startswith("target groups"))
    # each inviting programme of the UZ pack had people in the region, some screened
    assert set(groups.detail["counts"]) == {"health_profile", "address_screening"}
    assert all(e > 0 and s > 0 for e, _d, s in groups.detail["counts"].values())
    hearts = next(f for f in figures if f.name.startswith("HEARTS"))
    # the main classes are shown (neither below five nor a complement) and so were compared
    shown = {"hypertension.controlled", "hypertension.uncontrolled", "t2dm.sugar_simple"}
    assert not shown & set(hearts.detail.get("withheld", [])), hearts.detail.get("withheld")
    # a withheld national count is small or the complement of a small one in its row
    raw = hearts.detail["counts"]
    for name in hearts.detail.get("withheld", []):
        prog, k = name.split(".")
        assert raw[prog].get(k, 0) < 5 or any(0 < raw[prog].get(o, 0) < 5 for o in raw[prog]), name
    assert hearts.detail["counts"]["hypertension"]["controlled"] > 0
    assert hearts.detail["counts"]["t2dm"]["sugar_simple"] > 0
    overdue = next(f for f in figures if f.name.startswith("overdue"))
    assert overdue.detail["patients"] > 0
