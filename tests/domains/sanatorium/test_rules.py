"""The queue's pure rules against the domain note's vectors (../shared/domain/sanatorium.md),
each written from the note, not from the code: order, waiting range, capacity, entitlement;
and the pack's ICD-10 tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.sanatorium.service.rules import (
    Category,
    code_matches,
    entitled_from,
    queue_order_key,
    sanatorium_rules,
    wait_range,
    yearly_capacity,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db


def test_ordering_vector_gives_the_notes_positions():
    # tier 1 best; ties by application time, then sequence number
    entries = {
        "B": (1, datetime(2025, 2, 1, tzinfo=UTC), 1005),
        "C": (2, datetime(2025, 1, 5, 8, 0, tzinfo=UTC), 1001),
        "D": (2, datetime(2025, 1, 5, 8, 0, tzinfo=UTC), 1002),
        "E": (3, datetime(2024, 12, 20, tzinfo=UTC), 1003),
        "A": (3, datetime(2025, 1, 10, tzinfo=UTC), 1000),
    }
    ordered = sorted(entries, key=lambda k: queue_order_key(*entries[k]))
    positions = {name: i + 1 for i, name in enumerate(ordered)}
    assert positions == {"B": 1, "C": 2, "D": 3, "E": 4, "A": 5}


def test_waiting_vector_gives_the_notes_range():
    w = wait_range(37, [10, 12, 14])
    # 37/12 months × 30.4375 = 93.8 d; 37/14 × 30.4375 = 80.4 d; 37/10 × 30.4375 = 112.6 d
    assert round(w.expected_days, 1) == 93.8
    assert round(w.shortest_days, 1) == 80.4
    assert round(w.longest_days, 1) == 112.6


def test_national_naive_wait_and_implied_stay():
    # 352,000 queued for 51,660 places a year: 6.81 years; 1,722 beds: 12.17-day stays
    assert round(352_000 / 51_660, 2) == 6.81
    assert round(1_722 * 365 / 51_660, 2) == 12.17


def test_a_month_with_no_release_leaves_the_longest_wait_open():
    w = wait_range(5, [0, 3, 6])
    assert w.longest_days is None
    assert w.shortest_days == pytest.approx(5 / 6 * 30.4375)
    assert wait_range(5, [0, 0, 0]).expected_days is None
    assert wait_range(5, []).expected_days is None


@pytest.mark.parametrize(
    ("beds", "course", "per_year"),
    [(120, 18, 2_400), (120, 14, 3_120), (1, 365, 1), (1, 366, 0), (10, 12, 300)],
)
def test_yearly_capacity(beds, course, per_year):
    # 120 × floor(365 / 18) = 120 × 20; 120 × floor(365 / 14) = 120 × 26
    assert yearly_capacity(beds, course) == per_year


DISABILITY_II = Category("disability_1_2", tier=2, every_years=2, direct=False, names={})


def test_entitlement_vector():
    # last stay ended 20.09.2023, every 2 years: entitled from 20.09.2025
    assert entitled_from(DISABILITY_II, date(2023, 9, 20)) == date(2025, 9, 20)
    assert entitled_from(DISABILITY_II, None) is None


def test_entitlement_from_29_february():
    yearly = Category("x", tier=1, every_years=1, direct=False, names={})
    assert entitled_from(yearly, date(2024, 2, 29)) == date(2025, 2, 28)


@pytest.mark.parametrize(
    ("code", "spec", "hit"),
    [
        ("I19.9", "I20-I25", False),
        ("I20.0", "I20-I25", True),
        ("I25.9", "I20-I25", True),
        ("I26.0", "I20-I25", False),
        ("K58.9", "K58", True),
        ("K57.9", "K58", False),
        ("K59.0", "K58", False),
    ],
)
def test_code_ranges_one_below_at_and_above(code, spec, hit):
    assert code_matches(code, spec) is hit


CATEGORY = st.from_regex(r"[A-Z][0-9]{2}", fullmatch=True)


@given(CATEGORY, CATEGORY, CATEGORY, st.sampled_from(["", ".0", ".9", ".81"]))
def test_a_code_is_in_a_range_exactly_when_its_category_is_between_the_ends(c, lo, hi, sub):
    low, high = sorted([lo, hi])
    assert code_matches(c + sub, f"{low}-{high}") is (low <= c <= high)


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_packs_load_and_map_indications_to_profiles(country):
    rules = sanatorium_rules(country)
    assert rules.indicated_profiles("I21.9", child=False) == ["cardiology"]
    assert rules.indicated_profiles("M17.0", child=True) == ["musculoskeletal", "paediatric"]
    assert rules.indicated_profiles("J11.1", child=False) == []
    # active tuberculosis refuses a cardiology referral, not a tuberculosis one
    assert rules.contraindicated("A15.0", "cardiology").action == "refuse"
    assert rules.contraindicated("A15.0", "tuberculosis") is None
    assert rules.contraindicated("I50.0", "cardiology").action == "warn"
    assert rules.contraindicated("I21.9", "cardiology") is None
    assert all(c.tier >= 0 and c.every_years >= 0 for c in rules.categories.values())


def test_uz_entitlement_categories_follow_the_agency():
    cats = sanatorium_rules("UZ").categories
    # yearly: equated to war invalids ...; every 2 years: disability I-II ...; every 3 years:
    # old-age pensioners (agmk.uz 02.06.2022)
    assert (cats["war_invalid_equivalent"].tier, cats["war_invalid_equivalent"].every_years) == (
        1,
        1,
    )
    assert (cats["disability_1_2"].tier, cats["disability_1_2"].every_years) == (2, 2)
    assert (cats["old_age_pensioner"].tier, cats["old_age_pensioner"].every_years) == (3, 3)
