"""National identifiers: Kazakhstan IIN and Uzbekistan PINFL.

The rules are in ../shared/domain/national-ids.md (sources there: Government
Decree No. 406 of 22.05.2007 for the IIN; the ICAO 9303 7-3-1 scheme for the
PINFL). The pack of the deployed country says which scheme applies
(``national_id.scheme``) and whether a wrong check digit is an error or only a
warning (``national_id.check_digit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from salomat.country import pack

Sex = Literal["male", "female"]

#: digit -> (first year of the century, sex); the same code for the IIN's
#: 7th digit and the PINFL's 1st (national-ids.md)
_CENTURY_SEX: dict[str, tuple[int, Sex]] = {
    "1": (1800, "male"),
    "2": (1800, "female"),
    "3": (1900, "male"),
    "4": (1900, "female"),
    "5": (2000, "male"),
    "6": (2000, "female"),
}


@dataclass(frozen=True)
class NationalId:
    """What a valid number encodes; ``warnings`` holds what the pack lets through."""

    value: str
    scheme: str
    birth_date: date
    sex: Sex
    warnings: tuple[str, ...] = field(default=())


class NationalIdError(ValueError):
    """The number cannot be an id of this scheme; the message says why, for a person."""


def _digits(value: str, length: int, name: str) -> list[int]:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise NationalIdError(f"an {name} has exactly {length} digits")
    return [int(c) for c in value]


def _birth(century_digit: str, yy: int, mm: int, dd: int, name: str) -> tuple[date, Sex]:
    if century_digit not in _CENTURY_SEX:
        raise NationalIdError(
            f"the century-and-sex digit of an {name} is 1 to 6, not {century_digit}"
        )
    century, sex = _CENTURY_SEX[century_digit]
    try:
        born = date(century + yy, mm, dd)
    except ValueError:
        raise NationalIdError(
            f"the birth date encoded in the {name} ({dd:02d}.{mm:02d}.{century + yy}) "
            "does not exist"
        ) from None
    return born, sex


def iin_check_digit(digits: list[int], weights: list[int], second: list[int]) -> int | None:
    """The 12th digit, or None when both passes give 10 (never issued)."""
    r = sum(d * w for d, w in zip(digits[:11], weights, strict=True)) % 11
    if r == 10:
        r = sum(d * w for d, w in zip(digits[:11], second, strict=True)) % 11
    return None if r == 10 else r


def pinfl_check_digit(digits: list[int], weights: list[int]) -> int:
    return sum(d * weights[i % len(weights)] for i, d in enumerate(digits[:13])) % 10


def parse(value: str, country: str) -> NationalId:
    """Validate ``value`` under the country's scheme; raise ``NationalIdError`` if invalid."""
    rules = pack.load(country)["national_id"]
    scheme = rules["scheme"]
    strict = rules.get("check_digit", "error") == "error"
    value = value.strip()
    warnings: list[str] = []
    if scheme == "iin":
        d = _digits(value, 12, "IIN")
        born, sex = _birth(value[6], d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5], "IIN")
        expected = iin_check_digit(d, rules["check_weights"], rules["check_weights_second"])
        if expected is None:
            problem = "this IIN can never be issued (both check-digit passes give 10)"
        elif expected != d[11]:
            problem = "the check digit (the last digit) of this IIN is wrong: mistyped?"
        else:
            problem = ""
    elif scheme == "pinfl":
        d = _digits(value, 14, "PINFL")
        born, sex = _birth(value[0], d[5] * 10 + d[6], d[3] * 10 + d[4], d[1] * 10 + d[2], "PINFL")
        expected = pinfl_check_digit(d, rules["check_weights"])
        problem = (
            ""
            if expected == d[13]
            else "the check digit (the last digit) of this PINFL is wrong: mistyped?"
        )
    else:
        raise pack.PackError(f"unknown national id scheme {scheme!r} in the {country} pack")
    if problem:
        if strict:
            raise NationalIdError(problem)
        warnings.append(problem)
    return NationalId(value, scheme, born, sex, tuple(warnings))


def name(country: str) -> str:
    """IIN or PINFL: how forms and messages call the number."""
    return str(pack.load(country)["national_id"]["name"])


def system_uri(country: str) -> str:
    """The FHIR ``Identifier.system`` of the country's national id."""
    return str(pack.load(country)["national_id"]["system"])
