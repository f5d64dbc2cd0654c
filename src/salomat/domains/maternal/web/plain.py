"""Plain words for the woman herself (her portal page): what a diagnosis means, what to do.

Written for a pregnant woman, not a clinician: short, calm, with what she can
do and when to come at once. The clinical facts behind them are those of the
rules (``service.standing``: WHO SMART ANC DAK DT.17, DT.23, DT.25, DT.01 and
DT.06); the danger signs are the WHO list of pregnancy danger signs every woman
should know (WHO, "Pregnancy, Childbirth, Postpartum and Newborn Care: a guide
for essential practice", 3rd ed., 2015, section on advising on danger signs),
in our own words.
"""

from __future__ import annotations

from salomat.core.i18n import N_
from salomat.domains.maternal.service import standing

_BLOOD_PRESSURE = N_(
    "Have your blood pressure checked at every visit and take the medicines you were prescribed."
)
_PRE_ECLAMPSIA = N_(
    "Follow your doctor's plan and keep every appointment; come at once if you have a "
    "severe headache, blurred vision or pain under the ribs."
)
_SUGAR = N_(
    "Follow the diet and treatment you were given and have your blood sugar checked as planned."
)
_IRON = N_(
    "Take the iron tablets you were prescribed every day and eat iron-rich food such as "
    "meat, beans and green vegetables."
)
#: the severe forms: the rules refer her (severe hypertension, severe pre-eclampsia and
#: severe anaemia are urgent referrals in the rules), so the page says so, not "at home"
_URGENT = N_(
    "This needs care in hospital soon: go to the hospital or the referral your doctor gave "
    "you today, or call the ambulance if you feel unwell."
)
_SEEN = N_(
    "Your doctor knows about it; follow the advice you were given and call your clinic if "
    "it comes back."
)
_BABY = N_("Your doctor will arrange a check of the baby; please keep that appointment.")

#: standing diagnosis code -> (what it means, what to do)
PLAIN_DIAGNOSES: dict[str, tuple[str, str]] = {
    "hypertension": (
        N_("Your blood pressure is higher than it should be in pregnancy."),
        _BLOOD_PRESSURE,
    ),
    "severe_hypertension": (
        N_("Your blood pressure is much higher than it should be in pregnancy."),
        _URGENT,
    ),
    "pre_eclampsia": (
        N_(
            "High blood pressure with protein in the urine (pre-eclampsia). With care and "
            "regular checks most women with it have a healthy baby."
        ),
        _PRE_ECLAMPSIA,
    ),
    "severe_pre_eclampsia": (
        N_(
            "High blood pressure with a serious sign such as very high readings, a severe "
            "headache or blurred vision (severe pre-eclampsia): it is treated in hospital."
        ),
        _URGENT,
    ),
    "gestational_diabetes": (
        N_("Your blood sugar is higher than normal; this began in this pregnancy."),
        _SUGAR,
    ),
    "diabetes_in_pregnancy": (
        N_("Your blood sugar is at the level of diabetes in this pregnancy."),
        _SUGAR,
    ),
    "anaemia": (
        N_("You have a little too little haemoglobin, the part of the blood that carries oxygen."),
        _IRON,
    ),
    "moderate_anaemia": (
        N_("You have too little haemoglobin, the part of the blood that carries oxygen."),
        _IRON,
    ),
    "severe_anaemia": (
        N_(
            "You have much too little haemoglobin, the part of the blood that carries "
            "oxygen: it needs treatment soon."
        ),
        _URGENT,
    ),
    "danger_signs": (N_("A warning sign was noted at a visit."), _SEEN),
    "fever": (N_("A raised temperature was measured at a visit."), _SEEN),
    "abnormal_pulse": (N_("Your pulse was faster or slower than usual at a visit."), _SEEN),
    "low_oxygen_saturation": (
        N_("The oxygen in your blood was lower than usual at a visit."),
        _SEEN,
    ),
    "no_fetal_heartbeat": (N_("The baby's heartbeat could not be heard at a visit."), _BABY),
    "abnormal_fetal_heart_rate": (
        N_("The baby's heartbeat was faster or slower than usual at a visit."),
        _BABY,
    ),
}
assert set(PLAIN_DIAGNOSES) == {c for codes in standing.FAMILIES.values() for c in codes}

#: the signs she should come or call at once for
WARNING_SIGNS = (
    N_("bleeding from the vagina"),
    N_("fits (convulsions) or fainting"),
    N_("a severe headache or blurred vision"),
    N_("fever, or feeling very weak"),
    N_("severe pain in the belly"),
    N_("fast or difficult breathing"),
    N_("the baby moves less than usual or stops moving"),
    N_("water leaking from the vagina before labour"),
    N_("swelling of the face and hands"),
)

#: ``MyNextContact.status``
NEXT_CONTACT = {
    "upcoming": N_("planned"),
    "due": N_("due now: please make an appointment"),
    "overdue": N_("overdue: please come as soon as you can"),
}
