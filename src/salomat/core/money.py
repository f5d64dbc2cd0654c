"""Amounts of money typed by a person, read with the number symbols of the page's language.

A typed amount is read by the CLDR symbols of the page's locale (through Babel)
or refused; it is never guessed. "1,500" is one thousand five hundred in
English (comma groups, point is decimal) and is refused in Russian, Uzbek and
Kazakh, where the comma is the decimal separator and three decimals are more
than the currency has; "1,50" there is 1.50 and "1 500" is 1500. Where the
locale groups with a no-break space (ru, uz_Latn, kk: U+00A0 in CLDR), a
plain space or a narrow no-break space (U+202F, which other software copies)
is read as that group separator, since nobody types a no-break space.
Grouping must be in threes as the locale writes it (``parse_decimal`` with
``strict=True``); signs, exponents, other digits than 0-9, NaN and infinity
never reach ``Decimal``.

The refusal carries an English message id and its parameters; the adapter
translates it into the page's language (``MoneyInputError.message``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberFormatError, format_decimal, parse_decimal

from salomat.core.i18n import N_

EMPTY = N_("enter the amount, like %(example)s")
MALFORMED = N_("not an amount: type it like %(example)s, with “%(decimal)s” before the decimals")
GROUPING = N_("thousands are grouped wrongly: type it like %(example)s")
PLACES = N_("at most %(places)s digits after “%(decimal)s”: type it like %(example)s")
NEGATIVE = N_("cannot be negative")
TOO_LARGE = N_("at most %(maximum)s")

#: what a person or a copy from another page puts where the locale groups with a space
SPACES = " \u00a0\u202f"
#: the amounts this reads have at most this many integer digits (10^15: beyond any price)
MAX_INTEGER_DIGITS = 15
_MINUS = "-\u2212\u2012\u2013"


class MoneyInputError(ValueError):
    """Why a typed amount was refused: an English message id and its parameters."""

    def __init__(self, msgid: str, **params: str) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params

    def message(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (the page's)."""
        text = gettext(self.msgid)
        return text % self.params if self.params else text


@dataclass(frozen=True)
class MoneyFormat:
    """How the locale writes an amount: its decimal and group separators and an example."""

    decimal: str
    group: str
    places: int
    locale: Locale

    @property
    def groups_with_space(self) -> bool:
        return self.group in SPACES

    def format(self, value: Decimal) -> str:
        """``value`` as the locale writes it, grouped, with ``places`` decimals."""
        pattern = "#,##0." + "0" * self.places if self.places else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale, decimal_quantization=True)

    @property
    def example(self) -> str:
        """1500 as the locale writes it: "1,500.00" (en), "1 500,00" (ru, uz, kk)."""
        return self.format(Decimal(1500))


@lru_cache(maxsize=64)
def money_format(locale: Locale | str, places: int = 2) -> MoneyFormat:
    """The separators of ``locale`` (CLDR, Latin digits), for amounts with ``places`` decimals."""
    loc = Locale.parse(locale)
    symbols = loc.number_symbols["latn"]
    return MoneyFormat(symbols["decimal"], symbols["group"], places, loc)


def parse_money(
    text: str,
    locale: Locale | str,
    *,
    places: int = 2,
    maximum: Decimal | None = None,
) -> Decimal:
    """The amount ``text`` in major units (so'm, tenge) as the locale reads it.

    Raises ``MoneyInputError`` for an empty, malformed, ambiguous, negative or
    too large amount, or one with more than ``places`` decimals; nothing else.
    """
    fmt = money_format(locale, places)
    hint = {"example": fmt.example, "decimal": fmt.decimal}
    s = text.strip(SPACES + "\t\r\n")
    if not s:
        raise MoneyInputError(EMPTY, example=fmt.example)
    if s[0] in _MINUS:
        raise MoneyInputError(NEGATIVE)
    if fmt.groups_with_space:
        s = re.sub(f"[{SPACES}]", fmt.group, s)
    shape = re.fullmatch(
        f"([0-9][0-9{re.escape(fmt.group)}]*)(?:{re.escape(fmt.decimal)}([0-9]+))?", s
    )
    if shape is None:
        raise MoneyInputError(MALFORMED, **hint)
    whole, fraction = shape.group(1), shape.group(2) or ""
    if len(whole.replace(fmt.group, "").lstrip("0")) > MAX_INTEGER_DIGITS:
        raise _too_large(fmt, maximum)
    if len(fraction) > places:
        raise MoneyInputError(PLACES, places=str(places), **hint)
    try:
        value = parse_decimal(s, fmt.locale, strict=True)
    except NumberFormatError:
        raise MoneyInputError(GROUPING, example=fmt.example) from None
    if maximum is not None and value > maximum:
        raise _too_large(fmt, maximum)
    return value


def _too_large(fmt: MoneyFormat, maximum: Decimal | None) -> MoneyInputError:
    limit = maximum if maximum is not None else Decimal(10) ** MAX_INTEGER_DIGITS
    return MoneyInputError(TOO_LARGE, maximum=fmt.format(limit))
