"""Links of a Bundle entry's resource (fhir/bundle.py): where an entry's fullUrl may stand
in another entry's resource, found and rewritten."""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# ---- references ----------------------------------------------------------------------
#
# Where an entry's fullUrl may stand in another entry's resource, and so what a
# transaction replaces with the stored ``<Type>/<id>`` (R4 http.html, transaction
# processing): Reference.reference, every element of type uri, url, canonical, oid or
# uuid, and the href/src attributes of the narrative. The elements' types come from the
# R4B model of the resource; a value without a resourceType is walked for ``reference``
# keys only.

REFERENCE, URI, NARRATIVE = "reference", "uri", "narrative"
#: what a field of a model holds: (kind, model of its elements)
_Shape = tuple[str, Any]
_LINK_ATTR = re.compile(r"""(\b(?:href|src)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _model(resource_type: Any) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource_type, str):
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _shape(annotation: Any) -> _Shape:
    import uuid

    from fhir_core import types as fhir_types

    t = annotation
    while True:
        origin = typing.get_origin(t)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if len(args) != 1:
                return ("other", None)
            t = args[0]
        elif origin in (list, typing.List):  # noqa: UP006
            t = typing.get_args(t)[0]
        else:
            break
    if typing.get_origin(t) is typing.Annotated:
        base, *extra = typing.get_args(t)
        uris = (
            fhir_types.Uri,
            fhir_types.Url,
            fhir_types.Canonical,
            fhir_types.Oid,
            fhir_types.Uuid,
        )
        if base is uuid.UUID or any(isinstance(m, uris) for m in extra):
            return (URI, None)
        if any(isinstance(m, fhir_types.Xhtml) for m in extra):
            return (NARRATIVE, None)
        return ("other", None)
    klass = getattr(t, "get_model_klass", None)
    if klass is not None:
        model = klass()
        if model.__name__ == "Resource":  # contained: the type each one names
            return ("resource", None)
        return ("model", model)
    return ("other", None)


@functools.cache
def _fields(model: Any) -> dict[str, _Shape]:
    return {(f.alias or name): _shape(f.annotation) for name, f in model.model_fields.items()}


LinkVisit = Callable[[str, str, str], str]


def _visit_links(value: Any, model: Any, path: str, visit: LinkVisit) -> Any:
    """``value`` rebuilt with ``visit(kind, path, text)`` in place of each link's text."""
    if isinstance(value, list):
        return [_visit_links(v, model, f"{path}[{i}]", visit) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "resourceType" in value and (model is None or model == "resource"):
        model = _model(value["resourceType"])
    fields = _fields(model) if model not in (None, "resource") else {}
    is_reference = getattr(model, "__name__", "") == "Reference"
    out: dict[str, Any] = {}
    for k, v in value.items():
        # a value of no known type: only its ``reference`` keys are references
        kind, child = fields.get(k, ("other", None)) if fields else ("?", None)
        if k == "reference" and isinstance(v, str) and (is_reference or not fields):
            out[k] = visit(REFERENCE, path, v)
        elif kind == URI and isinstance(v, str):
            out[k] = visit(URI, _join(path, k), v)
        elif kind == URI and isinstance(v, list):
            out[k] = [
                visit(URI, f"{_join(path, k)}[{i}]", x) if isinstance(x, str) else x
                for i, x in enumerate(v)
            ]
        elif kind == NARRATIVE and isinstance(v, str):
            at = _join(path, k)
            out[k] = _LINK_ATTR.sub(
                lambda m, at=at: (
                    m.group(1) + m.group(2) + visit(NARRATIVE, at, m.group(3)) + m.group(2)
                ),
                v,
            )
        elif kind == "model":
            out[k] = _visit_links(v, child, _join(path, k), visit)
        elif kind == "resource":
            out[k] = _visit_links(v, "resource", _join(path, k), visit)
        elif kind == "?":
            out[k] = _visit_links(v, None, _join(path, k), visit)
        else:
            out[k] = v
    return out


def links(value: Any) -> list[tuple[str, str, str]]:
    """Every place an entry's fullUrl may stand in ``value``: (kind, path, text); the
    path of a reference is its Reference element (``encounter``, ``result[1]``,
    ``extension[0].valueReference``), of a uri its element, of a narrative link
    ``text.div``."""
    found: list[tuple[str, str, str]] = []

    def visit(kind: str, path: str, text: str) -> str:
        found.append((kind, path, text))
        return text

    _visit_links(value, None, "", visit)
    return found


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Every ``Reference.reference`` in ``value`` with the path of its Reference element."""
    return ((path, text) for kind, path, text in links(value) if kind == REFERENCE)


def rewrite_references(
    value: Any, resolved: Mapping[str, str], relative: Mapping[str, str] | None = None
) -> Any:
    """``value`` with every link (reference, uri-typed element, narrative href/src) that
    ``resolved`` knows replaced by what it maps to, and every reference that ``relative``
    knows (``<Type>/<id>`` resolved against the Bundle) by what that maps to; everything
    else as it was (a new structure: ``value`` is not changed)."""

    def visit(kind: str, path: str, text: str) -> str:
        if kind == REFERENCE and relative and text in relative:
            return relative[text]
        return resolved.get(text, text)

    return _visit_links(value, None, "", visit)
