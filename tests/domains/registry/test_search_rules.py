"""Properties of the name search's widening steps (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.registry.service.search import _halves, _slip_pieces, name_similarity

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

LETTERS = "abdefghijklmnoprstuvz"
word = st.text(alphabet=LETTERS, min_size=6, max_size=14)


@st.composite
def slipped(draw: st.DrawFn) -> tuple[str, str]:
    """A word and the same word with one letter wrong, missing or extra, or two swapped."""
    w = draw(word)
    i = draw(st.integers(0, len(w) - 1))
    c = draw(st.sampled_from(LETTERS))
    kind = draw(st.sampled_from(["substitute", "delete", "insert", "swap"]))
    j = min(i + 1, len(w) - 1)
    typed = {
        "substitute": w[:i] + c + w[i + 1 :],
        "delete": w[:i] + w[i + 1 :],
        "insert": w[:i] + c + w[i:],
        "swap": w[:i] + w[j] + w[i] + w[j + 1 :] if j > i else w,
    }[kind]
    return w, typed


@given(slipped())
def test_one_half_of_a_word_typed_with_one_slip_is_in_the_stored_word(pair):
    """SQLite's one-slip step: a half of the typed word (seven letters or more)."""
    stored, typed = pair
    if len(typed) >= 7:
        assert any(h in stored for h in _halves(typed)), (stored, typed)
        assert all(len(h) >= 3 for h in _halves(typed))


@given(slipped(), st.booleans())
def test_a_word_with_one_slip_begins_with_the_head_or_holds_the_tail(pair, longer):
    """PostgreSQL's one-slip step: the stored word (or a longer one the typed word
    begins) begins with the head of the typed word or holds its tail of three letters
    or more."""
    stored, typed = pair
    if longer:
        stored += "ova"
    if len(typed) >= 6:
        head, tail = _slip_pieces(typed)
        assert len(tail) >= 3
        assert stored.startswith(head) or tail in stored, (stored, typed, head, tail)


@given(slipped(), word)
def test_a_name_with_one_slip_still_scores(pair, given_name):
    stored, typed = pair
    if len(stored) >= 8:
        score = name_similarity([typed, given_name], f"{stored} {given_name}")
        assert score > 0.9
