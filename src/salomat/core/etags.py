"""Versions on the wire: ``ETag: W/"3"`` out, ``If-Match: W/"3"`` in (REST and pages).

Every versioned record answers with its version as a weak ETag; an update
sends it back in ``If-Match`` and a stale one is refused (412) by the service.
"""

from __future__ import annotations

from salomat.core.errors import FieldError, Invalid


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names; None when absent (the service decides)."""
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit():
        raise Invalid.fields([FieldError("If-Match", 'must be an ETag such as W/"3"')])
    return int(v)
