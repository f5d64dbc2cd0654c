"""Small-cell suppression of published counts (pure: no database). The rule the
sick-leave analytics set (moved here from ``domains.sickleave.service.suppression`` so
that screening, a sibling domain that may not import it, uses the same rule; sick leave
imports it from here).

A published count of 1 to 4 could point at a person (the only injury certificate of a
district in March, the only patient of a facility with uncontrolled blood pressure), so
it is shown as ``"<5"``. Zero is shown: it counts nobody.

A table whose total is published gives the suppressed cells away when the shown cells
can be subtracted from it: one ``"<5"`` beside a total is that total minus the rest. So
cells are suppressed as a set (complementary suppression): the smallest other non-empty
cells are withheld too (``"x"``: withheld, not small) until the hidden cells' sum leaves
each ``"<5"`` cell anywhere from 1 to 4. Knowing that a withheld ``"x"`` cell holds at
least 5, and each ``"<5"`` cell 1 to 4, the sum ``S`` of ``p`` small and ``k`` withheld
cells bounds a small cell by ``S - (p - 1) - 5k`` above and, with no withheld cell, by
``S - 4(p - 1)`` below; the set is safe when these bounds are at least 4 and at most 1.
A table that has no cell left to withhold and is still unsafe (a small total: ``[1, 5]``
beside a total of 6) cannot be protected: ``hidden_cells`` answers None and the caller
withholds more.

``protect_lines`` applies the same rule to a table of many such sums at once (each
column against its total, parts of a row against the row's own figure), line by line
until no line changes: a heuristic, which misses sums that only a combination of lines
gives. ``protect_table`` checks its result against every combination (``pinned``: an
integer programme bounds each withheld small cell from all the published sums) and
withholds a unit's whole row while one of its small cells can still be worked out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "COMPLEMENT",
    "SMALL",
    "SUPPRESS_BELOW",
    "hidden_cells",
    "is_small",
    "mark",
    "pinned",
    "protect_lines",
    "protect_table",
]

#: counts below this (and above zero) are not published
SUPPRESS_BELOW = 5
#: the sign of a small count
SMALL = "<5"
#: the sign of a count withheld so that no small count can be recovered
COMPLEMENT = "x"

K = TypeVar("K", bound=Hashable)


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


def hidden_cells(
    counts: Sequence[int], total_shown: bool = True, hidden: Iterable[int] = ()
) -> set[int] | None:
    """The cells (by index) to withhold: the small ones and their complements; None when
    no choice of complements protects the small cells from the total.

    ``total_shown``: the table's total is published (else nothing can be subtracted
    from it, and only the small cells are hidden). ``hidden``: cells already withheld
    for another reason (they count as complements).
    """
    small = [i for i, n in enumerate(counts) if is_small(n)]
    out = set(small) | set(hidden)
    if not small or not total_shown:
        return out
    rest = sorted((n, i) for i, n in enumerate(counts) if n >= SUPPRESS_BELOW and i not in out)
    while not _safe([counts[i] for i in out], len(small)):
        if not rest:
            return None
        out.add(rest.pop(0)[1])
    return out


def protect_lines(
    values: Mapping[K, int],
    lines: Iterable[tuple[Sequence[K], K | None]],
    hidden: Iterable[K] = (),
) -> set[K]:
    """The cells of a table to withhold: every small one, and complements so that none
    can be worked out from a line's sum.

    ``lines``: (parts, whole), the parts adding up to the cell ``whole`` (None: a sum
    that is not published). Line by line until nothing changes: a line whose whole is
    shown is protected by ``hidden_cells``; one that cannot be is withheld whole (its
    ``whole`` too, "x"); a withheld whole beside parts all shown would be their sum, so
    its largest part is withheld with it. Zero cells are never withheld (they count
    nobody and a withheld zero would say so). ``hidden``: cells withheld already."""
    lines = [(list(parts), whole) for parts, whole in lines]
    hidden = {k for k, n in values.items() if is_small(n)} | set(hidden)
    changed = True
    while changed:
        changed = False
        for parts, whole in lines:
            add: set[K] = set()
            if whole is None or whole not in hidden:
                counts = [values[k] for k in parts]
                inside = [i for i, k in enumerate(parts) if k in hidden]
                got = hidden_cells(counts, whole is not None, inside)
                if got is None:
                    add = {k for k in parts if values[k]}
                    if whole is not None:
                        add.add(whole)
                else:
                    add = {parts[i] for i in got}
                    # one withheld part beside a shown sum is that sum minus the rest
                    if whole is not None and len(add) == 1:
                        extra = sorted(
                            (values[k], i)
                            for i, k in enumerate(parts)
                            if k not in add and values[k] > 0
                        )
                        add |= {parts[extra[0][1]]} if extra else {whole}
            elif not any(k in hidden for k in parts):
                nonzero = sorted((values[k], i) for i, k in enumerate(parts) if values[k] > 0)
                if nonzero:
                    add = {parts[nonzero[-1][1]]}
            if add - hidden:
                hidden |= add
                changed = True
    return hidden


def mark(n: int, hidden: bool) -> int | str:
    """The count as published: the number, or its sign (``"<5"`` small, ``"x"`` withheld)."""
    if is_small(n):
        return SMALL
    return COMPLEMENT if hidden else n


def pinned(
    values: Mapping[K, int], lines: Iterable[tuple[Sequence[K], K | None]], hidden: set[K]
) -> list[K]:
    """The withheld small cells that a reader can still work out exactly: the least and
    the greatest value each can take (an integer programme, scipy's ``milp``: every
    published sum holds, a withheld small cell is 1 to 4, a withheld "x" at least 5) are
    the same. Line-by-line protection misses sums that only a combination of lines gives
    (assigned = new + the denominator with the lost kept); this finds them.

    Exact shortcuts before any integer programme (same answer, far fewer solves): every
    filling-in found on the way (a whole-number optimum of the linear relaxation, checked
    in integers, or an integer programme's solution) frees each small cell it gives
    another value; and a direction in which the relaxation (whose range holds the integer
    one) cannot move the cell off its own value needs no integer programme."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    cells = [k for k in values if k in hidden]
    if not any(is_small(values[k]) for k in cells):
        return []
    index = {k: i for i, k in enumerate(cells)}
    rows: list[Any] = []
    rhs: list[float] = []
    for parts, whole in lines:
        if whole is None:
            continue
        coef = np.zeros(len(cells))
        known = 0.0
        for k, sign in [*((p, 1) for p in parts), (whole, -1)]:
            if k in index:
                coef[index[k]] += sign
            else:
                known += sign * values[k]
        if coef.any():
            rows.append(coef)
            rhs.append(-known)
    top = float(sum(values.values()) + 1)
    lo = np.array([1.0 if is_small(values[k]) else float(SUPPRESS_BELOW) for k in cells])
    hi = np.array([SUPPRESS_BELOW - 1.0 if is_small(values[k]) else top for k in cells])
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(rhs) if rows else None
    constraints = [LinearConstraint(a_eq, b_eq, b_eq)] if rows else []
    whole_numbers = np.ones(len(cells))
    truth = np.array([float(values[k]) for k in cells])
    small = [k for k in cells if is_small(values[k])]
    # the small cells no filling-in found so far gives another value
    still = set(small)

    def found(x: Any) -> None:
        """A filling-in (checked exactly, in whole numbers): its small cells that differ
        from their own value are not worked out."""
        if x is None:
            return
        xi = np.rint(x)
        if np.abs(x - xi).max() > 1e-6 or (xi < lo).any() or (xi > hi).any():
            return
        if rows and not np.array_equal(a_eq @ xi, b_eq):
            return
        for k in list(still):
            if xi[index[k]] != truth[index[k]]:
                still.discard(k)

    bounds = list(zip(lo, hi, strict=True))
    # a few relaxations pushing every undecided small cell off its value at once (up
    # where it is low, down where high, then the other way): each whole-number optimum
    # frees many cells for one solve
    for flip in (1.0, -1.0, 1.0, -1.0):
        before = len(still)
        c = np.zeros(len(cells))
        for k in still:
            c[index[k]] = flip * (-1.0 if values[k] <= 2 else 1.0)
        lp = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
        if lp.status == 0:
            found(lp.x)
        if not still or (flip < 0 and len(still) == before):
            break

    out = []
    for k in small:
        # the true values are a solution: the cell is pinned when neither its greatest
        # nor its least value differs from its own
        for sign in (-1.0, 1.0):
            if k not in still:
                break
            c = np.zeros(len(cells))
            c[index[k]] = sign
            lp = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
            if lp.status == 0:
                reach = sign * lp.fun  # the relaxation's least (sign 1) or greatest value
                if (sign < 0 and math.floor(reach + 1e-6) <= values[k]) or (
                    sign > 0 and math.ceil(reach - 1e-6) >= values[k]
                ):
                    continue  # no integer beyond the cell's own value that way
                found(lp.x)
                if k not in still:
                    break
            r = milp(c, constraints=constraints, integrality=whole_numbers, bounds=Bounds(lo, hi))
            if not r.success:
                still.discard(k)  # as before: an unsolved programme does not pin
                break
            found(r.x)
            if round(sign * r.fun) != values[k]:
                still.discard(k)
        if k in still:
            out.append(k)
    return out


def protect_table(
    values: Mapping[K, int],
    lines: Iterable[tuple[Sequence[K], K | None]],
    unit_of: Callable[[K], Hashable],
) -> set[K]:
    """``protect_lines``, then checked with ``pinned``: while a small cell can still be
    worked out, every count of its unit (``unit_of``: a table's row) is withheld and the
    lines protected again. Ends with no small cell worked out, or with the units of those
    still pinned withheld whole (the signs' own limit: see the loop)."""
    lines = [(list(parts), whole) for parts, whole in lines]
    hidden = protect_lines(values, lines)
    while True:
        found = pinned(values, lines, hidden)
        if not found:
            return hidden
        units = {unit_of(k) for k in found}
        more = {k for k, n in values.items() if n > 0 and unit_of(k) in units} - hidden
        if not more:
            # the units are withheld whole already: what still pins them is the signs
            # themselves ("<5" is 1 to 4: three "<5" parts of a "<5" sum of 3 are each 1),
            # which withholding other units' figures does not change
            return hidden
        hidden = protect_lines(values, lines, hidden | more)
