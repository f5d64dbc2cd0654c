"""Small-cell suppression of the sanatorium dashboard's counts (pure: no database).

Offer outcomes and no-shows describe what people did: a published count of 1 to 4 (the
only no-show of a profile in a region) could point at a person, so it is shown as
``"<5"``. Zero is shown: it counts nobody. The dashboard publishes every row's and every
column's total, and a lone ``"<5"`` in a line is that line's total minus the rest, so
other cells are withheld with it (``"x"``: withheld, not small), line by line until no
small cell can be worked out from a total and no withheld cell is exact (one ``"x"``
alone in a line is its total minus the rest, so a second is withheld with it). When no
choice protects a table, the caller withholds every count of it (``too_few``).
``protect_grid`` (rows and columns only, line by line) is a heuristic that misses sums
only a combination of lines gives; ``protect_table``, which the dashboard uses, checks
its answer against every combination (``core.suppression.pinned``). Differencing two
answers is beyond both (``analytics`` says what a reader can still bound).

The rule and its arithmetic are the platform's (``core.suppression``, shared with sick
leave and screening): ``protect_grid`` and ``protect_table`` state the dashboard's table as
lines (parts against their published total) for ``protect_lines`` and ``protect_table``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from salomat.core.suppression import (
    COMPLEMENT,
    SMALL,
    SUPPRESS_BELOW,
    mark,
    pinned,
    protect_lines,
)
from salomat.core.suppression import protect_table as core_protect_table

__all__ = [
    "COMPLEMENT",
    "SMALL",
    "SUPPRESS_BELOW",
    "Shown",
    "protect_grid",
    "protect_table",
    "shown",
]

#: a count as published: the number, or a sign in its place
Shown = int | Literal["<5", "x"]

Cell = tuple[int, int]


def protect_grid(grid: Sequence[Sequence[int]]) -> set[Cell] | None:
    """The cells (row, column) to withhold in a table whose row and column totals are
    published: the small ones and, line by line until nothing changes, complements so that
    no small cell can be worked out from a total. None: no choice protects them. Pure.

    The totals are cells of their own (``("row", r)``, ``("column", c)``) for
    ``protect_lines``; the dashboard always publishes them, so a table in which
    ``protect_lines`` would withhold one (a line no complement protects, or a lone
    withheld cell with nothing left to withhold beside it) is not protected: None."""
    width = max((len(row) for row in grid), default=0)
    values: dict[Cell | tuple[str, int], int] = {
        (r, c): v for r, row in enumerate(grid) for c, v in enumerate(row)
    }
    lines: list[tuple[list[Cell | tuple[str, int]], Cell | tuple[str, int]]] = []
    for r, row in enumerate(grid):
        values[("row", r)] = sum(row)
        lines.append(([(r, c) for c in range(len(row))], ("row", r)))
    for c in range(width):
        parts: list[Cell | tuple[str, int]] = [(r, c) for r in range(len(grid))]
        values[("column", c)] = sum(grid[r][c] for r in range(len(grid)))
        lines.append((parts, ("column", c)))
    hidden = protect_lines(values, lines)
    if any(isinstance(k[0], str) for k in hidden):
        return None
    return {(r, c) for r, c in hidden if isinstance(r, int) and isinstance(c, int)}


def shown(n: int, hidden: bool) -> Shown:
    return mark(n, hidden)


def protect_table(grid: list[list[int]]) -> tuple[set[Cell], set[int], bool]:
    """(hidden body cells, hidden total-line cells, too few): the body against its row and
    column totals and the column totals against the grand total, as one table
    (``core.suppression.protect_table``: line by line, then checked against every
    combination of the published sums, a row withheld whole while one of its small cells
    can still be worked out: ``[[9, 4], [5, 9]]`` line by line withholds all four, yet
    the 9 + 4 of row 0 and the 9 + 5 of column 0, the 5 at least 5, leave the 4 exact).
    Too few: a row's or the grand total would have to be withheld (the dashboard
    publishes them), or a small cell is still exact."""
    width = len(grid[0]) if grid else 0
    Key = tuple[int, int] | tuple[str, int]
    values: dict[Key, int] = {(r, c): v for r, row in enumerate(grid) for c, v in enumerate(row)}
    lines: list[tuple[list[Key], Key]] = []
    for r, row in enumerate(grid):
        values[("row", r)] = sum(row)
        lines.append(([(r, c) for c in range(width)], ("row", r)))
    for c in range(width):
        values[("column", c)] = sum(row[c] for row in grid)
        lines.append(([(r, c) for r in range(len(grid))], ("column", c)))
    values[("all", 0)] = sum(values[("column", c)] for c in range(width))
    lines.append(([("column", c) for c in range(width)], ("all", 0)))

    def unit_of(k: Key) -> object:
        return k[0] if isinstance(k[0], int) else ("total line" if k[0] == "column" else k)

    hidden = core_protect_table(values, lines, unit_of)
    published = [k for k in hidden if k[0] in ("row", "all")]
    if published or pinned(values, lines, hidden):
        everything = {(r, c) for r in range(len(grid)) for c in range(width)}
        return everything, set(range(width)), True
    body = {(r, c) for r, c in hidden if isinstance(r, int) and isinstance(c, int)}
    return body, {c for k, c in hidden if k == "column"}, False
