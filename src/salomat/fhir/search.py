"""FHIR search plumbing shared by resources: date prefixes, bundles, paging links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from salomat.core.errors import FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.fhir.common import page_links

PREFIXES = ("eq", "ne", "ge", "gt", "le", "lt", "sa", "eb", "ap")
#: the latest instant a bound can name; an interval ending after it is cut here
LATEST = datetime.max.replace(tzinfo=UTC)

# FHIR date / dateTime with the precision the value was given in. ASCII digits
# only; a time needs a zone. A space stands for "+" in the zone, because an
# unencoded "+" in a query string arrives as a space.
_VALUE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+\- ]\d{2}:\d{2})?)?)?)?",
    re.ASCII,
)


def parse_date_param(
    values: list[str], field: str = "date"
) -> tuple[datetime | None, datetime | None]:
    """``date=ge2026-01-01&date=lt2026-02-01`` -> [since, until) in UTC.

    A value stands for the interval its precision implies (a day, a minute, a
    second, ...); dates without a time are read in UTC. Several values narrow
    the interval; it may come out empty (``since >= until``), which matches
    nothing.
    """
    since: datetime | None = None
    until: datetime | None = None
    for raw in values:
        prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
        value = raw[2:] if raw[:2] in PREFIXES else raw
        if prefix in ("ne", "ap"):
            raise Invalid.fields([FieldError(field, f"prefix {prefix!r} is not supported here")])
        try:
            start, end = _interval(value)
        except ValueError as e:
            hint = f" ({e})" if isinstance(e, _Hint) else ""
            raise Invalid.fields(
                [FieldError(field, f"{raw!r} is not a FHIR date or dateTime{hint}")]
            ) from e
        if prefix == "eq":
            since, until = _max(since, start), _min(until, end)
        elif prefix == "ge":
            since = _max(since, start)
        elif prefix in ("gt", "sa"):
            since = _max(since, end)
        elif prefix in ("lt", "eb"):
            until = _min(until, start)
        else:  # le
            until = _min(until, end)
    return since, until


class _Hint(ValueError):
    """A reason worth showing to the client."""


def _interval(value: str) -> tuple[datetime, datetime]:
    """[start, end) of a FHIR date or dateTime; ValueError (with a hint) if it is not one."""
    m = _VALUE.fullmatch(value)
    if m is None:
        raise ValueError(value)
    g = m.groupdict()
    year, month, day = int(g["year"]), int(g["month"] or 1), int(g["day"] or 1)
    try:
        if g["hour"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            if g["day"]:
                return start, _plus(start, timedelta(days=1))
            if g["month"]:
                return start, _at(year + (month == 12), month % 12 + 1)
            return start, _at(year + 1, 1)
        if g["zone"] is None:
            raise _Hint("a time needs a zone: Z or +hh:mm")
        fraction = g["fraction"] or ""
        micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
        if g["second"] is None:
            step = timedelta(minutes=1)
        elif not fraction:
            step = timedelta(seconds=1)
        else:
            step = timedelta(microseconds=10 ** (6 - min(len(fraction), 6)))
        local = datetime(
            year,
            month,
            day,
            int(g["hour"]),
            int(g["minute"]),
            int(g["second"] or 0),
            micro,
            tzinfo=_zone(g["zone"]),
        )
        start = local.astimezone(UTC)
    except OverflowError as e:
        raise _Hint("out of range") from e
    return start, _plus(start, step)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise _Hint("a zone offset is at most 14:00")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def _at(year: int, month: int) -> datetime:
    return LATEST if year > LATEST.year else datetime(year, month, 1, tzinfo=UTC)


def _plus(start: datetime, step: timedelta) -> datetime:
    return LATEST if start > LATEST - step else start + step


def _max(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _min(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def bundle(
    base: str,
    path: str,
    params: list[tuple[str, str]],
    resources: list[dict[str, Any]],
    total: int,
    count: int,
    offset: int,
) -> dict[str, Any]:
    links = page_links(base, path, params, total, PageParams(count, offset))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}{path}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }
