"""The pregnancy register as FHIR: EpisodeOfCare, Encounter, Observation, RiskAssessment,
DetectedIssue. Read-only mappers from the maternal schemas; each result goes through
its R4B model.

A pregnancy's EDD and gestational age are on the EpisodeOfCare as extensions (one
resource answers "how far along is she"), and also as Observations (EDD and LMP per
pregnancy, GA per contact) for systems that only read Observations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.riskassessment import RiskAssessment

from salomat.core.i18n import N_
from salomat.domains.maternal.schemas import AdviceOut, ContactOut, PregnancyOut
from salomat.fhir.common import EXT, instant, validated

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
EPISODE_TYPE = "urn:salomat:episode-type"
ENCOUNTER_TYPE = "urn:salomat:encounter-type"
ADVICE_SYSTEM = "urn:salomat:maternal-advice"
DAK_RULE_SYSTEM = "urn:salomat:who-anc-dak-rule"
#: the episode type of a pregnancy and the encounter type of an antenatal contact
PREGNANCY = ("pregnancy", N_("Pregnancy"))
ANTENATAL_CONTACT = ("antenatal-contact", N_("Antenatal contact"))
RISK_SYSTEM = "http://terminology.hl7.org/CodeSystem/risk-probability"
EDD_EXT = EXT + "estimated-delivery-date"
GA_EXT = EXT + "gestational-age"
SOURCE_EXT = EXT + "advice-source"

#: the measure part of an Observation id -> (LOINC code, display, category)
MEASURES: dict[str, tuple[str, str, str | None]] = {
    "bp1": ("85354-9", "Blood pressure panel with all children optional", "vital-signs"),
    "bp2": ("85354-9", "Blood pressure panel with all children optional", "vital-signs"),
    "weight": ("29463-7", "Body weight", "vital-signs"),
    "height": ("8302-2", "Body height", "vital-signs"),
    "hb": ("718-7", "Hemoglobin [Mass/volume] in Blood", "laboratory"),
    "glucose": ("1558-6", "Fasting glucose [Moles/volume] in Serum or Plasma", "laboratory"),
    "protein": ("20454-5", "Protein [Presence] in Urine by Test strip", "laboratory"),
    "fhr1": ("55283-6", "Fetal Heart rate", "exam"),
    "fhr2": ("55283-6", "Fetal Heart rate", "exam"),
    "fundal": ("11881-0", "Uterus Fundal height Tape measure", "exam"),
    "ga": ("11884-4", "Gestational age Estimated", None),
    # per pregnancy (id ``p<pregnancy id>-<measure>``)
    "edd": ("11778-8", "Delivery date Estimated", None),
    "lmp": ("8665-2", "Last menstrual period start date", None),
}
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
PREGNANCY_MEASURES = ("edd", "lmp")
#: DetectedIssue.severity from the advice's urgency
SEVERITY = {"emergency": "high", "urgent": "high", "soon": "moderate", "routine": "low"}
#: RiskAssessment's risk-probability code for Salomat's risk level
RISK = {"low": "low", "medium": "moderate", "high": "high"}


def _ref(kind: str, rid: int | str | None) -> dict[str, str] | None:
    return None if rid is None else {"reference": f"{kind}/{rid}"}


def _qty(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _day(d: date | datetime) -> str:
    return d.isoformat() if not isinstance(d, datetime) else instant(d)


def episode_of_care(p: PregnancyOut) -> dict[str, Any]:
    period: dict[str, str] = {"start": p.registered_on.isoformat()}
    if p.closed_on is not None:
        period["end"] = p.closed_on.isoformat()
    res: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": str(p.id),
        "meta": {"versionId": str(p.version)},
        "extension": [
            {"url": EDD_EXT, "valueDate": p.edd.isoformat()},
            {"url": GA_EXT, "valueDuration": _qty(p.ga_days, "d", "d")},
        ],
        "status": "active" if p.status == "current" else "finished",
        "type": [
            {
                "coding": [{"system": EPISODE_TYPE, "code": PREGNANCY[0]}],
                "text": "pregnancy (antenatal care)",
            }
        ],
        "patient": _ref("Patient", p.person_id),
        "managingOrganization": _ref("Organization", p.facility_id),
        "period": period,
    }
    return validated(EpisodeOfCare, {k: v for k, v in res.items() if v is not None})


def encounter(c: ContactOut) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(c.id),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [
            {
                "coding": [{"system": ENCOUNTER_TYPE, "code": ANTENATAL_CONTACT[0]}],
                "text": "antenatal contact",
            }
        ],
        "subject": _ref("Patient", c.person_id),
        "episodeOfCare": [_ref("EpisodeOfCare", c.pregnancy_id)],
        "period": {"start": c.on.isoformat(), "end": c.on.isoformat()},
        "serviceProvider": _ref("Organization", c.facility_id),
    }
    return validated(Encounter, {k: v for k, v in res.items() if v is not None})


def _observation(
    oid: str, measure: str, person_id: int, when: date, value: dict[str, Any]
) -> dict[str, Any]:
    code, display, category = MEASURES[measure]
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": _ref("Patient", person_id),
        "effectiveDateTime": when.isoformat(),
        **value,
    }
    if category is not None:
        res["category"] = [{"coding": [{"system": CATEGORY, "code": category}]}]
    return res


def _bp(sbp: int | None, dbp: int | None) -> dict[str, Any] | None:
    if sbp is None or dbp is None:
        return None

    def part(code: str, display: str, v: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": _qty(v, "mmHg", "mm[Hg]"),
        }

    return {
        "component": [
            part(SYSTOLIC, "Systolic blood pressure", sbp),
            part(DIASTOLIC, "Diastolic blood pressure", dbp),
        ]
    }


def _q(v: float | None, unit: str, code: str) -> dict[str, Any] | None:
    return None if v is None else {"valueQuantity": _qty(v, unit, code)}


#: measure -> its value elements from a contact (None: not measured)
_CONTACT_VALUES: dict[str, Callable[[ContactOut], dict[str, Any] | None]] = {
    "bp1": lambda c: _bp(c.systolic_1, c.diastolic_1),
    "bp2": lambda c: _bp(c.systolic_2, c.diastolic_2),
    "weight": lambda c: _q(c.weight_kg, "kg", "kg"),
    "height": lambda c: _q(c.height_cm, "cm", "cm"),
    "hb": lambda c: _q(c.haemoglobin_g_l, "g/L", "g/L"),
    "glucose": lambda c: _q(c.fasting_glucose_mmol_l, "mmol/L", "mmol/L"),
    "protein": lambda c: None if c.urine_protein is None else {"valueString": c.urine_protein},
    "fhr1": lambda c: _q(c.fetal_heart_rate_1, "/min", "/min"),
    "fhr2": lambda c: _q(c.fetal_heart_rate_2, "/min", "/min"),
    "fundal": lambda c: _q(c.fundal_height_cm, "cm", "cm"),
    "ga": lambda c: {"valueQuantity": _qty(c.ga_days, "d", "d")},
}


def contact_observations(c: ContactOut) -> list[dict[str, Any]]:
    """What was measured at one contact, one Observation per measure (and per BP reading)."""
    out = []
    for measure, value_of in _CONTACT_VALUES.items():
        value = value_of(c)
        if value is None:
            continue
        res = _observation(f"{c.id}-{measure}", measure, c.person_id, c.on, value)
        res["encounter"] = _ref("Encounter", c.id)
        res["issued"] = instant(c.recorded_at)
        out.append(validated(Observation, res))
    return out


def pregnancy_observations(p: PregnancyOut) -> list[dict[str, Any]]:
    """The dating of a pregnancy: its EDD, and its LMP when known."""
    out = [
        _observation(
            f"p{p.id}-edd", "edd", p.person_id, p.registered_on, {"valueDateTime": _day(p.edd)}
        )
    ]
    if p.lmp is not None:
        out.append(
            _observation(
                f"p{p.id}-lmp", "lmp", p.person_id, p.registered_on, {"valueDateTime": _day(p.lmp)}
            )
        )
    return [validated(Observation, r) for r in out]


def detected_issue(person_id: int, a: AdviceOut) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "code": [{"text": json.dumps(a.values, ensure_ascii=False, sort_keys=True)}]
    }
    if a.contact_id is not None:
        evidence["detail"] = [_ref("Encounter", a.contact_id)]
    res: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": str(a.id),
        "extension": [{"url": SOURCE_EXT, "valueString": a.source}],
        "status": "final" if a.active else "cancelled",
        "code": {
            "coding": [
                {"system": ADVICE_SYSTEM, "code": a.code},
                {"system": DAK_RULE_SYSTEM, "code": a.rule_id},
            ],
            "text": a.code,
        },
        "severity": SEVERITY[a.urgency],
        "patient": _ref("Patient", person_id),
        "identifiedDateTime": instant(a.created_at),
        "implicated": [_ref("EpisodeOfCare", a.pregnancy_id)],
        "evidence": [evidence],
        "detail": a.action,
    }
    return validated(DetectedIssue, res)


def risk_assessment(p: PregnancyOut, advice: list[AdviceOut]) -> dict[str, Any] | None:
    """The pregnancy's risk level; None until the rules have run."""
    if p.risk_level is None:
        return None
    res: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": str(p.id),
        "status": "final",
        "subject": _ref("Patient", p.person_id),
        "basis": [_ref("EpisodeOfCare", p.id)] + [_ref("DetectedIssue", a.id) for a in advice],
        "prediction": [
            {
                "qualitativeRisk": {
                    "coding": [{"system": RISK_SYSTEM, "code": RISK[p.risk_level]}],
                    "text": p.risk_level,
                }
            }
        ],
    }
    if p.evaluated_at is not None:
        res["occurrenceDateTime"] = instant(p.evaluated_at)
    return validated(RiskAssessment, res)
