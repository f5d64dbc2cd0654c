"""The pure rules of the record: FHIR dates as intervals (core.fhir_dates', which the
searches read their values with too), ``system|value`` tokens.

The record keeps each resource's clinical time as the interval its precision implies,
[start, end), so that a search with a prefix compares intervals as FHIR describes (R4
search, "date").
"""

from __future__ import annotations

from salomat.core.fhir_dates import LATEST, fhir_interval

__all__ = ["LATEST", "fhir_interval", "parse_token"]


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
