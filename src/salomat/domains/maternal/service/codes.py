"""The pregnancy register's national codes, each with its name (a catalogue msgid): what
the rules advise (``urn:salomat:maternal-advice``), the WHO ANC DAK decision tables the
rules implement (``urn:salomat:who-anc-dak-rule``), the chronic conditions the rules read
(``urn:salomat:maternal-condition``) and the referral kinds.

One table each, read by the pages (``web.labels``) and published by the FHIR terminology
(``fhir.terminology_sources``). The packs' own rules (``maternal.yaml national_rules``)
add their codes and ids beside these (``national_codes``).

Sources: the decision-table titles are the DAK's (WHO SMART Guidelines, ANC Digital
Adaptation Kit, WHO-SRH-21.2; the PlanDefinition index of
WorldHealthOrganization/smart-anc); ../shared/domain/maternal.md maps each to our rules.
"""

from __future__ import annotations

from typing import Any

from salomat.core.i18n import N_
from salomat.country.pack import load

#: the diagnoses and findings a rule stands by (``standing``), by advice code
DIAGNOSES = {
    "hypertension": N_("hypertension"),
    "severe_hypertension": N_("severe hypertension"),
    "pre_eclampsia": N_("pre-eclampsia"),
    "severe_pre_eclampsia": N_("severe pre-eclampsia"),
    "gestational_diabetes": N_("gestational diabetes"),
    "diabetes_in_pregnancy": N_("diabetes in pregnancy"),
    "anaemia": N_("anaemia"),
    "moderate_anaemia": N_("moderate anaemia"),
    "severe_anaemia": N_("severe anaemia"),
    "danger_signs": N_("danger signs"),
    "fever": N_("fever"),
    "abnormal_pulse": N_("abnormal pulse"),
    "low_oxygen_saturation": N_("low oxygen saturation"),
    "no_fetal_heartbeat": N_("no fetal heartbeat"),
    "abnormal_fetal_heart_rate": N_("abnormal fetal heart rate"),
}
#: every code the WHO rules advise under (``rules``, ``diagnostic_rules``), with its name
ADVICE = {
    **DIAGNOSES,
    "remeasure_bp": N_("re-measure blood pressure"),
    "remeasure_temperature": N_("re-measure temperature"),
    "remeasure_pulse": N_("re-measure pulse"),
    "remeasure_fhr": N_("re-measure fetal heart rate"),
    "pre_eclampsia_risk": N_("pre-eclampsia risk"),
    "ultrasound_due": N_("ultrasound scan due"),
    "hiv_test_due": N_("HIV test due"),
    "syphilis_test_due": N_("syphilis test due"),
    "facility_birth": N_("birth in a health facility advised"),
    "contact_overdue": N_("contact overdue"),
    "contact_missed": N_("scheduled contacts missed"),
}
#: the DAK decision tables the rules implement (the id as the rules store it)
DAK_RULES = {
    "DT.01": N_("ANC.DT.01 Danger signs"),
    "DT.04": N_("ANC.DT.04 Conducting physical exams"),
    "DT.06": N_("ANC.DT.06 Physical symptoms and exam results requiring referral"),
    "DT.07": N_("ANC.DT.07 Ultrasound recommendation"),
    "DT.08/11": N_("ANC.DT.08 HIV testing and ANC.DT.11 syphilis testing"),
    "DT.17": N_("ANC.DT.17 Pre-eclampsia, severe pre-eclampsia and hypertension diagnosis"),
    "DT.23": N_("ANC.DT.23 Gestational diabetes and diabetes in pregnancy diagnosis"),
    "DT.25": N_("ANC.DT.25 Anaemia diagnosis"),
    "DT.27": N_("ANC.DT.27 Pre-eclampsia risk counselling"),
    "DT.34": N_("ANC.DT.34 Birth in a health facility (risk factors)"),
    "ANC.S.01": N_("ANC.S.01 Contact schedule (at least eight contacts)"),
}
#: the chronic conditions the rules read and the register maps to ICD-10. Registration
#: takes other codes too (a clinician may record any), so the system is open-ended.
CONDITIONS = {
    "chronic_hypertension": N_("chronic hypertension"),
    "diabetes": N_("diabetes"),
    "autoimmune": N_("autoimmune disease"),
    "kidney_disease": N_("kidney disease"),
    "heart_disease": N_("heart disease"),
    "epilepsy": N_("epilepsy"),
    "hiv": N_("HIV"),
    "tuberculosis": N_("tuberculosis"),
}
#: referral kinds (``schemas.ReferralKind``)
REFERRAL_KINDS = {"perinatal": N_("perinatal centre"), "screening": N_("screening centre")}


def national_codes(country: str) -> list[tuple[str, str, str]]:
    """The pack's own rules: (rule id, advice code, action) each."""
    pack: dict[str, Any] = load(country, "maternal")
    return [
        (str(r["id"]), str(r["code"]), str(r["action"])) for r in pack.get("national_rules") or []
    ]
