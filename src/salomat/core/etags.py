"""Versions on the wire: ``ETag: W/"3"`` out, ``If-Match: W/"3"`` in (REST and pages).

Every versioned record answers with its version as a weak ETag; an update
sends it back in ``If-Match`` and a stale one is refused (412) by the service.
"""

from __future__ import annotations

from salomat.core.errors import FieldError, Invalid
from salomat.core.params import parse_version


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names; None when absent (the service decides)."""
    if value is None:
        return None
    v = parse_version(value.strip().removeprefix("W/").strip('"'))
    if v is None:  # not ASCII digits, or past the 32-bit version column
        raise Invalid.fields([FieldError("If-Match", 'must be an ETag such as W/"3"')])
    return v
