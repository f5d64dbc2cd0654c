"""The indicators' arithmetic: SDG 3.4.1, the life table, rates and intervals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.statistics.service import calc

pytestmark = pytest.mark.no_db


def test_sdg_341_notes_vector_gives_15_30_percent() -> None:
    rates = [r / 100_000 for r in (50, 80, 130, 210, 330, 520, 800, 1200)]
    assert round(100 * calc.sdg_341_from_rates(rates), 2) == 15.30


def test_sdg_341_from_counts_equals_from_rates() -> None:
    pop = [100_000] * 8
    deaths = [50, 80, 130, 210, 330, 520, 800, 1200]
    assert calc.sdg_341(deaths, pop) == pytest.approx(
        calc.sdg_341_from_rates([d / p for d, p in zip(deaths, pop, strict=True)])
    )
    assert calc.sdg_341(deaths, [100_000] * 7 + [0]) is None


# Public Health England's worked example (PHEindicatormethods, R package, the test of
# phe_life_expectancy: Chiang II, a0 = 0.1, 90+ open): e0 = 80.16960813, 95 % CI
# 79.88336642 to 80.45584984, e1 = 79.36245674, e90 = 6.16210635.
PHE_AGES = [0, 1, *range(5, 95, 5)]
PHE_POPS = [7060, 35059, 46974, 48489, 43219, 38561, 46009, 57208, 61435, 55601, 50209,
            56416, 46411, 39820, 37978, 37039, 33288, 23306, 11936, 11936]  # fmt: skip
PHE_DEATHS = [17, 9, 4, 8, 20, 15, 24, 33, 50, 71, 100, 163, 263, 304, 536, 872, 1390, 1605,
              1936, 1937]  # fmt: skip


def test_life_table_matches_phe_worked_example() -> None:
    t = calc.life_table(PHE_DEATHS, PHE_POPS, ages=PHE_AGES)
    assert t is not None
    assert round(t.e0.value, 4) == round(80.16960813, 4)
    assert round(t.ex[1], 4) == round(79.36245674, 4)
    assert round(t.ex[-1], 4) == round(6.16210635, 4)
    # the interval: Chiang's variance; PHE's last-group term differs by < 0.001 year
    assert t.e0.low == pytest.approx(79.88336642, abs=0.002)
    assert t.e0.high == pytest.approx(80.45584984, abs=0.002)


def test_life_table_refuses_what_it_cannot_build() -> None:
    pops = [1000.0] * len(calc.LIFE_TABLE_AGES)
    deaths = [1.0] * len(calc.LIFE_TABLE_AGES)
    assert calc.life_table(deaths, pops) is not None
    assert calc.life_table([*deaths[:-1], 0.0], pops) is None  # no deaths in 85+
    assert calc.life_table(deaths, [*pops[:-1], 0.0]) is None
    with pytest.raises(ValueError, match="age groups"):
        calc.life_table(deaths[:-1], pops[:-1])


def test_rate_and_exact_interval() -> None:
    r = calc.rate(3, 1000, 1000)
    assert r.value == 3.0
    # Garwood's exact 95 % limits for 3 events: 0.619, 8.767
    assert r.low == pytest.approx(0.6187, abs=1e-3)
    assert r.high == pytest.approx(8.7673, abs=1e-3)
    assert calc.rate(0, 1000, 1000).low == 0.0
    assert calc.rate(5, 0).value is None


def test_suppression_threshold_is_five() -> None:
    assert calc.suppressed(4)
    assert not calc.suppressed(5)
    assert calc.suppressed(0)
    assert not calc.suppressed(None)


@given(
    k=st.integers(min_value=0, max_value=5000),
    den=st.floats(min_value=1, max_value=1e7),
    mult=st.sampled_from([1, 100, 1000, 100_000]),
)
def test_rate_interval_holds_the_value(k: int, den: float, mult: int) -> None:
    r = calc.rate(k, den, mult)
    assert r.low is not None
    assert r.high is not None
    assert r.value is not None
    assert 0 <= r.low <= r.value <= r.high
    assert math.isfinite(r.high)


@given(k=st.integers(min_value=0, max_value=2000))
def test_interval_grows_with_the_count(k: int) -> None:
    lo1, hi1 = calc.poisson_interval(k)
    lo2, hi2 = calc.poisson_interval(k + 1)
    assert lo2 >= lo1
    assert hi2 > hi1


_rates = st.lists(st.floats(min_value=0, max_value=0.2), min_size=8, max_size=8)


@given(rates=_rates, i=st.integers(min_value=0, max_value=7), bump=st.floats(0, 0.1))
def test_sdg_341_is_a_probability_and_rises_with_any_rate(
    rates: list[float], i: int, bump: float
) -> None:
    p = calc.sdg_341_from_rates(rates)
    assert 0 <= p < 1
    higher = list(rates)
    higher[i] += bump
    assert calc.sdg_341_from_rates(higher) >= p - 1e-12


_n = len(calc.LIFE_TABLE_AGES)


@given(
    m=st.lists(st.floats(min_value=1e-4, max_value=0.3), min_size=_n, max_size=_n),
    i=st.integers(min_value=0, max_value=_n - 1),
    factor=st.floats(min_value=1.0, max_value=3.0),
)
def test_life_expectancy_bounded_and_falls_when_mortality_rises(
    m: list[float], i: int, factor: float
) -> None:
    pops = [100_000.0] * _n
    deaths = [x * 100_000 for x in m]
    t = calc.life_table(deaths, pops)
    assert t is not None
    # never more than living to 85 and then the open group's 1 / M
    assert 0 < t.e0.value <= 85 + 1 / m[-1]
    assert t.e0.low <= t.e0.value <= t.e0.high
    assert all(0 <= q <= 1 for q in t.q)
    assert all(a >= b for a, b in zip(t.lx, t.lx[1:], strict=False))
    worse = list(deaths)
    worse[i] *= factor
    t2 = calc.life_table(worse, pops)
    assert t2 is not None
    assert t2.e0.value <= t.e0.value + 1e-9
