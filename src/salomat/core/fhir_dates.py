"""FHIR dates as intervals, and the date search parameter's prefixes (R4 search, "date").

A FHIR date or dateTime stands for the interval its precision implies: ``2024`` is the
year, ``2024-03-05`` the day (read in UTC), ``2024-03-05T10:15+05:00`` the minute. The
shared record keeps each resource's clinical time as such an interval, [start, end), and
every date search parameter reads its values here, so that a stored time and a searched
one mean the same interval. Knows no domain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from salomat.core.errors import FieldError, Invalid

__all__ = [
    "LATEST",
    "PREFIXES",
    "DateHint",
    "date_value",
    "fhir_interval",
    "parse_date_param",
    "split_prefix",
]

PREFIXES = ("eq", "ne", "ge", "gt", "le", "lt", "sa", "eb", "ap")
#: the latest instant an interval can end at; an interval reaching past it is cut here
LATEST = datetime.max.replace(tzinfo=UTC)

# FHIR date / dateTime with the precision the value was given in; ASCII digits only
_VALUE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+\-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,
)
# a zone's "+" that arrived as a space (an unencoded "+" in a query string)
_SPACED_ZONE = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:\d{2})$", re.ASCII)


class DateHint(ValueError):
    """Why a value that looks like a date is none, worth showing to the client."""


def fhir_interval(value: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a FHIR date, dateTime or instant; ValueError if it is none
    (DateHint when the reason is worth showing). A time without a zone is refused (FHIR
    requires one when a time is given)."""
    m = _VALUE.fullmatch(value)
    if m is None:
        raise ValueError(f"not a FHIR date or dateTime: {value!r}")
    g = m.groupdict()
    year, month, day = int(g["year"]), int(g["month"] or 1), int(g["day"] or 1)
    try:
        if g["hour"] is None:
            start = datetime(year, month, day, tzinfo=UTC)  # ValueError on a month 13
            if g["day"]:
                return start, _plus(start, timedelta(days=1))
            if g["month"]:
                return start, _month(year + (month == 12), month % 12 + 1)
            return start, _month(year + 1, 1)
        if g["zone"] is None:
            raise DateHint("a time needs a zone: Z or +hh:mm")
        fraction = g["fraction"] or ""
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
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
            tzinfo=_zone(g["zone"]),
        )
        start = local.astimezone(UTC)
    except OverflowError as e:
        raise DateHint("out of range") from e
    return start, _plus(start, step)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise DateHint("a zone offset is at most 14:00")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def _month(year: int, month: int) -> datetime:
    return LATEST if year > LATEST.year else datetime(year, month, 1, tzinfo=UTC)


def _plus(start: datetime, step: timedelta) -> datetime:
    return LATEST if start > LATEST - step else start + step


def split_prefix(raw: str) -> tuple[str, str]:
    """``ge2024`` -> ("ge", "2024"); a value without a prefix is ``eq``."""
    return (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)


def date_value(raw: str, field: str = "date") -> tuple[str, datetime, datetime]:
    """One search value as (prefix, start, end), the interval its precision implies; a
    value that is not a FHIR date or dateTime is refused naming ``field``. A space in the
    zone stands for "+" (an unencoded "+" in a query string arrives as one)."""
    prefix, value = split_prefix(raw)
    try:
        start, end = fhir_interval(_SPACED_ZONE.sub(r"\1+\2", value))
    except ValueError as e:
        hint = f" ({e})" if isinstance(e, DateHint) else ""
        raise Invalid.fields(
            [FieldError(field, f"{raw!r} is not a FHIR date or dateTime{hint}")]
        ) from e
    return prefix, start, end


def parse_date_param(
    values: list[str], field: str = "date"
) -> tuple[datetime | None, datetime | None]:
    """``date=ge2026-01-01&date=lt2026-02-01`` -> [since, until) in UTC.

    A value stands for the interval its precision implies (a day, a minute, a
    second, ...); dates without a time are read in UTC. Several values narrow
    the interval; it may come out empty (``since >= until``), which matches
    nothing. ``ne`` and ``ap`` are refused (one interval cannot hold them).
    """
    since: datetime | None = None
    until: datetime | None = None
    for raw in values:
        prefix = split_prefix(raw)[0]
        if prefix in ("ne", "ap"):
            raise Invalid.fields([FieldError(field, f"prefix {prefix!r} is not supported here")])
        _, start, end = date_value(raw, field)
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


def _max(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _min(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a
