"""The Bundle's link walker: wherever R4 says a transaction replaces an entry's fullUrl
(Reference.reference, elements of type uri, url, canonical, oid or uuid, the narrative's
href and src), it becomes what that entry was stored as; strings of other types, and
everything else, stay as sent (fhir/bundle.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir.bundle import links, references, rewrite_references

pytestmark = pytest.mark.no_db

Pair = tuple[Any, Any]

FULL_URLS = st.lists(st.uuids().map(lambda u: f"urn:uuid:{u}"), min_size=1, max_size=5, unique=True)
XHTML = "http://www.w3.org/1999/xhtml"


def obj(**fields: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    """(sent, expected) of an element whose fields are each drawn or left out."""
    return st.fixed_dictionaries({}, optional=fields).map(
        lambda d: ({k: a for k, (a, _) in d.items()}, {k: b for k, (_, b) in d.items()})
    )


def many(pairs: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    return st.lists(pairs, min_size=1, max_size=3).map(
        lambda ps: ([a for a, _ in ps], [b for _, b in ps])
    )


def resources(mapping: dict[str, str]) -> st.SearchStrategy[Pair]:
    """(an Observation as a sender writes it, what the transaction must store)."""
    text = (
        st.sampled_from(sorted(mapping))
        | st.sampled_from(sorted(mapping.values()))
        | st.text(alphabet="abcxyz019:/-. ", max_size=12)
    )
    link = text.map(lambda v: (v, mapping.get(v, v)))  # a uri-typed element: replaced
    kept = text.map(lambda v: (v, v))  # a string, code, markdown: as sent
    ref = obj(reference=link, display=kept)
    anchor = st.tuples(link, kept, st.sampled_from(["a href", "img src"])).map(
        lambda t: (
            f'<{t[2].split()[0]} {t[2].split()[1]}="{t[0][0]}">{t[1][0]}</{t[2].split()[0]}>',
            f'<{t[2].split()[0]} {t[2].split()[1]}="{t[0][1]}">{t[1][1]}</{t[2].split()[0]}>',
        )
    )
    div = st.lists(anchor | kept, max_size=4).map(
        lambda ps: (
            f'<div xmlns="{XHTML}">{"".join(a for a, _ in ps)}</div>',
            f'<div xmlns="{XHTML}">{"".join(b for _, b in ps)}</div>',
        )
    )
    extension = (
        obj(url=link, valueUri=link)
        | obj(url=link, valueString=kept)
        | obj(url=link, valueCanonical=link)
        | obj(url=link, valueReference=ref)
        | obj(url=link, valueCode=kept)
    )
    contained = obj(encounter=ref, focus=many(ref), note=many(obj(text=kept))).map(
        lambda p: ({"resourceType": "Observation", **p[0]}, {"resourceType": "Observation", **p[1]})
    )
    body = obj(
        encounter=ref,
        derivedFrom=many(ref),
        extension=many(extension),
        identifier=many(obj(system=link, value=kept)),
        code=obj(text=kept, coding=many(obj(system=link, code=kept))),
        note=many(obj(text=kept)),
        text=obj(status=st.just(("generated", "generated")), div=div),
        contained=many(contained),
    )
    return body.map(
        lambda p: ({"resourceType": "Observation", **p[0]}, {"resourceType": "Observation", **p[1]})
    )


@given(st.data())
def test_every_link_to_a_full_url_is_rewritten_and_nothing_else(data):
    urls = data.draw(FULL_URLS)
    mapping = {u: f"Encounter/shr-{i + 1}" for i, u in enumerate(urls)}
    sent, expected = data.draw(resources(mapping))
    kept = copy.deepcopy(sent)
    out = rewrite_references(sent, mapping)
    assert out == expected
    assert sent == kept  # the entry's resource as sent is not changed
    # the same references at the same elements, each mapped
    assert list(references(out)) == [(p, mapping.get(v, v)) for p, v in references(sent)]
    assert not {v for _, _, v in links(out)} & set(urls)


def test_links_name_their_elements():
    resource = {
        "resourceType": "DiagnosticReport",
        "subject": {"reference": "urn:uuid:p"},
        "result": [{"reference": "Observation/shr-1"}, {"reference": "urn:uuid:o"}],
        "extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:e"}}],
        "code": {"text": "urn:uuid:p", "coding": [{"system": "urn:uuid:s", "code": "c"}]},
        "text": {
            "status": "generated",
            "div": f'<div xmlns="{XHTML}"><a href="urn:uuid:o">o</a></div>',
        },
    }
    assert list(references(resource)) == [
        ("subject", "urn:uuid:p"),
        ("result[0]", "Observation/shr-1"),
        ("result[1]", "urn:uuid:o"),
        ("extension[0].valueReference", "urn:uuid:e"),
    ]
    assert [(k, p) for k, p, _ in links(resource) if k != "reference"] == [
        ("uri", "extension[0].url"),
        ("uri", "code.coding[0].system"),
        ("narrative", "text.div"),
    ]


def test_a_value_of_no_known_type_has_only_its_reference_keys_rewritten():
    sent = {"a": {"reference": "urn:uuid:x", "url": "urn:uuid:x"}, "b": ["urn:uuid:x"]}
    assert rewrite_references(sent, {"urn:uuid:x": "Encounter/shr-1"}) == {
        "a": {"reference": "Encounter/shr-1", "url": "urn:uuid:x"},
        "b": ["urn:uuid:x"],
    }
