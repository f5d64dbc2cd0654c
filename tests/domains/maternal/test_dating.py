"""Dating a pregnancy: Naegele, ACOG CO 700 bands, impossible input refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.maternal.service import dating
from salomat.domains.maternal.service.dating import (
    date_pregnancy,
    edd_from_lmp,
    edd_from_ultrasound,
    ga_days,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

ON = date(2026, 6, 1)


def _fields(exc: pytest.ExceptionInfo[Invalid]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_naegele_and_ultrasound_edd() -> None:
    assert edd_from_lmp(date(2026, 1, 1)) == date(2026, 10, 8)
    assert edd_from_ultrasound(date(2026, 3, 1), 70) == date(2026, 3, 1) + timedelta(days=210)
    assert ga_days(date(2026, 1, 1), date(2026, 1, 15)) == 14


def test_lmp_only_is_suboptimal() -> None:
    d = date_pregnancy(ON, ON - timedelta(days=70), None, None)
    assert (d.method, d.ga_days, d.suboptimal, d.discrepancy_days) == ("lmp", 70, True, None)
    assert d.edd == ON + timedelta(days=210)


def test_ultrasound_only() -> None:
    scan = ON - timedelta(days=10)
    d = date_pregnancy(ON, None, scan, 80)
    assert (d.method, d.ga_days, d.suboptimal) == ("ultrasound", 90, False)
    assert d.edd == edd_from_ultrasound(scan, 80)


def test_late_ultrasound_is_suboptimal() -> None:
    d = date_pregnancy(ON, None, ON, 22 * 7)
    assert d.suboptimal
    d = date_pregnancy(ON, None, ON, 22 * 7 - 1)
    assert not d.suboptimal


def test_fundal_height_only_when_nothing_else() -> None:
    d = date_pregnancy(ON, None, None, None, fundal_height_cm=24)
    assert (d.method, d.ga_days, d.suboptimal) == ("fundal_height", 168, True)
    d = date_pregnancy(ON, ON - timedelta(days=100), None, None, fundal_height_cm=30)
    assert d.method == "lmp"


# ACOG CO 700: (GA at scan in days, threshold): a difference equal to the
# threshold keeps LMP dating, one more day redates by ultrasound.
BANDS = [
    (62, 5),  # 8w6d
    (63, 7),  # 9w0d
    (111, 7),  # 15w6d
    (112, 10),  # 16w0d
    (153, 10),  # 21w6d
    (154, 14),  # 22w0d
    (195, 14),  # 27w6d
    (196, 21),  # 28w0d
    (250, 21),
]


@pytest.mark.parametrize(("ga_at_scan", "threshold"), BANDS)
@pytest.mark.parametrize("sign", [1, -1])
def test_acog_bands_both_sides(ga_at_scan: int, threshold: int, sign: int) -> None:
    scan = ON - timedelta(days=5)
    # LMP that gives GA-at-scan ± threshold (keeps LMP) and ± (threshold + 1) (redates)
    keep = scan - timedelta(days=ga_at_scan + sign * threshold)
    d = date_pregnancy(ON, keep, scan, ga_at_scan, at_registration=False)
    assert (d.method, d.discrepancy_days) == ("lmp", threshold)
    assert d.edd == edd_from_lmp(keep)
    redate = scan - timedelta(days=ga_at_scan + sign * (threshold + 1))
    d = date_pregnancy(ON, redate, scan, ga_at_scan, at_registration=False)
    assert (d.method, d.discrepancy_days) == ("ultrasound", threshold + 1)
    assert d.edd == edd_from_ultrasound(scan, ga_at_scan)
    assert d.ga_days == ga_at_scan + 5


def test_redating_threshold_matches_bands() -> None:
    for ga, threshold in BANDS:
        assert dating.redating_threshold_days(ga) == threshold


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lmp": ON + timedelta(days=1)}, "lmp"),
        ({"lmp": ON - timedelta(days=13)}, "lmp"),
        ({"lmp": ON - timedelta(days=281)}, "lmp"),
        ({"scan_on": ON + timedelta(days=1), "ga_days_at_scan": 70}, "scan_on"),
        ({"scan_on": ON, "ga_days_at_scan": -1}, "ga_days_at_scan"),
        ({"scan_on": ON, "ga_days_at_scan": 44 * 7 + 1}, "ga_days_at_scan"),
        ({"scan_on": ON}, "ga_days_at_scan"),
        ({"ga_days_at_scan": 70}, "scan_on"),
        ({"fundal_height_cm": 50.0}, "fundal_height_cm"),
        ({}, "lmp"),
    ],
)
def test_impossible_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {"lmp": None, "scan_on": None, "ga_days_at_scan": None, **kwargs}
    with pytest.raises(Invalid) as exc:
        date_pregnancy(ON, **args)
    assert field in _fields(exc)
    assert exc.value.status == 422


def test_lmp_limits_boundaries() -> None:
    assert date_pregnancy(ON, ON - timedelta(days=14), None, None).ga_days == 14
    assert date_pregnancy(ON, ON - timedelta(days=280), None, None).ga_days == 280


def test_over_40_weeks_allowed_after_registration_but_not_over_45() -> None:
    d = date_pregnancy(ON, ON - timedelta(days=290), None, None, at_registration=False)
    assert d.ga_days == 290
    assert date_pregnancy(ON, ON - timedelta(days=315), None, None, at_registration=False)
    with pytest.raises(Invalid) as exc:
        date_pregnancy(ON, ON - timedelta(days=316), None, None, at_registration=False)
    assert _fields(exc) == {"lmp"}
    with pytest.raises(Invalid) as exc:
        date_pregnancy(ON, None, ON - timedelta(days=30), 44 * 7)
    assert _fields(exc) == {"ga_days_at_scan"}


def test_several_wrong_fields_reported_together() -> None:
    with pytest.raises(Invalid) as exc:
        date_pregnancy(ON, ON + timedelta(days=3), ON + timedelta(days=1), 400)
    assert _fields(exc) == {"lmp", "scan_on", "ga_days_at_scan"}


@given(st.integers(min_value=14, max_value=280), st.dates(date(2000, 1, 1), date(2090, 1, 1)))
def test_lmp_edd_minus_today_is_280_minus_ga(ga: int, on: date) -> None:
    d = date_pregnancy(on, on - timedelta(days=ga), None, None)
    assert (d.edd - on).days == 280 - d.ga_days
    assert d.ga_days == ga


@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=44 * 7),
    st.integers(min_value=-30, max_value=30),
)
def test_chosen_dating_is_consistent(days_since_scan: int, ga_at_scan: int, shift: int) -> None:
    scan = ON - timedelta(days=days_since_scan)
    lmp = scan - timedelta(days=ga_at_scan + shift)
    try:
        d = date_pregnancy(ON, lmp, scan, ga_at_scan, at_registration=False)
    except Invalid:
        return
    assert (d.edd - ON).days == 280 - d.ga_days
    assert d.discrepancy_days == abs(shift)
    assert d.suboptimal == (ga_at_scan >= 154)
