"""Small counts in the screening aggregates (``core.suppression``, the sick-leave
analytics' rule): a count of 1 to 4 is "<5", and a second cell is withheld ("x") so that
the published total does not give it away; zero is shown. The reference that nothing is
given away is independent of the rule and of its own check (``pinned``, an integer
programme): a search through every filling-in of the withheld cells that the published
sums allow, in which each withheld small cell must take more than one value.
Boundaries 4 / 5 / 6. Who sees what: a facility's own staff see their own facility's
target group in full; districts and regions, and every indicator table, are masked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from salomat.core.security import Principal
from salomat.core.suppression import hidden_cells, is_small, pinned, protect_lines
from salomat.domains.screening import schemas, service
from salomat.domains.screening.service import indicators, target_groups
from salomat.domains.screening.service.coverage import _protected
from salomat.domains.screening.service.hearts import BPReading, Patient
from tests.domains.screening.test_indicators_sql import facility_in, insert_patients

pytestmark = pytest.mark.anyio

Key = Any


class _SearchTooLong(Exception):
    """The reference's search ran out of steps: the example is too large to decide (a
    property test rejects it; it never passes or fails on it)."""


def _values_taken(
    values: dict[Key, int],
    lines: list[tuple[list[Key], Key | None]],
    hidden: set[Key],
    free: frozenset[Key] = frozenset(),
) -> dict[Key, set[int]]:
    """Every value each withheld small cell takes in some filling-in of the withheld cells
    that a reader cannot rule out: a withheld small cell is 1..4, a withheld "x" cell 5 or
    more, and every published sum holds (a line whose whole is published: its parts add
    up to it; a withheld whole is one more unknown). A cell that takes one value only is
    worked out exactly.

    Written from that statement alone, by search rather than by optimisation: the
    unknowns' ranges are narrowed from each sum (the rest of a sum can be no less than
    the least of its terms, no more than the greatest), then one unknown is tried value
    by value (a wide range cut in halves) until every unknown has one value. An "x" cell
    is capped far above any count of the table (twice the greatest count, and more):
    a reader knows no cap, and the cap only has to let every filling-in within reach.
    ``free``: quantities never published, known only to be 0 or more (the gap of an
    inequality: a <= b is a + gap = b)."""
    hidden = set(hidden) | set(free)
    cells = sorted((k for k in hidden if k in values), key=repr)
    cap = 2 * max(values.values()) + 10
    budget = [50_000]
    sums: list[tuple[dict[Key, int], int]] = []  # sum(coef * cell) == rhs
    for parts, whole in lines:
        if whole is None:
            continue
        coef: dict[Key, int] = {}
        rhs = 0
        for k, sign in [*((p, 1) for p in parts), (whole, -1)]:
            if k in hidden:
                coef[k] = coef.get(k, 0) + sign
            else:
                rhs -= sign * values[k]
        coef = {k: c for k, c in coef.items() if c}
        if coef:
            sums.append((coef, rhs))
        else:
            assert rhs == 0, "a published sum that does not add up"

    touching: dict[Key, list[int]] = {k: [] for k in cells}
    for n, (coef, _) in enumerate(sums):
        for k in coef:
            touching[k].append(n)

    def narrow(box: dict[Key, tuple[int, int]], todo: set[int]) -> bool:
        """Narrow the ranges until no sum narrows them further; False: no filling-in.
        ``todo``: the sums to look at (again, each time a range in it narrows)."""
        while todo:
            coef, rhs = sums[todo.pop()]
            lows = {k: min(c * box[k][0], c * box[k][1]) for k, c in coef.items()}
            highs = {k: max(c * box[k][0], c * box[k][1]) for k, c in coef.items()}
            low, high = sum(lows.values()), sum(highs.values())
            for k, c in coef.items():
                # c * k == rhs - (the rest), the rest within [low - ..., high - ...]
                a = rhs - (high - highs[k])
                b = rhs - (low - lows[k])
                lo, hi = (-(-a // c), b // c) if c > 0 else (-(-b // c), a // c)
                lo, hi = max(lo, box[k][0]), min(hi, box[k][1])
                if lo > hi:
                    return False
                if (lo, hi) != box[k]:
                    box[k] = (lo, hi)
                    todo.update(touching[k])
        return True

    def solve(box: dict[Key, tuple[int, int]], todo: set[int]) -> dict[Key, int] | None:
        """One filling-in within the ranges, or None (``todo``: the sums to look at)."""
        budget[0] -= 1
        if budget[0] <= 0:
            raise _SearchTooLong
        box = dict(box)
        if not narrow(box, todo):
            return None
        open_ = [k for k in cells if box[k][0] < box[k][1]]
        if not open_:
            return {k: box[k][0] for k in cells}
        k = min(open_, key=lambda k: box[k][1] - box[k][0])
        lo, hi = box[k]
        if hi - lo < 8:
            tries = [(v, v) for v in range(lo, hi + 1)]
        else:
            mid = (lo + hi) // 2
            tries = [(lo, mid), (mid + 1, hi)]
        for r in tries:
            found = solve({**box, k: r}, set(touching[k]))
            if found is not None:
                return found
        return None

    start = {
        k: (0, cap) if k in free else (1, 4) if is_small(values[k]) else (5, cap) for k in cells
    }
    # what the sums alone say of every range, worked out once for all the questions
    assert narrow(start, set(range(len(sums)))), "the published sums have a filling-in"
    truth = solve({**start, **{k: (values[k], values[k]) for k in cells}}, set(range(len(sums))))
    assert truth == {k: values[k] for k in cells}, "the true counts are a filling-in"
    taken: dict[Key, set[int]] = {
        k: {values[k]} for k in cells if k not in free and is_small(values[k])
    }
    for k in taken:
        for v in range(1, 5):
            if v in taken[k]:
                continue
            found = solve({**start, k: (v, v)}, set(touching[k]))
            if found is not None:
                for c in taken:
                    taken[c].add(found[c])
    return taken


def _pinned(values, lines, hidden, free=frozenset()) -> set[Key]:  # type: ignore[no-untyped-def]
    taken = _values_taken(values, lines, hidden, free)
    return {k for k, seen in taken.items() if len(seen) == 1}


def _not_given_away(values, lines, hidden) -> None:  # type: ignore[no-untyped-def]
    assert {k for k, n in values.items() if is_small(n)} <= hidden
    for k in _pinned(values, lines, hidden):
        raise AssertionError(f"{k} = {values[k]} is worked out exactly from the published sums")


# ---- the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "hidden"), [(0, set()), (4, {0, 1}), (5, set()), (6, set())])
def test_the_threshold_4_5_6(n, hidden):
    # a unit of n beside units of 20 and 30, their total published
    assert hidden_cells([n, 20, 30]) == hidden


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.lists(
        st.lists(st.integers(0, 30) | st.integers(0, 6), min_size=2, max_size=5),
        min_size=1,
        max_size=3,
    ).filter(lambda cols: len({len(c) for c in cols}) == 1)
)
def test_no_small_cell_is_worked_out_from_a_column_total(columns):
    """Columns of units with their totals published: whatever ``protect_lines`` withholds,
    the reference cannot pin a small cell."""
    values: dict[Key, int] = {}
    lines = []
    for c, col in enumerate(columns):
        for i, n in enumerate(col):
            values[(i, c)] = n
        values[("T", c)] = sum(col)
        lines.append(([(i, c) for i in range(len(col))], ("T", c)))
    hidden = protect_lines(values, lines)
    try:
        _not_given_away(values, lines, hidden)
    except _SearchTooLong:
        reject()
    # zero counts nobody: never withheld
    assert not any(values[k] == 0 for k in hidden)


def test_coverage_withholds_a_second_district():
    hidden, total = _protected([("D1", 3, 1), ("D2", 40, 12), ("D3", 50, 20)], (93, 33))
    assert hidden == [{"eligible", "screened"}, {"eligible", "screened"}, set()]
    assert total == set()


# ---- the indicator table: a district where one facility has 3 patients ----------------------


def _controlled(n: int) -> list[Patient]:
    """n patients registered in January 2024, their June 2025 BP controlled."""
    return [
        Patient(f"C{i}", date(2024, 1, 10), bp=(BPReading(date(2025, 6, 12), 132, 84),))
        for i in range(n)
    ]


def _uncontrolled(n: int) -> list[Patient]:
    return [
        Patient(f"U{i}", date(2024, 1, 10), bp=(BPReading(date(2025, 6, 12), 150, 92),))
        for i in range(n)
    ]


def _analyst() -> Principal:
    return Principal(user_id=0, username="fixture", role="analyst", session_id="fixture")


@pytest.mark.parametrize(("n", "masked"), [(3, True), (4, True), (5, False), (6, False)])
async def test_a_facility_with_few_patients_in_a_district(db, make_place, make_person, n, masked):
    place = await make_place()
    small = await facility_in(db, place.settlement)
    big = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, small.id, _controlled(n), "hypertension")
    await insert_patients(
        db, make_person, big.id, _controlled(7) + _uncontrolled(6), "hypertension"
    )
    r = await indicators.programme_indicators(
        db, _analyst(), period="2025-06", area=place.district, today=date(2025, 7, 1)
    )
    rows = {row.code: row for row in r.rows}
    s, b = rows[small.code], rows[big.code]
    # the total is always published in full
    assert (r.total.controlled, r.total.uncontrolled, r.total.denominator) == (7 + n, 6, 13 + n)
    assert r.total.suppressed == []
    if not masked:
        assert (s.controlled, s.denominator, s.controlled_pct) == (n, n, 100.0)
        assert (b.controlled, b.denominator) == (7, 13)
        assert s.suppressed == b.suppressed == []
        return
    # the analyst sees "<5" for the small facility ...
    assert s.controlled is None
    assert s.controlled_pct is None
    assert {"controlled", "registered", "denominator", "controlled_pct"} <= set(s.small)
    # ... and the big facility's controlled is withheld with it ("x", not small), so
    # that the total minus the shown cells does not give it away
    assert b.controlled is None
    assert "controlled" in b.suppressed
    assert "controlled" not in b.small
    assert b.uncontrolled == 6  # what protects nothing stays shown
    assert s.uncontrolled == 0  # zero counts nobody
    # the reference: from every published sum (the column totals, the sums in each row)
    # no withheld small cell is worked out exactly
    unmasked = {
        small.code: {"controlled": n, "uncontrolled": 0},
        big.code: {"controlled": 7, "uncontrolled": 6},
    }
    table = [*r.rows, r.total]
    values: dict[Key, int] = {}
    for i, row in enumerate(table):
        c = unmasked.get(row.code, {"controlled": 7 + n, "uncontrolled": 6})
        ctl, unc = c["controlled"], c["uncontrolled"]
        full = {
            "registered": ctl + unc, "assigned": ctl + unc, "dead": 0, "new": 0, "ltfu": 0,
            "under_care": ctl + unc, "controlled": ctl, "uncontrolled": unc,
            "visited_no_bp": 0, "missed": 0, "denominator": ctl + unc,
            "denominator_with_ltfu": ctl + unc, "cohort": 0, "cohort_controlled": 0,
            "cohort_uncontrolled": 0, "cohort_no_visit": 0,
        }  # fmt: skip
        for k, v in full.items():
            shown = getattr(row, k)
            assert shown is None or shown == v, (row.code, k)
            values[(i, k)] = v
    t = len(table) - 1
    lines = [
        ([(i, k) for k in parts], (i, whole))
        for i in range(len(table))
        for parts, whole in indicators.ROW_LINES
    ]
    lines += [([(i, k) for i in range(t)], (t, k)) for k in {k for _, k in values}]
    hidden = {(i, k) for i, row in enumerate(table) for k in row.suppressed if (i, k) in values}
    _not_given_away(values, lines, hidden)


async def test_the_csv_carries_the_signs(db, make_place, make_person):
    place = await make_place()
    small = await facility_in(db, place.settlement)
    big = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, small.id, _controlled(3), "hypertension")
    await insert_patients(
        db, make_person, big.id, _controlled(7) + _uncontrolled(6), "hypertension"
    )
    r = await indicators.programme_indicators(
        db, _analyst(), period="2025-06", area=place.district, today=date(2025, 7, 1)
    )
    header, *lines = indicators.indicators_csv(r).text.strip().splitlines()
    cols = header.split(",")
    cells = {line.split(",")[1]: dict(zip(cols, line.split(","), strict=True)) for line in lines}
    assert cells[small.code]["controlled"] == "<5"
    assert cells[big.code]["controlled"] == "x"
    assert cells[big.code]["uncontrolled"] == "6"
    assert cells[place.district]["controlled"] == "10"


# ---- target groups: the facility's own staff, and the aggregate ------------------------------


@pytest.mark.parametrize(("n", "masked"), [(3, True), (4, True), (5, False), (6, False)])
async def test_target_group_of_a_district_is_masked_the_own_facility_is_not(scr, kz, n, masked):
    for _ in range(n):
        await scr.make_patient(date(1985, 1, 1))  # a woman of the cervical target group
    day = date(2025, 6, 10)
    [own] = await service.target_group_counts(scr.db, scr.principal(), day, programme="cervical")
    assert (own.eligible, own.due, own.suppressed) == (n, n, [])
    [area] = await service.target_group_counts(
        scr.db, _analyst(), day, area=scr.place.district, programme="cervical"
    )
    if masked:
        assert (area.eligible, area.due) == (None, None)
        assert set(area.small) == set(area.suppressed) == {"eligible", "due"}
        assert area.screened == 0  # zero counts nobody
    else:
        assert (area.eligible, area.due, area.suppressed) == (n, n, [])


@pytest.mark.parametrize(
    ("eligible", "due", "screened", "small", "withheld"),
    [
        # eligible less due would give the 3 screened: both withheld beside them
        (40, 37, 3, {"screened"}, {"eligible", "due", "screened"}),
        (40, 36, 4, {"screened"}, {"eligible", "due", "screened"}),
        (40, 35, 5, set(), set()),
        (40, 40, 0, set(), set()),  # zero counts nobody: nothing withheld
        (4, 4, 0, {"eligible", "due"}, {"eligible", "due"}),
    ],
)
def test_a_small_count_withholds_the_rest_of_its_row(eligible, due, screened, small, withheld):
    row = schemas.TargetGroupCount(
        programme="cervical",
        name="Cervical",
        on=date(2025, 6, 10),
        area="X",
        eligible=eligible,
        due=due,
        screened=screened,
    )
    out = target_groups.masked_target_group(row)
    assert set(out.small) == small
    assert set(out.suppressed) == withheld
    for k, n in {"eligible": eligible, "due": due, "screened": screened}.items():
        assert getattr(out, k) == (None if k in withheld else n)


async def test_the_target_group_route_marks_small_counts(client, login, scr, make_user, kz):
    for _ in range(3):
        await scr.make_patient(date(1985, 1, 1))
    analyst = await login(await make_user("analyst"))
    r = await client.get(
        "/api/v1/screening/target-groups",
        params={"area": scr.place.district, "programme": "cervical", "on": "2025-06-10"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    [row] = r.json()
    assert row["eligible"] is None
    assert "eligible" in row["small"]
    doctor = await login(scr.doctor_account)
    r = await client.get(
        "/api/v1/screening/target-groups",
        params={"programme": "cervical", "on": "2025-06-10"},
        headers=doctor,
    )
    assert r.json()[0]["eligible"] == 3


_ATOMS = ("dead", "new", "ltfu", "controlled", "uncontrolled", "visited_no_bp", "missed")


def _indicator_counts(a: dict[str, int]) -> dict[str, int]:
    """A row's counts from its patients' outcomes (the definitions, written again). The
    sugar denominator: the denominator's patients and those of the lost with a sugar in
    twelve months (``sugar_lost``, at most the lost); the controlled by sugar are some of
    them."""
    den = a["controlled"] + a["uncontrolled"] + a["visited_no_bp"] + a["missed"]
    assigned = den + a["new"] + a["ltfu"]
    sugar = den + min(a["sugar_lost"], a["ltfu"])
    out = {k: n for k, n in a.items() if not k.startswith("sugar")}
    return {
        **out,
        "registered": assigned + a["dead"],
        "assigned": assigned,
        "under_care": assigned - a["ltfu"],
        "denominator": den,
        "denominator_with_ltfu": den + a["ltfu"],
        "cohort": a["cohort_controlled"] + a["cohort_uncontrolled"] + a["cohort_no_visit"],
        "sugar_denominator": sugar,
        "sugar_controlled_dhis2": min(a["sugar_dhis2"], sugar),
        "sugar_controlled_simple": min(a["sugar_simple"], sugar),
    }


#: what a reader knows of a row besides its sums: a <= b (the gap b - a is never published)
_AT_MOST = (
    ("denominator", "sugar_denominator"),
    ("sugar_denominator", "denominator_with_ltfu"),
    ("sugar_controlled_dhis2", "sugar_denominator"),
    ("sugar_controlled_simple", "sugar_denominator"),
)


_ROW = st.fixed_dictionaries(
    {
        k: st.integers(0, 12)
        for k in (
            *_ATOMS,
            "cohort_controlled",
            "cohort_uncontrolled",
            "cohort_no_visit",
            "sugar_lost",
            "sugar_dhis2",
            "sugar_simple",
        )
    }
)


def _indicator_table_pinned(rows: list[dict[str, int]]) -> tuple[set[Key], set[Key], list]:
    """The withheld cells of ``rows`` and their total, and the withheld small cells the
    reference works out from the published sums and inequalities; and the table."""
    total = {k: sum(r[k] for r in rows) for k in rows[0]}
    hidden_sets = indicators.withheld_cells(rows, total)
    table = [*rows, total]
    values = {(i, k): n for i, r in enumerate(table) for k, n in r.items()}
    t = len(rows)
    lines: list[tuple[list[Key], Key | None]] = [
        ([(i, k) for k in parts], (i, whole))
        for i in range(t + 1)
        for parts, whole in indicators.ROW_LINES
    ]
    lines += [([(i, k) for i in range(t)], (t, k)) for k in total]
    free = set()
    for i in range(t + 1):
        for low, high in _AT_MOST:
            gap = (i, f"gap {low} {high}")
            values[gap] = values[(i, high)] - values[(i, low)]
            free.add(gap)
            lines.append(([(i, low), gap], (i, high)))
    hidden = {(i, k) for i, h in enumerate(hidden_sets) for k in h}
    assert {k for k, n in values.items() if k not in free and is_small(n)} <= hidden
    return hidden, _pinned(values, lines, hidden, frozenset(free)), table


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(_ROW, min_size=1, max_size=4))
def test_no_small_cell_of_an_indicator_table_is_worked_out(units):
    """Random facilities: no withheld small count is pinned by the columns' totals, the
    sums inside the rows (``ROW_LINES``), what the sugar counts are bounded by, or any
    combination of them, except where its unit's counts are all withheld already (the
    signs' own limit)."""
    rows = [_indicator_counts(u) for u in units]
    try:
        hidden, pinned, table = _indicator_table_pinned(rows)
    except _SearchTooLong:
        reject()
    for i, k in pinned:
        # the documented limit (docs/screening.md): a unit all of whose counts are
        # withheld can still be pinned by the signs alone (three "<5" parts of a "<5"
        # sum of 3: each is 1); short of that, every pinned cell's unit is withheld
        assert all((i, c) in hidden for c in table[i] if table[i][c]), (i, k)


def test_the_sugar_denominator_does_not_give_away_a_withheld_denominator():
    """The reviewer's table: 1 controlled and 5 uncontrolled ("<5", "x", denominator "x")
    beside a sugar denominator of 6 would make the denominator 6 and the controlled 1."""
    zero = dict.fromkeys((*_ATOMS, "cohort_controlled", "cohort_uncontrolled"), 0)
    zero |= {"cohort_no_visit": 0, "sugar_lost": 0, "sugar_dhis2": 0, "sugar_simple": 0}
    small = _indicator_counts({**zero, "controlled": 1, "uncontrolled": 5})
    big = _indicator_counts(
        {
            **zero,
            **{"controlled": 20, "uncontrolled": 30, "visited_no_bp": 5, "missed": 10},
            **{"ltfu": 8, "new": 7, "dead": 6, "sugar_lost": 0},
            **{"sugar_dhis2": 30, "sugar_simple": 40},
        }
    )
    assert small["sugar_denominator"] == 6
    hidden, pinned, _ = _indicator_table_pinned([small, big])
    assert (0, "denominator") in hidden
    assert (0, "sugar_denominator") in hidden
    assert pinned == set()


# ---- the reference itself, and that it catches a rule that withholds too little ------------


@pytest.mark.parametrize(
    ("a", "b", "pinned"),
    [
        (1, 1, {"a", "b"}),  # "<5" + "<5" = 2: each is 1
        (1, 3, set()),  # "<5" + "<5" = 4: 1 + 3, 2 + 2, 3 + 1
        (1, 5, {"a"}),  # "<5" + "x" = 6 (the docs' [1, 5]): x >= 5 leaves 1 only
        (2, 5, set()),  # = 7: 1 + 6 or 2 + 5
        (4, 20, set()),  # = 24: "<5" anywhere from 1 to 4
    ],
)
def test_the_reference_on_one_sum(a, b, pinned):
    """Vectors worked out by hand: a published total of two withheld cells."""
    values = {"a": a, "b": b, "T": a + b}
    assert _pinned(values, [(["a", "b"], "T")], {"a", "b"}) == pinned


def test_the_reference_combines_sums():
    """No single sum pins ``a`` (each has a second withheld cell), their combination does:
    a + x = 8 and x + y = 12 with y = 9 shown ... as a withheld total of a row of two."""
    values = {"a": 3, "x": 5, "y": 7, "R": 8, "C": 12}
    lines = [(["a", "x"], "R"), (["x", "y"], "C")]
    # y shown: x = 5 from the second sum, then a = 3 from the first
    assert _pinned(values, lines, {"a", "x"}) == {"a"}
    # y withheld too: x from 5 to 7, a from 1 to 3
    assert _pinned(values, lines, {"a", "x", "y"}) == set()


def _columns_safe(columns: list[list[int]]) -> None:
    values: dict[Key, int] = {}
    lines = []
    for c, col in enumerate(columns):
        for i, n in enumerate(col):
            values[(i, c)] = n
        values[("T", c)] = sum(col)
        lines.append(([(i, c) for i in range(len(col))], ("T", c)))
    _not_given_away(values, lines, protect_lines(values, lines))


# two or more small cells at the ends of their range (1 + 1, 4 + 4): their shown total
# gives them away unless a complement is withheld with them
_LEAKY = [[[1, 1, 20]], [[4, 4, 5, 40]], [[2, 1, 30], [1, 1, 9]], [[1, 1, 1, 9], [6, 7, 8, 9]]]


@pytest.mark.parametrize("columns", _LEAKY)
def test_the_reference_catches_a_rule_without_complements(columns, monkeypatch):
    """With the complements taken away (each sum withholds its small cells only; the
    step that adds one beside a lone withheld part does not fire, as each column has
    two), the reference finds a small cell that the published totals give away; with
    the rule as it is, none."""
    _columns_safe(columns)
    import salomat.core.suppression as suppression

    def small_only(counts, total_shown=True, hidden=()):  # type: ignore[no-untyped-def]
        return {i for i, n in enumerate(counts) if is_small(n)} | set(hidden)

    monkeypatch.setattr(suppression, "hidden_cells", small_only)
    with pytest.raises(AssertionError, match="worked out exactly"):
        _columns_safe(columns)


# ---- pinned: the same answer as the reference, with few solves ---------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(st.lists(st.integers(0, 7), min_size=3, max_size=3), min_size=2, max_size=5))
def test_pinned_agrees_with_the_reference(columns):
    """``pinned`` (integer programme with its shortcuts) finds exactly the cells the
    search finds, on tables protected line by line only (where cells stay pinned)."""
    values: dict[Key, int] = {}
    for i, row in enumerate(columns):
        values |= {(i, j): n for j, n in enumerate(row)} | {(i, "T"): sum(row)}
    t = len(columns)
    values |= {(t, j): sum(r[j] for r in columns) for j in range(3)}
    values[(t, "T")] = sum(map(sum, columns))
    lines: list[tuple[list[Key], Key | None]] = [
        ([(i, j) for j in range(3)], (i, "T")) for i in range(t + 1)
    ]
    lines += [([(i, j) for i in range(t)], (t, j)) for j in [0, 1, 2, "T"]]
    hidden = protect_lines(values, lines)
    try:
        expected = _pinned(values, lines, hidden)
    except _SearchTooLong:
        reject()
    assert set(pinned(values, lines, hidden)) == expected


def test_pinned_needs_few_solves(monkeypatch):
    """Forty small facilities: far fewer solves than withheld small cells (it was two
    integer programmes for each, 23 s for sixty facilities: docs/screening.md)."""
    import random

    import scipy.optimize

    solves = [0]
    for name in ("milp", "linprog"):
        real = getattr(scipy.optimize, name)

        def counted(*a, _real=real, **k):  # type: ignore[no-untyped-def]
            solves[0] += 1
            return _real(*a, **k)

        monkeypatch.setattr(scipy.optimize, name, counted)
    rnd = random.Random(40)
    keys = (*_ATOMS, "cohort_controlled", "cohort_uncontrolled", "cohort_no_visit")
    keys += ("sugar_lost", "sugar_dhis2", "sugar_simple")
    rows = [_indicator_counts({k: rnd.randint(0, 6) for k in keys}) for _ in range(40)]
    total = {k: sum(r[k] for r in rows) for k in rows[0]}
    hidden = indicators.withheld_cells(rows, total)
    small = sum(1 for r, h in zip([*rows, total], hidden, strict=True) for k in h if is_small(r[k]))
    assert small > 100
    assert solves[0] < small / 2
