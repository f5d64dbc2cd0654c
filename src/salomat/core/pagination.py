"""Page parameters with an enforced upper bound (no unbounded listings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid

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
    if errors:
        raise Invalid.fields(errors)
    return PageParams(lim, off)


def page_params(
    limit: int | None = Query(None, description="page size (bounded by the server)"),
    offset: int | None = Query(None, ge=0),
) -> PageParams:
    return check_page(limit, offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
