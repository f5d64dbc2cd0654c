"""The shared health record in FHIR: what another system sends is checked against R4B and
stored as sent (domains/record); what goes back is that resource with its id and meta.

``validate_resource``, ``to_fhir`` and ``resource_url`` serve the single-resource routes
(fhir/record_api.py) and the transaction/batch Bundles alike. NamingSystem: the identifier
systems of other systems registered on the platform.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import ValidationError

from salomat.core import json_text
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import MAX_JSON_DEPTH, BodyError, check_json
from salomat.domains.record.schemas import NamingSystemIn, NamingSystemOut, StoredResource
from salomat.fhir.common import BadRequest, element_path
from salomat.fhir.terminology_bindings import binding_errors

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
    """A request body as JSON (400 when it is not JSON or holds what no resource holds).

    Read with ``core.json_text``: a decimal keeps the text it was sent with (``1.50``, as
    FHIR's decimal requires), and an object naming a member twice is refused (422 naming
    each such element) instead of keeping its last value silently."""
    try:
        data = json_text.loads(raw)
        check_json(data)
        return data
    except json_text.DuplicateName as e:
        raise Invalid.fields(
            [
                FieldError(
                    element_path(resource_type, path),
                    N_("is given twice: FHIR JSON names each element once"),
                )
                for path in e.paths[:MAX_ERRORS]
            ]
        ) from e
    except RecursionError as e:
        raise BadRequest(
            N_("Not a valid FHIR R4 %(type)s."),
            params={"type": resource_type},
            errors=[FieldError(resource_type, f"is nested more than {MAX_JSON_DEPTH} levels deep")],
        ) from e
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
    # after BodyError (a ValueError too): an integer of more than 4,300 digits
    except ValueError as e:
        raise BadRequest(
            N_("Not a valid FHIR R4 %(type)s."),
            params={"type": resource_type},
            errors=[FieldError(resource_type, N_("holds a number too long to read"))],
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
    _uris(body, sent, errors)
    if not decimals_kept():
        _decimals(body, sent, errors)
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
    if not errors:  # codes outside their element's binding (fhir/terminology_bindings)
        errors += binding_errors(body)
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
    elif isinstance(node, str):
        if not node:
            errors.append(FieldError(path, N_("must not be empty: leave the element out")))
        elif _CONTROL.search(node):
            errors.append(
                FieldError(
                    path,
                    N_(
                        "must not contain control characters (only tab, carriage return and "
                        "line feed)"
                    ),
                )
            )


#: FHIR R4 strings: no code point below 32 but tab, carriage return and line feed
#: (datatypes.html#string; XML, FHIR's other format, cannot carry them at all)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: FHIR R4 uri, url, canonical, oid, uuid: ``\S*``, no whitespace (datatypes.html#uri)
_WHITESPACE = re.compile(r"\s")


def _uris(body: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    """Each element of a URI type (by the R4B model's field types) without whitespace: the
    model's own check lets it through, and a system or a profile with a space in it is
    another system than the sender meant."""
    from salomat.fhir.bundle import URI, _visit_links

    def visit(kind: str, where: str, text: str) -> str:
        if kind == URI and _WHITESPACE.search(text) and len(errors) < MAX_ERRORS:
            errors.append(FieldError(where, N_("must not contain spaces (a URI)")))
        return text

    _visit_links(body, None, path, visit)


@cache
def decimals_kept() -> bool:
    """Whether a decimal's text survives the store and the answer: the record's
    ``dumps``/``stored`` (domains/record/service/common.py) and ``fhir_response``
    (fhir/common.py) with ``core.json_text``. Until both do, ``1.50`` would come back as
    ``1.5``, so ``validate_resource`` refuses such a decimal (``_decimals``) rather than
    change it silently; once they do, this is true and every decimal is taken."""
    from salomat.domains.record.service.common import dumps
    from salomat.fhir.common import fhir_response

    probe = json_text.loads(b'{"v":1.50}')
    return dumps(probe) == '{"v":1.50}' and bytes(fhir_response(probe).body) == b'{"v":1.50}'


def _decimals(node: Any, path: str, errors: list[FieldError]) -> None:
    """Each decimal (``json_text.Number``) whose text the store would write otherwise
    as another decimal (``1.50`` as ``1.5``, ``1e2`` as ``100.0``; ``_precision_lost``):
    refused naming it, with the text it would get."""
    if len(errors) >= MAX_ERRORS:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            _decimals(value, f"{path}.{key}", errors)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _decimals(item, f"{path}[{i}]", errors)
    elif isinstance(node, json_text.Number) and _precision_lost(node):
        errors.append(
            FieldError(
                path,
                N_(
                    "%(value)s would be stored as %(stored)s: the platform does not keep a "
                    "decimal's precision yet. Send %(stored)s if that is what you mean."
                ),
                {"value": node.text, "stored": float.__repr__(node)},
            )
        )


def _precision_lost(number: json_text.Number) -> bool:
    """Whether the float's shortest text is another decimal than the one sent: another
    value (0.1000000000000000055) or precision (1.50, 1e2 as 100.0); ``0.00001`` written
    ``1e-05`` is the same decimal."""
    return Decimal(number.text).as_tuple() != Decimal(float.__repr__(number)).as_tuple()


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


class NoUpdateCreate(SalomatError):
    """An update of a ``shr-`` id that names no resource the caller may see: the record
    gives ids itself and creates nothing by update (CapabilityStatement ``updateCreate``
    false), so FHIR R4 (http.html, update) answers 405."""

    status, code, fhir_code = 405, "method-not-allowed", "not-supported"
    title = N_("Method not allowed")


def no_update_create(resource_type: str, fhir_id: str) -> NoUpdateCreate:
    """405 for an update of ``<Type>/<fhir_id>`` that names no resource: the same answer
    whether none has the id or its person is outside the caller's scope, as a read's 404
    is the same for both."""
    return NoUpdateCreate(
        N_(
            "There is no %(reference)s to update. This server gives the ids itself and "
            "does not create a resource by update: send a new one with POST /fhir/%(type)s."
        ),
        params={"reference": f"{resource_type}/{fhir_id}", "type": resource_type},
        headers={"Allow": "GET"},
    )


# ---- NamingSystem --------------------------------------------------------------------------

#: uniqueId types that name a URI, and how a bare value of each is written as one
_UNIQUE_ID_TYPES = {"uri": "", "oid": "urn:oid:", "uuid": "urn:uuid:"}


def naming_system(ns: NamingSystemOut, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """A registered (or built-in) identifier system as a FHIR NamingSystem: ``kept``, the
    resource its registrar sent (``naming_system_kept``), as sent with its id and meta
    (versionId 1, lastUpdated the registration; the rest of meta as sent); else one
    written from the columns."""
    if kept is not None and ns.id is not None:
        meta = dict(kept.get("meta") or {})
        meta["versionId"] = "1"
        if ns.created_at is not None:
            meta["lastUpdated"] = _instant(ns.created_at)
        rest = {k: v for k, v in kept.items() if k not in ("resourceType", "id", "meta")}
        return {"resourceType": "NamingSystem", "id": str(ns.id), "meta": meta, **rest}
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


def _instant(at: datetime) -> str:
    """A FHIR instant in UTC to the millisecond, as the record writes meta.lastUpdated."""
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def naming_system_kept(body: dict[str, Any]) -> dict[str, Any]:
    """What the record keeps of a NamingSystem sent (``naming_system_in`` has checked
    it): everything but ``id`` and the meta the server sets (versionId, lastUpdated)."""
    kept = {k: v for k, v in body.items() if k != "id"}
    meta = kept.get("meta")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")}
        if meta:
            kept["meta"] = meta
        else:
            kept.pop("meta")
    return kept


def _not_understood(node: Any, path: str, errors: list[FieldError]) -> None:
    """``modifierExtension`` anywhere and ``implicitRules``: a NamingSystem is kept as sent,
    so one whose meaning they change is refused rather than registered without it."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}"
            if key == "modifierExtension" or (key == "implicitRules" and path == "NamingSystem"):
                errors.append(
                    FieldError(
                        sub,
                        N_(
                            "%(element)s is not understood; refused rather than stored "
                            "with a meaning the platform cannot honour."
                        ),
                        {"element": key},
                    )
                )
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    _not_understood(item, f"{sub}[{i}]", errors)
            else:
                _not_understood(value, sub, errors)


def naming_system_in(body: Any) -> NamingSystemIn:
    """A NamingSystem another system registers: its name, the one URI it names
    (uniqueId of type uri, or oid / uuid written as urn:oid: / urn:uuid:), description and
    the responsible organisation. The whole resource is kept as sent
    (``naming_system_kept``), so it must be valid FHIR JSON as a record resource must (no
    null, no empty element) and hold nothing whose meaning the platform cannot honour
    (``modifierExtension``, ``implicitRules``). Refused, naming the element: those,
    another kind than identifier, a status other than active, no URI."""
    from fhir.resources.R4B.namingsystem import NamingSystem

    if not isinstance(body, dict) or body.get("resourceType") != "NamingSystem":
        raise BadRequest(
            N_("Send a %(type)s resource."),
            params={"type": "NamingSystem"},
            errors=[FieldError("NamingSystem.resourceType", N_("must be NamingSystem"))],
        )
    errors: list[FieldError] = []
    _json_rules(body, "NamingSystem", errors)
    _not_understood(body, "NamingSystem", errors)
    try:
        ns = NamingSystem.model_validate(body)
    except ValidationError as e:
        errors += [
            FieldError(
                element_path("NamingSystem", err["loc"]),
                err["msg"].removeprefix("Value error, "),
            )
            for err in e.errors()
        ]
    if errors:
        raise Invalid.fields(_unique(errors))
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
