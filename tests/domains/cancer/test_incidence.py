"""ENCR date of incidence and the IARC/IACR basis of diagnosis."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.cancer.service import incidence

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

D = date


def test_the_best_level_wins_even_when_a_lower_one_is_earlier():
    # a clinical date in January, the biopsy in March: the biopsy date is the incidence
    assert incidence.incidence([(4, D(2024, 1, 10)), (1, D(2024, 3, 2))]) == (D(2024, 3, 2), 1)


def test_the_earliest_date_of_that_level():
    dates = [(2, D(2024, 5, 1)), (2, D(2024, 4, 20)), (3, D(2024, 4, 1))]
    assert incidence.incidence(dates) == (D(2024, 4, 20), 2)


def test_a_death_certificate_only_case_is_dated_by_the_death():
    assert incidence.incidence(iter([(6, D(2023, 12, 31))])) == (D(2023, 12, 31), 6)


def test_any_clinical_date_beats_the_death():
    assert incidence.incidence([(6, D(2024, 2, 1)), (4, D(2024, 1, 5))]) == (D(2024, 1, 5), 4)


@pytest.mark.parametrize("dates", [[], [(0, D(2024, 1, 1))], [(7, D(2024, 1, 1))]])
def test_no_date_or_an_unknown_level_is_refused(dates):
    with pytest.raises(Invalid):
        incidence.incidence(dates)


def test_levels_are_the_six_encr_kinds():
    assert sorted(incidence.DATE_LEVELS) == [1, 2, 3, 4, 5, 6]


@given(st.lists(st.tuples(st.integers(1, 6), st.dates()), min_size=1))
def test_incidence_property(dates):
    got, level = incidence.incidence(dates)
    assert level == min(lv for lv, _ in dates)
    assert (level, got) in dates
    assert all(d >= got for lv, d in dates if lv == level)


# --- basis of diagnosis -------------------------------------------------------------------

#: IARC/IACR, most valid first
_ORDER = [7, 6, 5, 4, 2, 1, 9, 0]


@pytest.mark.parametrize(
    ("bases", "best"),
    [([1, 7, 0], 7), ([0, 9], 9), ([9, 1], 1), ([2, 4], 4), ([5, 6], 6), ([0], 0),
     ([1, 2], 2), ([5, 4], 5), ([], 9)],
)  # fmt: skip
def test_best_basis(bases, best):
    assert incidence.best_basis(bases) == best


@given(st.lists(st.sampled_from(_ORDER), min_size=1))
def test_best_basis_is_the_most_valid(bases):
    assert incidence.best_basis(bases) == min(bases, key=_ORDER.index)


def test_microscopically_verified():
    assert {5, 6, 7} == incidence.MICROSCOPIC
    assert set(incidence.BASIS) == {0, 1, 2, 4, 5, 6, 7, 9}


@pytest.mark.parametrize(("value", "code"), [(7, 7), ("7", 7), (" 0 ", 0), (9, 9)])
def test_basis_accepts_the_codes(value, code):
    assert incidence.basis(value) == code


@pytest.mark.parametrize("value", [3, 8, 10, -1, True, "x", "", "٧", None, 7.0])
def test_basis_refuses_other_values_naming_the_field(value):
    with pytest.raises(Invalid) as e:
        incidence.basis(value, field="notification.basis")
    assert [err.field for err in e.value.errors] == ["notification.basis"]


def test_best_basis_refuses_an_unknown_code():
    with pytest.raises(Invalid):
        incidence.best_basis([7, 3])


@given(st.one_of(st.integers(), st.text(max_size=4)))
def test_basis_is_a_code_or_invalid(value):
    try:
        code = incidence.basis(value)
    except Invalid:
        return
    assert code in incidence.BASIS
