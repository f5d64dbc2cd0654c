"""What the antenatal rules read and give: the facts of a pregnancy and its advice.

Pure data, shared by ``rules`` (the DAK decision tables and the risk) and
``diagnostic_rules`` (the rules whose results are diagnoses). No database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Urgency = Literal["emergency", "urgent", "soon", "routine"]
RiskLevel = Literal["low", "medium", "high"]

__all__ = [
    "DAK",
    "WHO_ANC_2016",
    "WHO_HB_2011",
    "Advice",
    "ContactFacts",
    "ExternalSource",
    "Facts",
    "RiskLevel",
    "Urgency",
]


@dataclass(frozen=True)
class ExternalSource:
    """Where a reading another system sent comes from (``external_readings``)."""

    field: str  # the ContactFacts field it fills: systolic, haemoglobin_g_l, ...
    resource_id: str  # the shared record's Observation (shr-<n>)
    on: date
    facility_id: int | None
    taken_at: datetime


@dataclass(frozen=True)
class ContactFacts:
    """What one antenatal contact recorded (None: not measured).

    Other systems' readings of a day count as that day's readings
    (``external_readings.merge``): joined to the day's contact, or an entry of
    their own with ``external`` set (no contact that day: never counted as a
    contact by the schedule). ``sources`` names the readings that came from
    another system and are among those the rules read.
    """

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
    external: bool = False
    sources: tuple[ExternalSource, ...] = ()


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


def _latest(facts: Facts) -> ContactFacts | None:
    return facts.contacts[-1] if facts.contacts else None


def _readings(c: ContactFacts) -> list[tuple[int, int]]:
    return list(zip(c.systolic, c.diastolic, strict=False))


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
