from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.policy import Role
from salomat.core.text import Notes, OptNameText

USERNAME = r"^[a-z0-9][a-z0-9._-]{2,149}$"
MIN_PASSWORD = 10


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(pattern=USERNAME, description="lower-case letters, digits, . _ -")
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)
    role: Role
    full_name: OptNameText = Field(default=None, max_length=200)
    facility_code: str | None = Field(default=None, max_length=32)
    person_id: int | None = None
    language: str | None = Field(default=None, pattern=r"^(en|ru|uz|kk)$")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    full_name: str | None
    facility_id: int | None
    facility_code: str | None = None
    person_id: int | None
    #: the registry's practitioner record of a clinician's account
    practitioner_id: int | None = None
    language: str | None
    is_active: bool
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class WebLogin(BaseModel):
    cookie: str
    csrf_token: str
    max_age: int
    language: str | None


class BreakGlassIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_id: int
    reason: Notes = Field(min_length=10, max_length=1000)


class BreakGlassOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    person_id: int
    reason: str
    created_at: datetime
    expires_at: datetime


class Me(BaseModel):
    user_id: int
    username: str
    role: Role
    full_name: str | None
    facility_id: int | None
    facility_code: str | None
    person_id: int | None
    language: str | None
