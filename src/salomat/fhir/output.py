"""Outgoing resources written as the R4B model writes them, without its round trip.

A mapper's resource (or a Bundle's shell) went through ``model_validate(...).model_dump``
on every answer: about 1 ms a resource, most of a read's and nearly all of a large
search's time. What the platform produced itself needs no validating again (what it is
sent is validated on input). ``ordered`` writes the same JSON in one walk: each element
in the order of the model's ``elements_sequence`` (``resourceType`` first, a primitive's
``_element`` after it), no None and no empty list. Anything it is not sure to write as
the model would (an element the model does not know, a value that is not JSON already:
a ``date``, a ``Decimal``) gives ``None``, and the caller takes the model's way.

Under ``SALOMAT_ENV=test`` every answer is also made the model's way and compared,
key order included (``fhir.common.validated``): the whole FHIR suite holds that the two
are the same.
"""

from __future__ import annotations

import typing
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

__all__ = ["ordered", "same"]

#: a child element that is any resource (``contained``, ``Bundle.entry.resource``)
_RESOURCE = object()
#: a primitive the walk leaves to the model (base64Binary: decoded and encoded again)
_OPAQUE = object()


class _Unplanned(Exception):
    """Something the walk does not write as the model would."""


class _Text:
    """A primitive the model parses and writes again (dateTime, instant, date, time):
    written as the model writes it (``+00:00`` as ``Z``, ``.000`` dropped, ``.5`` as
    ``.500000``), by the same parse of the value alone."""

    __slots__ = ("adapter",)

    def __init__(self, annotation: Any) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def __call__(self, value: Any) -> Any:
        try:
            return to_jsonable_python(self.adapter.validate_python(value))
        except ValueError as e:  # the model refuses it: let it, naming the element
            raise _Unplanned from e


class _Kind:
    """A primitive written as given when it is already of the JSON kind the model writes
    (a boolean, an integer, a decimal, a string); any other value (``1`` for a boolean,
    ``"2"`` or ``2.0`` for an integer) is left to the model, which converts or refuses."""

    __slots__ = ("accepts",)

    def __init__(self, accepts: Any) -> None:
        self.accepts = accepts


_KINDS: dict[Any, _Kind] = {
    bool: _Kind(lambda v: type(v) is bool),
    int: _Kind(lambda v: type(v) is int),
    float: _Kind(lambda v: isinstance(v, int | float) and type(v) is not bool),
    Decimal: _Kind(lambda v: isinstance(v, int | float) and type(v) is not bool),
    str: _Kind(lambda v: isinstance(v, str)),
}


def _child(annotation: Any) -> Any:
    """What an element holds: a model class, ``_RESOURCE``, a ``_Text``, ``_OPAQUE`` (a
    primitive left to the model) or None (a primitive written as it is)."""
    stack = [annotation]
    while stack:
        t = stack.pop()
        if t in _KINDS:
            return _KINDS[t]
        klass = getattr(t, "get_model_klass", None)
        if klass is not None:
            if getattr(t, "__name__", "") == "ResourceType":
                return _RESOURCE
            return klass()
        if typing.get_origin(t) is typing.Annotated:
            base = typing.get_args(t)[0]
            if base in (datetime, date, time):
                return _Text(t)
            if base is bytes:
                return _OPAQUE
            return _KINDS.get(base)
        stack.extend(typing.get_args(t))
    return None


@cache
def _plan(cls: Any) -> tuple[bool, tuple[tuple[str, Any], ...]]:
    """(is a resource, ((json key, child), ...)) in the order the model writes them."""
    aliases = cls.get_alias_mapping()
    fields = cls.model_fields
    keys: list[tuple[str, Any]] = []
    for prop in cls.elements_sequence():
        name = aliases[prop]
        info = fields[name]
        keys.append((info.alias or name, _child(info.annotation)))
        ext = fields.get(f"{name}__ext")
        if ext is not None:
            keys.append((ext.alias or f"{name}__ext", _child(ext.annotation)))
    return cls.has_resource_base(), tuple(keys)


@cache
def _resource_class(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)


def _element(value: Any, cls: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Unplanned
    is_resource, plan = _plan(cls)
    out: dict[str, Any] = {}
    seen = 0
    if is_resource:
        if value.get("resourceType") != cls.get_resource_type():
            raise _Unplanned
        out["resourceType"] = value["resourceType"]
        seen = 1
    for key, child in plan:
        if key not in value:
            continue
        seen += 1
        v = _value(value[key], child)
        if v is not None and v != []:
            if v == {} and value[key] != {}:
                raise _Unplanned  # emptied by the walk: the model leaves it out
            out[key] = v
    if seen != len(value):  # an element the model does not know
        raise _Unplanned
    return out


def _value(v: Any, child: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, list):
        if any(x is None for x in v):
            raise _Unplanned  # a placeholder (given[1] null beside _given[1]): the model's
        return [_value(x, child) for x in v]
    if type(child) is _Kind:
        if not child.accepts(v):
            raise _Unplanned
        return v
    if child is None:
        if isinstance(v, str | int | float):  # bool is an int; json_text.Number a float
            return v
        raise _Unplanned
    if type(child) is _Text:
        if not isinstance(v, str):
            raise _Unplanned
        return child(v)
    if child is _OPAQUE:
        raise _Unplanned
    if child is _RESOURCE:
        if not isinstance(v, dict) or not isinstance(v.get("resourceType"), str):
            raise _Unplanned
        try:
            cls = _resource_class(v["resourceType"])
        except (KeyError, ValueError) as e:
            raise _Unplanned from e
        return _element(v, cls)
    return _element(v, child)


def ordered(model: Any, resource: dict[str, Any]) -> dict[str, Any] | None:
    """``resource`` as ``model.model_validate(resource).model_dump(mode="json",
    exclude_none=True)`` writes it, without the model; None when not sure to."""
    try:
        return _element(resource, model)
    except _Unplanned:
        return None


def same(a: Any, b: Any) -> bool:
    """Equal, and every object's keys in the same order (the same JSON text)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and list(a) == list(b) and all(same(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and a == b
    return type(a) is type(b) and a == b
