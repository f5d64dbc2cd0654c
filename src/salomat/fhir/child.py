"""The child passport as FHIR: growth Observations and the mother as RelatedPerson.

One Observation per measured value (LOINC: body weight 29463-7, body length
89269-5 when measured lying, body height 8302-2 standing, head circumference
9843-4, BMI 39156-5), id ``g<measurement id>-<measure>`` (the ``g`` keeps them
apart from the antenatal Observations, ``<contact id>-<measure>`` and
``p<pregnancy id>-<measure>``). The WHO z-scores are components of the
Observation they derive from (weight: weight-for-age and weight-for-length/
height; length/height: length/height-for-age; BMI: BMI-for-age; head:
head-circumference-for-age), coded in ``Z_SYSTEM`` with the value in UCUM
``{SD}``; a component's interpretation carries the classification it gives
(``CLASS_SYSTEM``) and ``implausible`` when flagged. A measurement a clinician
marked as entered in error keeps its Observations with status
``entered-in-error``. The mid-upper arm circumference is not mapped.

The mother (from the birth record) is ``RelatedPerson/<child id>-mother``:
relationship MTH, her Patient record in the ``related-patient`` extension.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.relatedperson import RelatedPerson

from salomat.domains.child.schemas import BirthSummary, MeasurementOut
from salomat.domains.child.service.growth import IMPLAUSIBLE
from salomat.fhir.common import EXT, validated

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
Z_SYSTEM = "urn:salomat:who-growth-z-score"
CLASS_SYSTEM = "urn:salomat:growth-classification"
RELATED_PATIENT_EXT = EXT + "related-patient"
ID_PREFIX = "g"

#: measure -> (LOINC code, display, unit, UCUM code)
GROWTH_MEASURES: dict[str, tuple[str, str, str, str]] = {
    "weight": ("29463-7", "Body weight", "kg", "kg"),
    "length": ("89269-5", "Body height Measured --lying", "cm", "cm"),
    "height": ("8302-2", "Body height", "cm", "cm"),
    "head": ("9843-4", "Head Occipital-frontal circumference", "cm", "cm"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2"),
}
Z_DISPLAY = {
    "wfa": "weight-for-age z-score (WHO)",
    "wfl": "weight-for-length z-score (WHO)",
    "wfh": "weight-for-height z-score (WHO)",
    "lhfa": "length/height-for-age z-score (WHO)",
    "bmifa": "BMI-for-age z-score (WHO)",
    "hcfa": "head-circumference-for-age z-score (WHO)",
}
#: which z-score a classification code comes from (overweight/obese: by age, see _source)
_CLASS_SOURCE = {"stunting": "lhfa", "wasting": "wfl_or_wfh", "underweight": "wfa"}


def _source(code: str, m: MeasurementOut) -> str:
    for word, indicator in _CLASS_SOURCE.items():
        if code.endswith(word):
            return indicator
    if code.endswith("thinness"):
        return "bmifa"
    return "wfl_or_wfh" if m.wfl_or_wfh_z is not None and m.age_days < 1856 else "bmifa"


def _component(m: MeasurementOut, indicator: str) -> dict[str, Any] | None:
    z = m.wfl_or_wfh_z if indicator == "wfl_or_wfh" else getattr(m, f"{indicator}_z")
    if z is None:
        return None
    code = m.wfl_or_wfh if indicator == "wfl_or_wfh" else indicator
    assert code is not None
    flags = [
        {"system": CLASS_SYSTEM, "code": c} for c in m.classification if _source(c, m) == indicator
    ]
    if indicator in m.implausible:
        flags.append({"system": CLASS_SYSTEM, "code": IMPLAUSIBLE})
    comp: dict[str, Any] = {
        "code": {"coding": [{"system": Z_SYSTEM, "code": code, "display": Z_DISPLAY[code]}]},
        "valueQuantity": {"value": z, "unit": "SD", "system": UCUM, "code": "{SD}"},
    }
    if flags:
        comp["interpretation"] = [{"coding": [f]} for f in flags]
    return comp


def _observation(
    m: MeasurementOut, measure: str, value: float, indicators: tuple[str, ...]
) -> dict[str, Any]:
    code, display, unit, ucum = GROWTH_MEASURES[measure]
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{ID_PREFIX}{m.id}-{measure}",
        # the measurement's version: marking it entered in error makes a new one
        "meta": {"versionId": str(m.version)},
        "status": "entered-in-error" if m.entered_in_error else "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{m.person_id}"},
        "effectiveDateTime": m.measured_on.isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
    }
    if m.facility_id is not None:
        res["performer"] = [{"reference": f"Organization/{m.facility_id}"}]
    components = [c for i in indicators if (c := _component(m, i)) is not None]
    if components:
        res["component"] = components
    return validated(Observation, res)


def growth_observations(m: MeasurementOut) -> list[dict[str, Any]]:
    """The Observations of one measurement (one per measured value, z-scores as components)."""
    out = []
    if m.weight_kg is not None:
        out.append(_observation(m, "weight", m.weight_kg, ("wfa", "wfl_or_wfh")))
    if m.length_or_height_cm is not None:
        measure = "length" if m.measured_lying else "height"
        out.append(_observation(m, measure, m.length_or_height_cm, ("lhfa",)))
    if m.bmi is not None:
        out.append(_observation(m, "bmi", m.bmi, ("bmifa",)))
    if m.head_circumference_cm is not None:
        out.append(_observation(m, "head", m.head_circumference_cm, ("hcfa",)))
    return out


def parse_growth_id(observation_id: str) -> tuple[int, str] | None:
    """``g<measurement id>-<measure>`` -> (id, measure), else None."""
    if not observation_id.startswith(ID_PREFIX):
        return None
    rid, _, measure = observation_id[len(ID_PREFIX) :].partition("-")
    if not (rid.isascii() and rid.isdigit()) or len(rid) > 18 or measure not in GROWTH_MEASURES:
        return None
    return int(rid), measure


def related_person_id(child_id: int) -> str:
    return f"{child_id}-mother"


def parse_related_person_id(value: str) -> int | None:
    rid, _, rest = value.partition("-")
    ok = rest == "mother" and rid.isascii() and rid.isdigit() and len(rid) <= 18
    return int(rid) if ok else None


def mother(child_id: int, b: BirthSummary) -> dict[str, Any]:
    """The child's mother as recorded at the birth."""
    res: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": related_person_id(child_id),
        "extension": [
            {
                "url": RELATED_PATIENT_EXT,
                "valueReference": {"reference": f"Patient/{b.mother_person_id}"},
            }
        ],
        "active": True,
        "patient": {"reference": f"Patient/{child_id}"},
        "relationship": [{"coding": [{"system": ROLE_CODE, "code": "MTH", "display": "mother"}]}],
        "gender": "female",
    }
    if b.mother is not None:
        given = [b.mother.given_name] + ([b.mother.patronymic] if b.mother.patronymic else [])
        res["name"] = [{"family": b.mother.family_name, "given": given}]
        res["birthDate"] = b.mother.birth_date.isoformat()
    return validated(RelatedPerson, res)
