"""The Bundle's reference walker: every reference to an entry's fullUrl becomes what that
entry was stored as, and nothing else changes (fhir/bundle.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir.bundle import references, rewrite_references

pytestmark = pytest.mark.no_db

Pair = tuple[Any, Any]

FULL_URLS = st.lists(st.uuids().map(lambda u: f"urn:uuid:{u}"), min_size=1, max_size=5, unique=True)


def trees(mapping: dict[str, str]) -> st.SearchStrategy[Pair]:
    """(a resource-like JSON value, what it must become): strings equal to a fullUrl
    outside a ``reference`` stay as they are."""
    urls = sorted(mapping)
    text = st.text(max_size=12) | st.sampled_from(urls) | st.sampled_from(sorted(mapping.values()))
    scalar = st.one_of(text, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
    leaves = scalar.map(lambda v: (v, v))
    keys = st.text(max_size=8).filter(lambda k: k != "reference")

    def grow(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
        listed = st.lists(children, max_size=4).map(
            lambda ps: ([a for a, _ in ps], [b for _, b in ps])
        )
        mapped = st.dictionaries(keys, children, max_size=4).map(
            lambda d: ({k: a for k, (a, _) in d.items()}, {k: b for k, (_, b) in d.items()})
        )
        reference = st.tuples(
            st.sampled_from(urls) | st.text(max_size=12),
            st.dictionaries(keys, children, max_size=2),
        ).map(
            lambda t: (
                {"reference": t[0], **{k: a for k, (a, _) in t[1].items()}},
                {"reference": mapping.get(t[0], t[0]), **{k: b for k, (_, b) in t[1].items()}},
            )
        )
        # a "reference" that is no string is walked into, never replaced
        odd = children.filter(lambda p: not isinstance(p[0], str)).map(
            lambda p: ({"reference": p[0]}, {"reference": p[1]})
        )
        return listed | mapped | reference | odd

    return st.recursive(leaves, grow, max_leaves=25)


@given(st.data())
def test_every_reference_to_a_full_url_is_rewritten_and_nothing_else(data):
    urls = data.draw(FULL_URLS)
    mapping = {u: f"Encounter/shr-{i + 1}" for i, u in enumerate(urls)}
    sent, expected = data.draw(trees(mapping))
    kept = copy.deepcopy(sent)
    out = rewrite_references(sent, mapping)
    assert out == expected
    assert sent == kept  # the entry's resource as sent is not changed
    # the same references at the same elements, each mapped
    assert list(references(out)) == [(p, mapping.get(v, v)) for p, v in references(sent)]
    assert not {v for _, v in references(out)} & set(urls)


def test_references_name_their_elements():
    resource = {
        "resourceType": "DiagnosticReport",
        "subject": {"reference": "urn:uuid:p"},
        "result": [{"reference": "Observation/shr-1"}, {"reference": "urn:uuid:o"}],
        "extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:e"}}],
        "code": {"text": "urn:uuid:p"},
    }
    assert list(references(resource)) == [
        ("subject", "urn:uuid:p"),
        ("result[0]", "Observation/shr-1"),
        ("result[1]", "urn:uuid:o"),
        ("extension[0].valueReference", "urn:uuid:e"),
    ]
