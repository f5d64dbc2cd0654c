"""Resources as another system sends them, and a few readers of the results."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from salomat.core.errors import SalomatError
from salomat.domains.record import service as record


def observation(person_id: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": kw.pop("status", "final"),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": kw.pop("category", "vital-signs"),
                    }
                ]
            }
        ],
        "code": kw.pop(
            "code",
            {
                "coding": [
                    {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"},
                    {"system": "urn:local:codes", "code": "HR"},
                ]
            },
        ),
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": kw.pop("effective", "2026-03-05T10:00:00Z"),
        "valueQuantity": {"value": 72, "unit": "/min"},
    }
    body.update(kw)
    return body


def encounter(person_id: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
        },
        "subject": {"reference": f"Patient/{person_id}"},
        "period": {"start": "2026-03-01T08:00:00Z", "end": "2026-03-07T12:00:00Z"},
    }
    body.update(kw)
    return body


def document(person_id: int, data: bytes, **att: Any) -> dict[str, Any]:
    attachment = {
        "contentType": att.pop("contentType", "application/pdf"),
        "data": base64.b64encode(data).decode(),
        "title": "Discharge summary",
        **att,
    }
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{person_id}"},
        "date": "2026-03-07T12:00:00Z",
        "content": [{"attachment": attachment}],
    }


def fields(e: SalomatError) -> dict[str, str]:
    return {f.field: f.english for f in e.errors}


def interval(prefix: str, value: str) -> tuple[str, datetime, datetime]:
    lower, upper = record.fhir_interval(value)
    return prefix, lower, upper
