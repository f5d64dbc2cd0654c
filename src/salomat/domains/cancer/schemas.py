"""What the cancer registry takes in and gives out (API, pages, FHIR mappers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["clinician", "pathology", "discharge", "system"]
TreatmentKind = Literal["surgery", "radiotherapy", "systemic"]
DiseaseStatus = Literal["no_evidence", "with_disease", "unknown"]
#: the ENCR level a notification's date stands at (docs/cancer.md)
DateKind = Literal["microscopic", "admission", "outpatient", "diagnosis"]

#: UICC TNM categories as written (UICC, TNM Classification of Malignant Tumours, 8th
#: edition, general rules): an optional prefix (c, p, yc, yp, r, a), the category and its
#: subdivisions (T1mi, T1a2, N2c, M1d), and an optional suffix ((m), (3), (sn), (f), (i+),
#: (mol-)); Tis may name its kind (Tis(DCIS)). The FHIR terminology validates the
#: registry's ``urn:salomat:uicc-tnm`` codes with these same patterns.
_PREFIX = r"(?:y?[cp]|r|a)?"
_SUFFIX = r"(?:\((?:m|[1-9][0-9]?|sn|f|i[+-]|mol[+-])\))?"
TNM_T = rf"^{_PREFIX}T(?:X|0|is(?:\((?:DCIS|LCIS|Paget)\))?|a|[1-4](?:mi|[a-e][1-3]?)?){_SUFFIX}$"
TNM_N = rf"^{_PREFIX}N(?:X|0|[1-3](?:mi|[a-c])?){_SUFFIX}$"
TNM_M = rf"^{_PREFIX}M(?:X|0|1[a-d]?){_SUFFIX}$"
STAGE_GROUP = (
    r"^(0|0a|0is|I|IA|IA1|IA2|IA3|IB|IB1|IB2|IC|II|IIA|IIA1|IIA2|IIB|IIC|III|IIIA|IIIB"
    r"|IIIC|IIIC1|IIIC2|IIID|IV|IVA|IVB|IVC|X)$"
)


class TreatmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TreatmentKind
    started_on: date
    ended_on: date | None = None


class StageIn(BaseModel):
    """TNM as the clinician wrote it (T2a, N1, M0) and the stage group (IIB)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    edition: str | None = Field(default=None, pattern=r"^[5-9]$")
    t: str | None = Field(default=None, pattern=TNM_T)
    n: str | None = Field(default=None, pattern=TNM_N)
    m: str | None = Field(default=None, pattern=TNM_M)
    group: str | None = Field(default=None, pattern=STAGE_GROUP)


class NotificationIn(BaseModel):
    """One report of a cancer. Codes: ICD-O-3 topography (C18.2) and morphology
    (8140/3); ``basis``: the IARC basis of diagnosis; ``diagnosed_on`` with
    ``date_kind``: the date this source gives (the registry picks the date of incidence
    by the ENCR hierarchy over all of a tumour's notifications)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: Source = "clinician"
    topography: str = Field(min_length=3, max_length=8)
    morphology: str = Field(min_length=4, max_length=8)
    grade: int | None = Field(default=None, ge=1, le=9)
    laterality: int | None = Field(default=None, ge=1, le=9)
    basis: int
    diagnosed_on: date
    date_kind: DateKind = "diagnosis"
    reported_on: date | None = None
    stage: StageIn | None = None
    treatments: list[TreatmentIn] = Field(default_factory=list, max_length=20)
    note: str | None = Field(default=None, max_length=1000)
    #: another system's identifier of its report: sending it twice makes one notification
    external_system: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(default=None, max_length=100)
    #: rare combinations the registrar confirms as she enters the report (check ids)
    confirm: list[str] = Field(default_factory=list, max_length=10)


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    source: str
    reported_on: date
    received_at: datetime
    reported_by: str
    facility_id: int | None
    external_system: str | None
    external_id: str | None
    topography: str
    morphology: str
    grade: int | None
    laterality: int | None
    basis: int
    diagnosed_on: date
    date_level: int
    icd10: str | None
    stage_group: str | None
    note: str | None
    status: str
    tumour_id: int | None
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    rare_checks: list[str]
    #: for a notification waiting for the registrar: why the rules could not decide
    review_message: str | None = None


class DecisionIn(BaseModel):
    """The registrar's decision on a notification the rules could not place: the tumour
    it belongs to, a new primary, or set aside (a duplicate, not a cancer)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["attach", "new_primary", "reject"]
    tumour_id: int | None = None
    note: str | None = Field(default=None, max_length=1000)
    confirm: list[str] = Field(default_factory=list, max_length=10)


class ConfirmIn(BaseModel):
    """The registrar confirms rare combinations of a tumour (check ids)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rules: list[str] = Field(min_length=1, max_length=10)
    note: str | None = Field(default=None, max_length=1000)


class TumourPatch(BaseModel):
    """What the registrar or the oncologist corrects on a tumour (If-Match: its version)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    grade: int | None = Field(default=None, ge=1, le=9)
    laterality: int | None = Field(default=None, ge=1, le=9)
    stage: StageIn | None = None
    followed_by_facility_code: str | None = Field(default=None, max_length=32)


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    contact_on: date
    disease_status: DiseaseStatus = "unknown"
    note: str | None = Field(default=None, max_length=1000)


class TreatmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    started_on: date
    ended_on: date | None
    facility_id: int | None
    recorded_by: str


class FollowUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_on: date
    disease_status: str
    facility_id: int | None
    note: str | None
    recorded_by: str
    recorded_at: datetime


class Confirmation(BaseModel):
    rule: str
    by: str
    at: datetime
    note: str | None = None
    #: the codes and age it was given for ("C61|8140/3|3"): changed codes ask again
    given_for: str | None = Field(default=None, validation_alias="for")


class TumourOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    topography: str
    morphology: str
    histology: int
    behaviour: int
    grade: int | None
    laterality: int | None
    icd10: str
    organ: str
    histology_group: int
    basis: int
    microscopically_verified: bool
    death_certificate_only: bool
    incidence_date: date
    incidence_level: int
    sex: str
    age: int
    region_id: int | None
    tnm_edition: str | None
    tnm_t: str | None
    tnm_n: str | None
    tnm_m: str | None
    stage_group: str | None
    status: str
    pending_checks: list[str]
    confirmations: list[Confirmation]
    mp_reason: str
    vital_status: str
    death_date: date | None
    death_cause: str | None
    last_contact_on: date
    next_follow_up_on: date | None
    followed_by_facility_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class TumourDetail(TumourOut):
    notifications: list[NotificationOut] = Field(default_factory=list)
    treatments: list[TreatmentOut] = Field(default_factory=list)
    follow_ups: list[FollowUpOut] = Field(default_factory=list)


class NotifyResult(BaseModel):
    """What became of a notification: the tumour it joined or made, or the review."""

    notification: NotificationOut
    tumour: TumourOut | None
    new_primary: bool
    reason: str
    message: str


class WorklistItem(BaseModel):
    tumour_id: int
    person_id: int
    person_name: str
    birth_date: date
    icd10: str
    incidence_date: date
    last_contact_on: date
    next_follow_up_on: date
    overdue_days: int


class QueueItem(BaseModel):
    """One line of the registrar's work queue."""

    kind: Literal["to_review", "to_confirm"]
    person_id: int
    notification_id: int | None = None
    tumour_id: int | None = None
    topography: str
    morphology: str
    received_at: datetime
    reason: str
    message: str
    checks: list[str] = Field(default_factory=list)
