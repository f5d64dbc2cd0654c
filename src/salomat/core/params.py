"""What a request may carry: bounded integers, bodies without NUL characters or deep nesting.

Every check here stops input that the database or the JSON parser would fail on
(a 500) and answers it as what it is, invalid input naming the field:

- integers in a URL or a form: the database stores 64-bit signed integers; a
  larger number would reach the driver and fail there (SQLite refuses to bind
  it). ``bound_integers`` gives every integer parameter of a route the 64-bit
  range unless the route declares its own bounds. ``RowId`` is the id of a
  person-level row (1 to 2**63 - 1); ``SmallRowId`` and ``Version`` fit the
  32-bit columns of reference tables and versions, which PostgreSQL compares
  as ``integer`` and refuses a larger number for.
- NUL characters: PostgreSQL text cannot hold them, and no name, code or note
  has one. The URL is checked by ``core.middleware``, bodies here.
- integers in a JSON body: the same 64-bit range, whatever the field.
- nesting: a JSON body nested deeper than ``MAX_JSON_DEPTH`` is refused before
  anything walks it (Python's parser itself gives up near a thousand levels).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import annotated_types as at
from fastapi import Path, Request
from pydantic.fields import FieldInfo

from salomat.core.errors import FieldError, Invalid

__all__ = [
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MAX_ROW_ID",
    "MAX_SMALL_ID",
    "MIN_INT",
    "NUL_MESSAGE",
    "PATH_NUL_MESSAGE",
    "BodyError",
    "RowId",
    "SmallRowId",
    "Version",
    "bound_integers",
    "check_form",
    "check_json",
    "load_json",
    "parse_row_id",
    "parse_version",
]

MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
MAX_ROW_ID = MAX_INT
#: reference tables (facility, territory, practitioner and role, care section, medicine,
#: user, break-glass grant) and every record's version are 32-bit integer columns
MAX_SMALL_ID = 2**31 - 1
#: far deeper than any resource of ours (a FHIR Bundle of contacts is about 12 levels)
MAX_JSON_DEPTH = 64
NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character"
PATH_NUL_MESSAGE = "The path contains a NUL character; no resource has one."
INT_MESSAGE = f"must be between {MIN_INT} and {MAX_INT}"

#: a person-level row's id in a path (64-bit)
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: a reference table's row id in a path (32-bit: PostgreSQL refuses a larger one outright)
SmallRowId = Annotated[int, Path(ge=1, le=MAX_SMALL_ID)]
#: a record's version in a path (``_history/{version}``)
Version = Annotated[int, Path(ge=1, le=MAX_SMALL_ID)]


def parse_row_id(text: str, *, small: bool = False) -> int | None:
    """A row id written in a reference or header (``"42"``), or None if it cannot be one.

    ASCII digits only (``str.isdigit`` also accepts "²" and other scripts' digits,
    which ``int`` then refuses or reads), within the 64-bit range (32-bit with
    ``small``: reference tables and versions).
    """
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= (MAX_SMALL_ID if small else MAX_ROW_ID) else None


def parse_version(text: str) -> int | None:
    """A version written in ``If-Match`` (``"3"``), or None if it cannot be one.

    Zero is a version no record has (a stale one, which the service refuses with
    412); past the 32-bit version column it is not a version at all.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_SMALL_ID else None


# ---- integer parameters ----------------------------------------------------------------


def _has(metadata: list[Any], *names: str) -> bool:
    """A constraint (``Ge``, ``Lt``, ``Interval``...) sets one of these bounds."""
    return any(getattr(m, n, None) is not None for m in metadata for n in names)


def _missing_bounds(metadata: list[Any]) -> list[Any]:
    out: list[Any] = []
    if not _has(metadata, "ge", "gt"):
        out.append(at.Ge(MIN_INT))
    if not _has(metadata, "le", "lt"):
        out.append(at.Le(MAX_INT))
    return out


def _is_int(annotation: Any) -> bool:
    """``int`` or ``int | None`` (not ``bool``, not a list of ints)."""
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args == [int]
    return False


def _bounded(annotation: Any, default: Any) -> Any | None:
    """The annotation with the 64-bit range added, or None if it needs none.

    The bounds go on the parameter's FieldInfo (``Query(...)``, ``Path(...)``,
    ``Form(...)`` as default or inside ``Annotated``) when it has one: that is
    where FastAPI reads constraints from.
    """
    metadata: list[Any] = []
    inner = annotation
    if typing.get_origin(annotation) is Annotated:
        inner, *metadata = typing.get_args(annotation)
    if not _is_int(inner):
        return None
    infos = [m for m in metadata if isinstance(m, FieldInfo)]
    if isinstance(default, FieldInfo):
        infos.append(default)
    if infos:
        info = infos[-1]
        info.metadata.extend(_missing_bounds(info.metadata))
        return annotation
    missing = _missing_bounds(metadata)
    if not missing:
        return None
    bounded_int = Annotated[int, *missing]
    return (
        bounded_int if inner is int else bounded_int | None  # type: ignore[operator]
    )


def bound_integers(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Give the endpoint's integer parameters the 64-bit range unless they declare bounds.

    Applied to every route by ``core.uow.UnitOfWorkRoute``, so an id or an
    offset past what the database stores is a 422 naming the parameter (and the
    published schema says so), whichever route it is sent to.
    """
    try:
        hints = typing.get_type_hints(endpoint, include_extras=True)
    except (NameError, TypeError):  # FastAPI resolves (and reports) what we cannot
        return endpoint
    signature = inspect.signature(endpoint)
    changed = False
    params = []
    for p in signature.parameters.values():
        annotation = hints.get(p.name, p.annotation)
        bounded = _bounded(annotation, p.default)
        if bounded is not None:
            changed = True
            annotation = bounded
        params.append(p.replace(annotation=annotation))
    if changed:
        endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return endpoint


# ---- bodies ----------------------------------------------------------------------------


class BodyError(ValueError):
    """A body the application refuses; ``loc`` is the path to the offending element."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _too_deep() -> BodyError:
    return BodyError((), f"is nested more than {MAX_JSON_DEPTH} levels deep")


def check_json(data: Any) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH``, NUL in any key or string, and
    integers beyond the 64-bit range (no column stores one; the driver would fail).

    Iterative, so the check itself cannot overflow the stack.
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                raise BodyError(loc, NUL_MESSAGE)
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            if not MIN_INT <= value <= MAX_INT:
                raise BodyError(loc, INT_MESSAGE)
            continue
        if not isinstance(value, dict | list):
            continue
        if len(loc) >= MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:
                    raise BodyError((*loc, key.replace(NUL, "\\u0000")), NUL_MESSAGE)
                stack.append((item, (*loc, key)))
        else:
            stack.extend((item, (*loc, i)) for i, item in enumerate(value))


def load_json(raw: bytes | str) -> Any:
    """``json.loads`` with ``check_json``; a body too deep for the parser is a ``BodyError``.

    Malformed JSON raises ``json.JSONDecodeError`` (or ``UnicodeDecodeError``) as usual.
    """
    try:
        data = json.loads(raw)
    except RecursionError as e:
        raise _too_deep() from e
    check_json(data)
    return data


def _field(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def _json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def check_json_body(request: Request) -> None:
    """The JSON body of a route that takes one, checked (and parsed once: Starlette caches it)."""
    content_type = request.headers.get("content-type", "")
    if content_type and not _json_type(content_type):
        return
    if not await request.body():
        return
    try:
        data = await request.json()
    except RecursionError as e:
        raise Invalid.fields([FieldError("body", _too_deep().message)]) from e
    except ValueError:  # malformed: FastAPI parses it again and names the position
        return
    try:
        check_json(data)
    except BodyError as e:
        raise Invalid.fields([FieldError(_field(e.loc), e.message)]) from e


async def check_form(request: Request) -> None:
    """The form of a route that takes one: NUL in no field name or value.

    Parsed with Starlette's limits, which are FastAPI's too, and cached for the route.
    """
    await request.body()
    form = await request.form()
    bad = [
        FieldError(key.replace(NUL, "\\u0000"), NUL_MESSAGE)
        for key, value in form.multi_items()
        if NUL in key or (isinstance(value, str) and NUL in value)
    ]
    if bad:
        raise Invalid.fields(bad)
