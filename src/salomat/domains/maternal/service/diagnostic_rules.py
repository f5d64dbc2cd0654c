"""The antenatal rules whose results are diagnoses: DT.17, DT.23 and DT.25.

Pure functions over ``Facts`` (``anc_facts``); ``rules.evaluate`` runs them with
the others, and ``standing`` keeps what they give on the pregnancy until a
clinician resolves it. Source: ../shared/domain/maternal.md.
"""

from __future__ import annotations

from salomat.domains.maternal.service.anc_facts import (
    DAK,
    WHO_ANC_2016,
    WHO_HB_2011,
    Advice,
    ContactFacts,
    Facts,
    _advice,
    _latest,
    _readings,
)

__all__ = [
    "bp_raised",
    "bp_severe",
    "dt17_hypertension",
    "dt23_diabetes",
    "dt25_anaemia",
]

# --- WHO/DAK thresholds (not country-specific: kept in code) -----------------

#: DT.04 / DT.17: raised blood pressure, mmHg.
SBP_HIGH, DBP_HIGH = 140, 90
#: DT.17: severe range, mmHg.
SBP_SEVERE, DBP_SEVERE = 160, 110
#: DT.17: symptoms of severe pre-eclampsia.
PRE_ECLAMPSIA_SYMPTOMS = frozenset(
    {"severe_headache", "blurred_vision", "epigastric_pain", "dizziness", "vomiting"}
)
#: DT.01 danger signs that are also DT.17's severe features, recorded either way on the
#: form (the same woman's severe headache may be ticked as a danger sign or a symptom):
#: danger sign -> the DT.17 symptom it is
DANGER_SIGN_SEVERE_FEATURES = {
    "severe_headache": "severe_headache",
    "visual_disturbance": "blurred_vision",
    "severe_abdominal_pain": "epigastric_pain",
    "severe_vomiting": "vomiting",
}
#: DT.17: urine protein at or above "++" (dipstick).
PROTEIN_SIGNIFICANT = frozenset({"++", "+++", "++++"})
#: DT.17: "reassess in 1 week at >= 8 months": the 8th month read as from 32 weeks.
LATE_PREGNANCY_DAYS = 32 * 7
#: DT.23 (mmol/L): gestational diabetes ranges; diabetes in pregnancy from the limits.
GDM_FASTING, DIP_FASTING = 5.1, 7.0
GDM_OGTT_1H = 10.0
GDM_OGTT_2H = 8.5
DIP_OGTT, DIP_RANDOM = 11.1, 11.1
#: DT.25: Hb (g/L) below which a pregnant woman is anaemic: 110 at <= 12 and
#: >= 28 completed weeks, 105 at 13-27 weeks.
HB_ANAEMIA, HB_ANAEMIA_MID = 110, 105
HB_MID_FROM_WEEKS, HB_MID_TO_WEEKS = 13, 27
#: WHO 2011 severity in pregnancy: moderate 70-99, severe < 70 g/L.
HB_MODERATE, HB_SEVERE = 100, 70


# --- blood pressure ---------------------------------------------------------


def _high(sbp: int, dbp: int) -> bool:
    """One reading at or above the raised range in either component (DT.04: re-measure)."""
    return sbp >= SBP_HIGH or dbp >= DBP_HIGH


def _both(readings: list[tuple[int, int]], sbp_limit: int, dbp_limit: int) -> bool:
    """DT.17, per component across the two readings: systolic at or above its limit on
    both, or diastolic at or above its limit on both; never one component of one reading
    with the other component of the other (145/80 then 130/95 is not raised)."""
    return len(readings) >= 2 and (
        all(s >= sbp_limit for s, _ in readings) or all(d >= dbp_limit for _, d in readings)
    )


def bp_raised(readings: list[tuple[int, int]]) -> bool:
    """Raised: systolic >= 140 on both readings, or diastolic >= 90 on both."""
    return _both(readings[:2], SBP_HIGH, DBP_HIGH)


def bp_severe(readings: list[tuple[int, int]]) -> bool:
    """Severe: systolic >= 160 on both readings, or diastolic >= 110 on both."""
    return _both(readings[:2], SBP_SEVERE, DBP_SEVERE)


# --- DT.17, DT.23, DT.25 ----------------------------------------------------


def severe_features(c: ContactFacts) -> set[str]:
    """DT.17's symptoms of severe pre-eclampsia at this contact, recorded as symptoms or as
    the danger signs that are the same thing."""
    found = set(c.symptoms & PRE_ECLAMPSIA_SYMPTOMS)
    found |= {v for k, v in DANGER_SIGN_SEVERE_FEATURES.items() if k in c.danger_signs}
    return found


def _hypertensive(c: ContactFacts) -> str | None:
    """DT.17 classification of one contact, the most severe that applies.

    - not raised (``bp_raised``): nothing. Proteinuria with a normal blood
      pressure is not pre-eclampsia: the DAK row "SBP <= 140 + protein ++" is read
      as a typo for ">= 140" (maternal.md).
    - protein >= ++ with a severe feature (severe blood pressure or a symptom):
      severe pre-eclampsia; without one: pre-eclampsia. The DAK spreadsheet labels
      protein ++ without symptoms "severe pre-eclampsia" in rows 11-16 and
      "pre-eclampsia" in rows 17-23; WHO's pre-eclampsia guidance and rows 17-23
      are followed: severity needs a severe feature.
    - protein none, + or not tested, with a symptom of severe pre-eclampsia:
      severe pre-eclampsia (the "raised blood pressure plus a severe feature" row).
    - protein none, + or not tested, severe blood pressure: severe hypertension;
      else hypertension.
    """
    readings = _readings(c)[:2]
    if not bp_raised(readings):
        return None
    severe_bp = bp_severe(readings)
    symptom = bool(severe_features(c))
    if c.urine_protein in PROTEIN_SIGNIFICANT:
        return "severe_pre_eclampsia" if severe_bp or symptom else "pre_eclampsia"
    if symptom:
        return "severe_pre_eclampsia"
    return "severe_hypertension" if severe_bp else "hypertension"


def dt17_hypertension(facts: Facts) -> list[Advice]:
    """Both readings of the latest contact raised: classify; most severe wins.

    Urine protein not measured counts as "none or +" (the rows without
    protein), so raised pressure is never left without advice.
    """
    c = _latest(facts)
    if c is None:
        return []
    kind = _hypertensive(c)
    if kind is None:
        return []
    readings = _readings(c)[:2]
    values: dict[str, object] = {
        "systolic": [s for s, _ in readings],
        "diastolic": [d for _, d in readings],
        "urine_protein": c.urine_protein,
    }
    symptoms = sorted(severe_features(c))
    if symptoms:
        values["symptoms"] = symptoms
    src = f"{DAK} ANC.DT.17; {WHO_ANC_2016}"
    if kind == "severe_pre_eclampsia":
        return [
            _advice(
                "DT.17",
                kind,
                values,
                "Severe pre-eclampsia: give first dose of magnesium sulfate and"
                " antihypertensive per protocol, urgent referral to hospital",
                "emergency",
                src,
            )
        ]
    if kind == "pre_eclampsia":
        return [
            _advice(
                "DT.17",
                kind,
                values,
                "Pre-eclampsia: refer to hospital; revise the birth plan",
                "urgent",
                src,
            )
        ]
    if kind == "severe_hypertension":
        return [
            _advice(
                "DT.17",
                kind,
                values,
                "Severe hypertension: urgent referral to hospital",
                "urgent",
                src,
            )
        ]
    late = facts.ga_days >= LATE_PREGNANCY_DAYS
    previous = facts.contacts[-2] if len(facts.contacts) >= 2 else None
    still_high = previous is not None and _hypertensive(previous) is not None
    action = "Hypertension: counsel on diet, rest and danger signs; reassess " + (
        "in 1 week" if late else "at the next contact"
    )
    if still_high:
        action = "Hypertension persists since the last contact: refer to hospital"
    return [
        _advice(
            "DT.17",
            kind,
            values,
            action,
            "soon" if still_high else "routine",
            src,
            reassess_in_days=7 if late else None,
            refer=still_high,
        )
    ]


def dt23_diabetes(facts: Facts) -> list[Advice]:
    """Glucose at the latest contact: diabetes in pregnancy beats gestational diabetes.

    WHO 2013 criteria (Diagnostic criteria and classification of hyperglycaemia first
    detected in pregnancy, WHO/NMH/MND/13.2): diabetes in pregnancy is fasting >= 7.0,
    2-h >= 11.1 or random >= 11.1 mmol/L; gestational diabetes is fasting 5.1-6.9,
    1-h >= 10.0 or 2-h 8.5-11.0. A 1-h value alone, however high, is gestational
    diabetes: WHO 2013 has no 1-h criterion for diabetes in pregnancy. The DAK
    spreadsheet's 1-h >= 200 mg/dL row (diabetes) departs from WHO 2013 and is not
    followed (docs/maternal.md).
    """
    c = _latest(facts)
    if c is None:
        return []
    values = {
        k: v
        for k, v in (
            ("fasting_glucose_mmol_l", c.fasting_glucose_mmol_l),
            ("ogtt_1h_mmol_l", c.ogtt_1h_mmol_l),
            ("ogtt_2h_mmol_l", c.ogtt_2h_mmol_l),
            ("random_glucose_mmol_l", c.random_glucose_mmol_l),
        )
        if v is not None
    }
    f, h1, h2, r = (
        c.fasting_glucose_mmol_l,
        c.ogtt_1h_mmol_l,
        c.ogtt_2h_mmol_l,
        c.random_glucose_mmol_l,
    )
    src = f"{DAK} ANC.DT.23; WHO 2013 diagnostic criteria for hyperglycaemia in pregnancy"
    if (
        (f is not None and f >= DIP_FASTING)
        or (h2 is not None and h2 >= DIP_OGTT)
        or (r is not None and r >= DIP_RANDOM)
    ):
        return [
            _advice(
                "DT.23",
                "diabetes_in_pregnancy",
                values,
                "Diabetes in pregnancy: refer for specialist management",
                "soon",
                src,
            )
        ]
    if (
        (f is not None and f >= GDM_FASTING)
        or (h1 is not None and h1 >= GDM_OGTT_1H)
        or (h2 is not None and h2 >= GDM_OGTT_2H)
    ):
        return [
            _advice(
                "DT.23",
                "gestational_diabetes",
                values,
                "Gestational diabetes: counsel on diet and exercise, manage per protocol",
                "soon",
                src,
            )
        ]
    return []


def anaemia_threshold(ga_days: int) -> int:
    """DT.25: Hb (g/L) below which a woman is anaemic at this GA."""
    weeks = ga_days // 7
    if HB_MID_FROM_WEEKS <= weeks <= HB_MID_TO_WEEKS:
        return HB_ANAEMIA_MID
    return HB_ANAEMIA


def dt25_anaemia(facts: Facts) -> list[Advice]:
    """Anaemia by GA band (DT.25) and its WHO severity; one item, the most severe."""
    c = _latest(facts)
    if c is None:
        return []
    hb = c.haemoglobin_g_l
    src = f"{DAK} ANC.DT.25; {WHO_HB_2011}"
    treat = "iron 120 mg and folic acid 0.4 mg daily"
    if hb is None:
        if not c.pallor:
            return []
        return [
            _advice(
                "DT.25",
                "anaemia",
                {"pallor": True, "haemoglobin_g_l": None},
                f"Anaemia (pallor, no Hb test): {treat}; test Hb",
                "routine",
                src,
            )
        ]
    threshold = anaemia_threshold(c.ga_days)
    if hb >= threshold:
        return []
    values: dict[str, object] = {"haemoglobin_g_l": hb, "ga_days": c.ga_days}
    if hb < HB_SEVERE:
        return [
            _advice(
                "DT.25",
                "severe_anaemia",
                values,
                f"Severe anaemia: refer to hospital; {treat}",
                "urgent",
                src,
                threshold_g_l=threshold,
            )
        ]
    if hb < HB_MODERATE:
        return [
            _advice(
                "DT.25",
                "moderate_anaemia",
                values,
                f"Moderate anaemia: {treat}; recheck Hb",
                "soon",
                src,
                threshold_g_l=threshold,
            )
        ]
    return [
        _advice(
            "DT.25",
            "anaemia",
            values,
            f"Anaemia: {treat}",
            "routine",
            src,
            threshold_g_l=threshold,
        )
    ]
