"""AuditEvent mapper: one audit row -> FHIR R4 AuditEvent (validated with R4B models)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

from salomat.core.audit import AuditEntry

DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
USER_SYSTEM = "urn:salomat:user"
#: the platform's roles (``core.policy.Role``), as an agent's role
ROLE_SYSTEM = "urn:salomat:role"

_TYPE = {
    "login": ("110114", "User Authentication"),
    "logout": ("110114", "User Authentication"),
}
_PATIENT_RECORD = ("110110", "Patient Record")
_ACTION = {
    "create": "C",
    "read": "R",
    "update": "U",
    "delete": "D",
    "search": "E",
    "login": "E",
    "logout": "E",
    "denied": "E",
}
_SUBTYPE = {
    "create": "create",
    "read": "read",
    "update": "update",
    "delete": "delete",
    "search": "search-type",
}


def to_fhir(e: AuditEntry) -> dict[str, Any]:
    code, display = _TYPE.get(e.action, _PATIENT_RECORD)
    agent: dict[str, Any] = {
        "type": {"text": "user"},
        "altId": e.username or "anonymous",
        "requestor": True,
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": e.role}], "text": e.role}]
        if e.role
        else [{"text": "anonymous"}],
    }
    if e.user_id is not None:
        agent["who"] = {
            "identifier": {"system": USER_SYSTEM, "value": str(e.user_id)},
            "display": e.username,
        }
    if e.facility_code:
        agent["location"] = {
            "identifier": {"system": "urn:salomat:facility", "value": e.facility_code},
            "display": e.facility_code,
        }
    if e.client_address:
        agent["network"] = {"address": e.client_address, "type": "2"}
    if e.break_glass:
        agent["purposeOfUse"] = [
            {"coding": [{"system": ACT_REASON, "code": "BTG", "display": "break the glass"}]}
        ]
    res: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(e.id),
        "type": {"system": DCM, "code": code, "display": display},
        "action": _ACTION.get(e.action, "E"),
        "recorded": e.occurred_at.isoformat(),
        "outcome": "0" if e.outcome == "success" else "4",
        "agent": [agent],
        "source": {"observer": {"display": "Salomat"}, "site": "salomat"},
    }
    if e.action in _SUBTYPE:
        res["subtype"] = [{"system": REST, "code": _SUBTYPE[e.action]}]
    if e.action == "denied" or e.detail:
        res["outcomeDesc"] = "; ".join(
            x for x in (e.action if e.action == "denied" else None, e.detail) if x
        )
    if e.purpose:
        res["purposeOfEvent"] = [{"text": e.purpose}]
    entities: list[dict[str, Any]] = []
    if e.patient_id is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{e.patient_id}"},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
            }
        )
    if e.resource_id and e.resource_type != "Patient":
        entities.append(
            {
                "what": {
                    "identifier": {
                        "system": f"urn:salomat:{e.resource_type}",
                        "value": e.resource_id,
                    }
                },
                "description": e.resource_type,
            }
        )
    if entities:
        res["entity"] = entities
    if e.request_id:
        res.setdefault("meta", {})["tag"] = [
            {"system": "urn:salomat:request-id", "code": e.request_id}
        ]
    return AuditEvent.model_validate(res).model_dump(mode="json", exclude_none=True)
