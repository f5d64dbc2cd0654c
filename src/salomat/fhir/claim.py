"""A reimbursement claim line as a FHIR Claim (R4B).

FHIR's Claim is about one patient, so one Claim is one line of a pharmacy's
monthly claim: the fund's share of one dispensing. ``id`` is the line's id;
the monthly claim it belongs to is an identifier (``MONTHLY_SYSTEM``) and
``billablePeriod`` is its month. Type ``pharmacy``, use ``claim``,
``provider`` the pharmacy (``Organization/<id>``), ``created`` the moment of
dispensing, one item (the package given: its formulary code, the units, the
fund's amount as ``net``), ``total`` the same amount. The fund's review is
not a Claim's business in FHIR (it is a ClaimResponse's); here the line's
status and each anomaly flag travel as extensions so a reviewer's system
sees what the worklist shows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhir.resources.R4B.claim import Claim

from salomat.domains.prescription.schemas import ClaimLineOut
from salomat.fhir.common import EXT, instant, money, validated

CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
MONTHLY_SYSTEM = "urn:salomat:reimbursement-claim"
PRESCRIPTION_SYSTEM = "urn:salomat:prescription"
STATUS_EXT = EXT + "claim-line-status"
FLAG_EXT = EXT + "claim-flag"


def to_fhir(line: ClaimLineOut, currency: str) -> dict[str, Any]:
    end = (line.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    flags = [
        {
            "url": FLAG_EXT,
            "extension": [
                {"url": "rule", "valueCode": f.rule},
                {"url": "reason", "valueString": f.reason},
            ],
        }
        for f in line.flags
    ]
    note = [{"valueString": line.review_note, "url": "note"}] if line.review_note else []
    status_ext = {
        "url": STATUS_EXT,
        "extension": [{"url": "status", "valueCode": line.status}, *note],
    }
    body = {
        "resourceType": "Claim",
        "id": str(line.id),
        "extension": [status_ext, *flags],
        "identifier": [{"system": MONTHLY_SYSTEM, "value": str(line.claim_id)}],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "pharmacy"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{line.person_id}"},
        "billablePeriod": {"start": line.month.isoformat(), "end": end.isoformat()},
        "created": instant(line.dispensed_at),
        "provider": {
            "reference": f"Organization/{line.facility_id}",
            "display": line.facility_name,
        },
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "prescription": {
            "identifier": {"system": PRESCRIPTION_SYSTEM, "value": line.prescription_code}
        },
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"display": "compulsory health insurance"}}
        ],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"text": f"{line.inn}: {line.medicine}"},
                "servicedDate": line.dispensed_at.date().isoformat(),
                "quantity": {"value": line.units},
                "net": money(line.amount, currency),
            }
        ],
        "total": money(line.amount, currency),
    }
    return validated(Claim, body)
