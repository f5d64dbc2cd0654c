"""Business identification numbers of organisations: Kazakhstan BIN, Uzbekistan STIR.

The pack of the deployed country says which scheme applies (``business_id.scheme``):
``bin`` checks the length and the check digit, which the BIN computes exactly as the IIN
(``national_id.iin_check_digit``, with the pack's weights); ``digits`` checks the format
only (UZ: the STIR's check rule is UNVERIFIED, see UZ/pack.yaml).
"""

from __future__ import annotations

import re
from typing import Any

from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.country import pack
from salomat.country.national_id import iin_check_digit

#: separators people type inside a number (copied from a letterhead: "123 456 789 012")
_SEPARATORS = re.compile(r"[\s-]+")


def rules(country: str) -> dict[str, Any]:
    return dict(pack.load(country)["business_id"])


def name(country: str) -> str:
    """BIN or STIR: how forms and messages call the number."""
    return str(rules(country)["name"])


def normalise(value: str) -> str:
    """The number without spaces or hyphens (what is stored and looked up)."""
    return _SEPARATORS.sub("", value)


def validate_business_id(country: str, value: str, *, field: str = "business_id") -> str:
    """``value`` normalised; raises ``Invalid`` naming ``field`` when it cannot be a business
    id of ``country``'s scheme."""
    r = rules(country)
    number = normalise(value)
    length = int(r["length"])
    params = {"name": r["name"], "length": length}
    if not (len(number) == length and number.isascii() and number.isdigit()):
        raise Invalid.fields(
            [FieldError(field, N_("a %(name)s has exactly %(length)s digits"), params)]
        )
    if not re.fullmatch(r["pattern"], number):
        raise Invalid.fields([FieldError(field, N_("this is not a valid %(name)s"), params)])
    scheme = r["scheme"]
    if scheme == "bin":
        digits = [int(c) for c in number]
        expected = iin_check_digit(digits, r["check_weights"], r["check_weights_second"])
        if expected is None:
            raise Invalid.fields(
                [
                    FieldError(
                        field,
                        N_("this %(name)s can never be issued (both check-digit passes give 10)"),
                        params,
                    )
                ]
            )
        if expected != digits[-1]:
            raise Invalid.fields(
                [
                    FieldError(
                        field,
                        N_("the check digit (the last digit) of this %(name)s is wrong: mistyped?"),
                        params,
                    )
                ]
            )
    elif scheme != "digits":
        raise pack.PackError(f"unknown business id scheme {scheme!r} in the {country} pack")
    return number


def check_digit(country: str, body: str) -> int | None:
    """The last digit that completes ``body`` (all digits but the last) under the country's
    scheme, or None when no digit does (any digit does under a format-only scheme: 0 is
    given); for tests and demo data."""
    r = rules(country)
    if r["scheme"] != "bin":
        return 0
    digits = [int(c) for c in body] + [0]
    return iin_check_digit(digits, r["check_weights"], r["check_weights_second"])
