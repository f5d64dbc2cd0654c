"""Antenatal decision rules (WHO SMART ANC DAK) and the risk level they give.

Pure functions over ``Facts``: no database. Every rule is a small function
named for its DAK id, reading the facts and the country pack's thresholds,
returning the advice it fires. ``evaluate`` runs them all; ``risk`` derives
the risk level and the required level of perinatal care from the fired
rules through the pack's table. Source: ../shared/domain/maternal.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from salomat.country.pack import load
from salomat.domains.maternal.service.contact_schedule import (
    OVERDUE_AFTER_DAYS,
    SCHEDULE_EXPIRES_DAYS,
    ContactStatus,
    DueContact,
    contact_schedule,
)

Urgency = Literal["emergency", "urgent", "soon", "routine"]
RiskLevel = Literal["low", "medium", "high"]

__all__ = [
    "OVERDUE_AFTER_DAYS",
    "SCHEDULE_EXPIRES_DAYS",
    "Advice",
    "ContactFacts",
    "ContactStatus",
    "DueContact",
    "Facts",
    "evaluate",
    "risk",
    "schedule",
]


@dataclass(frozen=True)
class ContactFacts:
    """What one antenatal contact recorded (None: not measured)."""

    on: date
    ga_days: int
    systolic: tuple[int, ...] = ()  # each reading, in order (mmHg)
    diastolic: tuple[int, ...] = ()
    temperature_c: tuple[float, ...] = ()
    pulse: tuple[int, ...] = ()
    spo2: int | None = None
    fetal_heart_rate: tuple[int, ...] = ()
    fetal_heartbeat_absent: bool = False
    urine_protein: str | None = None  # "none", "+", "++", "+++"
    haemoglobin_g_l: int | None = None
    pallor: bool = False
    fasting_glucose_mmol_l: float | None = None
    ogtt_1h_mmol_l: float | None = None
    ogtt_2h_mmol_l: float | None = None
    random_glucose_mmol_l: float | None = None
    danger_signs: frozenset[str] = frozenset()
    symptoms: frozenset[str] = frozenset()  # severe_headache, blurred_vision, ...
    ultrasound_done: bool = False
    hiv_test_done: bool = False
    syphilis_test_done: bool = False
    hiv_positive: bool = False


@dataclass(frozen=True)
class Facts:
    """Everything the rules read about one pregnancy, as of ``today``."""

    today: date
    age_years: int
    ga_days: int
    gravida: int
    parity: int
    previous_caesarean: bool = False
    previous_pre_eclampsia: bool = False
    previous_pph: bool = False
    previous_instrumental_birth: bool = False
    previous_convulsions: bool = False
    previous_severe_tear: bool = False
    multiple_pregnancy: bool = False
    abnormal_presentation: bool = False
    conditions: frozenset[str] = frozenset()  # autoimmune, diabetes, chronic_hypertension, ...
    contacts: tuple[ContactFacts, ...] = ()  # oldest first
    first_contact_on: date | None = None
    registered_on: date | None = None


@dataclass(frozen=True)
class Advice:
    rule_id: str  # the DAK's id (DT.17) or the pack's (UZ.AGE35)
    code: str  # stable machine code: "severe_hypertension", "gestational_diabetes", ...
    values: dict[str, object]  # the values that fired it
    action: str  # what to do, for the clinician (English; translated at display)
    urgency: Urgency
    source: str  # the document and table the rule comes from
    details: dict[str, object] = field(default_factory=dict)


# --- sources -----------------------------------------------------------------

DAK = "WHO SMART Guidelines ANC DAK (WHO-SRH-21.2), decision table"
WHO_ANC_2016 = "WHO recommendations on antenatal care for a positive pregnancy experience (2016)"
WHO_HB_2011 = (
    "WHO, Haemoglobin concentrations for the diagnosis of anaemia and assessment of"
    " severity (WHO/NMH/NHD/MNM/11.1, 2011), table 1 (pregnant women)"
)

# --- WHO/DAK thresholds (not country-specific: kept in code) -----------------

#: DT.01 danger signs (DAK data dictionary vocabulary, snake_case).
DANGER_SIGNS = frozenset(
    {
        "vaginal_bleeding",
        "convulsions",
        "fever",
        "severe_headache",
        "visual_disturbance",
        "imminent_delivery",
        "labour",
        "looks_very_ill",
        "severe_vomiting",
        "severe_pain",
        "severe_abdominal_pain",
        "unconscious",
        "central_cyanosis",
    }
)
#: DT.04 / DT.17: raised blood pressure, mmHg.
SBP_HIGH, DBP_HIGH = 140, 90
#: DT.17: severe range, mmHg.
SBP_SEVERE, DBP_SEVERE = 160, 110
#: DT.17: symptoms of severe pre-eclampsia.
PRE_ECLAMPSIA_SYMPTOMS = frozenset(
    {"severe_headache", "blurred_vision", "epigastric_pain", "dizziness", "vomiting"}
)
#: DT.17: urine protein at or above "++" (dipstick).
PROTEIN_SIGNIFICANT = frozenset({"++", "+++", "++++"})
#: DT.17: "reassess in 1 week at >= 8 months": the 8th month read as from 32 weeks.
LATE_PREGNANCY_DAYS = 32 * 7
#: DT.04 / DT.06: fever, pulse and fetal heart rate limits.
FEVER_C = 38.0
PULSE_LOW, PULSE_HIGH = 60, 100  # abnormal: < 60 or > 100 per minute
FHR_LOW, FHR_HIGH = 100, 180  # abnormal: < 100 or > 180 per minute
#: DT.06: oxygen saturation below this (%) needs referral.
SPO2_LOW = 92
#: DT.06: absent fetal heartbeat counts from 20 weeks.
FHR_FROM_DAYS = 20 * 7
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
#: DT.27: conditions that make a woman at risk of pre-eclampsia.
PRE_ECLAMPSIA_RISK_CONDITIONS = frozenset(
    {"autoimmune", "diabetes", "chronic_hypertension", "kidney_disease"}
)
ASPIRIN_FROM_DAYS = 12 * 7
#: DT.07: one ultrasound before 24 weeks.
SCAN_BEFORE_DAYS = 24 * 7
#: DT.08/11: HIV and syphilis tests again in the third trimester, from 29 weeks.
RETEST_FROM_DAYS = 29 * 7
#: DT.34: the decision table's adolescent trigger is age <= 17. The spreadsheet's
#: "> 19" is a known defect (maternal.md); the CQL's "< 19" gives the direction
#: (younger women fire), and the table's own bound (<= 17) is the value used.
ADOLESCENT_MAX_AGE = 17
GRAND_MULTIPARITY = 5  # parity > 5

RISK_LEVELS: tuple[RiskLevel, ...] = ("low", "medium", "high")


# --- helpers -----------------------------------------------------------------


def _latest(facts: Facts) -> ContactFacts | None:
    return facts.contacts[-1] if facts.contacts else None


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


def _readings(c: ContactFacts) -> list[tuple[int, int]]:
    return list(zip(c.systolic, c.diastolic, strict=False))


def _pulse_abnormal(p: int) -> bool:
    return p < PULSE_LOW or p > PULSE_HIGH


def _fhr_abnormal(f: int) -> bool:
    return f < FHR_LOW or f > FHR_HIGH


def _advice(
    rule_id: str,
    code: str,
    values: dict[str, object],
    action: str,
    urgency: Urgency,
    source: str,
    **details: object,
) -> Advice:
    return Advice(rule_id, code, values, action, urgency, source, dict(details))


# --- the rules (maternal.md "Decision rules -> advice") ------------------------


def dt01_danger_signs(facts: Facts) -> list[Advice]:
    """Any danger sign at the latest contact: urgent referral to hospital.

    Any recorded sign fires, also one outside ``DANGER_SIGNS``: when a
    clinician records a danger sign, the rule must not drop it for spelling.
    """
    c = _latest(facts)
    signs = sorted(c.danger_signs - {"none"}) if c else []
    if not signs:
        return []
    return [
        _advice(
            "DT.01",
            "danger_signs",
            {"danger_signs": signs},
            "Urgent referral to hospital",
            "emergency",
            f"{DAK} ANC.DT.01",
        )
    ]


def dt04_remeasure(facts: Facts) -> list[Advice]:
    """A first abnormal reading with no second one yet: measure again."""
    c = _latest(facts)
    if c is None:
        return []
    out: list[Advice] = []
    readings = _readings(c)
    if len(readings) == 1 and _high(*readings[0]):
        sbp, dbp = readings[0]
        out.append(
            _advice(
                "DT.04",
                "remeasure_bp",
                {"systolic": sbp, "diastolic": dbp},
                "Re-measure blood pressure after 10-15 minutes of rest",
                "soon",
                f"{DAK} ANC.DT.04",
            )
        )
    if len(c.temperature_c) == 1 and c.temperature_c[0] >= FEVER_C:
        out.append(
            _advice(
                "DT.04",
                "remeasure_temperature",
                {"temperature_c": c.temperature_c[0]},
                "Re-measure temperature",
                "soon",
                f"{DAK} ANC.DT.04",
            )
        )
    if len(c.pulse) == 1 and _pulse_abnormal(c.pulse[0]):
        out.append(
            _advice(
                "DT.04",
                "remeasure_pulse",
                {"pulse": c.pulse[0]},
                "Re-measure pulse",
                "soon",
                f"{DAK} ANC.DT.04",
            )
        )
    if len(c.fetal_heart_rate) == 1 and _fhr_abnormal(c.fetal_heart_rate[0]):
        out.append(
            _advice(
                "DT.04",
                "remeasure_fhr",
                {"fetal_heart_rate": c.fetal_heart_rate[0]},
                "Re-measure fetal heart rate",
                "soon",
                f"{DAK} ANC.DT.04",
            )
        )
    return out


def dt06_refer(facts: Facts) -> list[Advice]:
    """Abnormal on the second measurement, low SpO2, no or abnormal fetal heartbeat."""
    c = _latest(facts)
    if c is None:
        return []
    out: list[Advice] = []
    src = f"{DAK} ANC.DT.06"
    if len(c.temperature_c) >= 2 and c.temperature_c[1] >= FEVER_C:
        out.append(
            _advice(
                "DT.06",
                "fever",
                {"temperature_c": list(c.temperature_c[:2])},
                "Refer urgently to hospital (fever on repeat measurement)",
                "urgent",
                src,
            )
        )
    if len(c.pulse) >= 2 and _pulse_abnormal(c.pulse[1]):
        out.append(
            _advice(
                "DT.06",
                "abnormal_pulse",
                {"pulse": list(c.pulse[:2])},
                "Refer to hospital (abnormal pulse on repeat measurement)",
                "urgent",
                src,
            )
        )
    if c.spo2 is not None and c.spo2 < SPO2_LOW:
        out.append(
            _advice(
                "DT.06",
                "low_oxygen_saturation",
                {"spo2": c.spo2},
                "Refer urgently to hospital (oxygen saturation below 92 %)",
                "urgent",
                src,
            )
        )
    if c.ga_days >= FHR_FROM_DAYS:
        if c.fetal_heartbeat_absent:
            out.append(
                _advice(
                    "DT.06",
                    "no_fetal_heartbeat",
                    {"ga_days": c.ga_days, "fetal_heartbeat_absent": True},
                    "Refer urgently to hospital (no fetal heartbeat)",
                    "urgent",
                    src,
                )
            )
        elif len(c.fetal_heart_rate) >= 2 and all(_fhr_abnormal(f) for f in c.fetal_heart_rate[:2]):
            out.append(
                _advice(
                    "DT.06",
                    "abnormal_fetal_heart_rate",
                    {"ga_days": c.ga_days, "fetal_heart_rate": list(c.fetal_heart_rate[:2])},
                    "Refer urgently to hospital (fetal heart rate abnormal twice)",
                    "urgent",
                    src,
                )
            )
    return out


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
    symptom = bool(c.symptoms & PRE_ECLAMPSIA_SYMPTOMS)
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
    symptoms = sorted(c.symptoms & PRE_ECLAMPSIA_SYMPTOMS)
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


def dt27_pre_eclampsia_risk(facts: Facts) -> list[Advice]:
    """Risk factors for pre-eclampsia: low-dose aspirin from 12 weeks."""
    factors = sorted(facts.conditions & PRE_ECLAMPSIA_RISK_CONDITIONS)
    if facts.multiple_pregnancy:
        factors.append("multiple_pregnancy")
    if facts.previous_pre_eclampsia:
        factors.append("previous_pre_eclampsia")
    if not factors:
        return []
    start = facts.today + timedelta(days=max(0, ASPIRIN_FROM_DAYS - facts.ga_days))
    return [
        _advice(
            "DT.27",
            "pre_eclampsia_risk",
            {"factors": sorted(factors)},
            "Pre-eclampsia risk: aspirin 75 mg daily from 12 weeks until birth;"
            " calcium 1.5-2.0 g daily where dietary calcium intake is low",
            "routine",
            f"{DAK} ANC.DT.27; {WHO_ANC_2016}",
            aspirin_from=start.isoformat(),
        )
    ]


def dt07_ultrasound(facts: Facts) -> list[Advice]:
    """Before 24 weeks with no scan yet: one ultrasound."""
    if facts.ga_days >= SCAN_BEFORE_DAYS or any(c.ultrasound_done for c in facts.contacts):
        return []
    return [
        _advice(
            "DT.07",
            "ultrasound_due",
            {"ga_days": facts.ga_days},
            "One ultrasound scan before 24 weeks (refer if none on site)",
            "routine",
            f"{DAK} ANC.DT.07; {WHO_ANC_2016}",
        )
    ]


def dt08_11_hiv_syphilis(facts: Facts) -> list[Advice]:
    """HIV and syphilis tests at the first contact and again from 29 weeks."""
    out: list[Advice] = []
    tests = (("hiv", "hiv_test_done"), ("syphilis", "syphilis_test_done"))
    late = facts.ga_days >= RETEST_FROM_DAYS
    known_hiv = any(c.hiv_positive for c in facts.contacts) or "hiv" in facts.conditions
    for name, attr in tests:
        if name == "hiv" and known_hiv:
            continue
        ever = any(getattr(c, attr) for c in facts.contacts)
        late_done = any(getattr(c, attr) and c.ga_days >= RETEST_FROM_DAYS for c in facts.contacts)
        reason = None
        if not ever:
            reason = "first_contact"
        elif late and not late_done:
            reason = "third_trimester"
        if reason:
            out.append(
                _advice(
                    "DT.08/11",
                    f"{name}_test_due",
                    {"reason": reason, "ga_days": facts.ga_days},
                    f"Offer a {'HIV' if name == 'hiv' else 'syphilis'} test",
                    "routine",
                    f"{DAK} ANC.DT.08 and ANC.DT.11",
                )
            )
    return out


def dt34_facility_birth(facts: Facts) -> list[Advice]:
    """Risk factors that call for birth in a facility (and the level of care)."""
    f: list[str] = []
    if facts.age_years <= ADOLESCENT_MAX_AGE:
        f.append("adolescent")
    if facts.gravida == 1:
        f.append("first_pregnancy")
    if facts.parity > GRAND_MULTIPARITY:
        f.append("grand_multiparity")
    for flag in (
        "previous_caesarean",
        "previous_pph",
        "previous_instrumental_birth",
        "previous_convulsions",
        "previous_severe_tear",
        "multiple_pregnancy",
        "abnormal_presentation",
    ):
        if getattr(facts, flag):
            f.append(flag)
    if any("vaginal_bleeding" in c.danger_signs for c in facts.contacts):
        f.append("vaginal_bleeding")
    if any(c.hiv_positive for c in facts.contacts) or "hiv" in facts.conditions:
        f.append("hiv_positive")
    if not f:
        return []
    return [
        _advice(
            "DT.34",
            "facility_birth",
            {"factors": f, "age_years": facts.age_years},
            "Advise birth in a health facility at the level of care indicated",
            "routine",
            f"{DAK} ANC.DT.34",
        )
    ]


def missed_contacts(facts: Facts, pack: dict[str, Any]) -> list[Advice]:
    """Overdue and missed scheduled contacts (ANC.S.01): follow the woman up."""
    due = _schedule(facts, pack)
    out: list[Advice] = []
    src = "WHO SMART Guidelines ANC DAK, schedule ANC.S.01; country pack maternal.yaml"
    overdue = [d.ga_weeks for d in due if d.status == "overdue"]
    missed = [d.ga_weeks for d in due if d.status == "missed"]
    if overdue:
        out.append(
            _advice(
                "ANC.S.01",
                "contact_overdue",
                {"ga_weeks": overdue},
                "Contact overdue: call the woman in (patronage visit if unreachable)",
                "soon",
                src,
            )
        )
    if missed:
        out.append(
            _advice(
                "ANC.S.01",
                "contact_missed",
                {"ga_weeks": missed},
                "Scheduled contacts were missed: review at the next contact",
                "routine",
                src,
            )
        )
    return out


def national_rules(facts: Facts, pack: dict[str, Any]) -> list[Advice]:
    """The pack's own rules (e.g. maternal age under 18 / over 35)."""
    out: list[Advice] = []
    for rule in pack.get("national_rules") or []:
        fired: dict[str, object] = {}
        under, over = rule.get("age_under"), rule.get("age_over")
        if under is not None and facts.age_years < under:
            fired["age_years"] = facts.age_years
        if over is not None and facts.age_years > over:
            fired["age_years"] = facts.age_years
        if fired:
            out.append(
                _advice(
                    str(rule["id"]),
                    str(rule["code"]),
                    fired,
                    str(rule["action"]),
                    rule.get("urgency", "routine"),
                    str(rule["source"]),
                )
            )
    return out


FACT_RULES: tuple[Callable[[Facts], list[Advice]], ...] = (
    dt01_danger_signs,
    dt04_remeasure,
    dt06_refer,
    dt17_hypertension,
    dt23_diabetes,
    dt25_anaemia,
    dt27_pre_eclampsia_risk,
    dt07_ultrasound,
    dt08_11_hiv_syphilis,
    dt34_facility_birth,
)
PACK_RULES: tuple[Callable[[Facts, dict[str, Any]], list[Advice]], ...] = (
    missed_contacts,
    national_rules,
)


def evaluate(facts: Facts, country: str) -> list[Advice]:
    """All advice for this pregnancy today, in rule order, each code once."""
    pack = load(country, "maternal")
    fired: list[Advice] = []
    for rule in FACT_RULES:
        fired.extend(rule(facts))
    for pack_rule in PACK_RULES:
        fired.extend(pack_rule(facts, pack))
    seen: set[tuple[str, str]] = set()
    out: list[Advice] = []
    for a in fired:
        if (a.rule_id, a.code) not in seen:
            seen.add((a.rule_id, a.code))
            out.append(a)
    return out


def risk(advice: list[Advice], country: str) -> tuple[RiskLevel, int]:
    """Risk level and required level of perinatal care; the highest wins.

    The pack's ``risk_table`` maps advice codes, or ``code.factor`` for an
    item listing ``factors`` (DT.34, DT.27), to ``{risk, care_level}``.
    Unlisted codes give low risk, level 1.
    """
    table = load(country, "maternal").get("risk_table") or {}
    level, care = 0, 1
    for a in advice:
        factors = a.values.get("factors")
        keys = [a.code]
        if isinstance(factors, list | tuple):
            keys += [f"{a.code}.{f}" for f in factors]
        for key in keys:
            row = table.get(key)
            if row:
                level = max(level, RISK_LEVELS.index(row.get("risk", "low")))
                care = max(care, int(row.get("care_level", 1)))
    return RISK_LEVELS[level], care


def schedule(facts: Facts, country: str) -> list[DueContact]:
    """The contacts of this pregnancy, done and planned, and where each stands today."""
    return _schedule(facts, load(country, "maternal"))


def _schedule(facts: Facts, pack: dict[str, Any]) -> list[DueContact]:
    """ANC.S.01 with the pack's weeks (``contact_schedule`` says how)."""
    return contact_schedule(
        weeks=[int(w) for w in pack.get("schedule_weeks") or []],
        today=facts.today,
        today_ga_days=facts.ga_days,
        contacts=[(c.on, c.ga_days) for c in facts.contacts],
        registered_on=facts.registered_on or facts.first_contact_on,
    )
