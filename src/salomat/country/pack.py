"""Country packs: rules that differ by country are data, not code.

Each pack is a directory ``src/salomat/country/<CC>/`` of YAML files
(``pack.yaml``: identity, languages, national id, currency; ``demo.yaml``: the
demo region), each value with its source noted beside it. Code reads the pack
of the deployed country (``SALOMAT_COUNTRY``) and never hard-codes one
country's numbers; adding a country means adding a directory, not code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from salomat.core.errors import FieldError, Invalid
from salomat.country.frozen import FrozenDict, freeze

PACKS_DIR = Path(__file__).resolve().parent
_CODE = re.compile(r"^[A-Z]{2}$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class PackError(LookupError):
    """A pack or one of its files is missing or malformed."""


def countries() -> list[str]:
    """Country codes that have a pack."""
    return sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").is_file())


def load(country: str, name: str = "pack") -> dict[str, Any]:
    """The YAML file ``<country>/<name>.yaml`` as a read-only dict, parsed once and shared:
    the same object on every call, never copied (issue 24). Its dicts and lists refuse
    changes (``TypeError``, naming the file; :mod:`salomat.country.frozen`): a caller that
    must change what it read takes a copy, ``copy.deepcopy(load(...))`` or ``dict(...)``."""
    return _read(country.upper(), name)


def demo(country: str) -> dict[str, Any]:
    """The demo region: facilities, one user per role, people."""
    return load(country, "demo")


def immunization(country: str) -> dict[str, Any]:
    """The immunization calendar: series, doses, vaccines, sites, boosters."""
    return load(country, "immunization")


@lru_cache
def time_zone(country: str) -> ZoneInfo:
    """The country's civil time zone (``timezone`` in pack.yaml, an IANA name): pages show
    times in it and read the times people type in it. The offsets come from the system's
    tz database: Kazakhstan's single UTC+5 zone (since 1 March 2024) needs tzdata 2024a
    or later, or Asia/Almaty reads as UTC+6 (docs/operations.md)."""
    name = _read(country.upper(), "pack").get("timezone")
    if not isinstance(name, str):
        raise PackError(f"{country.upper()}/pack.yaml names no timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise PackError(f"{country.upper()}/pack.yaml: unknown time zone {name!r}") from e


def today(country: str, now: datetime | None = None) -> date:
    """Today in the country's civil time zone (``now``, an aware time, or the clock): a
    server on UTC must not turn Almaty's or Tashkent's day over five hours late."""
    return (now or datetime.now(UTC)).astimezone(time_zone(country)).date()


class Begins(Protocol):
    """An edition of pack rules: the day it took force."""

    @property
    def valid_from(self) -> date: ...


class Dated(Begins, Protocol):
    """An edition of pack rules chosen by its code as well."""

    @property
    def code(self) -> str: ...


_B = TypeVar("_B", bound=Begins)
_E = TypeVar("_E", bound=Dated)


def in_force(editions: Sequence[_B], on: date) -> _B:
    """The edition in force on ``on``: the last one begun on or before it (by
    ``valid_from``); before the first began, the first."""
    ordered = sorted(editions, key=lambda e: e.valid_from)
    found = ordered[0]
    for e in ordered:
        if e.valid_from <= on:
            found = e
    return found


def edition(
    editions: Sequence[_E], code: str | None, on: date, *, unknown: str, field: str = "edition"
) -> _E:
    """The edition ``code`` (an unknown one is a 422 naming ``field``: the msgid
    ``unknown`` with ``%(code)s`` and the ``%(known)s`` codes), else the one in force on
    ``on``. The pack's dated rules (planning norms, staffing, the epidemic matrix) choose
    their edition with it."""
    if code is None:
        return in_force(editions, on)
    for e in editions:
        if e.code == code:
            return e
    known = ", ".join(e.code for e in editions)
    raise Invalid.fields([FieldError(field, unknown, {"code": code, "known": known})])


@lru_cache
def _read(country: str, name: str) -> FrozenDict:
    if not _CODE.match(country) or not _NAME.match(name):
        raise PackError(f"not a country pack file: {country}/{name}")
    path = PACKS_DIR / country / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(countries()) or "none"
        raise PackError(f"no country pack file {country}/{name}.yaml (packs: {known})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PackError(f"{country}/{name}.yaml must hold a mapping at the top")
    frozen: FrozenDict = freeze(data, origin=f"the country pack file {country}/{name}.yaml")
    return frozen
