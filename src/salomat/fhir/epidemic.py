"""Mappers of epidemic surveillance (docs/epidemic.md "FHIR"): a case notification as an R4
``Condition`` (ICD-10 code, onset, recordedDate, subject) with its laboratory result as an
``Observation``, and a facility's or region's beds as a ``MeasureReport`` in the style of
HL7 SANER: the one measure group ``Beds`` of the CDC patient-impact and hospital-capacity
measure (``numTotBeds``, ``numTotBedsOcc``, ``numTotBedsAvail``: all the hospital's beds,
the sums over every profile; ``numICUBeds``, ``numICUBedsOcc``, ``numICUBedsAvail``: the
intensive-care profile), then one group per bed profile coded in
``urn:salomat:bed-profile`` only.

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
#: SANER's measured values of the one ``Beds`` group: all the hospital's beds (the sums
#: over every profile) and its intensive-care beds (the ``icu`` profile)
TOTAL = ("numTotBeds", "numTotBedsOcc", "numTotBedsAvail")
ICU = ("numICUBeds", "numICUBedsOcc", "numICUBedsAvail")
ICU_PROFILE = "icu"
#: the occupied count a posted group gives (the old form: a SANER code in the profile's
#: group; the new: the profile group's numerator)
OCCUPIED_CODES = {(SANER_VALUES, "numTotBedsOcc"), (SANER_VALUES, "numICUBedsOcc")}


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
    system: str, code: str, count: int, role: tuple[str, str] | None = None
) -> dict[str, Any]:
    coding = [{"system": system, "code": code}]
    if role is not None:
        coding.append({"system": role[1], "code": role[0]})
    return {"code": {"coding": coding}, "count": count}


DENOMINATOR = ("denominator", MEASURE_POPULATION)
NUMERATOR = ("numerator", MEASURE_POPULATION)
COMPLEMENT = ("numerator-complement", SANER_POPULATION)


def _role(role: tuple[str, str], count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": role[1], "code": role[0]}]}, "count": count}


def _saner_group(c: CapacityOut) -> dict[str, Any] | None:
    """SANER's ``Beds``: numTotBeds/Occ/Avail over every profile (totals only when every
    profile has beds registered), numICUBeds/Occ/Avail of the icu profile."""
    if not c.profiles:
        return None
    pops = []
    known = all(p.beds is not None for p in c.profiles)
    occupied = sum(p.occupied for p in c.profiles)
    if known:
        beds = sum(p.beds or 0 for p in c.profiles)
        pops.append(_population(SANER_VALUES, TOTAL[0], beds, DENOMINATOR))
    pops.append(_population(SANER_VALUES, TOTAL[1], occupied, NUMERATOR))
    if known:
        avail = sum(max((p.beds or 0) - p.occupied, 0) for p in c.profiles)
        pops.append(_population(SANER_VALUES, TOTAL[2], avail, COMPLEMENT))
    for p in c.profiles:
        if p.profile == ICU_PROFILE:
            if p.beds is not None:
                pops.append(_population(SANER_VALUES, ICU[0], p.beds))
            pops.append(_population(SANER_VALUES, ICU[1], p.occupied))
            if p.beds is not None:
                pops.append(_population(SANER_VALUES, ICU[2], max(p.beds - p.occupied, 0)))
    return {"code": {"coding": [{"system": SANER_GROUP, "code": "Beds"}]}, "population": pops}


def measure_report(c: CapacityOut, *, region: bool) -> dict[str, Any]:
    """SANER's one ``Beds`` group (all beds; intensive care), then one group per bed profile
    (coded in ``urn:salomat:bed-profile`` only): its beds as the denominator, occupied as
    the numerator, available as the numerator-complement, and the day's admitted and
    discharged, which carry no population role (they are counts beside the measure, not a
    population of it)."""
    groups = []
    saner = _saner_group(c)
    if saner is not None:
        groups.append(saner)
    for p in c.profiles:
        pops = []
        if p.beds is not None:
            pops.append(_role(DENOMINATOR, p.beds))
        pops.append(_role(NUMERATOR, p.occupied))
        if p.beds is not None:
            pops.append(_role(COMPLEMENT, max(p.beds - p.occupied, 0)))
        pops.append(_population(FLOW_SYSTEM, "admitted", p.admitted))
        pops.append(_population(FLOW_SYSTEM, "discharged", p.discharged))
        groups.append(
            {
                "code": {
                    "coding": [
                        {"system": PROFILE_SYSTEM, "code": p.profile, "display": p.profile_name}
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


def occupancy_in(report: MeasureReport) -> list[tuple[OccupancyIn, dict[str, str]]]:
    """A posted SANER-style MeasureReport of one facility and day: each group coded with a
    bed profile (``urn:salomat:bed-profile``) gives its occupied count (its ``numerator``,
    or ``numTotBedsOcc`` / ``numICUBedsOcc``) and, if given, admitted and discharged; a
    group without a profile (SANER's ``Beds`` summary, as produced) is not read. Bed totals
    are registered by POST /api/v1/epidemic/beds, not here. Each line comes with the FHIR
    paths of its REST fields (for the service's refusals)."""
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
        codings = [(c.system, c.code) for c in (g.code.coding or [])] if g.code else []
        codes = [code for system, code in codings if system == PROFILE_SYSTEM]
        if not codes and (SANER_GROUP, "Beds") in codings:
            continue  # SANER's summary of every profile: computed, not reported
        if len(codes) != 1:
            raise _bad(
                f"{where}.code", N_("Give the bed profile in %(system)s"), system=PROFILE_SYSTEM
            )
        counts: dict[str, int] = {}
        paths = {
            "facility": "MeasureReport.subject",
            "day": "MeasureReport.period.start",
            "profile": f"{where}.code",
        }
        for j, pop in enumerate(g.population or []):
            field = None
            for c in pop.code.coding or [] if pop.code else []:
                if (c.system, c.code) in OCCUPIED_CODES or (
                    c.system == MEASURE_POPULATION and c.code == "numerator"
                ):
                    field = "occupied"
                elif c.system == FLOW_SYSTEM and c.code in ("admitted", "discharged"):
                    field = c.code
            if field is None:
                continue
            at = f"{where}.population[{j}].count"
            if pop.count is None:
                raise _bad(at, N_("is required"))
            counts[field] = pop.count
            paths[field] = at
        if "occupied" not in counts:
            raise _bad(
                f"{where}.population",
                N_("Give the occupied beds (the numerator, numTotBedsOcc or numICUBedsOcc)"),
            )
        try:
            line = OccupancyIn(
                facility=facility,
                day=day,
                profile=codes[0],
                occupied=counts["occupied"],
                admitted=counts.get("admitted", 0),
                discharged=counts.get("discharged", 0),
            )
        except ValueError as e:
            raise _bad(where, N_("Not a valid value: %(value)s"), value=str(e)[:200]) from e
        out.append((line, paths))
    if not out:
        raise _bad("MeasureReport.group", N_("is required"))
    return out
