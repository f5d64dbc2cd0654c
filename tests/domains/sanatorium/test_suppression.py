"""The dashboard's outcome tables: no small count can be worked out from the published
row totals, column totals and grand total, by any combination of them. The reference is
written from the rule alone: every filling of the withheld cells (a "<5" 1 to 4, an "x"
at least 5) that keeps every published sum is enumerated, and each small cell must be
able to take more than one value."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.sanatorium.service.suppression import protect_table


def _choices(n: int, most: int) -> range:
    """What a withheld cell may hold as a reader sees it: a "<5" 1 to 4, an "x" at least
    5; never more than its row's published total ``most``."""
    return range(1, min(4, most) + 1) if 0 < n < 5 else range(5, most + 1)


def _row_fillings(row: list[int], withheld: list[int]):
    """Every filling of a row's withheld cells that keeps its published total (the last
    withheld cell is what the total leaves: nothing to enumerate for it)."""
    if not withheld:
        yield {}
        return
    hidden = sum(row[c] for c in withheld)  # the row total less its shown cells
    *free, last = withheld
    for guess in itertools.product(*(_choices(row[c], hidden) for c in free)):
        rest = hidden - sum(guess)
        if rest in _choices(row[last], hidden):
            yield {**dict(zip(free, guess, strict=True)), last: rest}


def _fillings(grid: list[list[int]], body: set[tuple[int, int]], line: set[int]):
    """Every filling of the withheld body cells that a reader cannot tell from the truth:
    each row's filling keeps its published total (rows first, so the enumeration is
    bounded by the row totals, not by the table's), then the columns are checked."""
    width = len(grid[0])
    col_total = [sum(row[c] for row in grid) for c in range(width)]
    per_row = [
        list(_row_fillings(row, sorted(c for rr, c in body if rr == r)))
        for r, row in enumerate(grid)
    ]
    for rows in itertools.product(*per_row):
        g = [list(row) for row in grid]
        for r, filled in enumerate(rows):
            for c, v in filled.items():
                g[r][c] = v
        cols = [sum(row[c] for row in g) for c in range(width)]
        if any(cols[c] != col_total[c] for c in range(width) if c not in line):
            continue  # a published column total
        hidden_cols = [cols[c] for c in line]
        if any(0 < col_total[c] < 5 and not 0 < cols[c] < 5 for c in line):
            continue  # a "<5" column total is 1 to 4
        if any(col_total[c] >= 5 and cols[c] < 5 for c in line):
            continue  # an "x" column total is at least 5
        if sum(hidden_cols) != sum(col_total[c] for c in line):
            continue  # the grand total is published
        yield {cell: g[cell[0]][cell[1]] for cell in sorted(body)}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 2).flatmap(
        lambda rows: st.integers(2, 3).flatmap(
            lambda cols: st.lists(
                st.lists(st.sampled_from([0, 1, 2, 4, 5, 6, 9]), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_no_small_count_is_exact_from_the_published_totals(grid: list[list[int]]) -> None:
    body, line, too_few = protect_table(grid)
    small = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if 0 < v < 5}
    assert small <= body
    if too_few:
        return
    seen: dict[tuple[int, int], set[int]] = {cell: set() for cell in small}
    for filling in _fillings(grid, body, line):
        for cell in small:
            seen[cell].add(filling[cell])
    assert all(len(values) > 1 for values in seen.values()), (grid, body, line, seen)


def test_a_small_count_exact_only_from_a_row_and_a_column_together() -> None:
    # line by line the 9 and 4 of row 0 and the 9 and 5 of column 0 are withheld, each
    # line safe alone; yet 9 + 4 = 13 (row 0) and 9 + 5 = 14 (column 0, the 5 at least 5)
    # leave the 9 at most 9 and so the 4 exactly 4: too few to protect
    assert protect_table([[9, 4, 0], [5, 9, 9]])[2] is True
    body, line, too_few = protect_table([[6, 9, 5, 0], [8, 2, 0, 0]])
    assert (body, line, too_few) == ({(0, 0), (0, 1), (1, 0), (1, 1)}, set(), False)


def test_the_reference_sees_through_a_lone_withheld_pair() -> None:
    """The reference itself: withholding only the two small cells of a row leaves each
    exact from the row total and the column totals (the enumeration finds one filling)."""
    grid = [[2, 9, 9], [9, 9, 3]]
    fillings = list(_fillings(grid, {(0, 0), (1, 2)}, set()))
    assert fillings == [{(0, 0): 2, (1, 2): 3}]
    # the grids that once took minutes (every cell withheld) are enumerated at once
    everything = {(r, c) for r in range(2) for c in range(3)}
    assert {(0, 0): 1, (0, 1): 9, (0, 2): 9, (1, 0): 9, (1, 1): 9, (1, 2): 1} in list(
        _fillings([[1, 9, 9], [9, 9, 1]], everything, {0, 1, 2})
    )
