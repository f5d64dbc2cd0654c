"""The pure rules of the record: FHIR dates as intervals, ``system|value`` tokens.

A FHIR date or dateTime stands for the interval its precision implies: ``2024`` is the
year, ``2024-03-05`` the day (read in UTC), ``2024-03-05T10:15+05:00`` the minute. The
record keeps each resource's clinical time as such an interval, [start, end), so that a
search with a prefix compares intervals as FHIR describes (R4 search, "date").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["LATEST", "fhir_interval", "parse_token"]

#: the latest instant an interval can end at; an interval reaching past it is cut here
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_VALUE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+\-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,
)


def fhir_interval(value: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a FHIR date, dateTime or instant; ValueError if it is none.

    A time without a zone is refused (FHIR requires one when a time is given)."""
    m = _VALUE.fullmatch(value)
    if m is None:
        raise ValueError(f"not a FHIR date or dateTime: {value!r}")
    g = m.groupdict()
    year, month, day = int(g["year"]), int(g["month"] or 1), int(g["day"] or 1)
    if g["hour"] is None:
        start = datetime(year, month, day, tzinfo=UTC)  # ValueError on a month 13
        if g["day"]:
            return start, _plus(start, timedelta(days=1))
        if g["month"]:
            nxt = (year + 1, 1) if month == 12 else (year, month + 1)
            return start, _month(*nxt)
        return start, _month(year + 1, 1)
    if g["zone"] is None:
        raise ValueError("a time needs a zone: Z or +hh:mm")
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
    try:
        start = local.astimezone(UTC)
    except OverflowError as e:
        raise ValueError("out of range") from e
    return start, _plus(start, step)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError("a zone offset is at most 14:00")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def _month(year: int, month: int) -> datetime:
    return LATEST if year > 9999 else datetime(year, month, 1, tzinfo=UTC)


def _plus(start: datetime, step: timedelta) -> datetime:
    return LATEST if start > LATEST - step else start + step


def parse_token(text: str) -> tuple[str | None, str]:
    """``system|value`` -> (system, value); ``value`` alone -> (None, value): any
    system; ``|value`` -> ("", value): no system. The value keeps every later ``|``
    (escaped ``\\|`` are unescaped); ValueError when there is no value."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "|,$\\":
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == "|" and not parts:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    value = "".join(cur)
    if not value:
        raise ValueError("a token needs a value")
    if not parts:
        return None, value
    return parts[0], value
