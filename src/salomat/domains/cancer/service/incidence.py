"""Date of incidence and basis of diagnosis.

Date of incidence: the ENCR recommendation (1997; Tyczynski et al., "Standards and
guidelines for cancer registration in Europe", IARC Technical Publication 40, 2003)
ranks the dates a registry may learn of a tumour; the date of incidence is the first
date of the highest-ranked kind present, even when a lower-ranked date is earlier.
ENCR's later refinement (2022) is not applied: we do not hold its exact wording.

The numbering of the two dates of death follows this project's domain notes (5 autopsy,
6 death certificate only); both are the date of death, so which ranks first never
changes the date, only the level stored beside it.

Basis of diagnosis: the IARC/IACR codes (Cancer Registration: Principles and Methods,
IARC Sci. Publ. 95, 1991; IACR/IARC basis of diagnosis recommendations 2004); the most
valid basis of all the reports is the tumour's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from salomat.core.errors import N_, FieldError, Invalid

__all__ = [
    "BASIS",
    "BASIS_RANK",
    "DATE_LEVELS",
    "MICROSCOPIC",
    "basis",
    "best_basis",
    "incidence",
]

DATE_LEVELS: dict[int, str] = {
    1: N_("first histological or cytological confirmation (not at autopsy)"),
    2: N_("admission to hospital for the cancer"),
    3: N_("first outpatient consultation for the cancer"),
    4: N_("other date of diagnosis"),
    5: N_("date of death (found at autopsy)"),
    6: N_("date of death (death certificate only)"),
}

BASIS: dict[int, str] = {
    0: N_("death certificate only"),
    1: N_("clinical"),
    2: N_("clinical investigation"),
    4: N_("specific tumour markers"),
    5: N_("cytology"),
    6: N_("histology of a metastasis"),
    7: N_("histology of the primary tumour"),
    9: N_("unknown"),
}
#: most valid first: histology of the primary, of a metastasis, cytology, tumour
#: markers, clinical investigation, clinical, unknown, death certificate only
BASIS_RANK: tuple[int, ...] = (7, 6, 5, 4, 2, 1, 9, 0)
#: microscopically verified (the % MV quality indicator)
MICROSCOPIC = frozenset({5, 6, 7})


def incidence(dates: Iterable[tuple[int, date]]) -> tuple[date, int]:
    """The date of incidence and its level from ``(level, date)`` pairs: the earliest date
    of the best (lowest-numbered) level present."""
    pairs = list(dates)
    bad = [level for level, _ in pairs if level not in DATE_LEVELS]
    if bad or not pairs:
        raise Invalid.fields(
            [
                FieldError(
                    "date_level",
                    N_("a date of incidence needs a date of a known kind (levels 1-6)"),
                )
            ]
        )
    level = min(level for level, _ in pairs)
    return min(d for lv, d in pairs if lv == level), level


def basis(value: int | str, field: str = "basis") -> int:
    """A basis of diagnosis code (0, 1, 2, 4, 5, 6, 7 or 9), from an int or its digit."""
    code: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        code = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        code = int(value.strip())
    if code not in BASIS:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(value)s is not a basis of diagnosis code (0, 1, 2, 4, 5, 6, 7, 9)"),
                    {"value": str(value)[:20]},
                )
            ]
        )
    return code


def best_basis(bases: Iterable[int]) -> int:
    """The most valid basis among a tumour's reports (``BASIS_RANK``); 9 (unknown) when
    there is none. A code outside the list is refused, as ``basis`` refuses it."""
    codes = {basis(b) for b in bases}
    return next((b for b in BASIS_RANK if b in codes), 9)
