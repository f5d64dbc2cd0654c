"""JSON Patch (RFC 6902) over JSON Pointer (RFC 6901): what a FHIR ``PATCH`` with
``Content-Type: application/json-patch+json`` applies to a stored resource.

Small enough to keep here rather than add a dependency: six operations (add, remove,
replace, move, copy, test), ``~0``/``~1`` escapes, ``-`` for the end of an array. The
document is applied to a copy; the original is never changed, and any failure (a path
that names nothing, a failed ``test``) leaves nothing half applied. Every refusal is a
``PatchError`` naming the operation (``/2``: the third) and what is wrong with it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")
#: an array index: 0, or digits without a leading zero (RFC 6901 section 4)
_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)
#: the most operations one document may hold
MAX_OPERATIONS = 1000
#: the most a patched document may weigh (``weight``: a node 1, a string its length more):
#: a ``copy`` of the whole document into itself, repeated, would double it each time
MAX_WEIGHT = 20_000_000


class PatchError(ValueError):
    """A patch document that is malformed or cannot be applied. ``index`` is the
    operation's position (None: the document itself), ``member`` the member at fault
    (``path``, ``from``, ``value``, ``op``), ``failed_test`` a ``test`` that did not
    hold."""

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        member: str | None = None,
        failed_test: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.member = member
        self.failed_test = failed_test

    @property
    def location(self) -> str:
        """Where in the patch document: ``/2/path``, ``/2``, or ``/``."""
        if self.index is None:
            return "/"
        return f"/{self.index}" + (f"/{self.member}" if self.member else "")


def parse_pointer(pointer: str) -> list[str]:
    """A JSON Pointer's reference tokens, unescaped (``~1`` is ``/``, ``~0`` is ``~``,
    in that order). ``ValueError`` when it is not a pointer."""
    if not isinstance(pointer, str):
        raise ValueError("a JSON Pointer is a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("a JSON Pointer is empty or starts with /")
    tokens = pointer[1:].split("/")
    for t in tokens:
        if re.search(r"~(?![01])", t):
            raise ValueError("~ must be written ~0 (and / as ~1)")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def to_pointer(tokens: list[str]) -> str:
    """The JSON Pointer of ``tokens`` (``parse_pointer``'s inverse)."""
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _index(part: str, size: int, *, append: bool) -> int:
    """``part`` (a reference token) as an index of an array of ``size`` (``-`` and
    ``size`` itself only where something is added)."""
    if append and part == "-":
        return size
    if not _INDEX.fullmatch(part):
        raise ValueError(f"{part!r} is not an array index")
    i = int(part)
    if i > size or (i == size and not append):
        raise ValueError(f"index {i} is past the end of the array ({size} items)")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    """The container the last token is a member of."""
    node = doc
    for t in tokens[:-1]:
        node = _child(node, t)
    return node


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise ValueError(f"there is no member {token!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(token, len(node), append=False)]
    raise ValueError(f"{token!r} names a member of a value that has none")


def get(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for t in tokens:
        node = _child(node, t)
    return node


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), append=True), value)
    else:
        raise ValueError(f"{last!r} names a member of a value that has none")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    """The document without the value ``tokens`` names, and that value."""
    if not tokens:
        raise ValueError("the whole document cannot be removed")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ValueError(f"there is no member {last!r}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent), append=False))
    raise ValueError(f"{last!r} names a member of a value that has none")


def weight(value: Any, limit: int = MAX_WEIGHT) -> int:
    """How much ``value`` holds: 1 a node, and a string's length besides; counting stops
    past ``limit`` (the answer is then over it)."""
    total, stack = 0, [value]
    while stack and total <= limit:
        node = stack.pop()
        total += 1
        if isinstance(node, str):
            total += len(node)
        elif isinstance(node, dict):
            total += sum(len(k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def equal(a: Any, b: Any) -> bool:
    """JSON equality (RFC 6902 section 4.6): numbers by value, but a boolean is not a
    number (``True == 1`` in Python); objects regardless of member order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _member(op: dict[str, Any], name: str, i: int) -> Any:
    if name not in op:
        raise PatchError(f"the operation has no {name!r}", index=i, member=name)
    return op[name]


def _pointer(op: dict[str, Any], name: str, i: int) -> list[str]:
    try:
        return parse_pointer(_member(op, name, i))
    except ValueError as e:
        raise PatchError(str(e), index=i, member=name) from e


def check(patch: Any) -> list[dict[str, Any]]:
    """``patch`` as a JSON Patch document (an array of operation objects), each with a
    known ``op`` and the members it needs; ``PatchError`` otherwise."""
    if not isinstance(patch, list):
        raise PatchError("a JSON Patch document is an array of operations")
    if len(patch) > MAX_OPERATIONS:
        raise PatchError(f"at most {MAX_OPERATIONS} operations")
    for i, op in enumerate(patch):
        if not isinstance(op, dict):
            raise PatchError("an operation is an object", index=i)
        name = _member(op, "op", i)
        if name not in OPERATIONS:
            raise PatchError(
                f"unknown op {name!r}: one of {', '.join(OPERATIONS)}", index=i, member="op"
            )
        _pointer(op, "path", i)
        if name in ("add", "replace", "test"):
            _member(op, "value", i)
        if name in ("move", "copy"):
            _pointer(op, "from", i)
    return patch


def _value_or_none(doc: Any, pointer: str) -> Any:
    """The value a ``copy`` would copy (None when it names nothing: the operation then
    fails as it would)."""
    try:
        return get(doc, parse_pointer(pointer))
    except ValueError:
        return None


def apply(doc: Any, patch: Any) -> Any:
    """``doc`` with ``patch`` applied, operation after operation, to a copy (RFC 6902
    section 3: all or nothing)."""
    out = copy.deepcopy(doc)
    budget = MAX_WEIGHT - weight(doc)
    for i, op in enumerate(check(patch)):
        name = op["op"]
        path = parse_pointer(op["path"])
        if name in ("add", "replace", "copy"):
            source = op["value"] if name != "copy" else _value_or_none(out, op["from"])
            budget -= weight(source, max(budget, 0))
            if budget < 0:
                raise PatchError("the patched document would be too large", index=i, member="path")
        try:
            if name == "add":
                out = _add(out, path, copy.deepcopy(op["value"]))
            elif name == "remove":
                out, _ = _remove(out, path)
            elif name == "replace":
                get(out, path)  # the target must exist
                if path:
                    out, _ = _remove(out, path)
                out = _add(out, path, copy.deepcopy(op["value"]))
            elif name in ("move", "copy"):
                source = parse_pointer(op["from"])
                try:
                    value = get(out, source)
                except ValueError as e:
                    raise PatchError(str(e), index=i, member="from") from e
                if name == "copy":
                    out = _add(out, path, copy.deepcopy(value))
                elif path != source:
                    if path[: len(source)] == source:
                        raise PatchError(
                            "a value cannot be moved into one of its own children",
                            index=i,
                            member="from",
                        )
                    out, value = _remove(out, source)
                    out = _add(out, path, value)
            else:  # test
                if not equal(get(out, path), op["value"]):
                    raise PatchError(
                        f"test failed: the value at {op['path']} is not the one given",
                        index=i,
                        member="value",
                        failed_test=True,
                    )
        except PatchError:
            raise
        except ValueError as e:
            raise PatchError(str(e), index=i, member="path") from e
    return out
