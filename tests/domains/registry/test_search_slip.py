"""One slip in a family or a given name (a letter wrong, missing or extra, or two
letters swapped) still finds the person on the first page of a name search.

The property runs through the API on the test database (SQLite's FTS5 steps or
PostgreSQL's LIKE steps, then the score), one registered person per example. The
names are drawn from letters the skeleton keeps one for one, and the slip is kept
only when it is one slip in the skeleton too (a doubled letter made or lost by it
is folded away, so it is no slip or two). Beside each person, a namesake whose name
begins with the slipped word as typed keeps the search from answering with whatever
its last, loosest step finds when the others find nobody.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from salomat.country import names
from tests.domains.registry.test_search_prefix import _register
from tests.domains.registry.test_search_prefix import registrar as registrar

#: no digraph (kh, ya, ts, io...) can form from these, whatever the slip
LETTERS = "abdefglmnoprtuv"


def _slip(word: str, kind: str, i: int, c: str) -> str:
    i %= len(word) + (kind == "insert")
    if kind == "substitute":
        return word[:i] + c + word[i + 1 :]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "insert":
        return word[:i] + c + word[i:]
    j = min(i + 1, len(word) - 1)
    return word[:i] + word[j] + word[i] + word[j + 1 :]


@st.composite
def slipped_names(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(family, given, which of them is slipped, the slipped one as typed)."""
    family = draw(st.text(LETTERS, min_size=4, max_size=10)) + draw(st.sampled_from(["ov", "ova"]))
    given = draw(st.text(LETTERS, min_size=4, max_size=9))
    which = draw(st.sampled_from(["family", "given"]))
    word = family if which == "family" else given
    kind = draw(st.sampled_from(["substitute", "delete", "insert", "swap"]))
    typed = _slip(word, kind, draw(st.integers(0, 20)), draw(st.sampled_from(LETTERS)))
    # names as people bear them: no letter doubled (the skeleton would fold it away)
    assume(names.skeleton(family) == family and names.skeleton(given) == given)
    assume(OSA.distance(names.skeleton(typed), word) == 1 and len(names.skeleton(typed)) >= 4)
    return family.capitalize(), given.capitalize(), which, typed.capitalize()


@pytest.mark.anyio
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=slipped_names())
async def test_one_slip_in_a_family_or_given_name_finds_the_person_on_the_first_page(
    client, registrar, case
):
    family, given, which, typed = case
    pid = await _register(client, registrar, family, given)
    # a namesake whose name begins with the slipped word as typed: the narrowest step
    # finds them, so the search must widen past them to the one slip
    longer = typed + "bek"
    if which == "family":
        await _register(client, registrar, longer, given)
    else:
        await _register(client, registrar, family, longer)
    query = f"{typed} {given}" if which == "family" else f"{family} {typed}"
    r = await client.get("/api/v1/persons", params={"name": query}, headers=registrar)
    assert r.status_code == 200, r.text
    first_page = [p["id"] for p in r.json()["items"]]
    assert pid in first_page, (family, given, query)
