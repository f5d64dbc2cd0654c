"""Small-cell suppression of the sick-leave figures (pure: no database).

The rule (counts of 1 to 4 shown as ``"<5"``, complementary suppression against the
published totals, ``"x"`` for a withheld cell) lives in ``core.suppression``, where the
screening indicators use it too; this module adds what is sick leave's own: a cell counts
certificates and their days, and the days of a small or withheld cell are withheld with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from salomat.core.suppression import (
    COMPLEMENT,
    SMALL,
    SUPPRESS_BELOW,
    hidden_cells,
    is_small,
)

__all__ = ["COMPLEMENT", "SMALL", "SUPPRESS_BELOW", "Count", "hidden_cells", "shown"]


@dataclass(frozen=True)
class Count:
    """What is counted in one cell: certificates and their days."""

    certificates: int
    days: int


def shown(c: Count, hidden: bool) -> tuple[int | str, int | str]:
    """The certificates and days as published: the numbers, or the signs in their place."""
    if is_small(c.certificates):
        return SMALL, COMPLEMENT
    if hidden:
        return COMPLEMENT, COMPLEMENT
    return c.certificates, c.days
