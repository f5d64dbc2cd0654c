from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.policy import Role
from salomat.core.text import NameText, Notes, OptNameText

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
    #: the business id (KZ BIN, UZ STIR) of the employer organisation an ``employer``
    #: account acts for: required for, and only for, that role
    employer_business_id: str | None = Field(default=None, max_length=32)
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
    #: the employer organisation of an ``employer`` account (registry)
    employer_id: int | None = None
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
    employer_id: int | None = None
    #: the employer organisation's name (in the current language where it has one)
    employer_name: str | None = None
    language: str | None


# ---- the audit trail, as the auditor and the citizen read it ---------------------------


class AuditRow(BaseModel):
    """One audit row with the names a person needs to read it."""

    model_config = ConfigDict(frozen=True)

    id: int
    occurred_at: datetime
    #: the same instant in the country's time zone (the pack's ``timezone``)
    occurred_at_local: datetime
    user_id: int | None
    username: str | None
    #: the account's full name, when the account has one
    full_name: str | None
    role: str | None
    facility_code: str | None
    #: the facility's name in the registry
    facility_name: str | None
    #: the employer organisation an ``employer`` account acted for (its name in the
    #: current language)
    employer_name: str | None = None
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: int | None
    purpose: str | None
    outcome: str
    break_glass: bool
    client_address: str | None
    request_id: str | None
    detail: str | None


class AccessLogEntry(BaseModel):
    """One access to her record, as she sees it (no workstation address or request id)."""

    model_config = ConfigDict(frozen=True)

    id: int
    occurred_at: datetime
    occurred_at_local: datetime
    username: str | None
    full_name: str | None
    role: str | None
    facility_code: str | None
    facility_name: str | None
    #: the organisation of an employer who opened it (a certificate she shared)
    employer_name: str | None = None
    action: str
    resource_type: str
    #: what was opened: her person id, or the resource's id ("shr-12": a resource of her
    #: shared health record; the page names it by its kind)
    resource_id: str | None = None
    #: her person id (or a record merged into hers)
    patient_id: int | None
    purpose: str | None
    outcome: str
    break_glass: bool

    @classmethod
    def of(cls, row: AuditRow) -> AccessLogEntry:
        return cls.model_validate(row.model_dump(include=set(cls.model_fields)))


class AccessLogPage(BaseModel):
    items: list[AccessLogEntry]
    #: every entry of her list (all pages)
    total: int
    limit: int
    before: int | None
    next_before: int | None
    time_zone: str


class AuditFilter(BaseModel):
    """What the auditor typed; empty means "any". Times are in the country's zone."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    since: str | None = Field(default=None, max_length=40, description="from (inclusive)")
    until: str | None = Field(default=None, max_length=40, description="to (exclusive)")
    actor: str | None = Field(default=None, max_length=150, description="username")
    action: str | None = Field(default=None, max_length=16)
    person: str | None = Field(default=None, max_length=32, description="national id or id")
    resource_type: str | None = Field(default=None, max_length=64)
    outcome: str | None = Field(default=None, max_length=16)
    facility: str | None = Field(default=None, max_length=32, description="facility code")
    break_glass: bool | None = None

    def given(self) -> dict[str, str]:
        """The filters set, as typed (for links, the audit row and the file name)."""
        out = {}
        for name, value in self.model_dump().items():
            if value not in (None, ""):
                out[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return out


class AuditTrailPage(BaseModel):
    items: list[AuditRow]
    limit: int
    #: the cursor of this page (rows with a lower id), None for the newest
    before: int | None
    #: the cursor of the next page, None on the last
    next_before: int | None
    #: the IANA zone of ``occurred_at_local`` (the country pack's ``timezone``)
    time_zone: str


# ---- client systems (SMART Backend Services, docs/exchange.md) --------------------------

#: the roles a client system may act in: staff roles, never the platform's own
#: administration, its auditors, a citizen or an employer
CLIENT_ROLES = frozenset(Role) - {Role.admin, Role.auditor, Role.citizen, Role.employer}
#: a browser origin: scheme, host and an optional port, nothing after
ORIGIN = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"


class ClientSystemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: the OAuth client id (also the username its audit rows carry); made from the name
    #: when not given
    client_id: str | None = Field(
        default=None, pattern=USERNAME, description="lower-case letters, digits, . _ -"
    )
    name: NameText = Field(min_length=2, max_length=200)
    role: Role
    facility_code: str | None = Field(default=None, max_length=32)
    scopes: list[str] = Field(min_length=1, max_length=50)
    #: public keys: a JWKS (``{"keys": [...]}``) or one JWK, as JSON text
    jwks: str | None = Field(default=None, max_length=100_000)
    origins: list[str] = Field(default_factory=list, max_length=20)


class ClientSystemChange(BaseModel):
    """What an administrator changes of a registration (what is not given stays)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    scopes: list[str] | None = Field(default=None, min_length=1, max_length=50)
    origins: list[str] | None = Field(default=None, max_length=20)


class ClientKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: a JWKS (``{"keys": [...]}``) or one JWK, as JSON text
    jwks: str = Field(min_length=2, max_length=100_000)


class ClientKeyOut(BaseModel):
    kid: str
    alg: str
    kty: str
    created_at: datetime


class ClientSystemOut(BaseModel):
    id: int
    client_id: str
    name: str
    role: Role
    facility_id: int | None
    facility_code: str | None
    scopes: list[str]
    origins: list[str]
    keys: list[ClientKeyOut]
    is_active: bool
    created_at: datetime
    disabled_at: datetime | None


class ClientToken(BaseModel):
    """The token endpoint's answer to a client system (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    scope: str
