"""Small-cell suppression of the sick-leave figures (pure: no database).

A published count of 1 to 4 certificates could point at a person (the only
injury certificate of a district in March), so it is shown as ``"<5"`` and
the days of that cell are withheld with it (``"x"``). Zero is shown: it counts
nobody.

A table whose total is published gives the suppressed cells away when the
shown cells can be subtracted from it: one ``"<5"`` beside a total is that
total minus the rest. So cells are suppressed as a set (complementary
suppression): the smallest other non-empty cells are withheld too (``"x"``:
withheld, not small) until the hidden cells' sum leaves each ``"<5"`` cell
anywhere from 1 to 4. Knowing that a withheld ``"x"`` cell holds at least 5,
and each ``"<5"`` cell 1 to 4, the sum ``S`` of ``p`` small and ``k``
withheld cells bounds a small cell by ``S - (p - 1) - 5k`` above and, with no
withheld cell, by ``S - 4(p - 1)`` below; the set is safe when these bounds
are at least 4 and at most 1. A table that has no cell left to withhold and
is still unsafe (a small total: ``[1, 5]`` beside a total of 6) cannot be
protected: ``hidden_cells`` answers None and the caller withholds more (the
analytics withhold every count of the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["COMPLEMENT", "SMALL", "SUPPRESS_BELOW", "Count", "hidden_cells", "shown"]

#: counts below this (and above zero) are not published
SUPPRESS_BELOW = 5
#: the sign of a small count
SMALL = "<5"
#: the sign of a count or a number of days withheld so that no small count can be recovered
COMPLEMENT = "x"


@dataclass(frozen=True)
class Count:
    """What is counted in one cell: certificates and their days."""

    certificates: int
    days: int


def is_small(n: int) -> bool:
    return 0 < n < SUPPRESS_BELOW


def _safe(hidden: Sequence[int], small: int) -> bool:
    """Whether a hidden set with ``small`` small cells keeps each of them within 1..4."""
    if not small:
        return True
    withheld = len(hidden) - small
    total = sum(hidden)
    upper = total - (small - 1) - SUPPRESS_BELOW * withheld
    lower_free = withheld > 0 or total - (SUPPRESS_BELOW - 1) * (small - 1) <= 1
    return upper >= SUPPRESS_BELOW - 1 and lower_free


def hidden_cells(counts: Sequence[int], total_shown: bool = True) -> set[int] | None:
    """The cells (by index) to withhold: the small ones and their complements; None when
    no choice of complements protects the small cells from the total.

    ``total_shown``: the table's total is published (else nothing can be subtracted
    from it, and only the small cells are hidden).
    """
    small = [i for i, n in enumerate(counts) if is_small(n)]
    hidden = set(small)
    if not small or not total_shown:
        return hidden
    rest = sorted((n, i) for i, n in enumerate(counts) if n >= SUPPRESS_BELOW)
    while not _safe([counts[i] for i in hidden], len(small)):
        if not rest:
            return None
        hidden.add(rest.pop(0)[1])
    return hidden


def shown(c: Count, hidden: bool) -> tuple[int | str, int | str]:
    """The certificates and days as published: the numbers, or the signs in their place."""
    if is_small(c.certificates):
        return SMALL, COMPLEMENT
    if hidden:
        return COMPLEMENT, COMPLEMENT
    return c.certificates, c.days
