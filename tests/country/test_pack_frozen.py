"""The country pack is parsed once and shared read-only (issue 24): no copy per call, and
no caller can change the rules every later caller reads."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import yaml
from pydantic import BaseModel

from salomat.country import pack
from salomat.country.frozen import FrozenDict, FrozenList, freeze

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize("country", pack.countries())
def test_loading_a_file_twice_gives_the_same_object(country):
    assert pack.load(country) is pack.load(country)
    assert pack.load(country.lower(), "demo") is pack.demo(country)
    assert pack.immunization(country) is pack.load(country, "immunization")


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("code", "XX"),
        lambda d: d.__delitem__("code"),
        lambda d: d.update(code="XX"),
        lambda d: d.pop("code"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.setdefault("new", 1),
        lambda d: d.__ior__({"new": 1}),
        lambda d: d["national_id"].__setitem__("name", "x"),
    ],
)
def test_a_mapping_of_the_pack_refuses_every_change_naming_the_file(change):
    data = pack.load("UZ")
    before = copy.deepcopy(data)
    with pytest.raises(TypeError, match=r"UZ/pack\.yaml"):
        change(data)
    assert data == before


def _a_list(data):
    """The first non-empty list anywhere in ``data``."""
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, list) and x:
            return x
        stack.extend(x.values() if isinstance(x, dict) else x if isinstance(x, list) else ())
    raise AssertionError("no list in the pack")


@pytest.mark.parametrize(
    "change",
    [
        lambda xs: xs.__setitem__(0, None),
        lambda xs: xs.__delitem__(0),
        lambda xs: xs.append(None),
        lambda xs: xs.extend([None]),
        lambda xs: xs.insert(0, None),
        lambda xs: xs.remove(xs[0]),
        lambda xs: xs.pop(),
        lambda xs: xs.clear(),
        lambda xs: xs.sort(key=repr),
        lambda xs: xs.reverse(),
        lambda xs: xs.__iadd__([None]),
        lambda xs: xs.__imul__(2),
    ],
)
def test_a_list_of_the_pack_refuses_every_change_naming_the_file(change):
    xs = _a_list(pack.load("UZ", "immunization"))
    before = list(xs)
    with pytest.raises(TypeError, match=r"UZ/immunization\.yaml"):
        change(xs)
    assert xs == before


def test_the_augmented_assignment_of_a_caller_is_refused_too():
    data = pack.load("UZ")
    with pytest.raises(TypeError):
        data |= {"new": 1}
    assert "new" not in pack.load("UZ")


def test_a_deep_copy_is_a_plain_mutable_equal_dict():
    data = pack.load("UZ", "immunization")
    mine = copy.deepcopy(data)
    assert mine == data
    assert type(mine) is dict
    assert type(_a_list(mine)) is list
    mine["mine"] = 1
    _a_list(mine).append("mine")
    assert "mine" not in pack.load("UZ", "immunization")
    assert _a_list(pack.load("UZ", "immunization"))[-1] != "mine"


def test_shallow_copies_and_pickles_are_mutable():
    data = pack.load("UZ")
    for mine in (dict(data), data.copy(), copy.copy(data), pickle.loads(pickle.dumps(data))):  # noqa: S301 (our own data)
        assert type(mine) is dict
        assert mine == data
        mine["code"] = "XX"
    xs = _a_list(data)
    for mine_list in (list(xs), xs.copy(), copy.copy(xs), [*xs]):
        assert type(mine_list) is list
        assert mine_list == xs
        mine_list.append(None)
    assert type(xs + [None]) is list  # noqa: RUF005 (the operator is what is tested)
    assert pack.load("UZ")["code"] == "UZ"


def test_readers_see_plain_json_and_yaml():
    data = pack.load("UZ", "immunization")
    assert isinstance(data, dict)
    assert json.loads(json.dumps(data, default=str)) == json.loads(
        json.dumps(copy.deepcopy(data), default=str)
    )
    assert yaml.safe_load(yaml.safe_dump(pack.load("UZ"))) == pack.load("UZ")


def test_pydantic_validates_what_it_reads():
    class Model(BaseModel):
        national_id: dict[str, object]

    m = Model.model_validate(pack.load("UZ"))
    assert m.national_id == pack.load("UZ")["national_id"]


def test_freeze_makes_sets_frozen_and_keeps_scalars():
    frozen = freeze({"a": [1, {"b": {2, 3}}], "c": "x"}, origin="test")
    assert isinstance(frozen, FrozenDict)
    assert isinstance(frozen["a"], FrozenList)
    assert frozen["a"][1]["b"] == frozenset({2, 3})
    assert frozen["c"] == "x"
