"""The synthetic epidemic (service/synth.py): the renewal process at a given R gives back
about that R through the Rt core (Cori), spreads cases over regions by population, and a
seed gives the same notifications; loaded by ``salomat synth`` with every notification
valid for the service's checks (onset <= report <= the run's day, onset after birth)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.epidemic.service.rt import estimate_rt
from salomat.domains.epidemic.service.rules import epidemic_pack
from salomat.domains.epidemic.service.synth import simulate, spread

SI = epidemic_pack("UZ").serial_interval


@pytest.mark.parametrize("r", [0.8, 1.3])
def test_rt_of_the_simulation_comes_back_near_r(r: float) -> None:
    rng = np.random.default_rng(4)
    cases = simulate(rng, SI, r, 60, 2000 if r < 1 else 50)
    series = estimate_rt(cases[np.newaxis, :].astype(float), SI, truncate_days=0)
    tail = series.mean[0, 30:]
    tail = tail[np.isfinite(tail)]
    assert tail.size > 10
    assert abs(float(np.median(tail)) - r) < 0.08


def test_the_same_seed_gives_the_same_cases() -> None:
    a = simulate(np.random.default_rng(7), SI, 1.2, 40, 10)
    b = simulate(np.random.default_rng(7), SI, 1.2, 40, 10)
    assert a.tolist() == b.tolist()
    assert a[0] == 10


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 500), min_size=1, max_size=20),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
)
def test_spread_keeps_every_case_and_never_puts_one_where_nobody_lives(cases, weights) -> None:
    grid = spread(np.random.default_rng(1), np.array(cases), np.array(weights))
    assert grid.shape == (len(weights), len(cases))
    assert grid.sum(axis=0).tolist() == cases
    for k, w in enumerate(weights):
        if w == 0:
            assert grid[k].sum() == 0


def test_synth_loads_valid_notifications() -> None:
    from sqlalchemy import create_engine, text

    from salomat.core import synth
    from salomat.domains.epidemic.service.synth import synthesize_epidemic
    from salomat.domains.registry import service as registry
    from tests.synth_support import AS_OF, empty_database, sync_url

    class Silent:
        def start(self, label, total):  # type: ignore[no-untyped-def]
            return lambda n: None

    with empty_database() as url:
        with synth.run(
            url, country="UZ", people=1500, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, 1500)
            counts = synthesize_epidemic(ctx, population, r=1.3, days=30, seed_cases=5)
        n = counts["epidemic_notification"]
        assert n > 5
        engine = create_engine(sync_url(url))
        with engine.connect() as c:
            bad = c.execute(
                text(
                    "SELECT count(*) FROM epidemic_notification e JOIN person p "
                    "ON p.id = e.person_id WHERE e.onset_date > e.report_date "
                    "OR e.report_date > :day OR e.onset_date < p.birth_date"
                ),
                {"day": AS_OF},
            ).scalar()
            total = c.execute(text("SELECT count(*) FROM epidemic_notification")).scalar()
            regions = c.execute(
                text("SELECT count(DISTINCT region_id) FROM epidemic_notification")
            ).scalar()
        engine.dispose()
        assert bad == 0
        assert total == n
        assert regions >= 1
