"""The answer of a transaction or batch checked against R4B before it is sent
(fhir/bundle.py)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from salomat.fhir.bundle_links import _model

#: R4's mark of a resource returned with elements left out (a search's ``_elements``)
_SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")
#: pydantic's and fhir.resources' names of a required element left out
_MISSING = frozenset({"missing", "model_field_validation.missing"})


def _subsetted(resource: Any) -> bool:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(t, dict) and (t.get("system"), t.get("code")) == _SUBSETTED for t in tags
    )


def _check_subset(resource: dict[str, Any], path: str) -> None:
    """A SUBSETTED resource checked against its R4B model for what it holds: a required
    element left out is no error (R4: a subset need not be valid), any other is."""
    model = _model(resource.get("resourceType"))
    if model is None:
        raise ValueError(f"{path}: no R4B resource type {resource.get('resourceType')!r}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        wrong = [
            err for err in exc.errors() if not (err["type"] in _MISSING and len(err["loc"]) == 1)
        ]
        if wrong:
            raise ValueError(f"{path}: {wrong}") from exc


def _without_subsets(value: dict[str, Any], path: str) -> dict[str, Any]:
    """``value`` (a Bundle) with each SUBSETTED resource of its entries, and of the
    Bundles among them, checked on its own (``_check_subset``) and replaced by a Basic
    that holds its id, so that the rest is checked whole."""
    out = dict(value)
    entries = value.get("entry")
    if not isinstance(entries, list):
        return out
    out["entry"] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        at = f"{path}.entry[{i}].resource"
        if _subsetted(resource):
            _check_subset(resource, at)  # type: ignore[arg-type]
            stub = {"resourceType": "Basic", "code": {"text": "subsetted"}}
            if isinstance(resource.get("id"), str):  # type: ignore[union-attr]
                stub["id"] = resource["id"]  # type: ignore[index]
            entry = {**entry, "resource": stub}
        elif isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            entry = {**entry, "resource": _without_subsets(resource, at)}
        out["entry"].append(entry)
    return out


def checked_response(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (a transaction- or batch-response as built), unchanged, once it passes
    R4B: each resource whole, but a SUBSETTED one (a search's ``_elements``) only for the
    elements it holds. Raises ValueError (pydantic's ValidationError is one) when not:
    a server error, the answer being the server's own."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(_without_subsets(body, "Bundle"))
    return body
