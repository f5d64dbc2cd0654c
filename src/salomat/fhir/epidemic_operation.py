"""The OperationDefinition of ``Condition/$notify`` (docs/epidemic.md "FHIR"), read at
``GET /fhir/OperationDefinition/condition-notify`` and named by the CapabilityStatement's
Condition entry (its canonical ``NOTIFY``).

The operation takes its input as the request body itself, not in a ``Parameters``
resource: a ``Condition`` or a ``Bundle`` (``transaction`` or ``collection``) of the
Condition and at most one laboratory ``Observation``. Its output is the stored Condition
(``return``), 201 with its ``Location``; a refusal is an OperationOutcome naming the
element (422), 403 without ``epidemic:report``.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.operationdefinition import OperationDefinition

from salomat.fhir.common import EXT, meta, validated
from salomat.fhir.epidemic import ADMISSION_EXT, DISTRICT_EXT, FACILITY_EXT, ICD10, POSITIVE

ID = "condition-notify"
#: the operation's canonical (Salomat's own), the tail of which is its id here
NOTIFY = f"{EXT.removesuffix('StructureDefinition/')}OperationDefinition/{ID}"

_CONDITION = (
    "The notification: subject Patient/<id>; code one coding in "
    f"{ICD10} (a notifiable disease of the country's list); onsetDateTime; recordedDate "
    f"(the report date); extension {DISTRICT_EXT} (valueCoding in urn:salomat:territory, "
    f"a district); optionally {FACILITY_EXT} (valueIdentifier in urn:salomat:facility, the "
    f"notifying facility) and {ADMISSION_EXT} (valueDate, hospitalised since). Sent as the "
    "request body itself. Exactly one of condition and bundle."
)
_BUNDLE = (
    "A Bundle of type transaction or collection holding the Condition (as the condition "
    "parameter) and at most one laboratory Observation: a valueCodeableConcept SNOMED CT "
    f"{POSITIVE} (Positive) confirms the case, performer.identifier (urn:salomat:facility) "
    "names the laboratory. Sent as the request body itself. Exactly one of condition and "
    "bundle."
)
_RETURN = (
    "The stored notification, Condition/epi-<n> (verificationStatus confirmed when "
    "laboratory-confirmed, else provisional), answered 201 with its Location; its "
    "laboratory result reads as Observation/epi-lab-<n>. A refusal is an OperationOutcome "
    "(422) whose issues name the elements sent (Condition.onsetDateTime, Condition.code, "
    "Observation.performer...)."
)


def definition() -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "OperationDefinition",
        "id": ID,
        "meta": meta(1, None),
        "url": NOTIFY,
        "version": "1",
        "name": "ConditionNotify",
        "title": "Notify a case of a notifiable disease",
        "status": "active",
        "kind": "operation",
        "publisher": "Salomat",
        "description": (
            "A case of a notifiable disease notified to epidemic surveillance, checked and "
            "audited as POST /api/v1/epidemic/notifications (permission epidemic:report). "
            "POST /fhir/Condition with a notification extension, and such a Condition in a "
            "transaction or batch Bundle to POST /fhir, are the same notification."
        ),
        "affectsState": True,
        "code": "notify",
        "comment": (
            "The input is the body itself (a Condition or a Bundle), not a Parameters "
            "resource; a notification is not created conditionally (If-None-Exist 422)."
        ),
        "resource": ["Condition"],
        "system": False,
        "type": True,
        "instance": False,
        "parameter": [
            {
                "name": "condition",
                "use": "in",
                "min": 0,
                "max": "1",
                "documentation": _CONDITION,
                "type": "Condition",
            },
            {
                "name": "bundle",
                "use": "in",
                "min": 0,
                "max": "1",
                "documentation": _BUNDLE,
                "type": "Bundle",
            },
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "documentation": _RETURN,
                "type": "Condition",
            },
        ],
    }
    return validated(OperationDefinition, res)
