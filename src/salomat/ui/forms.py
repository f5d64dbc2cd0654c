"""What every HTML form handler needs: read posted values, validate, group errors by field."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ValidationError

from salomat.core.errors import N_, FieldError, Invalid, field_errors_from_pydantic
from salomat.core.i18n import gettext
from salomat.core.params import NUL, NUL_MESSAGE
from salomat.ui.templating import speaking


def errors_by_field(
    errors: list[FieldError], rename: dict[str, str] | None = None
) -> dict[str, list[FieldError]]:
    """Messages per form field (``rename``: API field -> form field where they differ).

    Each is the error itself: it prints its message in the language of the page that
    shows it (the handler runs before the page's language is set).
    """
    out: dict[str, list[FieldError]] = {}
    for e in errors:
        field = (rename or {}).get(e.field, e.field)
        out.setdefault(field, []).append(e)
    return out


def validate(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    """The model, or ``Invalid`` naming each wrong field as the REST API would."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e


def text(form: Any, name: str) -> str:
    """A posted value, stripped ("" when absent)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def texts(form: Any, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    return [v for v in form.getlist(name) if isinstance(v, str)]


def day(value: str, field: str) -> date | None:
    """A typed day (YYYY-MM-DD, stripped), ``None`` when empty; refused (422) naming
    ``field`` when it is not a date."""
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid.fields([FieldError(field, N_("is not a date"))]) from None


async def read_form(request: Request) -> Any:
    """The posted form, refused (422) when a name or value holds a NUL character (which
    PostgreSQL text cannot store: a national id with one would otherwise reach a query)."""
    form = await request.form()  # parsed once already by the CSRF check: Starlette's cache
    bad = [
        FieldError(key.replace(NUL, "\\u0000"), NUL_MESSAGE)
        for key, value in form.multi_items()
        if NUL in key or (isinstance(value, str) and NUL in value)
    ]
    if bad:
        raise Invalid.fields(bad)
    return form


def values(posted: Any, names: tuple[str, ...]) -> dict[str, str]:
    """The posted fields, stripped ("" when absent): what the form shows again if refused."""
    return {n: text(posted, n) for n in names}


def loose(errors: dict[str, list[FieldError]], shown: tuple[str, ...]) -> list[FieldError]:
    """The messages of fields the form has no place for (shown above the form)."""
    return [e for name, es in errors.items() if name not in shown for e in es]


#: the page's language while a handler calls services that word things (a rule's
#: reason, a facility's name in its language): the same as ``templating.speaking``
page_language = speaking


def query_text(request: Request, name: str, most: int) -> tuple[str, list[FieldError]]:
    """A query parameter of a report page, stripped ("" when absent); longer than ``most``
    characters: "" and the error naming it."""
    value = (request.query_params.get(name) or "").strip()
    if len(value) > most:
        return "", [FieldError(name, N_("is longer than %(n)s characters"), {"n": most})]
    return value, []


def labelled_errors(errors: list[FieldError], labels: dict[str, str]) -> list[dict[str, str]]:
    """The errors as a report page lists them: the field, its label in the page's language
    (``labels``: field -> msgid; none for a field it does not name) and the message."""
    return [
        {
            "field": e.field,
            "label": gettext(labels[e.field]) if e.field in labels else "",
            "message": e.message,
        }
        for e in errors
    ]
