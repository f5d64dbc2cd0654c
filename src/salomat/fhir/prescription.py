"""Medication and MedicationRequest <-> the formulary and prescriptions (thin mappers).

- ``Medication``: one formulary package. ``code`` carries the WHO ATC code
  (``http://www.whocc.no/atc``) and the formulary code (``urn:salomat:formulary``);
  ``amount`` the units per package.
- ``MedicationRequest``: one prescription. ``identifier`` is the short code a
  person reads out (``urn:salomat:prescription-code``); ``medicationReference``
  the package; ``reasonCode`` the ICD-10 diagnosis; ``courseOfTherapyType`` the
  pack's type; ``dosageInstruction[0]`` dose × times a day × days;
  ``dispenseRequest`` the quantity and the validity period. Status: active,
  completed (dispensed in full), cancelled (with ``statusReason``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from salomat.core.errors import FieldError, Invalid
from salomat.domains.prescription.schemas import MedicineOut, PrescriptionIn, PrescriptionOut
from salomat.fhir.common import instant, meta, reference_id, validated

ATC = "http://www.whocc.no/atc"
FORMULARY = "urn:salomat:formulary"
CODE_SYSTEM = "urn:salomat:prescription-code"
TYPE_SYSTEM = "urn:salomat:prescription-type"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
REIMBURSEMENT = "urn:salomat:reimbursement-pct"
STATUS = {
    "active": "active",
    "dispensed": "completed",
    "cancelled": "cancelled",
    # lapsed before it was fully dispensed
    "expired": "stopped",
}
#: the service's field names as the FHIR elements a client sent
FIELDS = {
    "medicine": "MedicationRequest.medicationCodeableConcept",
    "diagnosis": "MedicationRequest.reasonCode",
    "kind": "MedicationRequest.courseOfTherapyType",
    "dose_units": "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity",
    "times_per_day": "MedicationRequest.dosageInstruction[0].timing.repeat.frequency",
    "days": "MedicationRequest.dispenseRequest.expectedSupplyDuration",
    "instructions": "MedicationRequest.dosageInstruction[0].text",
}


def medicine_label(m: MedicineOut) -> str:
    """A formulary package as a person reads it: the trade name (or INN) and strength."""
    return f"{m.trade_name or m.inn} {m.strength}"


def medication(m: MedicineOut) -> dict[str, Any]:
    from fhir.resources.R4B.medication import Medication

    label = medicine_label(m)
    return validated(
        Medication,
        {
            "resourceType": "Medication",
            "id": str(m.id),
            "meta": {"versionId": "1"},
            "code": {
                "coding": [
                    {"system": ATC, "code": m.atc, "display": m.inn},
                    {"system": FORMULARY, "code": m.code, "display": label},
                ],
                "text": label,
            },
            "status": "active" if m.active else "inactive",
            "form": {"text": m.form},
            "amount": {
                "numerator": {"value": m.units_per_package, "unit": m.unit},
                "denominator": {"value": 1, "unit": "package"},
            },
        },
    )


def medication_request(p: PrescriptionOut) -> dict[str, Any]:
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    unit = p.unit or "unit"
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(p.id),
        "meta": meta(p.version, p.updated_at),
        "identifier": [{"system": CODE_SYSTEM, "value": p.code}],
        "status": STATUS[p.status],
        "intent": "order",
        "medicationReference": {
            "reference": f"Medication/{p.medicine_id}",
            "display": p.medicine_label or p.inn,
        },
        "subject": {"reference": f"Patient/{p.person_id}"},
        "authoredOn": instant(p.created_at),
        "courseOfTherapyType": {"coding": [{"system": TYPE_SYSTEM, "code": p.kind}]},
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {
                        "frequency": p.times_per_day,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsDuration": {
                            "value": p.days,
                            "unit": "days",
                            "system": UCUM,
                            "code": "d",
                        },
                    }
                },
                "doseAndRate": [{"doseQuantity": {"value": p.dose_units, "unit": unit}}],
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {"start": p.issued_on.isoformat(), "end": p.valid_until.isoformat()},
            "quantity": {"value": p.quantity_units, "unit": unit},
            "expectedSupplyDuration": {
                "value": p.days,
                "unit": "days",
                "system": UCUM,
                "code": "d",
            },
        },
        "extension": [{"url": REIMBURSEMENT, "valueInteger": p.reimbursement_pct}],
    }
    if p.instructions:
        res["dosageInstruction"][0]["text"] = p.instructions
    if p.diagnosis:
        res["reasonCode"] = [{"coding": [{"system": ICD10, "code": p.diagnosis}]}]
    if p.practitioner_id:
        res["requester"] = {"reference": f"Practitioner/{p.practitioner_id}"}
    if p.status == "cancelled" and p.cancel_reason:
        res["statusReason"] = {"text": p.cancel_reason}
    return validated(MedicationRequest, res)


def _ref_id(reference: str | None, kind: str, element: str) -> int | None:
    if not reference:
        return None
    v = reference_id(reference, kind)
    if v is None:
        raise Invalid.fields([FieldError(element, f"must reference {kind}/<id>")])
    return v


BOUNDS = "MedicationRequest.dosageInstruction[0].timing.repeat.boundsDuration"
DOSE = "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity"
#: a Duration's UCUM code (or, without one, its unit text) as a number of days
DAYS_IN = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}


def _days(duration: Any, element: str, errors: list[FieldError]) -> int | None:
    """A Duration as whole days: ``d`` as it is, ``wk`` times seven, nothing else."""
    if duration is None or duration.value is None:
        return None
    unit = duration.code if duration.code is not None else duration.unit
    factor = DAYS_IN.get(unit) if unit is not None else 1
    if factor is None or (duration.code is not None and duration.code not in ("d", "wk")):
        errors.append(FieldError(element, "must be in days (code d) or weeks (code wk)"))
        return None
    days = Decimal(str(duration.value)) * factor
    if days != days.to_integral_value():
        errors.append(FieldError(element, "must be a whole number of days"))
        return None
    return int(days)


def check_dose_unit(mr: Any, medicine_unit: str | None) -> None:
    """``doseQuantity.unit``, when sent, must be the medicine's own unit."""
    dosage = (mr.dosageInstruction or [None])[0]
    rate = dosage.doseAndRate[0] if dosage is not None and dosage.doseAndRate else None
    given = rate.doseQuantity.unit if rate is not None and rate.doseQuantity else None
    expected = medicine_unit or "unit"
    if given is not None and given.strip() != expected:
        raise Invalid.fields([FieldError(DOSE, f"unit must be {expected}, the medicine's unit")])


def from_fhir(mr: Any) -> tuple[int, str | None, int | None, dict[str, Any]]:
    """An incoming R4B ``MedicationRequest``: patient id, formulary code or Medication id, fields.

    The caller resolves a ``medicationReference`` to its formulary code and builds
    ``PrescriptionIn`` with ``to_input``.
    """
    errors: list[FieldError] = []
    if mr.status != "active":
        errors.append(FieldError("MedicationRequest.status", "must be active"))
    if mr.intent != "order":
        errors.append(FieldError("MedicationRequest.intent", "must be order"))
    person_id = _ref_id(
        mr.subject.reference if mr.subject else None, "Patient", "MedicationRequest.subject"
    )
    if person_id is None:
        errors.append(FieldError("MedicationRequest.subject", "is required (Patient/<id>)"))
    code = None
    medication_id = None
    if mr.medicationCodeableConcept is not None:
        code = next(
            (c.code for c in mr.medicationCodeableConcept.coding or [] if c.system == FORMULARY),
            None,
        )
        if code is None:
            errors.append(FieldError(FIELDS["medicine"], f"needs a coding from {FORMULARY}"))
    elif mr.medicationReference is not None:
        medication_id = _ref_id(
            mr.medicationReference.reference,
            "Medication",
            "MedicationRequest.medicationReference",
        )
    if code is None and medication_id is None and not errors:
        errors.append(FieldError(FIELDS["medicine"], "is required"))
    diagnosis = None
    for rc in mr.reasonCode or []:
        for c in rc.coding or []:
            if c.system == ICD10 and c.code:
                diagnosis = c.code
    kind = "regular"
    if mr.courseOfTherapyType is not None:
        found = next(
            (c.code for c in mr.courseOfTherapyType.coding or [] if c.system == TYPE_SYSTEM), None
        )
        if found is None:
            errors.append(FieldError(FIELDS["kind"], f"needs a coding from {TYPE_SYSTEM}"))
        else:
            kind = found
    dose = times = days = None
    instructions = None
    dosage = (mr.dosageInstruction or [None])[0]
    if dosage is None:
        errors.append(FieldError("MedicationRequest.dosageInstruction", "is required"))
    else:
        instructions = dosage.text
        if dosage.doseAndRate and dosage.doseAndRate[0].doseQuantity is not None:
            dose = dosage.doseAndRate[0].doseQuantity.value
        if dose is None:
            errors.append(FieldError(FIELDS["dose_units"], "is required"))
        repeat = dosage.timing.repeat if dosage.timing and dosage.timing.repeat else None
        if repeat is None or repeat.frequency is None:
            errors.append(FieldError(FIELDS["times_per_day"], "is required"))
        elif (repeat.period not in (None, 1)) or (repeat.periodUnit not in (None, "d")):
            errors.append(
                FieldError(
                    "MedicationRequest.dosageInstruction[0].timing.repeat.period",
                    "must be 1 day (frequency is times a day)",
                )
            )
        else:
            times = repeat.frequency
        if repeat is not None:
            days = _days(repeat.boundsDuration, BOUNDS, errors)
    supply = mr.dispenseRequest.expectedSupplyDuration if mr.dispenseRequest else None
    if supply is not None and supply.value is not None:
        days = _days(supply, FIELDS["days"], errors)
    if days is None and not any(e.field in (BOUNDS, FIELDS["days"]) for e in errors):
        errors.append(FieldError(FIELDS["days"], "is required (days of treatment)"))
    if errors:
        raise Invalid.fields(errors)
    assert person_id is not None
    fields = {
        "diagnosis": diagnosis,
        "kind": kind,
        "dose_units": float(dose),  # type: ignore[arg-type]
        "times_per_day": int(times),  # type: ignore[arg-type]
        "days": int(days),  # type: ignore[arg-type]
        "instructions": instructions,
    }
    return person_id, code, medication_id, fields


def to_input(code: str, fields: dict[str, Any]) -> PrescriptionIn:
    try:
        return PrescriptionIn(medicine=code, **fields)
    except ValidationError as e:
        raise Invalid.fields(
            [
                FieldError(FIELDS.get(str(err["loc"][0]), str(err["loc"][0])), err["msg"])
                for err in e.errors()
            ]
        ) from e
