"""Z-scores pinned to the values WHO's own software publishes for given children.

Each expected value below is an output of WHO's code as WHO publishes it, not a
computation of ours or of this test:

- WHO Anthro (R package ``anthro``, WorldHealthOrganization/anthro): the
  ``anthro_zscores`` example in its README (four children: zlen, zwei, zwfl,
  zbmi and their flags) and its tests (``tests/testthat/test-zscores.R``,
  ``test-zscore-weight-for-age.R``, ``test-zscore-bmi-for-age.R``);
- WHO AnthroPlus (``anthroplus`` >= 1.0.0, WorldHealthOrganization/anthroplus):
  ``tests/testthat/test-zscores.R`` ("computes correct value for age ~ 60
  months") and the ``anthroplus_zscores`` example in its README;
- the test child of ../shared/domain/child-health.md.

WHO's functions take an age in days (WHO Anthro) or in months (AnthroPlus);
Salomat takes whole days. Where WHO gives months, the day used here is the one
that is those months: 60.32 months = day 1836 (60.320 months), 60.911701 months
= day 1854, 24 months = day 731 (WHO Anthro rounds 730.5 up), 9 months = day
274, 8 months = day 244, 100 months = day 3044 (100.008), 110 months = day
3348 (109.996). WHO publishes no z-score at a length between two 0.1-cm rows
(its weight-for-length tests only check missing values); that interpolation is
checked in ``test_who.py`` against the method written out.

Also here, the ages where the under-five z-scores end (WHO Anthro: age in months
= days / 30.4375 < 60, so day 1826 is the last; ``anthro_zscores``'s doc and
test "zcores are only computed for children younger to 60 months") and where
AnthroPlus takes over (from 60 months since anthroplus 1.0.0, NEWS: "previously
there was a cutoff at 61 months"), one day below, at and above.
"""

from __future__ import annotations

import pytest

from salomat.domains.child.service.growth import assess, conventional_length

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

# ---- WHO Anthro --------------------------------------------------------------------------

#: README, anthro_zscores(sex, age (days), weight, lenhei) (measure not given: as due)
#: -> zlen, zwei, zwfl, zbmi, and the flagged ones (flen, fwei, fwfl, fbmi = 1)
ANTHRO_README = [
    (("male", 1001, 18, 120), (7.31, 2.20, -2.39, -3.01), {"lhfa"}),
    (("female", 1000, 15, 80), (-3.50, 0.95, 4.13, 4.66), set()),
    (("male", 1010, 10, 100), (1.62, -2.76, -5.19, -5.61), {"wfl_or_wfh", "bmifa"}),
    (("male", 1000, 15, 100), (1.70, 0.69, -0.29, -0.58), set()),
]


@pytest.mark.parametrize(("child", "expected", "flagged"), ANTHRO_README)
def test_who_anthro_readme_children(child, expected, flagged):
    sex, days, kg, cm = child
    a = assess(sex, days, weight_kg=kg, length_or_height_cm=cm)
    assert (a.lhfa, a.wfa, a.wfl_or_wfh_z, a.bmifa) == expected
    assert a.wfl_or_wfh == "wfh"  # from 24 months
    assert set(a.implausible) == flagged


def test_who_anthro_weight_for_age_girl_of_1522_days():
    """test-zscore-weight-for-age.R: 17 kg, girl, day 1522 -> zwei 0.24, fwei 0."""
    a = assess("female", 1522, weight_kg=17)
    assert a.wfa == 0.24
    assert a.implausible == []


def test_who_anthro_flags_a_weight_for_age_above_5():
    """test-zscore-weight-for-age.R ("default flag threshold of -6;5"): 10.37 kg, girl, day 1
    -> fwei 1."""
    a = assess("female", 1, weight_kg=10.37)
    assert a.wfa is not None
    assert a.wfa > 5
    assert a.implausible == ["wfa"]
    assert "moderate_underweight" not in a.classification


def test_who_anthro_flags_a_bmi_for_age_above_5():
    """test-zscore-bmi-for-age.R: BMI 25, girl, day 1 -> fbmi 1 (6.25 kg at 50 cm is 25)."""
    a = assess("female", 1, weight_kg=6.25, length_or_height_cm=50)
    assert "bmifa" in a.implausible


def test_who_anthro_length_for_age_uses_the_adjusted_length():
    """test-zscores.R: boy, day 987, 72.86 cm measured lying -> 72.16 cm, zlen -6.09, flen 1."""
    a = assess("male", 987, length_or_height_cm=72.86, measured_lying=True)
    assert a.conventional_cm == 72.16
    assert a.lhfa == -6.09
    assert a.implausible == ["lhfa"]


@pytest.mark.parametrize("lying", [None, False])
def test_who_anthro_height_at_24_months(lying):
    """test-zscores.R: girl, 24 months (day 731), 77.5 cm, standing or not given -> -2.55."""
    a = assess("female", 731, length_or_height_cm=77.5, measured_lying=lying)
    assert (a.conventional_cm, a.lhfa) == (77.5, -2.55)


def test_who_anthro_standing_under_9_months_is_compared_as_measured():
    """test-zscores.R ("young children with measured standing will be adjusted"): boy, 60 cm
    measured standing: at 8 months clenhei 60.0, zlen -4.81 (the position is taken for a
    mistake: c9mo_flag); at 9 months clenhei 60.7, zlen -5.02 (WHO's test: within 1 %)."""
    at_8 = assess("male", 244, length_or_height_cm=60, measured_lying=False)
    at_9 = assess("male", 274, length_or_height_cm=60, measured_lying=False)
    assert (at_8.conventional_cm, at_8.lhfa) == (60, -4.81)
    assert (at_9.conventional_cm, at_9.lhfa) == (60.7, -5.02)


@pytest.mark.parametrize(
    ("days", "expected_cm"),
    [(272, 60.0), (273, 60.0), (274, 60.7), (275, 60.7)],
)
def test_the_9_month_boundary_of_the_standing_correction(days, expected_cm):
    """Months = days / 30.4375 < 9: day 273 is 8.97 months (as measured), 274 is 9.00."""
    assert conventional_length(days, 60.0, False) == (expected_cm, False)
    # lying, as due: never corrected under 24 months
    assert conventional_length(days, 60.0, True) == (60.0, True)


def test_the_domain_notes_test_child():
    """../shared/domain/child-health.md: girl, 366 days, 7.0 kg, 64 cm -> lhfa -3.90,
    wfa -2.06, wfl 0.24."""
    a = assess("female", 366, weight_kg=7.0, length_or_height_cm=64)
    assert (a.lhfa, a.wfa, a.wfl_or_wfh, a.wfl_or_wfh_z) == (-3.90, -2.06, "wfl", 0.24)


# ---- WHO AnthroPlus ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "kg", "cm", "expected"),
    [
        # anthroplus_zscores(2, 60.32, height 113.8, weight 18.7): zwfa, zbfa, zhfa
        (1836, 18.7, 113.8, (0.21, -0.58, 0.96)),
        # anthroplus_zscores(2, 60.911701, height 113.6, weight 20.5)
        (1854, 20.5, 113.6, (0.79, 0.42, 0.85)),
    ],
)
def test_who_anthroplus_between_60_and_61_months(days, kg, cm, expected):
    """The 5-19 reference from 60 months, interpolated towards 61: not the 2006 standards'
    by-day rows, which reach day 1856 (they gave 0.15, -0.58, 0.88 at day 1836)."""
    a = assess("female", days, weight_kg=kg, length_or_height_cm=cm)
    assert (a.wfa, a.bmifa, a.lhfa) == expected
    assert (a.wfl_or_wfh, a.wfl_or_wfh_z, a.implausible) == (None, None, [])


@pytest.mark.parametrize(
    ("child", "expected", "flagged"),
    [
        # README: anthroplus_zscores(sex, age_in_months, height, weight) -> zhfa, zwfa, zbfa
        (("male", 3044, 30, 100), (-5.04, 0.87, 5.03), {"bmifa"}),
        (("female", 3348, 40, 90), (-7.06, 1.78, 7.37), {"lhfa", "bmifa"}),
    ],
)
def test_who_anthroplus_readme_children(child, expected, flagged):
    sex, days, kg, cm = child
    a = assess(sex, days, weight_kg=kg, length_or_height_cm=cm)
    assert (a.lhfa, a.wfa, a.bmifa) == expected
    assert set(a.implausible) == flagged


# ---- where the under-five z-scores end: day 1826 (59.99 months) ------------------------------

#: a boy of 110 cm and 15.5 kg, head 50.5 cm: wasted under five (weight-for-height -2.08)
BOY = {"weight_kg": 15.5, "length_or_height_cm": 110, "head_circumference_cm": 50.5}
#: WHO Anthro's lenanthro.txt, boys, day 1826 (its last row); AnthroPlus's hfawho2007.txt,
#: boys, 60 and 61 months
LEN_1826 = (1.0, 109.9593, 0.04214)
HFA_60, HFA_61 = (1.0, 109.7265, 0.04156), (1.0, 110.2647, 0.04164)


def _z(y, lms):
    l_, m, s = lms
    return round(((y / m) ** l_ - 1) / (s * l_), 2)


@pytest.mark.parametrize(("days", "under_five"), [(1825, True), (1826, True), (1827, False)])
def test_weight_for_height_and_head_circumference_end_after_day_1826(days, under_five):
    a = assess("male", days, **BOY)
    if under_five:
        assert (a.wfl_or_wfh, a.wfl_or_wfh_z, a.hcfa) == ("wfh", -2.08, -0.16)
        assert a.classification == ["moderate_wasting"]
    else:
        # WHO Anthro computes nothing from 60 months; the 5-19 conventions classify
        assert (a.wfl_or_wfh, a.wfl_or_wfh_z, a.hcfa) == (None, None, None)
        assert a.classification == ["moderate_thinness"]


@pytest.mark.parametrize("days", [1823, 1829])
def test_who_anthros_59_9_and_60_1_months(days):
    """test-zscores.R: 59.9 months (day 1823) has z-scores, 60.1 months (day 1829) has none
    of WHO Anthro's (its weight-for-height, head circumference)."""
    a = assess("male", days, **BOY)
    assert (a.wfl_or_wfh_z is not None, a.hcfa is not None) == (days == 1823,) * 2


def test_length_for_age_switches_reference_between_day_1826_and_1827():
    at_1826 = assess("male", 1826, length_or_height_cm=110)
    at_1827 = assess("male", 1827, length_or_height_cm=110)
    assert at_1826.lhfa == _z(110, LEN_1826)
    fraction = 1827 / 30.4375 - 60
    lms = tuple(a + fraction * (b - a) for a, b in zip(HFA_60, HFA_61, strict=True))
    assert at_1827.lhfa == _z(110, lms)
    assert at_1826.lhfa != at_1827.lhfa
