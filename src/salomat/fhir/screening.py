"""Screening and the disease-management programmes <-> FHIR R4 (thin mappers over the
screening domain's schemas; docs/fhir.md "Screening and disease management").

- A screening visit is an ``Encounter`` ``screening-<visit id>``: its programme in
  ``type``, the programme's ICD-10 reason (Z13.6, Z12.4, ...) in ``reasonCode``, whether it
  was opportunistic (outside the target group, never counted as coverage), its result
  and next step in extensions.
- Each measurement of a screening is an ``Observation``
  ``screening-<visit id>-<measurement id>``: LOINC code (the blood-pressure panel 85354-9
  with systolic 8480-6 and diastolic 8462-4 as components), UCUM quantities (fasting
  glucose and cholesterol in mg/dL as their LOINC codes are mass concentrations, HbA1c
  in per cent), the value and unit as entered in the extension ``screening-as-entered``;
  a coded result (smoking, cytology, BI-RADS, ...) in the national result system.
- Each reading of a disease-management follow-up visit is an ``Observation``
  ``dmp-<follow-up visit id>-<reading id>``, coded as a screening measurement and
  ``basedOn`` the programme's CarePlan.
- A programme enrolment is an ``EpisodeOfCare`` ``dmp-<enrolment id>`` (type: the
  programme; diagnosis: the qualifying ICD-10 code, the problem-list ``Condition``
  ``dmp-<enrolment id>``, active, or resolved when the patient recovered); its visit
  schedule a ``CarePlan`` ``dmp-<enrolment id>`` (the next visit, the programme's
  interval); a patient overdue for that visit a recall ``Task`` ``dmp-recall-<enrolment
  id>`` read from the facility's overdue worklist.
- The HEARTS / Simple control indicators of a programme are one ``Measure``
  ``hearts-<programme>`` with a group per indicator, and a ``MeasureReport`` per period
  and area with the facility's, district's or region's strata.

An Observation another system submits (``incoming``) is one measurement of a screening:
the service's ``ScreeningVisitIn`` with one measurement, every refusal naming the
element it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.task import Task

from salomat.core import i18n
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.params import parse_row_id
from salomat.domains.screening import service
from salomat.domains.screening.schemas import (
    DmpRow,
    EnrolmentOut,
    ObservationOut,
    ScreeningVisitOut,
)
from salomat.domains.screening.service import common
from salomat.domains.screening.service.indicators import AreaIndicators, IndicatorRow
from salomat.fhir.common import EXT, TERRITORY_SYSTEM, meta, validated
from salomat.fhir.terminology import CANONICAL

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"

#: national code systems (published by fhir/terminology_sources.py)
CATEGORY_SYSTEM = "urn:salomat:observation-category"
CATEGORY_CODE = "screening"
#: a disease-management follow-up visit's reading: no screening result (no screening
#: profile either), so a system posting it back is not taken for one
FOLLOWUP_CATEGORY_CODE = "dmp-follow-up"
PROGRAMME_SYSTEM = "urn:salomat:screening-programme"
MEASUREMENT_SYSTEM = "urn:salomat:screening-measurement"
RESULT_SYSTEM = "urn:salomat:screening-result"
RECALL_SYSTEM = "urn:salomat:screening-task"
RECALL_CODE = "recall"
HEARTS_SYSTEM = "urn:salomat:hearts-indicator"

#: the profile a screening result another system submits declares (meta.profile)
PROFILE = f"{CANONICAL}StructureDefinition/screening-observation"
PROGRAMME_EXT = f"{EXT}screening-programme"
NEXT_STEP_EXT = f"{EXT}screening-next-step"
RESULT_EXT = f"{EXT}screening-result"
OPPORTUNISTIC_EXT = f"{EXT}screening-opportunistic"
AS_ENTERED_EXT = f"{EXT}screening-as-entered"
END_REASON_EXT = f"{EXT}dmp-end-reason"

OBSERVATION_PREFIX = "screening-"
ENCOUNTER_PREFIX = "screening-"
ENROLMENT_PREFIX = "dmp-"
RECALL_PREFIX = "dmp-recall-"
MEASURE_PREFIX = "hearts-"

SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
#: LOINC display names of the codes the packs give their measurements
LOINC_DISPLAY = {
    "85354-9": "Blood pressure panel with all children optional",
    "4548-4": "Hemoglobin A1c/Hemoglobin.total in Blood",
    "1558-6": "Fasting glucose [Mass/volume] in Serum or Plasma",
    "2093-3": "Cholesterol [Mass/volume] in Serum or Plasma",
    "39156-5": "Body mass index (BMI) [Ratio]",
    "72166-2": "Tobacco smoking status",
}
#: an English name of each measurement kind of the packs (the national measurement codes)
MEASUREMENT_NAMES = {
    "bp": "Blood pressure",
    "glucose_fasting": "Fasting glucose",
    "hba1c": "HbA1c",
    "cholesterol": "Total cholesterol",
    "bmi": "Body mass index",
    "iop": "Intraocular pressure",
    "smoking": "Tobacco smoking status",
    "cytology": "Cervical cytology (Bethesda)",
    "hpv": "HPV test",
    "mammography": "Mammography (BI-RADS assessment)",
    "fobt": "Faecal occult blood test",
}
#: the observation category of each measurement (FHIR observation-category)
CATEGORY = {
    "bp": "vital-signs",
    "bmi": "vital-signs",
    "smoking": "social-history",
    "iop": "exam",
    "mammography": "imaging",
}
#: the unit a quantity is given in when the LOINC code is a mass concentration (the value
#: is stored in mmol/L; the as-entered extension keeps what was typed)
OUTPUT_UNIT = {"glucose_fasting": "mg/dL", "cholesterol": "mg/dL"}
#: the measurement kinds follow-up visits take (the rest are screening only)
BP_KIND = "bp"


# ---- ids ------------------------------------------------------------------------------


def observation_id(visit_id: int, observation: int) -> str:
    return f"{OBSERVATION_PREFIX}{visit_id}-{observation}"


def parse_observation_id(text: str) -> tuple[int, int] | None:
    """(visit id, measurement id) of ``screening-<visit>-<measurement>``."""
    text = text.removeprefix("Observation/")
    if not text.startswith(OBSERVATION_PREFIX):
        return None
    visit, dash, obs = text.removeprefix(OBSERVATION_PREFIX).partition("-")
    v, o = parse_row_id(visit), parse_row_id(obs)
    if not dash or v is None or o is None:
        return None
    return v, o


def followup_id(dmp_visit_id: int, observation: int) -> str:
    """A follow-up visit's reading: ``dmp-<follow-up visit>-<reading>``."""
    return f"{ENROLMENT_PREFIX}{dmp_visit_id}-{observation}"


def parse_followup_id(text: str) -> tuple[int, int] | None:
    """(follow-up visit id, reading id) of ``dmp-<visit>-<reading>``."""
    text = text.removeprefix("Observation/")
    if not text.startswith(ENROLMENT_PREFIX):
        return None
    visit, dash, obs = text.removeprefix(ENROLMENT_PREFIX).partition("-")
    v, o = parse_row_id(visit), parse_row_id(obs)
    if not dash or v is None or o is None:
        return None
    return v, o


def encounter_id(visit_id: int) -> str:
    return f"{ENCOUNTER_PREFIX}{visit_id}"


def parse_prefixed(text: str, kind: str, prefix: str) -> int | None:
    """The id in ``<prefix><n>`` (also after ``<kind>/``), None when it is not one."""
    text = text.removeprefix(f"{kind}/")
    if not text.startswith(prefix):
        return None
    return parse_row_id(text.removeprefix(prefix))


def parse_encounter_id(text: str) -> int | None:
    return parse_prefixed(text, "Encounter", ENCOUNTER_PREFIX)


def enrolment_id(text: str, kind: str) -> int | None:
    """The enrolment id of ``dmp-<n>`` (EpisodeOfCare, CarePlan), not a recall's."""
    if text.removeprefix(f"{kind}/").startswith(RECALL_PREFIX):
        return None
    return parse_prefixed(text, kind, ENROLMENT_PREFIX)


def recall_id(text: str) -> int | None:
    return parse_prefixed(text, "Task", RECALL_PREFIX)


def measure_id(programme: str) -> str:
    return f"{MEASURE_PREFIX}{programme.replace('_', '-')}"


def measure_programme(text: str) -> str | None:
    """The programme of a Measure id, ``Measure/<id>`` or its canonical URL."""
    last = text.rstrip("/").rpartition("/")[2]
    if not last.startswith(MEASURE_PREFIX):
        return None
    return last.removeprefix(MEASURE_PREFIX).replace("-", "_") or None


# ---- shared pieces ----------------------------------------------------------------------


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _number(x: float, digits: int = 2) -> float | int:
    """A decimal as a person reads it (122.5, 7.4, 140): no binary noise."""
    r = round(x, digits)
    return int(r) if r == int(r) else r


def _programme_concept(code: str, day: date) -> dict[str, Any]:
    r = common.rules()
    edition = r.edition(day)
    names = edition.programmes.get(code) or edition.dmps.get(code)
    display = names.name("en") if names is not None else None
    return {"coding": [_coding(PROGRAMME_SYSTEM, code, display)]}


def _patient(person_id: int) -> dict[str, str]:
    return {"reference": f"Patient/{person_id}"}


def _organization(facility_id: int | None) -> dict[str, str] | None:
    return {"reference": f"Organization/{facility_id}"} if facility_id is not None else None


# ---- Observation ------------------------------------------------------------------------


def _code(o: ObservationOut) -> dict[str, Any]:
    codings = []
    if o.loinc:
        codings.append(_coding(LOINC, o.loinc, LOINC_DISPLAY.get(o.loinc)))
    codings.append(_coding(MEASUREMENT_SYSTEM, o.kind, MEASUREMENT_NAMES.get(o.kind)))
    return {"coding": codings, "text": o.kind}


def _observation(
    o: ObservationOut,
    rid: str,
    programme: str,
    facility_id: int | None,
    *,
    followup: bool = False,
) -> dict[str, Any]:
    """A measurement as an Observation: code (LOINC first: one search by code is the
    trend), category, subject, value (what a screening's and a follow-up visit's readings
    share). A screening's declares the screening profile and category; a follow-up
    visit's (``followup``) neither, but the national category ``dmp-follow-up``."""
    category = CATEGORY.get(o.kind, "laboratory")
    ours = (
        _concept(CATEGORY_SYSTEM, FOLLOWUP_CATEGORY_CODE, "Disease-management follow-up")
        if followup
        else _concept(CATEGORY_SYSTEM, CATEGORY_CODE, "Screening")
    )
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "meta": meta(1, None) if followup else {**meta(1, None), "profile": [PROFILE]},
        "status": "final",
        "category": [_concept(OBS_CATEGORY, category), ours],
        "code": _code(o),
        "subject": _patient(o.person_id),
        "effectiveDateTime": o.observed_on.isoformat(),
        "extension": [{"url": PROGRAMME_EXT, "valueCoding": _coding(PROGRAMME_SYSTEM, programme)}],
    }
    performer = _organization(facility_id)
    if performer:
        res["performer"] = [performer]
    if o.kind == BP_KIND and o.systolic is not None and o.diastolic is not None:
        res["component"] = [
            {"code": _concept(LOINC, *SYSTOLIC), "valueQuantity": _quantity(o.systolic, "mm[Hg]")},
            {
                "code": _concept(LOINC, *DIASTOLIC),
                "valueQuantity": _quantity(o.diastolic, "mm[Hg]"),
            },
        ]
    elif o.code is not None:
        res["valueCodeableConcept"] = {
            "coding": [_coding(RESULT_SYSTEM, o.code)],
            "text": o.code,
        }
    elif o.value is not None and o.unit:
        unit = OUTPUT_UNIT.get(o.kind, o.unit)
        if unit == o.unit_entered and o.value_entered is not None:
            value = float(o.value_entered)
        elif unit == o.unit:
            value = o.value
        else:
            m = common.rules().measurements[o.kind]
            value = service.from_canonical(m, o.value, unit)
        res["valueQuantity"] = _quantity(_number(value), unit)
        if o.value_entered is not None and o.unit_entered:
            res["extension"].append(
                {
                    "url": AS_ENTERED_EXT,
                    "valueQuantity": _quantity(float(o.value_entered), o.unit_entered),
                }
            )
    return res


def observation(visit: ScreeningVisitOut, o: ObservationOut) -> dict[str, Any]:
    """One measurement of a screening visit (its Encounter)."""
    res = _observation(o, observation_id(visit.id, o.id), visit.programme, visit.facility_id)
    res["encounter"] = {"reference": f"Encounter/{encounter_id(visit.id)}"}
    return validated(Observation, res)


def followup_observation(r: service.FollowUpReading) -> dict[str, Any]:
    """One reading of a disease-management follow-up visit: based on the programme's
    schedule (CarePlan ``dmp-<enrolment>``, whose EpisodeOfCare is the enrolment); R4's
    Observation refers to no EpisodeOfCare, and the follow-up visit is no Encounter here."""
    o = r.observation
    res = _observation(
        o, followup_id(r.dmp_visit_id, o.id), r.programme, r.facility_id, followup=True
    )
    res["basedOn"] = [{"reference": f"CarePlan/{ENROLMENT_PREFIX}{r.enrolment_id}"}]
    return validated(Observation, res)


def visit_observations(visit: ScreeningVisitOut) -> list[dict[str, Any]]:
    return [observation(visit, o) for o in visit.measurements]


# ---- Encounter --------------------------------------------------------------------------


def encounter(visit: ScreeningVisitOut) -> dict[str, Any]:
    """A screening visit: finished ambulatory encounter, its programme and reason."""
    res: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id(visit.id),
        "meta": meta(1, None),
        "extension": [
            {"url": OPPORTUNISTIC_EXT, "valueBoolean": visit.opportunistic},
            {"url": RESULT_EXT, "valueCode": visit.result},
            {"url": NEXT_STEP_EXT, "valueCode": visit.next_step},
        ],
        "status": "finished",
        "class": _coding(ACT_CODE, "AMB", "ambulatory"),
        "type": [_programme_concept(visit.programme, visit.performed_on)],
        "subject": _patient(visit.person_id),
        "period": {"start": visit.performed_on.isoformat(), "end": visit.performed_on.isoformat()},
    }
    try:
        p = common.rules().programme(visit.programme, visit.performed_on)
    except Invalid:
        p = None
    if p is not None and p.reason_code:
        res["reasonCode"] = [_concept(ICD10, p.reason_code)]
    provider = _organization(visit.facility_id)
    if provider:
        res["serviceProvider"] = provider
    return validated(Encounter, res)


# ---- EpisodeOfCare and CarePlan -----------------------------------------------------------


def condition_id(enrolment_id: int) -> str:
    return f"{ENROLMENT_PREFIX}{enrolment_id}"


def _diagnosis_ref(e: EnrolmentOut) -> dict[str, str]:
    return {"reference": f"Condition/{condition_id(e.id)}", "display": e.diagnosis_code}


def clinical_status(e: EnrolmentOut) -> str:
    """The diagnosis's clinical status: active while enrolled; resolved when the enrolment
    ended because the patient recovered. Any other end (died, transferred, withdrawn,
    merged) ends the programme, not the disease: the diagnosis stays active, and the
    EpisodeOfCare (finished, its end reason) tells the programme ended."""
    return "resolved" if e.ended_on is not None and e.end_reason == "recovered" else "active"


def condition(e: EnrolmentOut) -> dict[str, Any]:
    """The enrolment's qualifying diagnosis (ICD-10 of the pack's list) as a problem-list
    Condition ``dmp-<enrolment id>``; the EpisodeOfCare names it in ``diagnosis``."""
    status = clinical_status(e)
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": condition_id(e.id),
        "meta": meta(e.version, e.created_at),
        "extension": [
            {"url": PROGRAMME_EXT, "valueCoding": _coding(PROGRAMME_SYSTEM, e.programme)}
        ],
        "clinicalStatus": _concept(CONDITION_CLINICAL, status, status.capitalize()),
        "verificationStatus": _concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [_concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": {"coding": [_coding(ICD10, e.diagnosis_code)], "text": e.diagnosis_code},
        "subject": _patient(e.person_id),
        "recordedDate": e.enrolled_on.isoformat(),
    }
    if status == "resolved" and e.ended_on is not None:
        res["abatementDateTime"] = e.ended_on.isoformat()
    return validated(Condition, res)


def _period(e: EnrolmentOut) -> dict[str, str]:
    out = {"start": e.enrolled_on.isoformat()}
    if e.ended_on is not None:
        out["end"] = e.ended_on.isoformat()
    return out


def episode_of_care(e: EnrolmentOut) -> dict[str, Any]:
    """An enrolment in a disease-management programme."""
    res: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": f"{ENROLMENT_PREFIX}{e.id}",
        "meta": meta(e.version, e.created_at),
        "status": "active" if e.ended_on is None else "finished",
        "type": [_programme_concept(e.programme, e.enrolled_on)],
        "diagnosis": [
            {
                "condition": _diagnosis_ref(e),
                "role": _concept(DIAGNOSIS_ROLE, "CC", "Chief complaint"),
                "rank": 1,
            }
        ],
        "patient": _patient(e.person_id),
        "managingOrganization": _organization(e.facility_id),
        "period": _period(e),
    }
    if e.end_reason:
        res["extension"] = [{"url": END_REASON_EXT, "valueCode": e.end_reason}]
    return validated(EpisodeOfCare, res)


def care_plan(e: EnrolmentOut) -> dict[str, Any]:
    """The programme's visit schedule: the next follow-up visit, every ``interval`` days."""
    r = common.rules()
    try:
        dmp = r.dmp(e.programme, e.enrolled_on)
        interval: int | None = dmp.visit_interval_days
        title = dmp.name(i18n.current_language())
    except Invalid:
        interval, title = None, e.programme
    res: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"{ENROLMENT_PREFIX}{e.id}",
        "meta": meta(e.version, e.created_at),
        "status": "active" if e.ended_on is None else "completed",
        "intent": "plan",
        "category": [_programme_concept(e.programme, e.enrolled_on)],
        "title": title,
        "subject": _patient(e.person_id),
        "period": _period(e),
        "author": _organization(e.facility_id),
        "addresses": [_diagnosis_ref(e)],
        "supportingInfo": [{"reference": f"EpisodeOfCare/{ENROLMENT_PREFIX}{e.id}"}],
    }
    if e.ended_on is None and e.next_visit_due is not None:
        timing: dict[str, Any] = {"event": [e.next_visit_due.isoformat()]}
        if interval:
            timing["repeat"] = {"frequency": 1, "period": interval, "periodUnit": "d"}
        res["activity"] = [
            {
                "detail": {
                    "kind": "Appointment",
                    "code": _programme_concept(e.programme, e.enrolled_on),
                    "status": "scheduled",
                    "scheduledTiming": timing,
                    "description": i18n.gettext(N_("Next follow-up visit of the programme")),
                }
            }
        ]
    return validated(CarePlan, res)


# ---- Task (recall) -------------------------------------------------------------------------


def recall_task(row: DmpRow, facility_id: int | None, on: date) -> dict[str, Any]:
    """A patient overdue for her programme's visit: the call the facility owes her."""
    res: dict[str, Any] = {
        "resourceType": "Task",
        "id": f"{RECALL_PREFIX}{row.enrolment_id}",
        "meta": meta(1, None),
        "status": "requested",
        "intent": "order",
        "priority": "urgent" if row.reasons else "routine",
        "code": _concept(RECALL_SYSTEM, RECALL_CODE, "Recall of an overdue patient"),
        "description": i18n.gettext(N_("%(days)s days overdue for the %(programme)s visit"))
        % {"days": row.days_overdue, "programme": row.programme},
        "focus": {"reference": f"EpisodeOfCare/{ENROLMENT_PREFIX}{row.enrolment_id}"},
        "for": {**_patient(row.person_id), "display": row.name},
        "authoredOn": on.isoformat(),
        "owner": _organization(facility_id),
    }
    if row.next_visit_due is not None:
        res["restriction"] = {"period": {"start": row.next_visit_due.isoformat()}}
    return validated(Task, res)


# ---- Measure and MeasureReport -------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    code: str
    title: str
    #: IndicatorRow fields: numerator, denominator (None: a count), score
    numerator: str
    denominator: str | None
    score: str | None
    definition: str
    sugar: bool = False


GROUPS: tuple[Group, ...] = (
    Group("registered", N_("Registered"), "registered", None, None, "registered"),
    Group("under-care", N_("Under care"), "under_care", None, None, "under_care"),
    Group("controlled", N_("Blood pressure controlled"), "controlled", "denominator",
          "controlled_pct", "controlled"),
    Group("uncontrolled", N_("Blood pressure not controlled"), "uncontrolled", "denominator",
          "uncontrolled_pct", "uncontrolled"),
    Group("visited-no-bp", N_("Visited without a blood pressure"), "visited_no_bp",
          "denominator", "visited_no_bp_pct", "visited_no_bp"),
    Group("missed", N_("Missed visits"), "missed", "denominator", "missed_pct", "missed"),
    Group("controlled-with-ltfu", N_("Blood pressure controlled, lost to follow-up kept"),
          "controlled", "denominator_with_ltfu", "controlled_pct_with_ltfu", "with_ltfu"),
    Group("uncontrolled-with-ltfu", N_("Blood pressure not controlled, lost to follow-up kept"),
          "uncontrolled", "denominator_with_ltfu", "uncontrolled_pct_with_ltfu", "with_ltfu"),
    Group("visited-no-bp-with-ltfu",
          N_("Visited without a blood pressure, lost to follow-up kept"), "visited_no_bp",
          "denominator_with_ltfu", "visited_no_bp_pct_with_ltfu", "with_ltfu"),
    Group("missed-with-ltfu", N_("Missed visits, lost to follow-up kept"), "missed+ltfu",
          "denominator_with_ltfu", "missed_pct_with_ltfu", "with_ltfu"),
    Group("ltfu", N_("Lost to follow-up"), "ltfu", "assigned", "ltfu_pct", "ltfu"),
    Group("cohort-controlled", N_("Cohort: blood pressure controlled"), "cohort_controlled",
          "cohort", "cohort_controlled_pct", "cohort"),
    Group("cohort-uncontrolled", N_("Cohort: blood pressure not controlled"),
          "cohort_uncontrolled", "cohort", "cohort_uncontrolled_pct", "cohort"),
    Group("cohort-no-visit", N_("Cohort: no visit"), "cohort_no_visit", "cohort",
          "cohort_no_visit_pct", "cohort"),
    Group("sugar-controlled-dhis2", N_("Diabetes controlled (DHIS2 / WHO HEARTS)"),
          "sugar_controlled_dhis2", "sugar_denominator", "sugar_controlled_dhis2_pct",
          "sugar_dhis2", sugar=True),
    Group("sugar-controlled-simple", N_("Diabetes controlled (Simple, lenient)"),
          "sugar_controlled_simple", "sugar_denominator", "sugar_controlled_simple_pct",
          "sugar_simple", sugar=True),
)  # fmt: skip


def has_sugar(programme: str, day: date) -> bool:
    """A diabetes programme (the indicators add sugar control): it takes E11."""
    return common.rules().dmp(programme, day).qualifies("E11")


def groups_of(sugar: bool) -> list[Group]:
    return [g for g in GROUPS if sugar or not g.sugar]


def _criteria(name: str) -> dict[str, str]:
    """The population's definition: Salomat computes it in SQL (no CQL library is
    published); the identifier names the indicator service's figure."""
    return {"language": "text/cql", "expression": name.replace("+", "_plus_")}


def measure(programme: str, day: date, base: str, definitions: dict[str, str]) -> dict[str, Any]:
    """One Measure per disease-management programme: a group per HEARTS indicator."""
    dmp = common.rules().dmp(programme, day)
    lang = i18n.current_language()
    groups = []
    for g in groups_of(has_sugar(programme, day)):
        pops = [
            {
                "code": _concept(
                    POPULATION, "numerator" if g.denominator else "initial-population"
                ),
                "criteria": _criteria(g.numerator),
            }
        ]
        if g.denominator:
            pops.append(
                {"code": _concept(POPULATION, "denominator"), "criteria": _criteria(g.denominator)}
            )
        groups.append(
            {
                "code": _concept(HEARTS_SYSTEM, g.code, g.title),
                "description": definitions.get(g.definition) or i18n.gettext(g.title),
                "population": pops,
                "stratifier": [
                    {"code": {"text": level}, "criteria": _criteria(level)}
                    for level in ("region", "district", "facility")
                ],
            }
        )
    mid = measure_id(programme)
    res = {
        "resourceType": "Measure",
        "id": mid,
        "meta": {"versionId": "1"},
        "url": f"{base}/Measure/{mid}",
        "name": f"HEARTS_{programme}",
        "title": i18n.gettext(N_("HEARTS control indicators: %(programme)s"))
        % {"programme": dmp.name(lang)},
        "status": "active",
        "description": i18n.gettext(
            N_(
                "The WHO HEARTS / Simple control indicators of the programme for a closed "
                "month or quarter, by region, district or facility; counts below five withheld."
            )
        ),
        "scoring": _concept(SCORING, "proportion"),
        "improvementNotation": _concept(IMPROVEMENT, "increase"),
        "group": groups,
    }
    return validated(Measure, res)


def _count(row: IndicatorRow, name: str) -> int | None:
    if "+" in name:
        parts = [getattr(row, p) for p in name.split("+")]
        return None if any(p is None for p in parts) else sum(parts)
    value = getattr(row, name)
    return None if value is None else int(value)


def _withheld(row: IndicatorRow, name: str) -> bool:
    return any(p in row.suppressed for p in name.split("+"))


def _populations(row: IndicatorRow, g: Group) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the populations, the measure score or the masked extension)."""
    pops = []
    masked = False
    for code, name in (
        ("numerator" if g.denominator else "initial-population", g.numerator),
        ("denominator", g.denominator),
    ):
        if name is None:
            continue
        p: dict[str, Any] = {"code": _concept(POPULATION, code)}
        n = _count(row, name)
        if n is None or _withheld(row, name):
            p["extension"] = [{"url": ABSENT, "valueCode": "masked"}]
            masked = True
        else:
            p["count"] = n
        pops.append(p)
    extra: dict[str, Any] = {}
    if g.score is not None:
        score = getattr(row, g.score)
        if score is None or masked or g.score in row.suppressed:
            extra["extension"] = [{"url": ABSENT, "valueCode": "masked"}]
        else:
            extra["measureScore"] = {
                "value": _number(score, 1), "unit": "%", "system": UCUM, "code": "%",
            }  # fmt: skip
    return pops, extra


def _stratum_value(row: IndicatorRow) -> dict[str, Any]:
    """A region or district by its territory code; a facility by its name and code in the
    text (facility codes are no published code system, and two facilities may share a
    name)."""
    if row.code and row.level in ("region", "district"):
        return {"coding": [_coding(TERRITORY_SYSTEM, row.code)], "text": row.name}
    return {"text": f"{row.name} ({row.code})" if row.code else row.name}


def measure_report(result: AreaIndicators, base: str) -> dict[str, Any]:
    """The indicators of a period and an area: the area's total in each group and one
    stratum per region, district or facility (``result.by``)."""
    groups = []
    for g in groups_of(result.sugar):
        pops, extra = _populations(result.total, g)
        strata = []
        for row in result.rows:
            s_pops, s_extra = _populations(row, g)
            strata.append({"value": _stratum_value(row), "population": s_pops, **s_extra})
        group: dict[str, Any] = {
            "code": _concept(HEARTS_SYSTEM, g.code, g.title),
            "population": pops,
            **extra,
        }
        if strata:
            group["stratifier"] = [{"code": [{"text": result.by}], "stratum": strata}]
        groups.append(group)
    area = result.area_code or "country"
    subject: dict[str, Any] = {"display": result.area_name or area}
    if result.area_code:
        subject["identifier"] = {"system": TERRITORY_SYSTEM, "value": result.area_code}
    res = {
        "resourceType": "MeasureReport",
        "id": f"{measure_id(result.programme)}.{result.period}.{area}.{result.by}"[:64],
        "status": "complete",
        "type": "summary",
        "measure": f"{base}/Measure/{measure_id(result.programme)}",
        "subject": subject,
        "period": {
            "start": result.period_start.isoformat(),
            "end": result.period_end.isoformat(),
        },
        "improvementNotation": _concept(IMPROVEMENT, "increase"),
        "group": groups,
    }
    return validated(MeasureReport, res)


# ---- an Observation another system submits ------------------------------------------------


@dataclass
class Incoming:
    """A submitted screening Observation as the service's ``ScreeningVisitIn`` values,
    and where in the resource each field came from (refusals name the element sent)."""

    person_id: int
    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


OBS = "Observation"


def _ext_path(url: str) -> str:
    return f"{OBS}.extension('{url}')"


def is_screening(body: Any) -> bool:
    """A body declaring the screening profile (or carrying the screening category; a
    follow-up visit's reading, category ``dmp-follow-up``, is none)."""
    if not isinstance(body, dict):
        return False
    m = body.get("meta")
    if isinstance(m, dict) and PROFILE in (m.get("profile") or []):
        return True
    for concept in body.get("category") or []:
        for c in (concept.get("coding") or []) if isinstance(concept, dict) else []:
            if (
                isinstance(c, dict)
                and c.get("system") == CATEGORY_SYSTEM
                and c.get("code") == CATEGORY_CODE
            ):
                return True
    return False


def _ext(obs: Any, url: str) -> Any:
    for e in obs.extension or []:
        if e.url == url:
            return e
    return None


def _kind_of(obs: Any) -> tuple[str | None, str | None]:
    """(measurement kind, the code sent) from Observation.code: a LOINC code a pack's
    measurement has, or a national measurement code."""
    r = common.rules()
    by_loinc = {m.loinc: k for k, m in r.measurements.items() if m.loinc}
    sent = None
    for c in obs.code.coding or []:
        sent = sent or c.code
        if c.system == MEASUREMENT_SYSTEM and c.code in r.measurements:
            return c.code, c.code
        if c.system in (LOINC, None) and c.code in by_loinc:
            return by_loinc[c.code], c.code
    return None, sent


def _quantity_in(q: Any) -> tuple[float | None, str | None]:
    if q is None:
        return None, None
    value = float(q.value) if q.value is not None else None
    return value, q.code or q.unit


def incoming(obs: Any) -> Incoming:
    """A submitted screening Observation (R4B model) as the service's input values."""
    errors: list[FieldError] = []
    ref = obs.subject.reference if obs.subject is not None else None
    person = parse_row_id((ref or "").removeprefix("Patient/")) if ref else None
    if person is None:
        errors.append(FieldError(f"{OBS}.subject", N_("must be Patient/<id>")))
    day = obs.effectiveDateTime
    if day is None:
        errors.append(FieldError(f"{OBS}.effectiveDateTime", N_("is required")))
    programme = _ext(obs, PROGRAMME_EXT)
    programme_code = None
    if programme is not None:
        v = programme.valueCoding or programme.valueCode
        programme_code = getattr(v, "code", v)
    if not programme_code:
        errors.append(FieldError(_ext_path(PROGRAMME_EXT), N_("is required")))
    result = None
    for concept in obs.interpretation or []:
        for c in concept.coding or []:
            if c.code in ("N", "A", "H", "L", "HH", "LL", "POS"):
                result = "normal" if c.code == "N" else "abnormal"
    if result is None:
        errors.append(
            FieldError(f"{OBS}.interpretation", N_("is required: N (normal) or A (abnormal)"))
        )
    step = _ext(obs, NEXT_STEP_EXT)
    kind, sent = _kind_of(obs)
    if kind is None:
        errors.append(
            FieldError(
                f"{OBS}.code",
                N_("%(value)s is not a measurement this country records"),
                {"value": sent or ""},
            )
        )
    if errors:
        raise Invalid.fields(errors)
    assert person is not None
    m: dict[str, Any] = {"kind": kind}
    paths = {
        "performed_on": f"{OBS}.effectiveDateTime",
        "programme": _ext_path(PROGRAMME_EXT),
        "result": f"{OBS}.interpretation",
        "next_step": _ext_path(NEXT_STEP_EXT),
        "notes": f"{OBS}.note",
        "measurements.0.kind": f"{OBS}.code",
        "measurements.0.value": f"{OBS}.valueQuantity.value",
        "measurements.0.unit": f"{OBS}.valueQuantity.code",
        "measurements.0.code": f"{OBS}.valueCodeableConcept",
    }
    if kind == BP_KIND:
        for i, comp in enumerate(obs.component or []):
            codes = {c.code for c in comp.code.coding or []}
            part = (
                "systolic"
                if SYSTOLIC[0] in codes
                else "diastolic"
                if DIASTOLIC[0] in codes
                else None
            )
            if part is None:
                continue
            value, _ = _quantity_in(comp.valueQuantity)
            m[part] = int(value) if value is not None and value == int(value) else value
            paths[f"measurements.0.{part}"] = f"{OBS}.component[{i}].valueQuantity.value"
        for part in ("systolic", "diastolic"):
            paths.setdefault(f"measurements.0.{part}", f"{OBS}.component")
    elif obs.valueCodeableConcept is not None:
        codings = obs.valueCodeableConcept.coding or []
        m["code"] = codings[0].code if codings else obs.valueCodeableConcept.text
    else:
        m["value"], m["unit"] = _quantity_in(obs.valueQuantity)
    d = day.date() if isinstance(day, datetime) else day if isinstance(day, date) else None
    values: dict[str, Any] = {
        "programme": programme_code,
        "performed_on": d.isoformat() if d is not None else str(day)[:10],
        "result": result,
        "measurements": [m],
    }
    if step is not None and step.valueCode:
        values["next_step"] = step.valueCode
    if obs.note:
        values["notes"] = "\n".join(n.text for n in obs.note if n.text)
    return Incoming(person, values, paths)
