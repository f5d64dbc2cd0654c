"""MedicationDispense <-> a dispensing (thin mapper, read only).

- ``authorizingPrescription``: the ``MedicationRequest``; ``subject`` the patient;
  ``performer[0].actor`` the pharmacy (``Organization/<id>``).
- ``medicationReference``: the package given; ``substitution.wasSubstituted``
  when it is not the one prescribed (always within the INN).
- ``quantity``: the units given; ``whenHandedOver`` the moment.
- Amounts in minor units (tiyin, tiyn), as integer extensions: the pharmacy's
  price, the fund's share and the co-payment (price = share + co-payment).
"""

from __future__ import annotations

from typing import Any

from salomat.domains.prescription.schemas import DispensingOut
from salomat.fhir.common import EXT, instant, meta, validated

PRICE = f"{EXT}dispense-price-minor"
REIMBURSED = f"{EXT}dispense-reimbursed-minor"
COPAYMENT = f"{EXT}dispense-copayment-minor"
SUBSTITUTION = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def medication_dispense(d: DispensingOut) -> dict[str, Any]:
    from fhir.resources.R4B.medicationdispense import MedicationDispense

    label = " ".join(x for x in (d.trade_name or d.inn, d.strength) if x)
    res: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": str(d.id),
        "meta": meta(1, d.dispensed_at),
        "status": "completed",
        "medicationReference": {"reference": f"Medication/{d.medicine_id}", "display": label},
        "subject": {"reference": f"Patient/{d.person_id}"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{d.prescription_id}"}],
        "performer": [{"actor": {"reference": f"Organization/{d.facility_id}"}}],
        "quantity": {"value": d.units, "unit": d.unit or "unit"},
        "whenHandedOver": instant(d.dispensed_at),
        "substitution": {"wasSubstituted": d.substituted},
        "extension": [
            {"url": PRICE, "valueInteger": d.price},
            {"url": REIMBURSED, "valueInteger": d.reimbursed_amount},
            {"url": COPAYMENT, "valueInteger": d.copayment},
        ],
    }
    if d.substituted:
        res["substitution"]["type"] = {
            "coding": [{"system": SUBSTITUTION, "code": "G", "display": "generic composition"}]
        }
    return validated(MedicationDispense, res)
