"""Page parameters with an enforced upper bound (no unbounded listings).

An offset is at most 2**63 - 1, what the database takes in OFFSET: a larger
one is invalid input, not a driver error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid
from salomat.core.params import MAX_INT

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def check_page(limit: int | None, offset: int | None, *, field: str = "limit") -> PageParams:
    s = get_settings()
    lim = s.default_page_size if limit is None else limit
    off = offset or 0
    errors = []
    if lim < 1 or lim > s.max_page_size:
        errors.append(FieldError(field, f"must be between 1 and {s.max_page_size}"))
    if off < 0:
        errors.append(FieldError("offset", "must not be negative"))
    elif off > MAX_INT:
        errors.append(FieldError("offset", f"must be at most {MAX_INT}"))
    if errors:
        raise Invalid.fields(errors)
    return PageParams(lim, off)


def page_params(
    limit: int | None = Query(
        None, ge=1, le=MAX_INT, description="page size (the server's maximum applies)"
    ),
    offset: int | None = Query(None, ge=0, le=MAX_INT),
) -> PageParams:
    return check_page(limit, offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
