"""What the subscriptions service takes and gives (the FHIR layer maps them to R4)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

#: FHIR R4 subscription-status
STATUSES = ("requested", "active", "error", "off")
#: the one channel served: R4 rest-hook
REST_HOOK = "rest-hook"
FHIR_JSON = "application/fhir+json"


class SubscriptionIn(BaseModel):
    status: str
    resource_type: str
    #: the whole criteria, ``<Type>?<query>``
    criteria: str
    reason: str
    endpoint: str
    #: None: id-only notification; ``application/fhir+json``: the resource is sent
    payload: str | None = None
    headers: list[str] = []
    end_at: datetime | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_user_id: int
    owner_username: str
    facility_id: int | None
    status: str
    resource_type: str
    criteria: str
    reason: str
    endpoint: str
    payload: str | None
    headers: list[str]
    end_at: datetime | None
    error: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int
    job_id: int | None
    resource_type: str
    resource_id: str
    attempt: int
    at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int


class SubscriptionRow(BaseModel):
    """A line of the operations page: ids, criteria, endpoint and statuses only."""

    id: int
    owner_username: str
    facility_id: int | None
    facility_code: str | None
    status: str
    criteria: str
    endpoint: str
    error: str | None
    last_delivery: DeliveryOut | None
