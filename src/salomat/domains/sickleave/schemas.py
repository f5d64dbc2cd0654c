"""What the sick-leave API takes and returns.

Three views of one certificate: the clinician's (``CertificateOut``: reason and
diagnosis included), the holder's (the same, her own), and the employer's
(``EmployerCertificateOut``: number, kind, periods, status, issuing facility:
nothing clinical, by construction: the schema has no field that could carry it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import NameText, Notes, OptNameText

__all__ = [
    "CertificateOut",
    "CloseIn",
    "CorrectIn",
    "EmployerCertificateOut",
    "EmployerLookupIn",
    "EmployerPeriodOut",
    "ExtendIn",
    "MaternityIn",
    "OpenIn",
    "PeriodOut",
    "ReasonIn",
    "ShareIn",
    "ShareOut",
    "VerifyOut",
    "VersionOut",
    "VkkIn",
    "VkkOut",
]

Reason = Literal["own_illness", "injury", "care", "quarantine", "sanatorium_aftercare"]
Kind = Literal["illness", "care", "maternity"]
Status = Literal["open", "closed", "cancelled"]


class VkkIn(BaseModel):
    """A decision of the medical advisory commission (VKK), as its protocol records it."""

    model_config = ConfigDict(extra="forbid")

    decided_on: date
    decision: Literal["extend", "refer_disability"] = "extend"
    #: extend: the last day the commission allows
    extend_until: date | None = None
    protocol_number: NameText = Field(min_length=1, max_length=64)
    chair: NameText = Field(min_length=1, max_length=200)
    #: every member's name, the chair included
    members: list[NameText] = Field(min_length=1, max_length=15)


class VkkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    decided_on: date
    decision: str
    extend_until: date | None
    protocol_number: str
    chair: str
    members: list[str]
    facility_id: int
    recorded_by: str


class OpenIn(BaseModel):
    """Open a certificate: the first period runs from ``starts_on`` (default today) to
    ``ends_on`` (or for ``days`` days, the first counted)."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason
    #: ICD-10 at its most detailed level (J11.1)
    diagnosis: str = Field(min_length=1, max_length=8)
    starts_on: date | None = None
    ends_on: date | None = None
    days: int | None = Field(default=None, ge=1, le=400)
    #: care: the sick child (a registry relation of the person)
    cared_person_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    #: the head of department who co-signed (where the pack asks for it)
    cosigned_by: OptNameText = Field(default=None, max_length=200)
    #: a reason the pack opens only on the commission's decision (sanatorium after-care)
    vkk: VkkIn | None = None


class MaternityIn(BaseModel):
    """Open maternity leave from the pregnancy register (default: her current pregnancy)."""

    model_config = ConfigDict(extra="forbid")

    pregnancy_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    starts_on: date | None = None
    #: the document that she lives in a former nuclear-test zone (where the pack has it)
    zone_document: OptNameText = Field(default=None, max_length=200)


class ExtendIn(BaseModel):
    """A further period from the day after the current end to ``ends_on`` (or ``days``)."""

    model_config = ConfigDict(extra="forbid")

    ends_on: date | None = None
    days: int | None = Field(default=None, ge=1, le=400)
    #: the commission's decision that allows it (default: its latest decision to extend)
    vkk_decision_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    cosigned_by: OptNameText = Field(default=None, max_length=200)
    #: maternity: a complicated birth attested by the clinician (adds the pack's days)
    complicated_birth: bool = False


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closure: Literal["return_to_work", "disability_referral"]
    #: return_to_work: the first day back at work (at most the day after the last period)
    return_to_work_on: date | None = None
    #: disability_referral: the day of the referral (the last day of this certificate)
    referred_on: date | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Notes = Field(min_length=1, max_length=500)


class CorrectIn(BaseModel):
    """A correction: a new version with its reason; only what is given changes."""

    model_config = ConfigDict(extra="forbid")

    reason: Notes = Field(min_length=1, max_length=500)
    diagnosis: str | None = Field(default=None, min_length=1, max_length=8)
    #: the last period's end, earlier than granted (a later end is an extension)
    ends_on: date | None = None


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: the employer's business identification number (KZ BIN, UZ STIR)
    employer_business_id: str = Field(min_length=1, max_length=20)


class EmployerLookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=32)
    #: the employee's national id (PINFL, IIN)
    national_id: str = Field(min_length=1, max_length=20)


class PeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    starts_on: date
    ends_on: date
    days: int
    granted_as: str
    granted_by: str
    facility_id: int | None
    vkk_decision_id: int | None
    cosigned_by: str | None


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    change: str
    reason: str | None
    by: str
    at: datetime


class CertificateOut(BaseModel):
    """The clinician's and the holder's view."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    check_code: str
    person_id: int
    kind: Kind
    #: the reason, the diagnosis, the closure and the commission's decisions are shown to
    #: clinical roles and the holder only (a parent reading her adolescent's certificate
    #: sees them empty)
    reason: str | None
    diagnosis: str | None
    cared_person_id: int | None
    pregnancy_id: int | None
    zone_document: str | None
    status: Status
    starts_on: date
    ends_on: date
    closed_on: date | None
    closure: str | None
    return_to_work_on: date | None
    #: days of incapacity (to ``closed_on`` when closed)
    days: int = 0
    facility_id: int
    facility_name: str = ""
    issued_by: str
    duplicate_no: int
    cancel_reason: str | None
    source: str
    version: int
    periods: list[PeriodOut] = Field(default_factory=list)
    vkk_decisions: list[VkkOut] = Field(default_factory=list)


class EmployerPeriodOut(BaseModel):
    starts_on: date
    ends_on: date


class EmployerCertificateOut(BaseModel):
    """What an employer may see: never the reason, the diagnosis or anything clinical."""

    number: str
    kind: Kind
    status: Status
    starts_on: date
    ends_on: date
    closed_on: date | None
    return_to_work_on: date | None
    days: int
    issuing_facility: str
    duplicate_no: int
    periods: list[EmployerPeriodOut]


class ShareOut(BaseModel):
    certificate_id: int
    employer_business_id: str
    employer_name: str
    shared_at: datetime
    withdrawn_at: datetime | None = None


class VerifyOut(BaseModel):
    """Public verification: the status and the dates, nothing else."""

    status: Literal["valid", "invalid", "cancelled"]
    starts_on: date | None = None
    ends_on: date | None = None
    closed_on: date | None = None
