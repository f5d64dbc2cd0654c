"""Antenatal decision rules (WHO SMART ANC DAK) and the risk level they give.

Pure functions over ``Facts`` (``anc_facts``): no database. The rules whose
results are diagnoses (DT.17, DT.23, DT.25) are in ``diagnostic_rules``; the
contact schedule in ``contact_schedule``. Every rule is a small function
named for its DAK id, reading the facts and the country pack's thresholds,
returning the advice it fires. ``evaluate`` runs them all; ``risk`` derives
the risk level and the required level of perinatal care from the fired
rules through the pack's table. Source: ../shared/domain/maternal.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from salomat.country.pack import load
from salomat.domains.maternal.service.anc_facts import (
    DAK as DAK,
)
from salomat.domains.maternal.service.anc_facts import (
    WHO_ANC_2016 as WHO_ANC_2016,
)
from salomat.domains.maternal.service.anc_facts import (
    Advice,
    ContactFacts,
    Facts,
    RiskLevel,
    _advice,
    _latest,
    _readings,
)
from salomat.domains.maternal.service.contact_schedule import (
    OVERDUE_AFTER_DAYS,
    SCHEDULE_EXPIRES_DAYS,
    ContactStatus,
    DueContact,
    contact_schedule,
)
from salomat.domains.maternal.service.diagnostic_rules import (
    DBP_HIGH as DBP_HIGH,
)
from salomat.domains.maternal.service.diagnostic_rules import (
    PRE_ECLAMPSIA_SYMPTOMS as PRE_ECLAMPSIA_SYMPTOMS,
)
from salomat.domains.maternal.service.diagnostic_rules import (
    PROTEIN_SIGNIFICANT as PROTEIN_SIGNIFICANT,
)
from salomat.domains.maternal.service.diagnostic_rules import (
    SBP_HIGH as SBP_HIGH,
)
from salomat.domains.maternal.service.diagnostic_rules import (
    _high,
    bp_raised,
    bp_severe,
    dt17_hypertension,
    dt23_diabetes,
    dt25_anaemia,
)

__all__ = [
    "OVERDUE_AFTER_DAYS",
    "SCHEDULE_EXPIRES_DAYS",
    "Advice",
    "ContactFacts",
    "ContactStatus",
    "DueContact",
    "Facts",
    "bp_raised",
    "bp_severe",
    "dt17_hypertension",
    "dt23_diabetes",
    "dt25_anaemia",
    "evaluate",
    "risk",
    "schedule",
]


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
#: DT.04 / DT.06: fever, pulse and fetal heart rate limits.
FEVER_C = 38.0
PULSE_LOW, PULSE_HIGH = 60, 100  # abnormal: < 60 or > 100 per minute
FHR_LOW, FHR_HIGH = 100, 180  # abnormal: < 100 or > 180 per minute
#: DT.06: oxygen saturation below this (%) needs referral.
SPO2_LOW = 92
#: DT.06: absent fetal heartbeat counts from 20 weeks.
FHR_FROM_DAYS = 20 * 7
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


def _pulse_abnormal(p: int) -> bool:
    return p < PULSE_LOW or p > PULSE_HIGH


def _fhr_abnormal(f: int) -> bool:
    return f < FHR_LOW or f > FHR_HIGH


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
            out.append(_with_sources(a, _latest(facts)))
    return out


def _with_sources(a: Advice, latest: ContactFacts | None) -> Advice:
    """The advice naming the other systems' readings among the values that fired it
    (``details.external``: Observation id, sending facility, day), so the page says where
    a value came from."""
    if latest is None or not latest.sources:
        return a
    named: dict[str, dict[str, object]] = {}
    for s in latest.sources:
        if s.field in a.values and s.resource_id not in named:
            named[s.resource_id] = {
                "resource": s.resource_id,
                "facility_id": s.facility_id,
                "on": s.on.isoformat(),
            }
    if not named:
        return a
    return replace(a, details={**a.details, "external": list(named.values())})


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
        contacts=[(c.on, c.ga_days) for c in facts.contacts if not c.external],
        registered_on=facts.registered_on or facts.first_contact_on,
    )
