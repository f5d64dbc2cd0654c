"""The labels of the maternal pages' codes (enum values, rule vocabularies), marked for the catalog.

A code is stored and sent as is; a page shows its label in the page's language
(``_(label)`` in the template). No page shows a raw code where a label belongs.
"""

from __future__ import annotations

from salomat.core.i18n import N_
from salomat.domains.maternal.service import codes, rules

#: labels of ``rules.DANGER_SIGNS`` (DT.01)
DANGER_SIGNS = {
    "vaginal_bleeding": N_("vaginal bleeding"),
    "convulsions": N_("convulsions"),
    "fever": N_("fever"),
    "severe_headache": N_("severe headache"),
    "visual_disturbance": N_("visual disturbance"),
    "imminent_delivery": N_("imminent delivery"),
    "labour": N_("labour"),
    "looks_very_ill": N_("looks very ill"),
    "severe_vomiting": N_("severe vomiting"),
    "severe_pain": N_("severe pain"),
    "severe_abdominal_pain": N_("severe abdominal pain"),
    "unconscious": N_("unconscious"),
    "central_cyanosis": N_("central cyanosis"),
}
#: labels of ``rules.PRE_ECLAMPSIA_SYMPTOMS`` (DT.17)
SYMPTOMS = {
    "severe_headache": N_("severe headache"),
    "blurred_vision": N_("blurred vision"),
    "epigastric_pain": N_("epigastric pain"),
    "dizziness": N_("dizziness"),
    "vomiting": N_("vomiting"),
}
assert set(DANGER_SIGNS) == rules.DANGER_SIGNS
assert set(SYMPTOMS) == rules.PRE_ECLAMPSIA_SYMPTOMS
URGENCIES = (N_("emergency"), N_("urgent"), N_("soon"), N_("routine"))
RISKS = (N_("low"), N_("medium"), N_("high"))
#: ``AdviceOut.urgency`` as a triage label
URGENCY_LABELS = {
    "emergency": N_("emergency"),
    "urgent": N_("urgent"),
    "soon": N_("soon"),
    "routine": N_("routine"),
}
#: ``PregnancyOut.risk_level``
RISK_LABELS = {"low": N_("low risk"), "medium": N_("medium risk"), "high": N_("high risk")}
DATING_METHODS = {
    "lmp": N_("last menstrual period"),
    "ultrasound": N_("ultrasound"),
    "fundal_height": N_("fundal height"),
}
URINE_PROTEIN = ("none", "+", "++", "+++", "++++")


#: referral kinds and statuses (``schemas.ReferralKind``, ``schemas.ReferralStatus``)
REFERRAL_KINDS = codes.REFERRAL_KINDS
REFERRAL_STATUSES = {
    "sent": N_("sent"),
    "accepted": N_("accepted"),
    "seen": N_("seen"),
    "returned": N_("returned"),
    "declined": N_("declined"),
    "cancelled": N_("cancelled"),
}
#: why a woman is on the worklist (``service.worklists``)
WORKLIST_REASONS = {
    "contact_due": N_("contact due"),
    "contact_overdue": N_("contact overdue"),
    "high_risk_no_referral": N_("high risk, no referral accepted"),
    "no_birth_place": N_("no planned place of birth"),
}

#: the standing diagnoses and findings (``service.standing``), by advice code
DIAGNOSIS_LABELS = codes.DIAGNOSES
#: the values a standing diagnosis was made on (``diagnostic_rules`` and DT.01/DT.06)
DIAGNOSIS_VALUES = {
    "systolic": N_("systolic, mmHg"),
    "diastolic": N_("diastolic, mmHg"),
    "urine_protein": N_("urine protein"),
    "symptoms": N_("symptoms"),
    "danger_signs": N_("danger signs"),
    "haemoglobin_g_l": N_("haemoglobin, g/L"),
    "pallor": N_("pallor"),
    "ga_days": N_("gestational age, days"),
    "fasting_glucose_mmol_l": N_("fasting glucose, mmol/L"),
    "ogtt_1h_mmol_l": N_("OGTT 1 h, mmol/L"),
    "ogtt_2h_mmol_l": N_("OGTT 2 h, mmol/L"),
    "random_glucose_mmol_l": N_("random glucose, mmol/L"),
    "temperature_c": N_("temperature, °C"),
    "pulse": N_("pulse, /min"),
    "spo2": N_("oxygen saturation, per cent"),
    "fetal_heart_rate": N_("fetal heart rate, /min"),
    "fetal_heartbeat_absent": N_("no fetal heartbeat"),
}
#: why a clinician resolves one (``schemas.Resolution``)
RESOLUTIONS = {
    "resolved": N_("resolved"),
    "ruled_out": N_("ruled out"),
    "entered_in_error": N_("entered in error"),
}

REGISTRATION_NUMBERS = ("gravida", "parity", "stillbirths", "miscarriages")
HISTORY_FLAGS = {
    "previous_caesarean": N_("previous caesarean section"),
    "previous_pre_eclampsia": N_("previous pre-eclampsia"),
    "previous_pph": N_("previous postpartum haemorrhage"),
    "previous_instrumental_birth": N_("previous instrumental birth"),
    "previous_convulsions": N_("previous convulsions"),
    "previous_severe_tear": N_("previous severe tear"),
    "multiple_pregnancy": N_("multiple pregnancy"),
}
CONTACT_NUMBERS = (
    "systolic_1",
    "diastolic_1",
    "systolic_2",
    "diastolic_2",
    "weight_kg",
    "temperature_c_1",
    "pulse_1",
    "fetal_heart_rate_1",
    "fundal_height_cm",
    "haemoglobin_g_l",
    "fasting_glucose_mmol_l",
)
CONTACT_FLAGS = {
    "ultrasound_done": N_("ultrasound done"),
    "hiv_test_done": N_("HIV test done"),
    "syphilis_test_done": N_("syphilis test done"),
}

#: how a pregnancy ends (``schemas.Outcome``)
OUTCOMES = {
    "live_birth": N_("live birth"),
    "stillbirth": N_("stillbirth"),
    "miscarriage": N_("miscarriage"),
    "termination": N_("termination"),
    "maternal_death": N_("maternal death"),
}
#: the outcomes the close form offers: a birth has its own page, and a maternal death is
#: registered as a death in the registry, which closes the pregnancy (``close_at_death``)
CLOSE_OUTCOMES = ("miscarriage", "termination")
#: ``schemas.BirthMode``
BIRTH_MODES = {
    "spontaneous_vaginal": N_("spontaneous vaginal"),
    "vaginal_breech": N_("vaginal breech"),
    "vacuum": N_("vacuum extraction"),
    "forceps": N_("forceps"),
    "caesarean_elective": N_("elective caesarean section"),
    "caesarean_emergency": N_("emergency caesarean section"),
}
BABY_OUTCOMES = {"live": N_("live-born"), "stillbirth": N_("stillborn")}
STILLBIRTH_TYPES = {"fresh": N_("fresh"), "macerated": N_("macerated")}
SEXES = {"female": N_("female"), "male": N_("male")}
BABY_TEXTS = ("given_name", "patronymic")
BABY_NUMBERS = ("birth_weight_g", "length_cm", "apgar_1", "apgar_5")
#: the most babies ``BirthIn`` takes
MAX_BABIES = 8
#: the mother's danger signs after birth (a subset of DT.01's vocabulary)
POSTNATAL_SIGNS = (
    "vaginal_bleeding",
    "convulsions",
    "fever",
    "severe_headache",
    "visual_disturbance",
    "severe_abdominal_pain",
    "unconscious",
    "looks_very_ill",
)
#: a newborn's danger signs (WHO postnatal care of the newborn)
BABY_SIGNS = {
    "not_feeding_well": N_("not feeding well"),
    "convulsions": N_("convulsions"),
    "fast_breathing": N_("fast breathing"),
    "severe_chest_indrawing": N_("severe chest indrawing"),
    "no_spontaneous_movement": N_("no spontaneous movement"),
    "fever": N_("fever"),
    "low_temperature": N_("low body temperature"),
    "jaundice": N_("jaundice"),
}
#: ``PostnatalContactIn.bleeding``
BLEEDING = {"normal": N_("normal"), "heavy": N_("heavy")}
POSTNATAL_NUMBERS = (
    "systolic",
    "diastolic",
    "temperature_c",
    "pulse",
    "baby_weight_g",
    "baby_temperature_c",
)
