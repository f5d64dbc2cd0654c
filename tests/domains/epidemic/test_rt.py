"""Rt by Cori et al. 2013 against the domain note (../shared/domain/epidemic-forecast.md).

The reference values are the note's vector 1, written here from the note: days 1-7 with
10, 12, 15, 18, 22, 27, 33 cases, w1..3 = 0.2, 0.5, 0.3, window 5-7, prior mean 5 SD 5 →
shape 83, rate 54.6, mean 1.520, SD 0.167, 95 % CrI 1.211-1.864.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.epidemic.service import distributions as dist
from salomat.domains.epidemic.service import rt
from salomat.domains.epidemic.service.rt import Prior, estimate_rt

pytestmark = pytest.mark.no_db

CASES = [10, 12, 15, 18, 22, 27, 33]
W = [0.0, 0.2, 0.5, 0.3]


def test_vector_1_lambda() -> None:
    lam = rt.infectiousness(np.array([CASES], dtype=float), np.array(W))[0]
    # Λ5 = 0.2·18 + 0.5·15 + 0.3·12 = 14.7; Λ6 = 17.9; Λ7 = 21.8 (days 1-based)
    assert lam[4] == pytest.approx(14.7)
    assert lam[5] == pytest.approx(17.9)
    assert lam[6] == pytest.approx(21.8)


def test_vector_1_cori() -> None:
    r = estimate_rt(CASES, W, window_days=3, truncate_days=0)
    day7 = r.at(0, 6)
    assert day7.reported
    assert day7.t_start == 4  # day 5, 1-based
    assert r.shape[0, 6] == pytest.approx(83)
    assert r.rate[0, 6] == pytest.approx(54.6)
    assert round(day7.mean, 3) == 1.520
    assert round(day7.sd, 3) == 0.167
    assert round(day7.lower, 3) == 1.211
    assert round(day7.upper, 3) == 1.864


def test_first_window_starts_on_the_second_day() -> None:
    """EpiEstim's t_start = 2: no window may include day 1 (it has no Λ)."""
    r = estimate_rt(CASES, W, window_days=3, truncate_days=0)
    assert list(r.status[0]) == [rt.NO_WINDOW] * 3 + [rt.REPORTED] * 4
    assert r.at(0, 2).reason == rt.REASONS[rt.NO_WINDOW]
    assert math.isnan(r.mean[0, 2])


def test_weekly_window_is_the_default() -> None:
    r = estimate_rt([20] * 20, W, truncate_days=0)
    first = int(np.argmax(r.status[0] == rt.REPORTED))
    assert first == 7  # window days 2-8 (1-based), EpiEstim's first weekly window
    assert r.window_days == 7


def _window(total: int) -> list[int]:
    """Seven days whose window 5-7 (1-based) holds ``total`` cases."""
    return [5, 5, 5, 5, total - 2 * (total // 3), total // 3, total // 3]


@pytest.mark.parametrize(("total", "reported"), [(10, False), (11, True), (12, True)])
def test_not_enough_cases_rule(total: int, reported: bool) -> None:
    """CV = 1/√(1 + ΣI) ≤ 0.3: 11 cases are reported, 10 are not (a = 1)."""
    r = estimate_rt(_window(total), W, window_days=3, truncate_days=0)
    day = r.at(0, 6)
    assert day.reported is reported
    if not reported:
        assert day.status == rt.NOT_ENOUGH_CASES
        assert day.mean is None
        assert math.isnan(r.mean[0, 6])
        assert day.params == {"cv_max": 0.3}


@pytest.mark.parametrize(("total", "reported"), [(14, False), (15, True), (16, True)])
def test_cv_exactly_at_the_limit_is_reported(total: int, reported: bool) -> None:
    """cv_max 0.25: shape 16 gives CV exactly 0.25, reported; 15 does not."""
    r = estimate_rt(_window(total), W, window_days=3, truncate_days=0, cv_max=0.25)
    assert r.at(0, 6).reported is reported


@pytest.mark.parametrize("k", [0, 1, 5])
def test_right_truncation_drops_the_last_days(k: int) -> None:
    r = estimate_rt([30] * 20, W, truncate_days=k)
    assert (r.status[0, 20 - k :] == rt.TRUNCATED).all()
    if k < 20:
        assert r.status[0, 19 - k] == rt.REPORTED
    if k:
        day = r.at(0, 19)
        assert day.mean is None
        assert day.params == {"days": k}
        assert r.truncation_note() == (rt.REASONS[rt.TRUNCATED], {"days": k})
    else:
        assert r.truncation_note() is None
    assert r.latest()[0] == 19 - k


def test_regions_at_once_equal_each_alone() -> None:
    rng = np.random.default_rng(7)
    many = rng.poisson(40, size=(5, 40)).astype(float)
    many[2, :] = 0  # a region with no cases: not enough data everywhere
    together = estimate_rt(many, W)
    for i in range(5):
        alone = estimate_rt(many[i], W)
        np.testing.assert_array_equal(together.status[i], alone.status[0])
        np.testing.assert_allclose(together.mean[i], alone.mean[0], equal_nan=True)
    assert together.latest()[2] == -1
    assert not (together.status[2] == rt.REPORTED).any()


@pytest.mark.parametrize(
    ("incidence", "field"),
    [([1, -1, 2], "incidence"), ([1, float("nan")], "incidence"), ([], "incidence")],
)
def test_bad_counts_refused_naming_the_field(incidence: list[float], field: str) -> None:
    with pytest.raises(Invalid) as e:
        estimate_rt(incidence, W)
    assert [x.field for x in e.value.errors] == [field]


@given(
    counts=st.lists(st.integers(0, 500), min_size=10, max_size=30),
    c=st.integers(1, 50),
)
@settings(max_examples=60, deadline=None)
def test_mean_follows_the_posterior_formula_when_counts_scale(counts: list[int], c: int) -> None:
    """Counts × c: mean = (a + c·ΣI) / (1/b + c·ΣΛ) with the original window sums, so the
    prior's weight fades and the mean tends to ΣI/ΣΛ."""
    base = np.array(counts, dtype=float)
    lam = rt.infectiousness(base, np.array(W))
    prior = Prior()
    r = estimate_rt(base * c, W, truncate_days=0, cv_max=10.0)
    for t in range(7, len(counts)):
        si, sl = base[t - 6 : t + 1].sum(), lam[t - 6 : t + 1].sum()
        expected = (prior.shape + c * si) / (1 / prior.scale + c * sl)
        assert r.mean[0, t] == pytest.approx(expected, rel=1e-9)
        assert r.sd[0, t] == pytest.approx(
            math.sqrt(prior.shape + c * si) / (1 / prior.scale + c * sl), rel=1e-9
        )
        assert r.lower[0, t] <= r.median[0, t] <= r.upper[0, t]


@given(st.floats(0.5, 3.0))
@settings(max_examples=30, deadline=None)
def test_constant_r_epidemic_is_recovered(r_true: float) -> None:
    """Cases made by the renewal equation with R constant: the estimate tends to R."""
    w = np.array(W)
    cases = [1000.0, 1000.0, 1000.0]
    for _ in range(17):
        lam = sum(w[s] * cases[-s] for s in range(1, 4))
        cases.append(r_true * lam)
    r = estimate_rt(np.array(cases) * 1e6, W, truncate_days=0)
    assert r.mean[0, -1] == pytest.approx(r_true, rel=1e-4)


# ---- the serial interval ----------------------------------------------------------


def test_discr_si_is_epiestims_shifted_gamma() -> None:
    """EpiEstim's discretisation keeps the gamma's mean; day 0 has no weight."""
    w = dist.discr_si(np.arange(200), 4.7, 2.9)
    assert w[0] == 0
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert (np.arange(200) * w).sum() == pytest.approx(4.7, abs=1e-6)


def test_serial_interval_from_gamma_is_renormalised() -> None:
    w = dist.serial_interval_from_gamma(4.7, 2.9, 30)
    assert w[0] == 0
    assert len(w) == 31
    assert math.fsum(w) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.0, 0.5, 0.4], "sum to 1"),
        ([0.1, 0.5, 0.4], "day 0"),
        ([0.0, 1.2, -0.2], "negative"),
        ([0.0, float("inf")], "finite"),
        ([], "non-empty"),
    ],
)
def test_serial_interval_refused_naming_the_field(values: list[float], message: str) -> None:
    with pytest.raises(Invalid) as e:
        dist.validate_serial_interval(values)
    assert e.value.errors[0].field == "serial_interval"
    assert message in e.value.errors[0].english


def test_serial_interval_within_tolerance() -> None:
    dist.validate_serial_interval([0.0, 0.5, 0.5 + 0.9e-9])
    with pytest.raises(Invalid):
        dist.validate_serial_interval([0.0, 0.5, 0.5 + 1.1e-9])


@given(
    st.lists(
        st.one_of(
            st.floats(-1, 2),
            st.sampled_from([0.0, 0.25, 0.5, 1.0, float("nan"), float("inf")]),
        ),
        min_size=0,
        max_size=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_validator_accepts_only_distributions(values: list[float]) -> None:
    valid = (
        len(values) >= 2
        and all(math.isfinite(v) and v >= 0 for v in values)
        and values[0] == 0
        and abs(math.fsum(values) - 1) <= dist.PMF_TOLERANCE
    )
    if valid:
        assert list(dist.validate_serial_interval(values)) == values
    else:
        with pytest.raises(Invalid):
            dist.validate_serial_interval(values)


@given(st.lists(st.floats(0, 10), min_size=1, max_size=12).filter(lambda v: sum(v) > 0))
@settings(max_examples=100, deadline=None)
def test_validator_accepts_every_normalised_distribution(weights: list[float]) -> None:
    w = np.array([0.0, *weights])
    w = w / w.sum()
    w[-1] = 1.0 - math.fsum(w[:-1].tolist())
    if w[-1] < 0:
        return
    dist.validate_serial_interval(w)
    estimate_rt([5] * 15, w)
