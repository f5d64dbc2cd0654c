"""The advice of the rules in the page's language: actions, the values they read, the basis.

The rules (``service.rules``, ``service.diagnostic_rules`` and the packs'
``national_rules``) store their action in English, as the DAK words it; a page
shows it through ``ACTIONS`` (the English text -> its msgid). A msgid never holds a
bare per cent sign: Jinja's gettext formats every message (``92 %`` would fail).
"""

from __future__ import annotations

from salomat.core.i18n import N_
from salomat.domains.maternal.service import codes, rules
from salomat.domains.maternal.web.labels import DIAGNOSIS_VALUES

#: what the rules advise, exactly as they store it -> the msgid the page shows
ACTIONS = {
    "Urgent referral to hospital": N_("Urgent referral to hospital"),
    "Re-measure blood pressure after 10-15 minutes of rest": N_(
        "Re-measure blood pressure after 10-15 minutes of rest"
    ),
    "Re-measure temperature": N_("Re-measure temperature"),
    "Re-measure pulse": N_("Re-measure pulse"),
    "Re-measure fetal heart rate": N_("Re-measure fetal heart rate"),
    "Refer urgently to hospital (fever on repeat measurement)": N_(
        "Refer urgently to hospital (fever on repeat measurement)"
    ),
    "Refer to hospital (abnormal pulse on repeat measurement)": N_(
        "Refer to hospital (abnormal pulse on repeat measurement)"
    ),
    "Refer urgently to hospital (oxygen saturation below 92 %)": N_(
        "Refer urgently to hospital (oxygen saturation below 92 per cent)"
    ),
    "Refer urgently to hospital (no fetal heartbeat)": N_(
        "Refer urgently to hospital (no fetal heartbeat)"
    ),
    "Refer urgently to hospital (fetal heart rate abnormal twice)": N_(
        "Refer urgently to hospital (fetal heart rate abnormal twice)"
    ),
    "Pre-eclampsia risk: aspirin 75 mg daily from 12 weeks until birth; calcium 1.5-2.0 g "
    "daily where dietary calcium intake is low": N_(
        "Pre-eclampsia risk: aspirin 75 mg daily from 12 weeks until birth; calcium 1.5-2.0 g "
        "daily where dietary calcium intake is low"
    ),
    "One ultrasound scan before 24 weeks (refer if none on site)": N_(
        "One ultrasound scan before 24 weeks (refer if none on site)"
    ),
    "Offer a HIV test": N_("Offer an HIV test"),
    "Offer a syphilis test": N_("Offer a syphilis test"),
    "Advise birth in a health facility at the level of care indicated": N_(
        "Advise birth in a health facility at the level of care indicated"
    ),
    "Contact overdue: call the woman in (patronage visit if unreachable)": N_(
        "Contact overdue: call the woman in (patronage visit if unreachable)"
    ),
    "Scheduled contacts were missed: review at the next contact": N_(
        "Scheduled contacts were missed: review at the next contact"
    ),
    "Severe pre-eclampsia: give first dose of magnesium sulfate and antihypertensive per "
    "protocol, urgent referral to hospital": N_(
        "Severe pre-eclampsia: give first dose of magnesium sulfate and antihypertensive per "
        "protocol, urgent referral to hospital"
    ),
    "Pre-eclampsia: refer to hospital; revise the birth plan": N_(
        "Pre-eclampsia: refer to hospital; revise the birth plan"
    ),
    "Severe hypertension: urgent referral to hospital": N_(
        "Severe hypertension: urgent referral to hospital"
    ),
    "Hypertension: counsel on diet, rest and danger signs; reassess in 1 week": N_(
        "Hypertension: counsel on diet, rest and danger signs; reassess in 1 week"
    ),
    "Hypertension: counsel on diet, rest and danger signs; reassess at the next contact": N_(
        "Hypertension: counsel on diet, rest and danger signs; reassess at the next contact"
    ),
    "Hypertension persists since the last contact: refer to hospital": N_(
        "Hypertension persists since the last contact: refer to hospital"
    ),
    "Diabetes in pregnancy: refer for specialist management": N_(
        "Diabetes in pregnancy: refer for specialist management"
    ),
    "Gestational diabetes: counsel on diet and exercise, manage per protocol": N_(
        "Gestational diabetes: counsel on diet and exercise, manage per protocol"
    ),
    "Anaemia (pallor, no Hb test): iron 120 mg and folic acid 0.4 mg daily; test Hb": N_(
        "Anaemia (pallor, no Hb test): iron 120 mg and folic acid 0.4 mg daily; test Hb"
    ),
    "Severe anaemia: refer to hospital; iron 120 mg and folic acid 0.4 mg daily": N_(
        "Severe anaemia: refer to hospital; iron 120 mg and folic acid 0.4 mg daily"
    ),
    "Moderate anaemia: iron 120 mg and folic acid 0.4 mg daily; recheck Hb": N_(
        "Moderate anaemia: iron 120 mg and folic acid 0.4 mg daily; recheck Hb"
    ),
    "Anaemia: iron 120 mg and folic acid 0.4 mg daily": N_(
        "Anaemia: iron 120 mg and folic acid 0.4 mg daily"
    ),
    # the packs' national rules (country/*/maternal.yaml)
    "Mother under 18: high-risk follow-up by the obstetrician; social and psychological "
    "support": N_(
        "Mother under 18: high-risk follow-up by the obstetrician; social and psychological support"
    ),
    "Mother over 35: obstetrician review; offer prenatal screening for chromosomal anomalies": N_(
        "Mother over 35: obstetrician review; offer prenatal screening for chromosomal anomalies"
    ),
}
#: the keys of ``AdviceOut.values`` beyond a diagnosis's
VALUES = {
    **DIAGNOSIS_VALUES,
    "ga_weeks": N_("gestational age, weeks"),
    "factors": N_("factors"),
    "reason": N_("why"),
    "age_years": N_("age, years"),
    "pallor": N_("pallor"),
}
#: codes inside the values: risk factors (DT.27, DT.34), conditions, why a test is due
VALUE_CODES = {
    "adolescent": N_("adolescent"),
    "first_pregnancy": N_("first pregnancy"),
    "grand_multiparity": N_("more than five births"),
    "previous_caesarean": N_("previous caesarean section"),
    "previous_pph": N_("previous postpartum haemorrhage"),
    "previous_instrumental_birth": N_("previous instrumental birth"),
    "previous_convulsions": N_("previous convulsions"),
    "previous_severe_tear": N_("previous severe tear"),
    "previous_pre_eclampsia": N_("previous pre-eclampsia"),
    "multiple_pregnancy": N_("multiple pregnancy"),
    "abnormal_presentation": N_("abnormal presentation"),
    "vaginal_bleeding": N_("vaginal bleeding"),
    "hiv_positive": N_("HIV positive"),
    **codes.CONDITIONS,
    "first_contact": N_("not tested yet in this pregnancy"),
    "third_trimester": N_("to be repeated in the third trimester"),
    "none": N_("none"),
}
assert set(VALUE_CODES) >= rules.PRE_ECLAMPSIA_RISK_CONDITIONS

#: the basis of a rule, by the start of its id
BASIS = (
    ("DT.", N_("WHO antenatal care recommendations (SMART ANC)")),
    ("ANC.", N_("WHO antenatal care recommendations (SMART ANC)")),
)
NATIONAL_BASIS = N_("national rule of the country pack")


def basis(rule_id: str) -> str:
    """The msgid naming where a rule comes from (the WHO guideline or the national pack)."""
    return next((label for prefix, label in BASIS if rule_id.startswith(prefix)), NATIONAL_BASIS)
