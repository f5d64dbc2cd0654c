"""Small-cell suppression of the sanatorium dashboard's counts (pure: no database).

Offer outcomes and no-shows describe what people did: a published count of 1 to 4 (the
only no-show of a profile in a region) could point at a person, so it is shown as
``"<5"``. Zero is shown: it counts nobody. The dashboard publishes every row's and every
column's total, and a lone ``"<5"`` in a line is that line's total minus the rest, so
other cells are withheld with it (``"x"``: withheld, not small), line by line until no
small cell can be worked out from a total and no withheld cell is exact. When no choice
protects a table, the caller withholds every count of it (``too_few``). The
row-and-column rule is a heuristic, not a proof against every combination of equations
(``analytics`` says what a reader can still bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = [
    "COMPLEMENT",
    "SMALL",
    "SUPPRESS_BELOW",
    "Shown",
    "protect_grid",
    "protect_table",
    "shown",
]

#: counts below this (and above zero) are not published
SUPPRESS_BELOW = 5
#: the sign of a small count
SMALL = "<5"
#: the sign of a count withheld so that no small count can be worked out
COMPLEMENT = "x"

#: a count as published: the number, or a sign in its place
Shown = int | Literal["<5", "x"]


def _small(n: int) -> bool:
    return 0 < n < SUPPRESS_BELOW


def _line_safe(hidden: Sequence[int]) -> bool:
    """Whether the hidden cells of one line (their sum known from the line's total) keep each
    small one anywhere in 1..4 and no withheld one exact (it could then be subtracted in the
    crossing line)."""
    if not hidden:
        return True
    small = sum(1 for v in hidden if _small(v))
    withheld = len(hidden) - small
    total = sum(hidden)
    if not small:
        return withheld >= 2
    upper = total - (small - 1) - SUPPRESS_BELOW * withheld
    lower_free = withheld > 0 or total - (SUPPRESS_BELOW - 1) * (small - 1) <= 1
    return upper >= SUPPRESS_BELOW - 1 and lower_free


def _extend(values: Sequence[int], hidden: set[int]) -> set[int] | None:
    """``hidden`` (indices into one line) grown by the smallest publishable cells until the
    line is safe; None when no cell is left to withhold."""
    out = set(hidden)
    rest = sorted((v, i) for i, v in enumerate(values) if i not in out and v >= SUPPRESS_BELOW)
    while not _line_safe([values[i] for i in out]):
        if not rest:
            return None
        out.add(rest.pop(0)[1])
    return out


def protect_grid(grid: Sequence[Sequence[int]]) -> set[tuple[int, int]] | None:
    """The cells (row, column) to withhold in a table whose row and column totals are
    published: the small ones and, line by line until nothing changes, complements so that
    no small cell can be worked out from a total. None: no choice protects them. Pure."""
    hidden = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if _small(v)}
    width = max((len(row) for row in grid), default=0)
    changed = True
    while changed:
        changed = False
        lines = [[(r, c) for c in range(len(row))] for r, row in enumerate(grid)]
        lines += [[(r, c) for r in range(len(grid))] for c in range(width)]
        for line in lines:
            values = [grid[r][c] for r, c in line]
            inside = {i for i, cell in enumerate(line) if cell in hidden}
            grown = _extend(values, inside)
            if grown is None:
                return None
            if grown != inside:
                hidden |= {line[i] for i in grown}
                changed = True
    return hidden


def shown(n: int, hidden: bool) -> Shown:
    if _small(n):
        return SMALL
    return COMPLEMENT if hidden else n


def protect_table(grid: list[list[int]]) -> tuple[set[tuple[int, int]], set[int], bool]:
    """(hidden body cells, hidden total-line cells, too few): the body against its row and
    column totals, then the column totals against the grand total."""
    body = protect_grid(grid)
    width = len(grid[0]) if grid else 0
    totals = [sum(row[c] for row in grid) for c in range(width)]
    line = _extend(totals, {c for c, v in enumerate(totals) if _small(v)})
    if body is None or line is None:
        everything = {(r, c) for r in range(len(grid)) for c in range(width)}
        return everything, set(range(width)), True
    return body, line, False
