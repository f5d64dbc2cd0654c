"""Projections against the domain note's vectors 2 and 3 (written from the note).

Vector 2: Λ8 = 0.2·33 + 0.5·27 + 0.3·22 = 26.7 → E[I8] = 1.520 × 26.7 = 40.6.
Vector 3: 2,000 cases/day × 5 % = 100 admissions/day, stay fixed 10 days → day 5 holds 500
beds; steady 1,000 = 80 % of 1,250 beds; ICU 15 % × 8 days = 120 beds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.epidemic.service import distributions as dist
from salomat.domains.epidemic.service import forecast as fc
from salomat.domains.epidemic.service.rt import estimate_rt

pytestmark = pytest.mark.no_db

CASES = [10, 12, 15, 18, 22, 27, 33]
W = np.array([0.0, 0.2, 0.5, 0.3])


def test_vector_2_renewal() -> None:
    out = fc.renewal(CASES, W, 1.520, 1)
    assert out.shape == (1, 1, 1)
    assert round(float(out[0, 0, 0]), 1) == 40.6


def test_vector_2_through_the_projection() -> None:
    r = estimate_rt(CASES, W, window_days=3, truncate_days=0)
    p = fc.project_cases(CASES, W, r, horizon=14)
    assert round(float(p.mean["unchanged"][0, 0]), 1) == 40.6
    assert p.scenarios == ("lower", "unchanged", "higher")
    low, med, high = (p.bands["unchanged"][b][0, 0] for b in fc.BANDS)
    assert low < 40.6 < high
    assert low <= med <= high
    # the scenarios scale the first projected day's R exactly
    assert p.mean["lower"][0, 0] == pytest.approx(0.8 * p.mean["unchanged"][0, 0])
    assert p.mean["higher"][0, 0] == pytest.approx(1.2 * p.mean["unchanged"][0, 0])


def test_a_region_without_rt_has_no_projection() -> None:
    cases = np.array([[100.0] * 20, [0.0] * 20])
    r = estimate_rt(cases, W)
    p = fc.project_cases(cases, W, r, horizon=14)
    assert list(p.projected) == [True, False]
    assert np.isnan(p.bands["unchanged"]["median"][1]).all()
    assert np.isfinite(p.bands["unchanged"]["median"][0]).all()


@pytest.mark.parametrize(("horizon", "ok"), [(13, False), (14, True), (28, True), (29, False)])
def test_horizon_14_to_28_days(horizon: int, ok: bool) -> None:
    r = estimate_rt(CASES, W, window_days=3, truncate_days=0)
    if ok:
        assert fc.project_cases(CASES, W, r, horizon=horizon).horizon == horizon
    else:
        with pytest.raises(Invalid) as e:
            fc.project_cases(CASES, W, r, horizon=horizon)
        assert e.value.errors[0].field == "horizon"


def test_vector_3_beds() -> None:
    cases = np.full((1, 60), 2000.0)
    adm = fc.admissions(cases, 0.05, dist.fixed_days(0))
    assert adm[0, 0] == pytest.approx(100)
    beds = fc.occupancy(adm, dist.fixed_days(10))
    assert beds[0, 4] == pytest.approx(500)  # day 5
    assert beds[0, -1] == pytest.approx(1000)  # steady: 100/day × 10 days
    assert beds[0, -1] / 1250 == pytest.approx(0.80)
    icu = fc.occupancy(adm * 0.15, dist.fixed_days(8))
    assert icu[0, -1] == pytest.approx(120)


def test_steady_occupancy_is_admissions_times_mean_stay() -> None:
    """Little's law for any stay distribution."""
    los = dist.discrete_gamma(9, 6, 80)
    beds = fc.occupancy(np.full((1, 300), 50.0), los)
    assert beds[0, -1] == pytest.approx(50 * dist.survival(los).sum())
    assert dist.survival(los).sum() == pytest.approx((np.arange(len(los)) * los).sum())
    # ... with the stay the pack states: a gamma stay of mean 9 days is 9 bed-days an
    # admission, so 50 admissions a day fill 450 beds (the note: admissions/day × mean LOS)
    assert beds[0, -1] == pytest.approx(50 * 9, abs=0.5)


@pytest.mark.parametrize(("mean", "sd"), [(9.0, 6.0), (10.0, 7.0), (6.0, 4.0), (2.0, 1.5)])
def test_a_gamma_delay_keeps_its_stated_mean(mean: float, sd: float) -> None:
    """Whole days by EpiEstim's interpolation keep the mean the pack states (counting days
    elapsed would lose about half a day: 8.5 bed-days for a 9-day stay)."""
    p = dist.discrete_gamma(mean, sd, 200)
    assert (np.arange(len(p)) * p).sum() == pytest.approx(mean, abs=0.01)
    assert p.sum() == pytest.approx(1.0)
    assert (p >= 0).all()


def test_admission_delay_shifts_admissions() -> None:
    adm = fc.admissions(np.array([[0, 100.0, 0, 0, 0]]), 0.1, dist.fixed_days(2))
    assert list(adm[0]) == pytest.approx([0, 0, 0, 10, 0])


@pytest.mark.parametrize(("capacity", "day"), [(999.0, 9), (1000.0, None), (500.0, 5), (499.0, 4)])
def test_first_day_above_capacity(capacity: float, day: int | None) -> None:
    """Strictly above: occupancy equal to the beds does not pass them."""
    beds = fc.occupancy(np.full((1, 30), 100.0), dist.fixed_days(10))
    assert fc.first_day_above(beds, capacity) == [day]


def test_beds_projection_per_region_capacity() -> None:
    cases = np.array([[200.0] * 20, [2000.0] * 20])
    r = estimate_rt(cases, W)
    p = fc.project_cases(cases, W, r, horizon=14)
    params = fc.HospitalParameters(
        0.05, 0.15, dist.fixed_days(0), dist.fixed_days(10), dist.fixed_days(8)
    )
    b = fc.project_beds(p, params, beds=[1250, 1250], icu_beds=[100, 100])
    assert b.general_crossing["unchanged"]["median"] == [None, None]
    assert b.icu_crossing["unchanged"]["median"][1] == 0  # ~120 > 100 from the first day
    assert b.icu_crossing["unchanged"]["median"][0] is None
    assert not b.illustrative


@pytest.mark.parametrize("field", ["hospitalisation_ratio", "icu_share"])
def test_hospital_shares_checked(field: str) -> None:
    kw = {"hospitalisation_ratio": 0.05, "icu_share": 0.15, field: 1.5}
    with pytest.raises(Invalid) as e:
        fc.HospitalParameters(**kw, admission_delay=[1.0], los=[0, 1.0], icu_los=[0, 1.0])
    assert e.value.errors[0].field == field


@given(
    counts=st.lists(st.integers(0, 3000), min_size=12, max_size=40),
    mult=st.lists(st.floats(0, 3), min_size=1, max_size=4),
    horizon=st.integers(14, 28),
)
@settings(max_examples=40, deadline=None)
def test_ranges_ordered_and_occupancy_never_negative(
    counts: list[int], mult: list[float], horizon: int
) -> None:
    cases = np.array(counts, dtype=float)
    r = estimate_rt(cases, W, truncate_days=0)
    p = fc.project_cases(
        cases, W, r, horizon=horizon, scenarios={f"s{i}": m for i, m in enumerate(mult)}
    )
    params = fc.HospitalParameters(
        0.05, 0.2, dist.discrete_gamma(6, 4, 20), dist.discrete_gamma(9, 6, 40), dist.fixed_days(8)
    )
    b = fc.project_beds(p, params, beds=500)
    for s in p.scenarios:
        for series in (p.bands[s], b.general[s], b.icu[s], b.admissions[s]):
            low, med, high = (series[x] for x in fc.BANDS)
            if not p.projected[0]:
                assert np.isnan(med).all()
                continue
            assert (low >= 0).all()
            assert (low <= med + 1e-9 * (1 + np.abs(med))).all()
            assert (med <= high + 1e-9 * (1 + np.abs(high))).all()


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=60), st.integers(0, 30))
@settings(max_examples=100, deadline=None)
def test_occupancy_never_negative(adm: list[float], stay: int) -> None:
    out = fc.occupancy(np.array([adm]), dist.fixed_days(stay))
    assert (out >= 0).all()


def test_incomplete_days_are_projected_not_read() -> None:
    """Right truncation: the last 5 days' partial counts never reach the projection; the
    horizon still starts the day after the last count."""
    r_true = 1.1
    cases = [1000.0, 1000.0, 1000.0]
    for _ in range(27):
        cases.append(r_true * sum(W[s] * cases[-s] for s in range(1, 4)))
    full = np.array(cases)
    partial = full.copy()
    partial[-5:] *= np.array([0.9, 0.8, 0.6, 0.4, 0.2])  # reports still coming in
    got = {}
    for name, counts in (("full", full), ("partial", partial)):
        r = estimate_rt(counts, W, truncate_days=5)
        got[name] = fc.project_cases(counts, W, r, horizon=14)
    p = got["partial"]
    assert p.truncated_days == 5
    assert p.history.shape == (1, 25)
    assert p.nowcast["unchanged"]["median"].shape == (1, 5)
    np.testing.assert_array_equal(
        p.bands["unchanged"]["median"], got["full"].bands["unchanged"]["median"]
    )
    # the nowcast recovers the complete counts of those days (R from complete windows)
    np.testing.assert_allclose(p.nowcast["unchanged"]["median"][0], full[-5:], rtol=0.01)
    b = fc.project_beds(
        p,
        fc.HospitalParameters(
            0.05, 0.15, dist.fixed_days(0), dist.fixed_days(10), dist.fixed_days(8)
        ),
    )
    assert b.general["unchanged"]["median"].shape == (1, 14)
