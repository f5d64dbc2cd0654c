"""Business ids of employers: KZ BIN (length and the IIN's check digit), UZ STIR (9 digits,
format only while its check rule is unverified)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.country import business_id as bid
from salomat.country.national_id import iin_check_digit
from tests.factories import business_id_for

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

FIRST = list(range(1, 12))
SECOND = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]


def _refusal(country: str, value: str, field: str = "business_id") -> str:
    with pytest.raises(Invalid) as caught:
        bid.validate_business_id(country, value, field=field)
    [error] = caught.value.errors
    assert error.field == field
    return error.english


def test_a_bin_with_its_check_digit_is_accepted_and_one_digit_off_is_refused():
    # 0406 (2004, June) 4 (resident legal entity) 0 (head office) 00001, check digit computed
    body = "04064000001"
    check = iin_check_digit([int(c) for c in body] + [0], FIRST, SECOND)
    assert check is not None
    assert bid.validate_business_id("KZ", body + str(check)) == body + str(check)
    wrong = body + str((check + 1) % 10)
    assert "check digit" in _refusal("KZ", wrong)


@pytest.mark.parametrize(("value", "ok"), [("1" * 8, False), ("1" * 9, True), ("1" * 10, False)])
def test_a_stir_has_exactly_nine_digits(value, ok):
    if ok:
        assert bid.validate_business_id("UZ", value) == value
    else:
        assert _refusal("UZ", value) == "a STIR has exactly 9 digits"


@pytest.mark.parametrize("length", [11, 13])
def test_a_bin_of_the_wrong_length_names_the_length(length):
    assert _refusal("KZ", "1" * length) == "a BIN has exactly 12 digits"


@pytest.mark.parametrize("value", ["12345678a", "１２３４５６７８９", "12345678.", ""])
def test_anything_but_ascii_digits_is_refused(value):
    assert "9 digits" in _refusal("UZ", value)


def test_the_refusal_names_the_field_it_was_asked_for():
    _refusal("UZ", "12", field="employer_business_id")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_twelve_digits_are_a_bin_exactly_when_the_check_digit_matches(value):
    digits = [int(c) for c in value]
    expected = iin_check_digit(digits, FIRST, SECOND)
    if expected is not None and expected == digits[-1]:
        assert bid.validate_business_id("KZ", value) == value
    else:
        _refusal("KZ", value)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["UZ", "KZ"]),
    st.integers(0, 10**8),
    st.lists(st.sampled_from([" ", "-", "  "]), max_size=3),
    st.data(),
)
def test_a_valid_id_typed_with_spaces_or_hyphens_normalises_to_its_digits(
    country, serial, separators, data
):
    value = business_id_for(country, serial)
    typed = value
    for sep in separators:
        at = data.draw(st.integers(1, len(typed) - 1))
        typed = typed[:at] + sep + typed[at:]
    assert bid.validate_business_id(country, typed) == value
    assert bid.validate_business_id(country, f"  {typed} ") == value
