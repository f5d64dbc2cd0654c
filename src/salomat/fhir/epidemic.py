"""Mappers of epidemic surveillance (docs/epidemic.md "FHIR"): a case notification as an R4
``Condition`` (ICD-10 code, onset, recordedDate, subject) with its laboratory result as an
``Observation``, and a facility's or region's beds as a ``MeasureReport`` in the style of
HL7 SANER (the measure group ``Beds`` of the CDC patient-impact and hospital-capacity
measure: ``numTotBeds``, ``numTotBedsOcc``, ``numTotBedsAvail``; for intensive care
``numICUBeds``, ``numICUBedsOcc``, ``numICUBedsAvail``), one group per bed profile.

Ids: ``Condition/epi-<n>``, ``Observation/epi-lab-<n>``, ``MeasureReport/beds-<day>-<facility
code>`` and ``beds-region-<day>-<region code>`` (``beds-country-<day>``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.observation import Observation

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import parse_row_id
from salomat.domains.epidemic.schemas import (
    CapacityOut,
    NotificationIn,
    NotificationOut,
    OccupancyIn,
)
from salomat.fhir.common import EXT, FACILITY_SYSTEM, TERRITORY_SYSTEM, meta, validated

ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
#: SNOMED CT "Positive" (a laboratory result confirming the case)
POSITIVE = "10828004"
CONDITION_PREFIX = "epi-"
LAB_PREFIX = "epi-lab-"
REPORT_PREFIX = "beds-"
NOTIFICATION_EXT_PREFIX = f"{EXT}notification-"
DISTRICT_EXT = f"{NOTIFICATION_EXT_PREFIX}district"
FACILITY_EXT = f"{EXT}notification-facility"
ADMISSION_EXT = f"{EXT}notification-admission"
PROFILE_SYSTEM = "urn:salomat:bed-profile"
FLOW_SYSTEM = "urn:salomat:bed-flow"
#: the day's flows a hospital reports beside occupancy (published in the terminology)
FLOW_NAMES = {
    "admitted": N_("Patients admitted in the day"),
    "discharged": N_("Patients discharged in the day"),
}
SANER_GROUP = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasureGroupSystem"
SANER_VALUES = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasuredValues"
SANER_MEASURE = "http://hl7.org/fhir/uv/saner/Measure/CDCPatientImpactAndHospitalCapacity"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
SANER_POPULATION = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasurePopulationSystem"
#: SANER's measured values by bed profile: (total, occupied, available)
VALUES = {
    "icu": ("numICUBeds", "numICUBedsOcc", "numICUBedsAvail"),
    "infectious": ("numTotBeds", "numTotBedsOcc", "numTotBedsAvail"),
    "general": ("numTotBeds", "numTotBedsOcc", "numTotBedsAvail"),
}


def condition(n: NotificationOut) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"{CONDITION_PREFIX}{n.id}",
        "meta": meta(1, None),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed" if n.lab_confirmed else "provisional",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": ICD10, "code": n.icd10, "display": n.disease}]},
        "subject": {"reference": f"Patient/{n.person_id}"},
        "onsetDateTime": n.onset_date.isoformat(),
        "recordedDate": n.report_date.isoformat(),
        "extension": [
            {"url": DISTRICT_EXT, "valueCoding": {"system": TERRITORY_SYSTEM, "code": n.district}},
            {
                "url": FACILITY_EXT,
                "valueIdentifier": {"system": FACILITY_SYSTEM, "value": n.reporting_facility},
            },
        ],
    }
    if n.hospitalised:
        ext: dict[str, Any] = {"url": ADMISSION_EXT}
        if n.admission_date:
            ext["valueDate"] = n.admission_date.isoformat()
        else:
            ext["valueBoolean"] = True
        res["extension"].append(ext)
    return validated(Condition, res)


def lab_observation(n: NotificationOut) -> dict[str, Any] | None:
    if not n.lab_confirmed:
        return None
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{LAB_PREFIX}{n.id}",
        "meta": meta(1, None),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": ICD10, "code": n.icd10}], "text": n.disease},
        "subject": {"reference": f"Patient/{n.person_id}"},
        "focus": [{"reference": f"Condition/{CONDITION_PREFIX}{n.id}"}],
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": POSITIVE}]},
    }
    if n.lab_facility:
        res["performer"] = [{"identifier": {"system": FACILITY_SYSTEM, "value": n.lab_facility}}]
    return validated(Observation, res)


def _bad(path: str, msg: str, **params: Any) -> Invalid:
    return Invalid.fields([FieldError(path, msg, params)])


def _day(value: Any, path: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise _bad(path, N_("A full date is required"))


def _ext(resource: Any, url: str) -> Any:
    for e in resource.extension or []:
        if e.url == url:
            return e
    return None


#: the REST field -> the element a FHIR client sent
PATHS = {
    "person_id": "Condition.subject",
    "icd10": "Condition.code",
    "onset_date": "Condition.onsetDateTime",
    "report_date": "Condition.recordedDate",
    "district": f"Condition.extension[{DISTRICT_EXT}]",
    "reporting_facility": f"Condition.extension[{FACILITY_EXT}]",
    "admission_date": f"Condition.extension[{ADMISSION_EXT}]",
    "lab_facility": "Observation.performer",
}


def notification_body(body: Any) -> bool:
    """A posted Condition carrying a case notification's extensions (``{EXT}notification-*``):
    a notification, which ``POST /fhir/Condition`` hands to ``$notify``."""
    if not isinstance(body, dict):
        return False
    exts = body.get("extension")
    return isinstance(exts, list) and any(
        isinstance(e, dict)
        and isinstance(e.get("url"), str)
        and e["url"].startswith(NOTIFICATION_EXT_PREFIX)
        for e in exts
    )


def notification_in(cond: Condition, lab: Observation | None) -> NotificationIn:
    """A posted Condition (and its lab Observation) as the REST API's notification."""
    ref = (cond.subject.reference or "") if cond.subject else ""
    pid = parse_row_id(ref.removeprefix("Patient/")) if ref.startswith("Patient/") else None
    if pid is None:
        raise _bad("Condition.subject", N_("Give the patient as Patient/<id>"))
    codes = [c.code for c in (cond.code.coding or []) if c.system == ICD10] if cond.code else []
    if len(codes) != 1 or not codes[0]:
        raise _bad("Condition.code", N_("Give one ICD-10 code (%(system)s)"), system=ICD10)
    if cond.onsetDateTime is None:
        raise _bad("Condition.onsetDateTime", N_("is required"))
    if cond.recordedDate is None:
        raise _bad("Condition.recordedDate", N_("is required"))
    district = _ext(cond, DISTRICT_EXT)
    code = None
    if district is not None and district.valueCoding is not None:
        code = district.valueCoding.code
    if not code:
        raise _bad(PATHS["district"], N_("is required"))
    fac = _ext(cond, FACILITY_EXT)
    facility = fac.valueIdentifier.value if fac is not None and fac.valueIdentifier else None
    adm = _ext(cond, ADMISSION_EXT)
    admission = adm.valueDate if adm is not None else None
    lab_confirmed, lab_facility = False, None
    if lab is not None:
        value = lab.valueCodeableConcept
        lab_confirmed = bool(
            value and any(c.system == SNOMED and c.code == POSITIVE for c in value.coding or [])
        )
        for p in lab.performer or []:
            if lab_confirmed and p.identifier and p.identifier.system == FACILITY_SYSTEM:
                lab_facility = p.identifier.value
    try:
        return NotificationIn(
            person_id=pid,
            icd10=codes[0],
            onset_date=_day(cond.onsetDateTime, "Condition.onsetDateTime"),
            report_date=_day(cond.recordedDate, "Condition.recordedDate"),
            district=code,
            reporting_facility=facility,
            hospitalised=adm is not None,
            admission_date=admission,
            lab_confirmed=lab_confirmed,
            lab_facility=lab_facility,
        )
    except ValueError as e:
        raise _bad("Condition", N_("Not a valid value: %(value)s"), value=str(e)[:200]) from e


def report_id(area: str, day: date, *, region: bool) -> str:
    if area == "country":
        return f"{REPORT_PREFIX}country-{day.isoformat()}"
    return f"{REPORT_PREFIX}{'region-' if region else ''}{day.isoformat()}-{area}"


def parse_report_id(rid: str) -> tuple[str, str | None, date] | None:
    """(kind facility|region|country, code, day) of a MeasureReport id, or None."""
    rest = rid.removeprefix(REPORT_PREFIX)
    kind = "facility"
    for k in ("region", "country"):
        if rest.startswith(f"{k}-"):
            kind, rest = k, rest[len(k) + 1 :]
    try:
        day = date.fromisoformat(rest[:10])
    except ValueError:
        return None
    code = rest[11:] if len(rest) > 11 and rest[10] == "-" else None
    if (kind == "country") != (code is None):
        return None
    return kind, code, day


def _population(
    system: str, code: str, role: str, count: int, role_system: str = MEASURE_POPULATION
) -> dict[str, Any]:
    return {
        "code": {
            "coding": [{"system": system, "code": code}, {"system": role_system, "code": role}]
        },
        "count": count,
    }


def measure_report(c: CapacityOut, *, region: bool) -> dict[str, Any]:
    groups = []
    for p in c.profiles:
        total, occ, avail = VALUES.get(p.profile, VALUES["general"])
        pops = [
            _population(SANER_VALUES, occ, "numerator", p.occupied),
            _population(FLOW_SYSTEM, "admitted", "initial-population", p.admitted),
            _population(FLOW_SYSTEM, "discharged", "initial-population", p.discharged),
        ]
        if p.beds is not None:
            pops.insert(0, _population(SANER_VALUES, total, "denominator", p.beds))
            pops.insert(
                2,
                _population(
                    SANER_VALUES,
                    avail,
                    "numerator-complement",
                    max(p.beds - p.occupied, 0),
                    SANER_POPULATION,
                ),
            )
        groups.append(
            {
                "code": {
                    "coding": [
                        {"system": SANER_GROUP, "code": "Beds"},
                        {"system": PROFILE_SYSTEM, "code": p.profile, "display": p.profile_name},
                    ]
                },
                "population": pops,
            }
        )
    if c.area == "country":
        subject = None
    elif region:
        subject = {"identifier": {"system": TERRITORY_SYSTEM, "value": c.area}}
    else:
        subject = {"identifier": {"system": FACILITY_SYSTEM, "value": c.area}}
    res: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": report_id(c.area, c.day, region=region),
        "meta": meta(1, None),
        "status": "complete",
        "type": "summary",
        "measure": SANER_MEASURE,
        "date": c.day.isoformat(),
        "period": {"start": c.day.isoformat(), "end": c.day.isoformat()},
        "group": groups,
    }
    if subject is not None:
        res["subject"] = subject
    return validated(MeasureReport, res)


def occupancy_in(report: MeasureReport) -> list[OccupancyIn]:
    """A posted SANER-style MeasureReport of one facility and day: each group's bed profile
    (``urn:salomat:bed-profile``) with its occupied count and, if given, admitted and
    discharged; bed totals are registered by POST /api/v1/epidemic/beds, not here."""
    subject = report.subject
    facility = (
        subject.identifier.value
        if subject is not None
        and subject.identifier
        and subject.identifier.system == FACILITY_SYSTEM
        else None
    )
    if not facility:
        raise _bad(
            "MeasureReport.subject",
            N_("Give the facility as an identifier in %(system)s"),
            system=FACILITY_SYSTEM,
        )
    if report.period is None or report.period.start is None:
        raise _bad("MeasureReport.period.start", N_("is required"))
    day = _day(report.period.start, "MeasureReport.period.start")
    out = []
    for i, g in enumerate(report.group or []):
        where = f"MeasureReport.group[{i}]"
        codes = (
            [c.code for c in (g.code.coding or []) if c.system == PROFILE_SYSTEM] if g.code else []
        )
        if len(codes) != 1:
            raise _bad(
                f"{where}.code", N_("Give the bed profile in %(system)s"), system=PROFILE_SYSTEM
            )
        counts: dict[str, int] = {}
        for pop in g.population or []:
            for c in pop.code.coding or [] if pop.code else []:
                if c.system == SANER_VALUES and c.code in ("numTotBedsOcc", "numICUBedsOcc"):
                    counts["occupied"] = pop.count if pop.count is not None else 0
                elif c.system == FLOW_SYSTEM and c.code in ("admitted", "discharged"):
                    counts[c.code] = pop.count if pop.count is not None else 0
        if "occupied" not in counts:
            raise _bad(
                f"{where}.population", N_("Give the occupied beds (numTotBedsOcc or numICUBedsOcc)")
            )
        try:
            out.append(
                OccupancyIn(
                    facility=facility,
                    day=day,
                    profile=codes[0],
                    occupied=counts["occupied"],
                    admitted=counts.get("admitted", 0),
                    discharged=counts.get("discharged", 0),
                )
            )
        except ValueError as e:
            raise _bad(where, N_("Not a valid value: %(value)s"), value=str(e)[:200]) from e
    if not out:
        raise _bad("MeasureReport.group", N_("is required"))
    return out
