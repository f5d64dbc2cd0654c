"""Rates of the cancer registry against values worked out by hand from the standards' weights
(Segi/Doll 1966; Ahmad et al. 2001), the exact Poisson limits (Garwood 1936: closed forms for
0 and 1 case, the tail sums otherwise) and Fay & Feuer's (1997) definition."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.cancer.service.rates import (
    SEGI,
    STANDARDS,
    WHO2000,
    MissingPopulation,
    Rate,
    age_band,
    asr,
    crude,
    cumulative_rate,
    cumulative_risk,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

# A hand-made territory: 100 000 person-years in every band except these five.
#   band  ages   cases  person-years   rate per 100 000
#    8    40–44    20       50 000       20/50 000 × 1e5 =  40
#   10    50–54    60       40 000       60/40 000 × 1e5 = 150
#   12    60–64    90       30 000       90/30 000 × 1e5 = 300
#   14    70–74   100       20 000      100/20 000 × 1e5 = 500
#   17    85+       5        2 500        5/ 2 500 × 1e5 = 200
PY = [100_000.0] * 18
CASES = [0] * 18
for _band, _cases, _py in [
    (8, 20, 50_000),
    (10, 60, 40_000),
    (12, 90, 30_000),
    (14, 100, 20_000),
    (17, 5, 2_500),
]:
    CASES[_band], PY[_band] = _cases, float(_py)

WHO_FULL = (8860, 8690, 8600, 8470, 8220, 7930, 7610, 7150, 6590, 6040, 5370, 4550, 3720, 2960)
WHO_FULL += (2210, 1520, 910, 440, 150, 40, 5)


def test_standards_carry_the_published_weights() -> None:
    assert SEGI.weights == (12000, 10000, 9000, 9000, 8000, 8000, 6000, 6000, 6000, 6000, 5000,
                            4000, 4000, 3000, 2000, 1000, 500, 500)  # fmt: skip
    assert SEGI.total == 100_000
    # WHO's 21 groups end 85–89, 90–94, 95–99, 100+: 440 + 150 + 40 + 5 = 635 for our 85+.
    assert WHO2000.weights == (*WHO_FULL[:17], 635)
    assert WHO2000.total == sum(WHO_FULL) == 100_035
    assert STANDARDS == {"segi": SEGI, "who2000": WHO2000}


def test_crude_rate_of_the_table() -> None:
    # 275 cases / 1 442 500 person-years (13 × 100 000 + 142 500) × 1e5 = 19.0641...
    rate = crude(sum(CASES), sum(PY))
    assert sum(PY) == 1_442_500
    assert round(rate.value, 2) == 19.06
    assert rate.low < rate.value < rate.high


def test_asr_segi_by_hand() -> None:
    # 40·6000 + 150·5000 + 300·4000 + 500·2000 + 200·500
    # = 240 000 + 750 000 + 1 200 000 + 1 000 000 + 100 000 = 3 290 000; / 100 000 = 32.90
    assert round(asr(CASES, PY, SEGI).value, 2) == 32.90


def test_asr_who_divides_by_100035() -> None:
    # 40·6590 + 150·5370 + 300·3720 + 500·2210 + 200·635
    # = 263 600 + 805 500 + 1 116 000 + 1 105 000 + 127 000 = 3 417 100
    # / 100 035 = 34.159 → 34.16, where / 100 000 would have said 34.171 → 34.17.
    value = asr(CASES, PY, WHO2000).value
    assert round(value, 2) == 34.16
    assert value == pytest.approx(3_417_100 / 100_035, rel=1e-12)
    assert round(3_417_100 / 100_000, 2) != round(value, 2)


def test_who_85_plus_collapse_matches_the_full_standard_for_an_even_rate() -> None:
    # With one rate (200) in 85–89, 90–94, 95–99 and 100+, the 21-group ASR is the same.
    full = sum(r * w for r, w in zip([0.0] * 8 + [40, 0, 150, 0, 300, 0, 500, 0, 0],
                                     WHO_FULL, strict=False))  # fmt: skip
    full += 200 * (440 + 150 + 40 + 5)
    assert asr(CASES, PY, WHO2000).value == pytest.approx(full / 100_035, rel=1e-12)


def test_asr_of_a_constant_rate_is_that_rate() -> None:
    # 30 per 100 000 everywhere: any standard's weighted mean is 30.
    cases = [3 * (b + 1) for b in range(18)]
    py = [c / 30 * 100_000 for c in cases]
    for standard in STANDARDS.values():
        assert asr(cases, py, standard).value == pytest.approx(30, rel=1e-12)


@pytest.mark.parametrize(("upto", "rate", "risk"), [
    # 70: bands 0–69 → 5·(40 + 150 + 300) = 2 450 per 100 000 = 2.45 %;
    #     risk 100·(1 − e^−0.0245) = 2.4202 %
    (70, 2.45, 2.4202),
    # 75: bands 0–74 add the 500 of 70–74 → 5·990 = 4 950 = 4.95 %; 100·(1 − e^−0.0495) = 4.8295 %
    (75, 4.95, 4.8295),
    # 80: 75–79 has no cases → unchanged; the 85+ band never counts
    (80, 4.95, 4.8295),
])  # fmt: skip
def test_cumulative_rate_and_risk_by_hand(upto: int, rate: float, risk: float) -> None:
    assert cumulative_rate(CASES, PY, upto=upto) == pytest.approx(rate, abs=1e-9)
    assert cumulative_risk(CASES, PY, upto=upto) == pytest.approx(risk, abs=5e-5)


def test_cumulative_defaults_to_0_74() -> None:
    assert cumulative_rate(CASES, PY) == pytest.approx(4.95)
    assert cumulative_risk(CASES, PY) < cumulative_rate(CASES, PY)


@pytest.mark.parametrize("upto", [0, 74, 76, 90])
def test_cumulative_refuses_bounds_off_the_bands(upto: int) -> None:
    with pytest.raises(ValueError, match="upto"):
        cumulative_rate(CASES, PY, upto=upto)


@pytest.mark.parametrize(("cases", "low", "high"), [
    # 0: lower 0; upper solves e^−μ = 0.025 → μ = −ln 0.025 = 3.6889
    (0, 0.0, 3.6889),
    # 1: lower solves 1 − e^−μ = 0.025 → μ = −ln 0.975 = 0.0253; upper e^−μ(1 + μ) = 0.025
    (1, 0.0253, 5.5716),
    (2, 0.2422, 7.2247),
    # exact Poisson limits for 2 and 10 observed, checked against scipy.stats.chi2
    (10, 4.7954, 18.3904),
])  # fmt: skip
def test_crude_interval_is_the_exact_poisson_interval(cases: int, low: float, high: float) -> None:
    # 100 000 person-years: the rate per 100 000 is the count itself.
    rate = crude(cases, 100_000)
    assert rate.value == cases
    assert rate.low == pytest.approx(low, abs=1e-4)
    assert rate.high == pytest.approx(high, abs=1e-4)


def _poisson_cdf(k: int, mean: float) -> float:
    return sum(math.exp(-mean + j * math.log(mean) - math.lgamma(j + 1)) for j in range(k + 1))


@pytest.mark.parametrize("cases", [1, 3, 17, 60])
def test_crude_limits_leave_2_5_percent_in_each_tail(cases: int) -> None:
    # Garwood's definition: at the lower limit, P(X ≥ cases) = 0.025; at the upper, P(X ≤ cases).
    rate = crude(cases, 100_000)
    assert 1 - _poisson_cdf(cases - 1, rate.low) == pytest.approx(0.025, abs=1e-9)
    assert _poisson_cdf(cases, rate.high) == pytest.approx(0.025, abs=1e-9)


def test_crude_scales_with_person_years() -> None:
    # 10 cases in 20 000 person-years = 50 per 100 000; limits × 5 of the 100 000 case.
    rate, ref = crude(10, 20_000), crude(10, 100_000)
    assert rate.value == pytest.approx(50)
    assert rate.low == pytest.approx(ref.low * 5)
    assert rate.high == pytest.approx(ref.high * 5)


@pytest.mark.parametrize("standard", [SEGI, WHO2000], ids=lambda s: s.code)
def test_asr_interval_contains_the_estimate(standard) -> None:
    rate = asr(CASES, PY, standard)
    assert 0 < rate.low < rate.value < rate.high


def test_asr_interval_against_an_independent_gamma_quantile() -> None:
    # Fay & Feuer's limits for the table with Segi's weights, computed separately with
    # scipy 1.17.1 (scipy.stats.gamma.ppf), per-case weights w_i = w/Σw × 1e5 / py_i:
    # y = 32.9, v = Σ c_i w_i² = 4.0255, w_M = 500/100 000 × 1e5 / 2 500 = 0.2.
    rate = asr(CASES, PY, SEGI)
    assert rate.low == pytest.approx(29.084737740507, rel=1e-9)
    assert rate.high == pytest.approx(37.166909171329, rel=1e-9)


def test_asr_interval_approaches_boyle_parkin_with_many_cases() -> None:
    # Boyle & Parkin: SE² = Σ (w_i/Σw)² c_i / py_i² × 1e10. For the table:
    #   0.06²·20·4 + 0.05²·60·6.25 + 0.04²·90·11.11 + 0.02²·100·25 + 0.005²·5·1600
    #   = 0.288 + 0.9375 + 1.6 + 1.0 + 0.2 = 4.0255 → SE = 2.0064; ±1.96·SE = ±3.9325.
    # With 10 000 times the cases and person-years SE falls 100-fold, to 0.020064, and the
    # skew the gamma interval allows for is gone: both intervals agree closely.
    k = 10_000
    rate = asr([c * k for c in CASES], [p * k for p in PY], SEGI)
    half = 1.96 * math.sqrt(4.0255) / 100
    assert rate.value == pytest.approx(32.9)
    assert rate.low == pytest.approx(32.9 - half, abs=2e-4)
    assert rate.high == pytest.approx(32.9 + half, abs=2e-4)


def test_asr_interval_is_relatively_wider_for_fewer_cases() -> None:
    # Same population, a fifth of the cases against twice them: the fewer, the wider relatively.
    few = asr([c // 5 for c in CASES], PY, SEGI)
    many = asr([c * 2 for c in CASES], PY, SEGI)
    assert (few.high - few.low) / few.value > (many.high - many.low) / many.value


@pytest.mark.parametrize("standard", [SEGI, WHO2000], ids=lambda s: s.code)
def test_asr_of_a_single_band_is_the_crude_interval_scaled(standard) -> None:
    # Only 50–54 lives here (40 000 person-years, 6 cases → 15 per 100 000): the ASR is that
    # rate times the band's share of the weights (Segi 5 000/100 000, WHO 5 370/100 035).
    cases, py = [0] * 18, [0.0] * 18
    cases[10], py[10] = 6, 40_000.0
    share = standard.weights[10] / standard.total
    rate, band = asr(cases, py, standard), crude(6, 40_000)
    assert rate.value == pytest.approx(15 * share, rel=1e-12)
    assert rate.low == pytest.approx(band.low * share, rel=1e-9)
    assert rate.high == pytest.approx(band.high * share, rel=1e-9)


def test_asr_with_no_cases_is_zero_with_a_positive_upper_limit() -> None:
    # y = 0, so the upper limit is Gamma(1, w_M)'s 97.5 % point: −ln 0.025 × w_M, with w_M the
    # largest per-case weight, 85+ for Segi: 500/100 000 × 1e5 / 2 500 = 0.2 → 0.7378.
    rate = asr([0] * 18, PY, SEGI)
    assert rate == Rate(0.0, 0.0, pytest.approx(-math.log(0.025) * 0.2, rel=1e-9))
    assert round(rate.high, 4) == 0.7378


def test_cases_without_population_are_refused() -> None:
    cases, py = list(CASES), list(PY)
    py[8] = 0.0
    with pytest.raises(MissingPopulation, match="40–44") as caught:
        asr(cases, py, SEGI)
    assert isinstance(caught.value, Invalid)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(MissingPopulation, match="40–44"):
        cumulative_rate(cases, py)
    with pytest.raises(MissingPopulation):
        crude(3, 0)


def test_a_band_without_population_or_cases_adds_nothing() -> None:
    py = list(PY)
    py[3] = 0.0
    assert asr(CASES, py, SEGI).value == pytest.approx(32.9)


def test_no_population_at_all_is_refused() -> None:
    with pytest.raises(MissingPopulation):
        asr([0] * 18, [0.0] * 18, SEGI)


@pytest.mark.parametrize(("cases", "py"), [([1] * 17, [1.0] * 17), ([1] * 18, [1.0] * 17),
                                           ([-1] + [0] * 17, [1.0] * 18)])  # fmt: skip
def test_malformed_tables_are_refused(cases: list[int], py: list[float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        asr(cases, py, SEGI)


@pytest.mark.parametrize(("age", "band"), [
    (0, 0), (4, 0), (5, 1), (6, 1), (44, 8), (45, 9), (84, 16), (85, 17), (86, 17), (112, 17),
])  # fmt: skip
def test_age_band(age: int, band: int) -> None:
    assert age_band(age) == band


def test_age_band_refuses_negative_age() -> None:
    with pytest.raises(ValueError, match="negative"):
        age_band(-1)


@given(st.integers(min_value=0, max_value=130))
def test_age_band_contains_the_age(age: int) -> None:
    band = age_band(age)
    assert 5 * band <= age
    assert band == 17 or age <= 5 * band + 4


tables = st.tuples(
    st.lists(st.integers(min_value=0, max_value=400), min_size=18, max_size=18),
    st.lists(st.floats(min_value=50, max_value=500_000), min_size=18, max_size=18),
)


@settings(max_examples=60, deadline=None)
@given(tables, st.integers(min_value=2, max_value=40), st.sampled_from([SEGI, WHO2000]))
def test_scaling_cases_and_population_keeps_the_asr_and_narrows_the_interval(
    table: tuple[list[int], list[float]], k: int, standard
) -> None:
    cases, py = table
    base = asr(cases, py, standard)
    scaled = asr([c * k for c in cases], [p * k for p in py], standard)
    assert scaled.value == pytest.approx(base.value, rel=1e-9, abs=1e-12)
    assert scaled.high - scaled.low < base.high - base.low


@settings(max_examples=60, deadline=None)
@given(tables, st.sampled_from([SEGI, WHO2000]))
def test_asr_interval_always_brackets_the_estimate(
    table: tuple[list[int], list[float]], standard
) -> None:
    rate = asr(*table, standard)
    assert 0 <= rate.low <= rate.value < rate.high
