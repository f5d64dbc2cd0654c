"""Read-only containers for configuration parsed once (the country pack).

A pack file is parsed at its first use and then shared by every request: handing out
copies cost a deep copy per call (11-15 % of a registration's CPU, issue 24), and
handing out the shared mutable data would let one caller change every later caller's
rules. :func:`freeze` turns the parsed YAML into :class:`FrozenDict` and
:class:`FrozenList`: subclasses of ``dict`` and ``list`` (so ``isinstance``,
``json.dumps``, pydantic, Jinja and iteration read them as before) whose mutating
methods raise ``TypeError`` naming the file. ``dict(x)`` and ``list(x)`` give a mutable
shallow copy; ``copy.deepcopy(x)`` (and pickling) a plain, mutable deep copy: a caller
that must change what it read takes one of these explicitly.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

import yaml


class FrozenDict(dict[Any, Any]):
    """A ``dict`` that refuses every change (``TypeError``)."""

    __slots__ = ("_origin",)

    def __init__(self, data: Any = (), /, origin: str = "configuration") -> None:
        super().__init__(data)
        self._origin = origin

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TypeError(
            f"{self._origin} is read-only (parsed once, shared by every caller): "
            "take a copy to change it (dict(x), copy.deepcopy(x))"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def copy(self) -> dict[Any, Any]:  # type: ignore[override]
        """A mutable shallow copy (the values stay shared and read-only)."""
        return dict(self)

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        memo[id(self)] = out
        for k, v in self.items():
            out[copy.deepcopy(k, memo)] = copy.deepcopy(v, memo)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


class FrozenList(list[Any]):
    """A ``list`` that refuses every change (``TypeError``)."""

    __slots__ = ("_origin",)

    def __init__(self, data: Any = (), /, origin: str = "configuration") -> None:
        super().__init__(data)
        self._origin = origin

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TypeError(
            f"{self._origin} is read-only (parsed once, shared by every caller): "
            "take a copy to change it (list(x), copy.deepcopy(x))"
        )

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def copy(self) -> list[Any]:  # type: ignore[override]
        """A mutable shallow copy (the items stay shared and read-only)."""
        return list(self)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        out: list[Any] = []
        memo[id(self)] = out
        out.extend(copy.deepcopy(v, memo) for v in self)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"


def freeze(data: Any, origin: str = "configuration") -> Any:
    """``data`` (parsed YAML or JSON) with every dict, list and set made read-only:
    :class:`FrozenDict`, :class:`FrozenList`, ``frozenset``. Scalars (str, numbers,
    dates, None) are immutable already."""
    if isinstance(data, dict):
        return FrozenDict({k: freeze(v, origin) for k, v in data.items()}, origin=origin)
    if isinstance(data, list | tuple):
        return FrozenList([freeze(v, origin) for v in data], origin=origin)
    if isinstance(data, set):
        return frozenset(data)
    return data


# yaml.safe_dump of something read from a pack writes it as the mapping or list it is
yaml.SafeDumper.add_representer(FrozenDict, yaml.SafeDumper.represent_dict)
yaml.SafeDumper.add_representer(FrozenList, yaml.SafeDumper.represent_list)
