"""JSON that keeps a number as it was written, and refuses a name given twice.

FHIR's ``decimal`` is its text: ``1.50`` has three significant figures and must come
back as ``1.50`` (R4 datatypes.html, decimal: "the precision of the decimal value has
significance"). ``json.loads`` reads it as the float 1.5 and ``json.dumps`` writes
``1.5``. Here a number with a fraction or an exponent is read as a ``Number``: a float
(so code that compares or computes with it works as before) that remembers its text,
and ``dumps`` writes it back by that text. Integers are exact in Python already.

Also: a JSON object naming a member twice is read by ``json.loads`` as its last value,
the first silently dropped; ``loads`` refuses it (``DuplicateName``, every path named).

Knows no domain; the record (domains/record) keeps its bodies with it and the FHIR
layer reads and answers with it (``dump_bytes``: the same JSON by orjson, for answers).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = ["DuplicateName", "Number", "dump_bytes", "dumps", "loads"]


class Number(float):
    """A JSON number with a fraction or exponent, as its float and its text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Number:
        value = float(text)
        if not math.isfinite(value):
            # 1e400: no float holds it; left an infinity, which FHIR's checks refuse
            # naming the element (and ``dumps`` will not write)
            return value  # type: ignore[return-value]
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Number, (self.text,))

    def __copy__(self) -> Number:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Number:
        return self


class DuplicateName(ValueError):
    """Objects that name a member twice; ``paths`` as (key or index, ...) tuples."""

    def __init__(self, paths: list[tuple[str | int, ...]]) -> None:
        super().__init__("a member is given twice: " + ", ".join(map(_dotted, paths)))
        self.paths = paths


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def loads(raw: bytes | str) -> Any:
    """``json.loads``, but a number with a fraction or exponent is a ``Number`` and an
    object naming a member twice raises ``DuplicateName``. Malformed JSON raises
    ``json.JSONDecodeError`` (or ``UnicodeDecodeError``), a too deep one
    ``RecursionError``, a number beyond a float's range ``ValueError``, as before."""
    twice: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                twice.setdefault(id(out), []).append(key)
            out[key] = value
        return out

    data = json.loads(raw, parse_float=Number, object_pairs_hook=pairs)
    if twice:
        raise DuplicateName(list(_find(data, twice, ())))
    return data


def _find(
    node: Any, twice: dict[int, list[str]], path: tuple[str | int, ...]
) -> Iterator[tuple[str | int, ...]]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(node, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            for key in twice.get(id(value), ()):
                yield (*at, key)
            stack.extend((v, (*at, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*at, i)) for i, v in enumerate(value))


def dumps(obj: Any) -> str:
    """Compact JSON (``ensure_ascii=False``, no NaN), each ``Number`` by its text.

    A walk puts a placeholder for each ``Number`` (a string with a nonce no real string
    holds), the C encoder writes the rest, and the placeholders are replaced by the
    numbers' text; without a ``Number`` the object is dumped as it is."""
    nonce = secrets.token_hex(8)
    texts: list[str] = []

    def swap(node: Any) -> Any:
        if type(node) is Number:
            texts.append(node.text)
            return f"\x00{nonce}:{len(texts) - 1}\x00"
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [swap(v) for v in node]
        return node

    swapped = swap(obj)
    out = json.dumps(swapped, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if not texts:
        return out
    return re.sub(rf'"\\u0000{nonce}:([0-9]+)\\u0000"', lambda m: texts[int(m.group(1))], out)


def _number_text(obj: Any) -> orjson.Fragment:
    if type(obj) is Number:
        return orjson.Fragment(obj.text)
    raise TypeError(type(obj).__name__)


def _finite(obj: Any) -> bool:
    stack = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


def dump_bytes(obj: Any) -> bytes:
    """``dumps(obj)`` as UTF-8, written by orjson (an answer of 50 resources in about a
    thirtieth of the time): each ``Number`` by its text, refusing what ``dumps`` refuses
    (NaN or an infinity: ``ValueError``). What orjson does not write as ``dumps`` would
    (an integer past 64 bits, a key that is not a string, a date or a datetime, a lone
    surrogate) goes the ``dumps`` way. A float that is not a ``Number`` may be written in
    another form of the same number (``1e-05`` as ``0.00001``); none is in what
    ``loads`` read. Stored bodies keep ``dumps``, whose text they are."""
    try:
        out = orjson.dumps(obj, default=_number_text, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except TypeError:
        return dumps(obj).encode("utf-8")
    # orjson writes NaN and the infinities as null; dumps refuses them
    if b"null" in out and not _finite(obj):
        raise ValueError("Out of range float values are not JSON compliant")
    return out
