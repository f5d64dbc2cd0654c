"""The pregnancy register: what the API takes and returns.

Input models check types only; the impossible values (a blood pressure of
400/20, an LMP in the future) are refused by the service, naming each field,
so the web and FHIR adapters get the same checks.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import Notes, OptNameText, OptNotes

__all__ = [
    "AdviceOut",
    "BabyIn",
    "BabyOut",
    "BirthIn",
    "BirthOut",
    "BirthPlanIn",
    "CloseIn",
    "ConditionOut",
    "ContactIn",
    "ContactOut",
    "DashboardFigures",
    "DashboardRow",
    "MaternalDashboard",
    "Outcome",
    "PendingAtFacility",
    "PostnatalContactIn",
    "PostnatalContactOut",
    "PregnancyDetail",
    "PregnancyIn",
    "PregnancyOut",
    "ReferralCancelIn",
    "ReferralIn",
    "ReferralOut",
    "ReferralStatus",
    "ReferralUpdateIn",
    "WorklistReason",
    "WorklistRow",
]

Outcome = Literal["live_birth", "stillbirth", "miscarriage", "termination", "maternal_death"]
UrineProtein = Literal["none", "+", "++", "+++", "++++"]


class PregnancyIn(BaseModel):
    """A registration: dating inputs, obstetric history and chronic conditions."""

    model_config = ConfigDict(extra="forbid")

    #: the day she was registered (default today; earlier when a paper record is entered)
    registered_on: date | None = None
    lmp: date | None = None
    scan_on: date | None = None
    ga_days_at_scan: int | None = None
    #: only when neither LMP nor a scan is known
    fundal_height_cm: float | None = None
    gravida: int = Field(ge=1, le=30)
    parity: int = Field(ge=0, le=29)
    previous_caesarean: bool = False
    previous_pre_eclampsia: bool = False
    previous_pph: bool = False
    previous_instrumental_birth: bool = False
    previous_convulsions: bool = False
    previous_severe_tear: bool = False
    stillbirths: int = Field(default=0, ge=0, le=29)
    miscarriages: int = Field(default=0, ge=0, le=29)
    multiple_pregnancy: bool = False
    conditions: list[str] = Field(default_factory=list, max_length=20)


class ContactIn(BaseModel):
    """One antenatal contact; leave out what was not measured."""

    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    systolic_1: int | None = None
    diastolic_1: int | None = None
    systolic_2: int | None = None
    diastolic_2: int | None = None
    temperature_c_1: float | None = None
    temperature_c_2: float | None = None
    pulse_1: int | None = None
    pulse_2: int | None = None
    spo2: int | None = None
    fetal_heart_rate_1: int | None = None
    fetal_heart_rate_2: int | None = None
    fetal_heartbeat_absent: bool = False
    fundal_height_cm: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    urine_protein: UrineProtein | None = None
    haemoglobin_g_l: int | None = None
    pallor: bool = False
    fasting_glucose_mmol_l: float | None = None
    ogtt_1h_mmol_l: float | None = None
    ogtt_2h_mmol_l: float | None = None
    random_glucose_mmol_l: float | None = None
    danger_signs: list[str] = Field(default_factory=list, max_length=20)
    symptoms: list[str] = Field(default_factory=list, max_length=20)
    abnormal_presentation: bool = False
    ultrasound_done: bool = False
    hiv_test_done: bool = False
    syphilis_test_done: bool = False
    hiv_positive: bool = False


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    closed_on: date | None = None


class ContactOut(ContactIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    person_id: int
    on: date  # type: ignore[assignment]
    ga_days: int
    ga_weeks: str = ""
    facility_id: int | None
    recorded_by: str
    recorded_at: datetime


class AdviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    contact_id: int | None
    rule_id: str
    code: str
    values: dict[str, Any]
    details: dict[str, Any]
    action: str
    urgency: Literal["emergency", "urgent", "soon", "routine"]
    source: str
    created_at: datetime
    active: bool


class PregnancyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    status: Literal["current", "closed"]
    registered_on: date
    age_years: int
    lmp: date | None
    scan_on: date | None
    ga_days_at_scan: int | None
    fundal_height_cm: float | None
    edd: date
    dating_method: str
    suboptimally_dated: bool
    dating_discrepancy_days: int | None
    #: gestational age today (while current) or at closure
    ga_days: int = 0
    ga_weeks: str = ""
    gravida: int
    parity: int
    previous_caesarean: bool
    previous_pre_eclampsia: bool
    previous_pph: bool
    previous_instrumental_birth: bool
    previous_convulsions: bool
    previous_severe_tear: bool
    stillbirths: int
    miscarriages: int
    multiple_pregnancy: bool
    conditions: list[str]
    facility_id: int | None
    registered_by: str
    risk_level: Literal["low", "medium", "high"] | None
    care_level: int | None
    evaluated_at: datetime | None
    opened_at: datetime
    closed_on: date | None
    outcome: Outcome | None
    #: the planned place of birth (``PUT /pregnancies/{id}/birth-plan``)
    planned_birth_facility_id: int | None = None
    version: int


Resolution = Literal["resolved", "ruled_out", "entered_in_error"]


class DiagnosisOut(BaseModel):
    """A diagnosis or finding standing on the pregnancy since the contact that gave it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    #: hypertension | pre_eclampsia | gestational_diabetes | anaemia | danger_signs | ...
    family: str
    #: the most severe code it reached while standing (severe_pre_eclampsia, ...)
    code: str
    #: diagnosis (a FHIR Condition) or finding (danger signs, fever, ...)
    kind: Literal["diagnosis", "finding"] = "diagnosis"
    rule_id: str
    values: dict[str, Any]
    action: str
    urgency: Literal["emergency", "urgent", "soon", "routine"]
    source: str
    first_contact_id: int
    #: which contact of the pregnancy (1 = the first) first gave it, and when
    first_contact_number: int | None = None
    first_on: date
    contact_id: int
    raised_at: datetime
    status: Literal["active", "resolved"]
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: Resolution | None
    resolution_note: str | None


class DiagnosisResolveIn(BaseModel):
    """A clinician resolves a standing diagnosis: why, in a code and in words."""

    model_config = ConfigDict(extra="forbid")

    reason: Resolution
    note: Notes = Field(min_length=3, max_length=500)


class PregnancyDetail(PregnancyOut):
    """A pregnancy with its contacts (oldest first), its active advice and its diagnoses."""

    contacts: list[ContactOut] = Field(default_factory=list)
    advice: list[AdviceOut] = Field(default_factory=list)
    #: standing first, then resolved; each oldest first
    diagnoses: list[DiagnosisOut] = Field(default_factory=list)


# ---- referrals and worklists -------------------------------------------------------------

ReferralKind = Literal["screening", "perinatal"]
ReferralStatus = Literal["sent", "accepted", "seen", "returned", "declined", "cancelled"]


class ReferralIn(BaseModel):
    """A referral; without ``to_facility_code`` the nearest suitable facility in the region."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ReferralKind
    reason: Notes = Field(min_length=1, max_length=500)
    to_facility_code: str | None = Field(default=None, max_length=32)
    #: perinatal only: the level of care (default: the pregnancy's required level)
    required_level: int | None = Field(default=None, ge=1, le=3)


class ReferralUpdateIn(BaseModel):
    """The receiving facility's note: required when returning, optional when declining."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    conclusion: OptNotes = Field(default=None, max_length=2000)


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    person_id: int
    from_facility_id: int | None
    from_facility_code: str | None = None
    to_facility_id: int
    to_facility_code: str = ""
    kind: ReferralKind
    required_level: int | None
    reason: str
    status: ReferralStatus
    conclusion: str | None
    sent_by: str
    updated_by: str
    sent_at: datetime
    accepted_at: datetime | None
    seen_at: datetime | None
    returned_at: datetime | None
    declined_at: datetime | None
    cancelled_at: datetime | None = None
    care_relationship_id: int | None
    version: int


class BirthPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facility_code: str = Field(min_length=1, max_length=32)


class WorklistReason(BaseModel):
    #: contact_due | contact_overdue | high_risk_no_referral | no_birth_place
    code: str
    detail: str


class WorklistRow(BaseModel):
    pregnancy_id: int
    person_id: int
    ga_days: int
    ga_weeks: str
    edd: date
    risk_level: Literal["low", "medium", "high"] | None
    care_level: int | None
    reasons: list[WorklistReason]


# ---- birth and after ---------------------------------------------------------------------

BirthMode = Literal[
    "spontaneous_vaginal",
    "vaginal_breech",
    "vacuum",
    "forceps",
    "caesarean_elective",
    "caesarean_emergency",
]


class BabyIn(BaseModel):
    """One baby; a live-born one is registered as a person (``given_name`` and ``sex`` needed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["live", "stillbirth"]
    stillbirth_type: Literal["fresh", "macerated"] | None = None
    sex: Literal["male", "female"] | None = None
    given_name: OptNameText = Field(default=None, max_length=100)
    patronymic: OptNameText = Field(default=None, max_length=100)
    birth_weight_g: int | None = None
    length_cm: float | None = None
    apgar_1: int | None = None
    apgar_5: int | None = None
    #: passed to the registry when the baby resembles registered people
    duplicate_reason: OptNotes = Field(default=None, min_length=5, max_length=500)


class BirthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    born_on: date
    mode: BirthMode
    #: gestational age at birth in days (default: from the pregnancy's dating)
    ga_days: int | None = None
    babies: list[BabyIn] = Field(min_length=1, max_length=8)


class BabyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    birth_order: int
    outcome: Literal["live", "stillbirth"]
    stillbirth_type: str | None
    sex: str | None
    birth_weight_g: int | None
    length_cm: float | None
    apgar_1: int | None
    apgar_5: int | None
    mother_person_id: int
    #: the baby's own record (live births)
    person_id: int | None


class BirthOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    person_id: int
    born_on: date
    mode: BirthMode
    ga_days: int
    ga_weeks: str = ""
    facility_id: int | None
    recorded_by: str
    recorded_at: datetime
    babies: list[BabyOut] = Field(default_factory=list)


class PostnatalContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    systolic: int | None = None
    diastolic: int | None = None
    temperature_c: float | None = None
    pulse: int | None = None
    bleeding: Literal["normal", "heavy"] | None = None
    danger_signs: list[str] = Field(default_factory=list, max_length=20)
    #: the baby seen: one of this birth's registered babies
    baby_person_id: int | None = None
    baby_weight_g: int | None = None
    baby_temperature_c: float | None = None
    breastfeeding: bool | None = None
    baby_danger_signs: list[str] = Field(default_factory=list, max_length=20)


class PostnatalContactOut(PostnatalContactIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pregnancy_id: int
    person_id: int
    on: date  # type: ignore[assignment]
    day: int
    facility_id: int | None
    recorded_by: str
    recorded_at: datetime


class ReferralCancelIn(BaseModel):
    """The sender's reason for cancelling a referral (required; stored as its conclusion)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: OptNotes = Field(default=None, max_length=2000)


# ---- monitoring dashboard (issue 4 item 6) --------------------------------------------

RiskKey = Literal["low", "medium", "high", "unassessed"]


class DashboardFigures(BaseModel):
    """The figures of one area for one period; definitions in ``MaternalDashboard``."""

    current: int = 0
    #: current pregnancies by risk level, each split by trimester [1st, 2nd, 3rd]
    by_risk: dict[RiskKey, list[int]] = Field(
        default_factory=lambda: {k: [0, 0, 0] for k in ("low", "medium", "high", "unassessed")}
    )
    registered: int = 0
    registered_early: int = 0
    early_pct: float | None = None
    closed: int = 0
    anc4: int = 0
    anc8: int = 0
    anc4_pct: float | None = None
    anc8_pct: float | None = None
    outcomes: dict[Outcome, int] = Field(
        default_factory=lambda: {
            k: 0
            for k in ("live_birth", "stillbirth", "miscarriage", "termination", "maternal_death")
        }
    )
    births: int = 0
    caesarean: int = 0
    preterm: int = 0
    babies_live: int = 0
    babies_stillborn: int = 0
    low_birth_weight: int = 0
    high_risk_pending_24h: int = 0


class DashboardRow(BaseModel):
    """One unit of the area (a region, district or settlement); code None: place unknown."""

    code: str | None
    name: str
    level: str | None
    figures: DashboardFigures


class PendingAtFacility(BaseModel):
    """High-risk referrals a receiving facility has left unanswered over 24 hours."""

    facility_code: str
    facility_name: str
    count: int
    oldest_hours: int


class MaternalDashboard(BaseModel):
    area_code: str | None
    area_name: str | None
    area_level: str | None
    period_from: date
    period_to: date
    as_of: datetime
    total: DashboardFigures
    rows: list[DashboardRow]
    pending: list[PendingAtFacility]
    definitions: dict[str, str]


# ---- diagnoses (FHIR Condition) ----------------------------------------------------------


class ConditionOut(BaseModel):
    """One diagnosis of a pregnancy: made by the rules, or recorded at registration.

    A rule-made diagnosis is one record however many evaluations gave it (the
    advice is re-created at each), so its id stays the same.
    """

    #: ``<pregnancy id>-<diagnosis>``, or ``<pregnancy id>-reg-<condition>`` (hyphens for _)
    id: str
    pregnancy_id: int
    person_id: int
    #: the diagnosis (``hypertension``, ``anaemia``, ...) or the recorded condition's code
    code: str
    origin: Literal["rules", "registration"]
    #: rules: the advice code, rule and source of the latest evaluation that gave it
    advice_code: str | None = None
    advice_id: int | None = None
    rule_id: str | None = None
    rule_source: str | None = None
    active: bool
    #: rules: the day of the contact that first gave it (a recorded condition's is unknown)
    onset: datetime | date | None = None
    #: when it stopped: the first evaluation without it, or the day the pregnancy closed
    abatement: datetime | date | None = None
    recorded: datetime
    #: the contact whose evaluation first gave it
    contact_id: int | None = None
    #: rules: how a clinician resolved it (resolved | ruled_out | entered_in_error), and why
    resolution: str | None = None
    resolution_note: str | None = None
