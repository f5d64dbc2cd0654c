"""The precision and recall arithmetic of bench/dedup.py (what the dedup figures mean)."""

from __future__ import annotations

import pytest
from bench.dedup import clusters, evaluate
from hypothesis import given, settings
from hypothesis import strategies as st

TRUTH = [
    (101, 1, "typo"),
    (102, 1, "transliteration"),  # a second duplicate of person 1
    (103, 2, "day_month_swap"),
    (104, 3, "typo"),
]


def test_a_pair_with_its_original_and_two_duplicates_of_one_original_are_true():
    ev = evaluate([(1, 101), (102, 101), (2, 103)], TRUTH)
    assert ev.found == 3
    assert ev.true_found == 3
    assert ev.precision == 1.0
    # recall counts (duplicate, original) pairs only: (101,1), (103,2) of four
    assert ev.injected == 4
    assert ev.injected_found == 2
    assert ev.recall == 0.5
    assert ev.by_kind == {"typo": (2, 1), "transliteration": (1, 0), "day_month_swap": (1, 1)}
    assert ev.missed == [(1, 102, "transliteration"), (3, 104, "typo")]


def test_strangers_and_duplicates_of_different_originals_are_false():
    ev = evaluate([(1, 2), (101, 103), (5, 6), (1, 101)], TRUTH)
    assert ev.false_found == 3
    assert ev.false_pairs == [(1, 2), (5, 6), (101, 103)]
    assert ev.precision == pytest.approx(0.25)
    assert ev.recall_by_kind()["typo"] == {"injected": 2, "found": 1, "recall": 0.5}


def test_pairs_are_unordered_and_counted_once():
    ev = evaluate([(101, 1), (1, 101), (1, 1)], TRUTH)
    assert ev.found == 1
    assert ev.injected_found == 1


def test_nothing_found_is_perfectly_precise_and_recalls_nothing():
    ev = evaluate([], TRUTH)
    assert ev.precision == 1.0
    assert ev.recall == 0.0


def test_a_duplicate_of_a_duplicate_joins_the_original_cluster():
    c = clusters([(200, 100, "typo"), (300, 200, "typo"), (400, 50, "typo")])
    assert c[300] == c[200] == c[100] == 100
    assert c[400] == c[50] == 50
    assert evaluate([(100, 300)], [(200, 100, "typo"), (300, 200, "typo")]).precision == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1000, 1100), st.integers(1, 50), st.sampled_from(["a", "b"])),
        unique_by=lambda t: t[0],
        max_size=30,
    ),
    st.lists(st.tuples(st.integers(1, 1100), st.integers(1, 1100)), max_size=60),
)
def test_the_counts_add_up(truth, found):
    ev = evaluate(found, truth)
    assert ev.true_found + ev.false_found == ev.found
    assert 0.0 <= ev.precision <= 1.0
    assert 0.0 <= ev.recall <= 1.0
    assert sum(n for n, _ in ev.by_kind.values()) == ev.injected
    assert sum(k for _, k in ev.by_kind.values()) == ev.injected_found
    assert len(ev.missed) == ev.injected - ev.injected_found
    # finding every injected pair recalls everything and stays precise
    everything = evaluate([(d, o) for d, o, _ in truth], truth)
    assert everything.recall == 1.0
    assert everything.precision == 1.0
