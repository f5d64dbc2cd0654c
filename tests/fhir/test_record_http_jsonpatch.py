"""JSON Patch (RFC 6902) and JSON Pointer (RFC 6901) as fhir/jsonpatch.py applies them:
RFC 6902's own examples (Appendix A) and properties over any JSON."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir import jsonpatch
from salomat.fhir.jsonpatch import PatchError

pytestmark = pytest.mark.no_db

#: RFC 6902 Appendix A: (section, document, patch, result or None for an error)
APPENDIX_A: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.9", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}),
    ("A.12", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
     {"/": 9, "~1": 10}),
    ("A.15", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], None),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
]  # fmt: skip


@pytest.mark.parametrize(("section", "doc", "patch", "result"), APPENDIX_A)
def test_rfc_6902_appendix_a(section: str, doc: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(doc)
    if result is None:
        with pytest.raises(PatchError):
            jsonpatch.apply(doc, patch)
    else:
        assert jsonpatch.apply(doc, patch) == result
    assert doc == before  # applied to a copy


def test_more_rfc_rules() -> None:
    # A.13: an operation naming op twice is an error (the route parses with unique members)
    from salomat.fhir.record_http import _patch_document

    raw = b'[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]'
    with pytest.raises(Exception, match="twice"):
        _patch_document(raw)
    # 4.4: a move into one of its own children
    with pytest.raises(PatchError):
        jsonpatch.apply({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}])
    # the whole document replaced; an index with a leading zero is none
    assert jsonpatch.apply({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    with pytest.raises(PatchError):
        jsonpatch.apply({"a": [1, 2]}, [{"op": "remove", "path": "/a/01"}])
    # a failed test names itself as such; 1 and true are different JSON values
    with pytest.raises(PatchError) as e:
        jsonpatch.apply({"a": True}, [{"op": "test", "path": "/a", "value": 1}])
    assert e.value.failed_test
    assert e.value.location == "/0/value"
    # all or nothing: a failure at the second operation leaves nothing of the first
    doc = {"a": 1}
    with pytest.raises(PatchError):
        jsonpatch.apply(doc, [{"op": "add", "path": "/b", "value": 2},
                              {"op": "remove", "path": "/c"}])  # fmt: skip
    assert doc == {"a": 1}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=15,
)
OBJECTS = st.dictionaries(st.text(max_size=4), JSON, max_size=5)


@given(st.lists(st.text(max_size=6), max_size=5))
def test_a_pointer_round_trips(tokens: list[str]) -> None:
    assert jsonpatch.parse_pointer(jsonpatch.to_pointer(tokens)) == tokens


@given(OBJECTS, st.text(max_size=6), JSON)
def test_add_then_remove_gives_the_document_back(doc: dict[str, Any], key: str, value: Any):
    if key in doc:
        return
    path = jsonpatch.to_pointer([key])
    added = jsonpatch.apply(doc, [{"op": "add", "path": path, "value": value}])
    assert jsonpatch.apply(added, [{"op": "test", "path": path, "value": value}]) == added
    assert jsonpatch.apply(added, [{"op": "remove", "path": path}]) == doc


@given(st.lists(JSON, max_size=5), JSON, st.data())
def test_array_insertion_and_removal(items: list[Any], value: Any, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(items)))
    doc = {"a": items}
    added = jsonpatch.apply(doc, [{"op": "add", "path": f"/a/{i}", "value": value}])
    assert added["a"] == [*items[:i], value, *items[i:]]
    assert jsonpatch.apply(added, [{"op": "remove", "path": f"/a/{i}"}]) == doc
    end = jsonpatch.apply(doc, [{"op": "add", "path": "/a/-", "value": value}])
    assert end["a"] == [*items, value]


@given(OBJECTS, st.text(max_size=6), st.text(max_size=6))
def test_copy_then_move_back(doc: dict[str, Any], source: str, target: str) -> None:
    if source not in doc or target in doc:
        return
    a, b = jsonpatch.to_pointer([source]), jsonpatch.to_pointer([target])
    copied = jsonpatch.apply(doc, [{"op": "copy", "from": a, "path": b}])
    assert jsonpatch.equal(copied[target], doc[source])
    moved = jsonpatch.apply(doc, [{"op": "move", "from": a, "path": b},
                                  {"op": "move", "from": b, "path": a}])  # fmt: skip
    assert moved == doc


@given(JSON, st.lists(st.dictionaries(st.sampled_from(["op", "path", "from", "value"]),
                                      JSON | st.sampled_from([*jsonpatch.OPERATIONS, "/", "/0",
                                                              "/-", "", "/a~1b"])),
                      max_size=4))  # fmt: skip
def test_any_patch_applies_or_is_refused_as_a_patch_error(doc: Any, patch: Any) -> None:
    before = json.dumps(doc, sort_keys=True)
    refused: PatchError | None = None
    try:
        json.dumps(jsonpatch.apply(doc, patch))  # still JSON
    except PatchError as e:
        refused = e
    assert refused is None or refused.location.startswith("/")
    assert json.dumps(doc, sort_keys=True) == before


def test_a_patch_cannot_blow_the_document_up() -> None:
    """Each copy of the whole document into itself doubles it: 60 would be 2**60 times
    its size. Refused once the result would weigh more than MAX_WEIGHT."""
    doc = {"a": "x" * 1000, "l": []}
    doubling = [{"op": "copy", "from": "", "path": "/l/-"}] * 60
    with pytest.raises(PatchError, match="too large") as e:
        jsonpatch.apply(doc, doubling)
    assert e.value.index is not None
    assert e.value.index < 60
    assert jsonpatch.weight(doc) == 1 + 2 + 1 + 1000 + 1
    # a few copies are fine
    assert len(jsonpatch.apply(doc, doubling[:3])["l"]) == 3
