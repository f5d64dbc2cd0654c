"""The shared health record in FHIR: what another system sends is checked against R4B and
stored as sent (domains/record); what goes back is that resource with its id and meta.

``validate_resource``, ``to_fhir`` and ``resource_url`` serve the single-resource routes
(fhir/record_api.py) and the transaction/batch Bundles alike. NamingSystem: the identifier
systems of other systems registered on the platform.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import BodyError, load_json
from salomat.domains.record.schemas import NamingSystemIn, NamingSystemOut, StoredResource
from salomat.fhir.common import BadRequest, element_path

#: the types the shared record keeps (domains/record RESOURCE_TYPES)
RESOURCE_TYPES = (
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "AllergyIntolerance",
    "DiagnosticReport",
    "DocumentReference",
)
ID_PREFIX = "shr-"
#: the status codes FHIR R4 binds (required) for each type's ``status`` (1..1 in each);
#: the R4B models take any code, so an unknown one is refused here
STATUS_CODES: dict[str, frozenset[str]] = {
    "Encounter": frozenset(
        {
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    ),
    "Observation": frozenset(
        {
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    ),
    "Procedure": frozenset(
        {
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        }
    ),
    "DiagnosticReport": frozenset(
        {
            "registered",
            "partial",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "appended",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    ),
    "DocumentReference": frozenset({"current", "superseded", "entered-in-error"}),
}
#: a NamingSystem's date when the platform itself defines the system (built-in)
BUILTIN_DATE = "2026-11-23"


def parse_body(raw: bytes, resource_type: str) -> Any:
    """A request body as JSON (400 when it is not JSON or holds what no resource holds)."""
    try:
        return load_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(
            N_("The body is not JSON."), errors=[FieldError(resource_type, str(e))]
        ) from e
    except BodyError as e:
        raise BadRequest(
            N_("Not a valid FHIR R4 %(type)s."),
            params={"type": resource_type},
            errors=[FieldError(element_path(resource_type, e.loc), e.message)],
        ) from e


def validate_resource(body: Any, resource_type: str | None = None) -> dict[str, Any]:
    """``body`` checked as an R4B resource of one of the record's types (``resource_type``
    when given); ``Invalid`` naming each wrong element (``Observation.valueQuantity.value``).
    Returns the dict as sent: nothing is normalised."""
    from fhir.resources.R4B import get_fhir_model_class

    kind = resource_type or "Resource"
    if not isinstance(body, dict):
        raise Invalid.fields([FieldError(kind, N_("must be a JSON object (a FHIR resource)"))])
    sent = body.get("resourceType")
    if resource_type is not None and sent != resource_type:
        raise Invalid.fields(
            [
                FieldError(
                    f"{resource_type}.resourceType",
                    N_("must be %(type)s"),
                    {"type": resource_type},
                )
            ]
        )
    if sent not in RESOURCE_TYPES:
        raise Invalid.fields(
            [
                FieldError(
                    f"{kind}.resourceType",
                    N_("must be one of %(types)s"),
                    {"types": ", ".join(RESOURCE_TYPES)},
                )
            ]
        )
    model = get_fhir_model_class(sent)
    errors: list[FieldError] = []
    _json_rules(body, sent, errors)
    try:
        model.model_validate(body)
    except ValidationError as e:
        errors += [
            FieldError(element_path(sent, err["loc"]), err["msg"].removeprefix("Value error, "))
            for err in e.errors()
        ]
    except (TypeError, ValueError) as e:  # a model's own check that is not pydantic's
        errors.append(FieldError(sent, str(e)))
    codes = STATUS_CODES.get(sent)
    if codes is not None and not any(f.field == f"{sent}.status" for f in errors):
        status = body.get("status")
        if status is None:
            errors.append(FieldError(f"{sent}.status", N_("is required")))
        elif status not in codes:
            errors.append(
                FieldError(
                    f"{sent}.status",
                    N_("must be one of %(codes)s"),
                    {"codes": ", ".join(sorted(codes))},
                )
            )
    if errors:
        raise Invalid.fields(_unique(errors))
    return body


#: at most this many wrong elements are named in one answer
MAX_ERRORS = 50


def _json_rules(node: Any, path: str, errors: list[FieldError]) -> None:
    """FHIR JSON's own rules, which the models let through: no null (but in a primitive
    array that a ``_name`` array of extensions aligns), no empty object, array or string.
    ``resourceType`` is the model's to check."""
    if len(errors) >= MAX_ERRORS:
        return
    if isinstance(node, dict):
        if not node:
            errors.append(FieldError(path, N_("must not be empty: leave the element out")))
        for key, value in node.items():
            if key == "resourceType":
                continue
            sub = f"{path}.{key}"
            if value is None:
                errors.append(FieldError(sub, N_("must not be null: leave the element out")))
            elif isinstance(value, list):
                if not value:
                    errors.append(
                        FieldError(sub, N_("must not be an empty array: leave the element out"))
                    )
                aligned = f"_{key.removeprefix('_')}" in node
                for i, item in enumerate(value):
                    if item is None:
                        if not aligned:
                            errors.append(
                                FieldError(
                                    f"{sub}[{i}]",
                                    N_("must not be null: leave the element out"),
                                )
                            )
                    else:
                        _json_rules(item, f"{sub}[{i}]", errors)
            else:
                _json_rules(value, sub, errors)
    elif isinstance(node, str) and not node:
        errors.append(FieldError(path, N_("must not be empty: leave the element out")))


def _unique(errors: list[FieldError]) -> list[FieldError]:
    """One error per element (the JSON rules and the model may both name it)."""
    seen: set[str] = set()
    out = []
    for f in errors:
        if f.field not in seen:
            seen.add(f.field)
            out.append(f)
    return out[:MAX_ERRORS]


def to_fhir(stored: StoredResource) -> dict[str, Any]:
    """The resource as stored, with its id and meta (versionId, lastUpdated; source as
    sent)."""
    return dict(stored.resource)


def resource_url(stored: StoredResource) -> str:
    """``<Type>/shr-<n>``: the resource's relative URL."""
    return f"{stored.resource_type}/{stored.fhir_id}"


# ---- NamingSystem --------------------------------------------------------------------------

#: uniqueId types that name a URI, and how a bare value of each is written as one
_UNIQUE_ID_TYPES = {"uri": "", "oid": "urn:oid:", "uuid": "urn:uuid:"}


def naming_system(ns: NamingSystemOut) -> dict[str, Any]:
    """A registered (or built-in) identifier system as a FHIR NamingSystem."""
    out: dict[str, Any] = {
        "resourceType": "NamingSystem",
        "name": ns.name,
        "status": ns.status,
        "kind": "identifier",
        "date": ns.created_at.date().isoformat() if ns.created_at else BUILTIN_DATE,
        "uniqueId": [{"type": "uri", "value": ns.url, "preferred": True}],
    }
    if ns.id is not None:
        out["id"] = str(ns.id)
    if ns.responsible:
        out["responsible"] = ns.responsible
        out["publisher"] = ns.responsible
    if ns.description:
        out["description"] = ns.description
    if ns.builtin:
        out["usage"] = "built-in: one of the platform's own identifier systems"
    return out


def naming_system_in(body: Any) -> NamingSystemIn:
    """A NamingSystem another system registers: its name, the one URI it names
    (uniqueId of type uri, or oid / uuid written as urn:oid: / urn:uuid:), description and
    the responsible organisation. Refused, naming the element: another kind than
    identifier, a status other than active, no URI."""
    from fhir.resources.R4B.namingsystem import NamingSystem

    if not isinstance(body, dict) or body.get("resourceType") != "NamingSystem":
        raise BadRequest(
            N_("Send a %(type)s resource."),
            params={"type": "NamingSystem"},
            errors=[FieldError("NamingSystem.resourceType", N_("must be NamingSystem"))],
        )
    try:
        ns = NamingSystem.model_validate(body)
    except ValidationError as e:
        raise Invalid.fields(
            [
                FieldError(
                    element_path("NamingSystem", err["loc"]),
                    err["msg"].removeprefix("Value error, "),
                )
                for err in e.errors()
            ]
        ) from e
    errors: list[FieldError] = []
    if ns.kind != "identifier":
        errors.append(FieldError("NamingSystem.kind", N_("must be identifier")))
    if ns.status != "active":
        errors.append(FieldError("NamingSystem.status", N_("must be active")))
    candidates = []
    for i, u in enumerate(ns.uniqueId or []):
        prefix = _UNIQUE_ID_TYPES.get(u.type or "")
        if prefix is None:
            continue
        value = u.value if prefix == "" or u.value.startswith(prefix) else prefix + u.value
        candidates.append((not u.preferred, i, value))
    if not candidates:
        errors.append(
            FieldError("NamingSystem.uniqueId", N_("give one of type uri (or oid, uuid)"))
        )
    if errors:
        raise Invalid.fields(errors)
    _, index, url = sorted(candidates)[0]
    values = {
        "name": ns.name,
        "url": url,
        "description": ns.description,
        "responsible": ns.responsible,
    }
    paths = {
        "name": "NamingSystem.name",
        "url": f"NamingSystem.uniqueId[{index}].value",
        "description": "NamingSystem.description",
        "responsible": "NamingSystem.responsible",
    }
    try:
        return NamingSystemIn.model_validate(values)
    except ValidationError as e:
        raise Invalid.fields(
            [
                FieldError(
                    paths.get(str(err["loc"][0]), "NamingSystem") if err["loc"] else "NamingSystem",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in e.errors()
            ]
        ) from e


def element(resource_type: str, field: str) -> str:
    """A service error's field as the element path of the resource sent."""
    if field.startswith(f"{resource_type}.") or field in ("If-Match", "If-None-Exist"):
        return field
    return f"{resource_type}.{field}"
