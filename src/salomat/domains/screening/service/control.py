"""Control of a patient in a disease-management programme (pure: no database).

Blood pressure is controlled below the pack's target (140/90: 140/85 and 139/90 are
not). Sugar is judged twice: against the pack's target (HbA1c < 7 %, fasting glucose
< 126 mg/dL: the DHIS2 HEARTS package) and against Simple's lenient "controlled"
(HbA1c < 9 %, fasting glucose < 200 mg/dL). The value is converted to the target's unit
before comparing (6.8 mmol/L = 122.5 mg/dL: controlled; 7.0 mmol/L = 126.1: not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from salomat.domains.screening.service.measurements import from_canonical
from salomat.domains.screening.service.rules import Edition, ScreeningRules

__all__ = ["SugarControl", "bp_controlled", "bp_high_risk", "sugar_control"]


def bp_controlled(edition: Edition, systolic: int, diastolic: int) -> bool:
    t = edition.targets["bp"]
    return systolic < t["systolic_below"] and diastolic < t["diastolic_below"]


def bp_high_risk(edition: Edition, systolic: int, diastolic: int, *, prior_event: bool) -> bool:
    """BP ≥ 180/110 (either number), or ≥ 140/90 after a heart attack or stroke."""
    h = edition.high_risk
    if systolic >= h["bp"]["systolic_at_least"] or diastolic >= h["bp"]["diastolic_at_least"]:
        return True
    p = h["prior_event_bp"]
    return prior_event and (
        systolic >= p["systolic_at_least"] or diastolic >= p["diastolic_at_least"]
    )


@dataclass(frozen=True)
class SugarControl:
    kind: str
    #: the value in the target's unit, as compared
    compared: float
    unit: str
    #: below the pack's target
    controlled: bool
    #: below Simple's lenient threshold
    lenient_controlled: bool


def _below(
    rules: ScreeningRules, kind: str, value: float, spec: dict[str, Any]
) -> tuple[float, bool]:
    m = rules.measurements[kind]
    v = from_canonical(m, value, spec["unit"])
    return v, v < float(spec["below"])


def sugar_control(rules: ScreeningRules, edition: Edition, kind: str, value: float) -> SugarControl:
    """``value`` in the canonical unit (HbA1c %, glucose mmol/L)."""
    target = edition.targets[kind]
    compared, controlled = _below(rules, kind, value, target)
    _, lenient = _below(rules, kind, value, edition.targets["lenient"][kind])
    return SugarControl(kind, round(compared, 1), target["unit"], controlled, lenient)
