"""WHO z-scores checked against WHO's own tables and WHO Anthro's method, written out here.

(The z-scores WHO's own software publishes for given children, in its tests and
README, are pinned in ``test_who_published.py``; WHO publishes none at a length
between two 0.1-cm rows, so the interpolation there is checked here against
the method written out from WHO Anthro's source.)

The reference is not our code:

- the L, M, S rows below are copied by hand from WHO's LMS tables as WHO
  Anthro ships them (R package ``anthro``, WorldHealthOrganization/anthro,
  ``data-raw/growthstandards/``: ``wflanthro.txt`` weight-for-length,
  ``weianthro.txt`` weight-for-age, ``lenanthro.txt`` length/height-for-age,
  ``hcanthro.txt`` head circumference-for-age; sex 1 = boys, 2 = girls) and
  WHO AnthroPlus (``anthroplus``, ``data-raw/growthstandards/hfawho2007.txt``,
  the WHO Reference 2007 height-for-age by month);
- the z-score formula, the restricted tails and the interpolations are written
  out below from "WHO Child Growth Standards: Methods and development" (2006),
  chapter 7, and WHO Anthro's R source (``z-score-helper.R``,
  ``z-score-weight-for-lenhei.R``; ``anthroplus``: ``zscore-computation.R``);
- the implausible limits are WHO Anthro's documented flags (``anthro_zscores``:
  fwei 1 if zwei < -6 or zwei > 5; flen 1 if |zlen| > 6; fwfl, fbmi, fhc 1 if
  |z| > 5): the limit itself is not flagged.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.child.service import who
from salomat.domains.child.service.growth import assess

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

# ---- WHO's rows (L, M, S) ----------------------------------------------------------------

#: wflanthro.txt, weight-for-length by length (cm)
WFL = {
    ("male", 70.2): (-0.3521, 8.468, 0.08231),
    ("male", 70.3): (-0.3521, 8.4906, 0.08232),
    ("female", 70.2): (-0.3833, 8.2039, 0.09065),
    ("female", 70.3): (-0.3833, 8.2244, 0.09064),
}
#: weianthro.txt, lenanthro.txt, hcanthro.txt: boys, day 400
WFA_BOY_400 = (0.0552, 9.9065, 0.10953)
LHFA_BOY_400 = (1.0, 77.0812, 0.03157)
HCFA_BOY_400 = (1.0, 46.3758, 0.02789)
#: hfawho2007.txt: height-for-age by month (WHO Reference 2007)
HFA_2007 = {
    ("male", 100): (1.0, 129.0466, 0.04470),
    ("male", 101): (1.0, 129.4887, 0.04478),
    ("female", 100): (1.0, 128.5109, 0.04594),
    ("female", 101): (1.0, 129.0035, 0.04597),
}


# ---- WHO's method, written out -------------------------------------------------------------


def sd(lms, k):
    """The measurement at k SD: M (1 + L S k)^(1/L)."""
    l_, m, s = lms
    return m * (1 + l_ * s * k) ** (1 / l_)


def who_z(y, lms, weight_based):
    """Chapter 7: z = ((y/M)^L - 1)/(L S); weight-based beyond +-3: the restricted tails."""
    l_, m, s = lms
    z = ((y / m) ** l_ - 1) / (s * l_)
    if weight_based and z > 3:
        z = 3 + (y - sd(lms, 3)) / (sd(lms, 3) - sd(lms, 2))
    elif weight_based and z < -3:
        z = -3 + (y - sd(lms, -3)) / (sd(lms, -2) - sd(lms, -3))
    return round(z, 2)


def measurement_at(lms, z, weight_based):
    """The inverse of who_z: the measurement whose z-score is z."""
    if weight_based and z > 3:
        return sd(lms, 3) + (z - 3) * (sd(lms, 3) - sd(lms, 2))
    if weight_based and z < -3:
        return sd(lms, -3) + (z + 3) * (sd(lms, -2) - sd(lms, -3))
    return sd(lms, z)


def between(low, high, fraction):
    """L, M and S each linear between two rows (WHO Anthro, AnthroPlus)."""
    return tuple(a + fraction * (b - a) for a, b in zip(low, high, strict=True))


# ---- weight-for-length between two 0.1-cm rows -------------------------------------------


@pytest.mark.parametrize(("sex", "kg"), [("male", 7.22), ("female", 6.89)])
def test_weight_for_length_at_70_25_cm_follows_who_anthros_interpolation(sex, kg):
    """The expected value is WHO Anthro's method (``z-score-weight-for-lenhei.R``: L, M, S
    linear between the truncated 0.1-cm row and the next) applied by hand to WHO's rows;
    no WHO-published z-score at a non-integer 0.1-cm length was found to pin instead."""
    lms = between(WFL[(sex, 70.2)], WFL[(sex, 70.3)], 0.5)
    expected = who_z(kg, lms, True)
    a = assess(sex, 300, weight_kg=kg, length_or_height_cm=70.25, measured_lying=True)
    assert (a.wfl_or_wfh, a.wfl_or_wfh_z) == ("wfl", expected)
    # the case the rounding got wrong: 70.25 -> 70.2 cm gave -1.99, not wasted
    assert expected == -2.01
    assert who_z(kg, WFL[(sex, 70.2)], True) == -1.99
    assert "moderate_wasting" in a.classification


@pytest.mark.parametrize("cm", [70.2, 70.21, 70.25, 70.27, 70.29, 70.3])
@pytest.mark.parametrize("sex", ["male", "female"])
def test_weight_for_length_anywhere_between_the_rows(sex, cm):
    fraction = round((cm - 70.2) * 10, 6)
    lms = between(WFL[(sex, 70.2)], WFL[(sex, 70.3)], fraction)
    a = assess(sex, 300, weight_kg=8.1, length_or_height_cm=cm, measured_lying=True)
    assert a.wfl_or_wfh_z == who_z(8.1, lms, True)


def test_a_standing_height_under_2_years_is_corrected_before_the_interpolation():
    # 69.55 cm standing at 300 days is 70.25 cm lying
    standing = assess("male", 300, weight_kg=7.22, length_or_height_cm=69.55, measured_lying=False)
    assert standing.conventional_cm == 70.25
    assert standing.wfl_or_wfh_z == -2.01


# ---- weight-for-age +5.5: implausible ------------------------------------------------------


def test_weight_for_age_plus_5_5_is_flagged_implausible():
    kg = measurement_at(WFA_BOY_400, 5.5, True)
    assert who_z(kg, WFA_BOY_400, True) == 5.5
    a = assess("male", 400, weight_kg=kg)
    assert a.wfa == 5.5
    assert a.implausible == ["wfa"]


def test_the_restricted_tail_is_not_the_plain_lms_z_score():
    # beyond +3 the plain formula stretches the tail; WHO keeps the SD2-SD3 distance
    kg = measurement_at(WFA_BOY_400, 4.0, True)
    l_, m, s = WFA_BOY_400
    plain = ((kg / m) ** l_ - 1) / (s * l_)
    assert round(plain, 2) != 4.0
    assert assess("male", 400, weight_kg=kg).wfa == 4.0


# ---- each flag at its limit: one below, at, one above ----------------------------------------

BOUNDARIES = [
    # indicator, the limit, the side (+1 above, -1 below)
    ("wfa", 5.0, 1),
    ("wfa", -6.0, -1),
    ("lhfa", 6.0, 1),
    ("lhfa", -6.0, -1),
    ("hcfa", 5.0, 1),
    ("hcfa", -5.0, -1),
    ("wfl_or_wfh", 5.0, 1),
    ("wfl_or_wfh", -5.0, -1),
]


def _assess_at(indicator: str, z: float):
    """A boy (400 days; weight-for-length at 70.2 cm, 300 days) measured at z-score z."""
    if indicator == "wfa":
        return assess("male", 400, weight_kg=measurement_at(WFA_BOY_400, z, True))
    if indicator == "lhfa":
        return assess("male", 400, length_or_height_cm=measurement_at(LHFA_BOY_400, z, False))
    if indicator == "hcfa":
        return assess("male", 400, head_circumference_cm=measurement_at(HCFA_BOY_400, z, False))
    kg = measurement_at(WFL[("male", 70.2)], z, True)
    return assess("male", 300, weight_kg=kg, length_or_height_cm=70.2, measured_lying=True)


@pytest.mark.parametrize(("indicator", "limit", "side"), BOUNDARIES)
def test_the_flag_starts_just_beyond_the_limit(indicator, limit, side):
    inside = _assess_at(indicator, limit - side * 0.01)
    at = _assess_at(indicator, limit)
    beyond = _assess_at(indicator, limit + side * 0.01)
    assert (inside.z(indicator), at.z(indicator), beyond.z(indicator)) == (
        round(limit - side * 0.01, 2),
        limit,
        round(limit + side * 0.01, 2),
    )
    assert indicator not in inside.implausible
    assert indicator not in at.implausible
    assert indicator in beyond.implausible


@pytest.mark.parametrize(
    ("indicator", "low", "high"),
    [
        ("wfa", -6, 5),
        ("lhfa", -6, 6),
        ("wfl_or_wfh", -5, 5),
        ("bmifa", -5, 5),
        ("hcfa", -5, 5),
    ],
)
def test_who_anthro_limits_per_indicator(indicator, low, high):
    for z, flagged in [
        (low - 0.01, True),
        (low, False),
        (low + 0.01, False),
        (high - 0.01, False),
        (high, False),
        (high + 0.01, True),
    ]:
        assert who.implausible(indicator, z) is flagged, (indicator, z)


def test_weight_for_age_between_5_and_6_is_implausible_only_above():
    assert who.implausible("wfa", 5.5)
    assert not who.implausible("wfa", -5.5)


# ---- beyond 5 years: months from days, interpolated ------------------------------------------


@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize("days", [3044, 3050, 3056, 3065, 3074])
def test_height_for_age_beyond_5_years_interpolates_between_months(sex, days):
    months = days / 30.4375
    assert 100 <= months < 101
    lms = between(HFA_2007[(sex, 100)], HFA_2007[(sex, 101)], months - 100)
    a = assess(sex, days, length_or_height_cm=130.0)
    assert a.lhfa == who_z(130.0, lms, False)


def test_days_100_4_months_are_not_rounded_to_the_nearest_month():
    days = 3056  # 100.40 months of 30.4375 days
    interpolated = assess("male", days, length_or_height_cm=133.0).lhfa
    assert interpolated != who_z(133.0, HFA_2007[("male", 100)], False)
    assert interpolated == who_z(
        133.0,
        between(HFA_2007[("male", 100)], HFA_2007[("male", 101)], days / 30.4375 - 100),
        False,
    )


# ---- properties -----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    sex=st.sampled_from(["male", "female"]),
    indicator=st.sampled_from(["wfa", "lhfa", "hcfa", "bmifa"]),
    age=st.integers(min_value=0, max_value=3650),
    z=st.floats(min_value=-4.5, max_value=4.5),
)
def test_the_measurement_at_a_z_score_has_that_z_score(sex, indicator, age, z):
    """Round trip: the table's value at z (restricted tails for weight-based) gives z back."""
    lms = who.lms_for_age(indicator, sex, age)
    if lms is None:
        return
    weight_based = indicator in who.WEIGHT_BASED
    if not weight_based and abs(z) > 3:
        z = math.copysign(3, z)
    y = measurement_at(lms, z, weight_based)
    assert who.zscore(y, lms, weight_based) == pytest.approx(round(z, 2), abs=0.0100001)


@settings(max_examples=80, deadline=None)
@given(
    sex=st.sampled_from(["male", "female"]),
    tenths=st.integers(min_value=451, max_value=1099),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    kg=st.floats(min_value=2.0, max_value=20.0),
)
def test_between_two_rows_the_z_score_lies_between_theirs(sex, tenths, fraction, kg):
    low = who.lms_for_length("wfl", sex, tenths / 10)
    high = who.lms_for_length("wfl", sex, (tenths + 1) / 10)
    mid = who.lms_for_length("wfl", sex, (tenths + fraction) / 10)
    assert low is not None
    assert high is not None
    assert mid is not None
    z_low, z_high, z_mid = (who.zscore(kg, x, True) for x in (low, high, mid))
    assert min(z_low, z_high) - 0.01 <= z_mid <= max(z_low, z_high) + 0.01
