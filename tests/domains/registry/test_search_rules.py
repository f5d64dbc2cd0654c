"""Properties of the name search's widening steps (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.registry.service.search import _halves, name_similarity

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

LETTERS = "abdefghijklmnoprstuvz"
word = st.text(alphabet=LETTERS, min_size=6, max_size=14)


@st.composite
def slipped(draw: st.DrawFn) -> tuple[str, str]:
    """A word and the same word with one letter wrong, missing or extra."""
    w = draw(word)
    i = draw(st.integers(0, len(w) - 1))
    c = draw(st.sampled_from(LETTERS))
    kind = draw(st.sampled_from(["substitute", "delete", "insert"]))
    typed = {
        "substitute": w[:i] + c + w[i + 1 :],
        "delete": w[:i] + w[i + 1 :],
        "insert": w[:i] + c + w[i:],
    }[kind]
    return w, typed


@given(slipped())
def test_one_half_of_a_word_typed_with_one_slip_is_in_the_stored_word(pair):
    stored, typed = pair
    if len(typed) >= 6:
        assert any(h in stored for h in _halves(typed))


@given(slipped(), word)
def test_a_name_with_one_slip_still_scores(pair, given_name):
    stored, typed = pair
    if len(stored) >= 8:
        score = name_similarity([typed, given_name], f"{stored} {given_name}")
        assert score > 0.9
