"""Typed amounts read by the page's locale or refused (``core.money``).

The reference is CLDR's number symbols for each locale, written out here from
CLDR ``common/main/<locale>.xml``, ``numbers/symbols[@numberSystem="latn"]``:
en decimal "." group ","; ru, uz (Latin) and kk decimal "," group U+00A0
NO-BREAK SPACE; and CLDR's pattern ``#,##0.###`` (groups of three) for all four.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.money import (
    EMPTY,
    GROUPING,
    MALFORMED,
    NEGATIVE,
    PLACES,
    TOO_LARGE,
    MoneyInputError,
    money_format,
    parse_money,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

NBSP = "\u00a0"
NNBSP = "\u202f"
#: locale -> (decimal separator, group separator), from CLDR
CLDR = {
    "en": (".", ","),
    "ru": (",", NBSP),
    "uz_Latn": (",", NBSP),
    "kk": (",", NBSP),
}
SPACE_GROUPED = ["ru", "uz_Latn", "kk"]
LOCALES = list(CLDR)
D = Decimal


def refused(text: str, locale: str, **kw: object) -> str:
    with pytest.raises(MoneyInputError) as e:
        parse_money(text, locale, **kw)  # type: ignore[arg-type]
    return e.value.msgid


@pytest.mark.parametrize("locale", LOCALES)
def test_the_symbols_are_cldrs(locale):
    decimal, group = CLDR[locale]
    fmt = money_format(locale)
    assert (fmt.decimal, fmt.group) == (decimal, group)
    assert fmt.example == f"1{group}500{decimal}00"


# ---- the table: locale x input -> amount (None: refused) ---------------------------------

TABLE = [
    # the headline: a comma groups in English and is the decimal separator elsewhere
    ("en", "1,500", D("1500")),
    ("ru", "1,500", None),  # three decimals: neither 1.5 nor 1500
    ("uz_Latn", "1,500", None),
    ("kk", "1,500", None),
    ("ru", "1,50", D("1.50")),
    ("uz_Latn", "1,50", D("1.50")),
    ("kk", "1,5", D("1.5")),
    ("en", "1,50", None),  # a comma in English groups in threes
    ("en", "1,5", None),
    ("en", "1.50", D("1.50")),
    ("ru", "1.50", None),  # a point is no symbol of Russian numbers
    ("kk", "1.500", None),
    ("en", "1.500", None),  # three decimals
    # spaces: ru/uz/kk group with U+00A0, and a plain or narrow space is read as it
    ("ru", "1 500", D("1500")),
    ("ru", f"1{NBSP}500", D("1500")),
    ("uz_Latn", f"1{NNBSP}500", D("1500")),
    ("kk", "1 500,00", D("1500.00")),
    ("uz_Latn", "12 345 678,9", D("12345678.9")),
    ("en", "1 500", None),  # English groups with a comma
    ("en", f"1{NBSP}500", None),
    ("en", "12,345,678.9", D("12345678.9")),
    # grouped wrongly or mixed
    ("en", "1,50,0", None),
    ("en", "1.500,5", None),
    ("ru", "1.500,5", None),
    ("ru", "1,500.5", None),
    ("ru", "15 00", None),
    ("ru", "1  500", None),
    ("kk", "1 5000", None),
    ("en", "1,5000", None),
    ("en", ",500", None),
    ("ru", " 500", D("500")),  # the outer space is only trimmed
    # what ``Decimal`` would take but a price is not
    ("en", "1e3", None),
    ("en", "NaN", None),
    ("ru", "inf", None),
    ("en", "Infinity", None),
    ("en", "+5", None),
    ("en", "1_000", None),
    ("en", "\u0661\u0662\u0663", None),  # Arabic-Indic digits
    ("en", "0x10", None),
    ("ru", "5 so'm", None),
    ("en", ".5", None),
    ("en", "5.", None),
    ("ru", ",5", None),
    ("ru", "5,", None),
    ("en", "0", D("0")),
    ("ru", "007", D("7")),
]


@pytest.mark.parametrize(("locale", "text", "expected"), TABLE)
def test_the_table(locale, text, expected):
    if expected is None:
        refused(text, locale)
    else:
        got = parse_money(text, locale)
        assert got == expected
        assert got.as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.parametrize("locale", LOCALES)
def test_each_locale_reads_its_own_symbols(locale):
    d, g = CLDR[locale]
    assert parse_money(f"1{g}234{g}567{d}89", locale) == D("1234567.89")
    assert parse_money(f"350{d}5", locale) == D("350.5")
    assert parse_money("350", locale) == D("350")


# ---- the reasons, named so the form can say what to fix ---------------------------------


@pytest.mark.parametrize(
    ("locale", "text", "msgid"),
    [
        ("en", "", EMPTY),
        ("ru", "   ", EMPTY),
        ("ru", "-5", NEGATIVE),
        ("en", "\u22125", NEGATIVE),  # U+2212 MINUS SIGN
        ("en", "-0.01", NEGATIVE),
        ("ru", "1,500", PLACES),
        ("en", "1.500", PLACES),
        ("en", "1,50,0", GROUPING),
        ("ru", "15 00", GROUPING),
        ("ru", "1.5", MALFORMED),
        ("en", "1.500,5", MALFORMED),
        ("en", "NaN", MALFORMED),
    ],
)
def test_each_refusal_says_why(locale, text, msgid):
    assert refused(text, locale) == msgid


def test_the_reason_shows_the_locales_example_and_decimal_separator():
    with pytest.raises(MoneyInputError) as e:
        parse_money("1,500", "ru")
    assert e.value.params == {"places": "2", "example": f"1{NBSP}500,00", "decimal": ","}
    catalog = {PLACES: "не больше %(places)s цифр после «%(decimal)s»: например %(example)s"}
    assert e.value.message(lambda m: catalog.get(m, m)) == (
        f"не больше 2 цифр после «,»: например 1{NBSP}500,00"
    )
    with pytest.raises(MoneyInputError) as e:
        parse_money("1.5", "en", maximum=D("1"))
    assert e.value.message(lambda m: m) == "at most 1.00"


# ---- boundaries: one below, at, one above --------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_decimal_places_boundary(locale):
    d, _ = CLDR[locale]
    assert parse_money(f"0{d}1", locale) == D("0.1")
    assert parse_money(f"0{d}01", locale) == D("0.01")
    assert refused(f"0{d}001", locale) == PLACES
    assert refused(f"0{d}010", locale) == PLACES  # a typed third decimal, even a zero
    assert parse_money(f"0{d}001", locale, places=3) == D("0.001")
    assert refused(f"1{d}5", locale, places=0) == PLACES


@pytest.mark.parametrize("locale", LOCALES)
def test_maximum_boundary(locale):
    d, g = CLDR[locale]
    top = D("10000000")
    assert parse_money(f"9{g}999{g}999{d}99", locale, maximum=top) == D("9999999.99")
    assert parse_money(f"10{g}000{g}000{d}00", locale, maximum=top) == top
    assert refused(f"10{g}000{g}000{d}01", locale, maximum=top) == TOO_LARGE
    assert refused("10000001", locale, maximum=top) == TOO_LARGE


@pytest.mark.parametrize("locale", LOCALES)
def test_absurdly_large_is_refused_without_a_maximum(locale):
    assert parse_money("9" * 15, locale) == D("9" * 15)
    assert refused("1" + "0" * 15, locale) == TOO_LARGE
    assert refused("9" * 5000, locale) == TOO_LARGE
    # leading zeros are not magnitude
    assert parse_money("0" * 40 + "12", locale) == D("12")


@pytest.mark.parametrize("locale", LOCALES)
def test_grouping_boundary(locale):
    _, g = CLDR[locale]
    assert parse_money(f"1{g}000", locale) == D("1000")
    assert parse_money("999", locale) == D("999")
    assert refused(f"1{g}00", locale) == GROUPING  # a group of two
    assert refused(f"1{g}0000", locale) == GROUPING  # a group of four
    assert refused(f"1{g}000{g}5", locale) == GROUPING  # a last group of one
    assert refused(f"0{g}100", locale) == GROUPING


@pytest.mark.parametrize("locale", LOCALES)
def test_zero_is_an_amount_and_minus_zero_is_refused(locale):
    d, _ = CLDR[locale]
    assert parse_money("0", locale) == 0
    assert parse_money(f"0{d}00", locale) == 0
    assert refused(f"-0{d}01", locale) == NEGATIVE


# ---- properties ----------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10**14)
locales = st.sampled_from(LOCALES)


@settings(deadline=None)
@given(cents=cents, locale=locales)
def test_what_babel_writes_the_parser_reads_back(cents, locale):
    value = D(cents).scaleb(-2)
    for pattern in (None, "#,##0.00"):
        written = format_decimal(value, format=pattern, locale=locale)
        assert parse_money(written, locale) == value


@settings(deadline=None)
@given(cents=cents, locale=st.sampled_from(SPACE_GROUPED), space=st.sampled_from(" \u202f"))
def test_a_plain_or_narrow_space_stands_for_the_no_break_space(cents, locale, space):
    value = D(cents).scaleb(-2)
    written = format_decimal(value, format="#,##0.00", locale=locale).replace(NBSP, space)
    assert parse_money(written, locale) == value


@settings(deadline=None)
@given(whole=st.integers(min_value=0, max_value=10**9), three=st.integers(0, 999))
def test_three_digits_after_a_comma_are_never_read_in_russian_uzbek_or_kazakh(whole, three):
    for locale in SPACE_GROUPED:
        assert refused(f"{whole},{three:03d}", locale) == PLACES


JUNKY = st.text(alphabet="0123456789 ,.\u00a0\u202f-+eE_\u2212\u0661", max_size=24)


def _check_junk(text: str, locale: str) -> None:
    """Refused with a reason, or read with the point exactly where the locale's decimal is."""
    try:
        value = parse_money(text, locale, maximum=D("10000000"))
    except MoneyInputError as e:
        reason = e.msgid
    else:
        reason = None
    if reason is not None:
        assert reason in (EMPTY, MALFORMED, GROUPING, PLACES, NEGATIVE, TOO_LARGE)
        return
    decimal, _ = CLDR[locale]
    digits = "".join(c for c in text if c in "0123456789")
    fraction = text.strip().partition(decimal)[2]
    assert len(fraction) <= 2
    assert value.scaleb(len(fraction)) == int(digits)
    assert 0 <= value <= D("10000000")


@settings(deadline=None, max_examples=300)
@given(text=JUNKY, locale=locales)
def test_junk_is_refused_with_a_reason_or_read_exactly(text, locale):
    _check_junk(text, locale)


@settings(deadline=None)
@given(text=st.text(max_size=40), locale=locales)
def test_any_text_is_refused_with_a_reason_or_read_exactly(text, locale):
    _check_junk(text, locale)
