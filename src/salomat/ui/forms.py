"""What every HTML form handler needs: read posted values, validate, group errors by field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from salomat.core.errors import FieldError, Invalid, field_errors_from_pydantic


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
