"""What the sanatorium API takes and returns.

The public views (``FreePlaceOut``, ``PublicQueueEntryOut``, ``VoucherCheckOut``) carry
no personal data by construction: they have no field that could hold a name, an id of
a person or a diagnosis.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import NameText, OptNameText, OptNotes

__all__ = [
    "ArriveIn",
    "BedsIn",
    "BedsOut",
    "BookIn",
    "CancelIn",
    "ConfirmIn",
    "DischargeIn",
    "FreePlaceOut",
    "OfferOut",
    "PeriodIn",
    "PeriodOut",
    "PositionOut",
    "PublicQueueEntryOut",
    "QueueEventOut",
    "ReasonIn",
    "ReferralIn",
    "ReferralOut",
    "ReorderIn",
    "SelfApplyIn",
    "StayOut",
    "VoucherCheckOut",
]

Code = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
Icd = Field(min_length=1, max_length=8)


class BedsIn(BaseModel):
    """Set the number of beds of one profile (beds are added or taken out of use)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Code
    beds: int = Field(ge=0, le=5000)


class BedsOut(BaseModel):
    facility_code: str
    profile: str
    beds: int
    #: places a year at the pack's course and turnover
    places_per_year: int


class PeriodIn(BaseModel):
    """Publish an arrival period: ``ends_on`` (the departure day) defaults to the start
    plus the pack's course; ``capacity`` defaults to the profile's beds. Where the pack
    keeps regional queues, ``region`` (a region's territory code) names the queue its
    places are offered to: by default the sanatorium's own region (a region with no
    sanatorium of a profile is served by another's periods)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Code
    starts_on: date
    ends_on: date | None = None
    capacity: int | None = Field(default=None, ge=1, le=5000)
    region: str | None = Field(default=None, min_length=1, max_length=32)


class PeriodOut(BaseModel):
    id: int
    facility_code: str
    facility_name: str
    profile: str
    region: str
    starts_on: date
    ends_on: date
    capacity: int
    booked: int
    held: int
    free: int
    status: str
    version: int


class FreePlaceOut(BaseModel):
    """A period with its free places: public, aggregates only."""

    period_id: int
    facility_code: str
    facility_name: str
    region: str
    profile: str
    profile_name: str
    starts_on: date
    ends_on: date
    capacity: int
    free: int


class ReferralIn(BaseModel):
    """A doctor's referral: the indication (ICD-10), the profile (default: the first the
    pack's table allows for it), the entitlement category, the person's current
    conditions (checked against the contraindications) and, to override one, what the
    clinician attests."""

    model_config = ConfigDict(extra="forbid")

    indication: str = Icd
    profile: str | None = Field(default=None, min_length=1, max_length=32)
    category: str = Code
    conditions: list[str] = Field(default_factory=list, max_length=20)
    attestation: OptNameText = Field(default=None, max_length=500)
    #: the end of the last stay when it is not in the platform (a paper record)
    last_stay_ended_on: date | None = None


class SelfApplyIn(BaseModel):
    """A citizen's own application (where the pack allows it): a doctor confirms the
    indication before any offer."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Code
    category: str = Code
    last_stay_ended_on: date | None = None
    #: a parent or guardian applying for her child (default: herself)
    person_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class ConfirmIn(BaseModel):
    """The doctor's confirmation of a self-application: the indication and conditions."""

    model_config = ConfigDict(extra="forbid")

    indication: str = Icd
    conditions: list[str] = Field(default_factory=list, max_length=20)
    attestation: OptNameText = Field(default=None, max_length=500)
    #: the entitlement category as the person's document shows it (default: the one she
    #: declared); it decides her tier, so a doctor confirms it before she is queued
    category: str | None = Field(default=None, min_length=1, max_length=32)


class PositionOut(BaseModel):
    """Where an entry stands in its queue and how long it may wait."""

    profile: str
    region: str
    position: int
    ahead: int
    #: places released to this queue in each of the last three whole months, oldest first
    monthly_releases: list[int]
    wait_days_expected: float | None
    wait_days_shortest: float | None
    wait_days_longest: float | None
    #: the entry's pseudonym on the public list
    pseudonym: str


class OfferOut(BaseModel):
    id: int
    referral_id: int
    period: PeriodOut
    status: str
    offered_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class StayOut(BaseModel):
    id: int
    referral_id: int
    referral_number: str
    person_id: int
    #: who, for the sanatorium's list of arrivals (the caller audits each row)
    person_name: str | None = None
    birth_date: date | None = None
    period_id: int
    facility_code: str
    facility_name: str
    profile: str
    bed: str
    starts_on: date
    ends_on: date
    status: str
    voucher_code: str
    indication: str | None = None
    arrived_on: date | None
    discharged_on: date | None
    summary: str | None
    version: int


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    person_id: int
    profile: str
    region: str
    category: str
    tier: int
    direct: bool
    indication: str | None
    conditions: list[str]
    warnings: list[str]
    attestation: str | None
    attested_by: str | None
    last_stay_ended_on: date | None
    entitled_from: date | None
    status: str
    applied_at: datetime
    #: the queue's sequence number (the tie-break after tier and application time)
    seq: int
    source: str
    referred_by: str | None
    facility_code: str | None
    cancel_reason: str | None
    version: int
    position: PositionOut | None = None
    offer: OfferOut | None = None
    stay: StayOut | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OptNameText = Field(default=None, max_length=500)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NameText = Field(min_length=1, max_length=500)


class ReorderIn(BaseModel):
    """A corrected entitlement category (a document shows another): the tier follows it;
    the change of order is logged with its reason."""

    model_config = ConfigDict(extra="forbid")

    category: str = Code
    reason: NameText = Field(min_length=1, max_length=500)


class BookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_id: int = Field(ge=1, le=2**63 - 1)


class ArriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrived_on: date | None = None


class DischargeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    discharged_on: date | None = None
    summary: OptNotes = Field(default=None, max_length=2000)


class QueueEventOut(BaseModel):
    kind: str
    reason: str | None
    detail: dict[str, object]
    at: datetime


class PublicQueueEntryOut(BaseModel):
    """One line of the public list: no name, no id, no diagnosis."""

    position: int
    pseudonym: str
    tier: int
    applied_on: date
    status: str


class VoucherCheckOut(BaseModel):
    """The public check of a voucher's QR code: valid or not, where and when."""

    valid: bool
    facility_name: str | None = None
    profile: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    status: str | None = None
