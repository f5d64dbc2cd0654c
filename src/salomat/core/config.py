"""Settings from the environment (prefix ``SALOMAT_``).

The signing secret is never a constant in the code: when ``SALOMAT_SECRET_KEY``
is unset, a random one is generated once into ``var/secret.key`` (mode 0600)
and reused, so tokens survive a restart but differ between installations.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def default_var_dir() -> Path:
    return Path(os.environ.get("SALOMAT_VAR_DIR", PROJECT_ROOT / "var"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALOMAT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    country: Literal["UZ", "KZ"] = "UZ"
    var_dir: Path = Field(default_factory=default_var_dir)
    database_url: str = ""
    secret_key: str = ""
    #: the platform's public address (https://salomat.example.uz, with a path prefix if
    #: it has one): the token endpoint a client system's signed assertion must name as
    #: ``aud``, and the one SMART discovery advertises. Unset (development), the request's
    #: own address is used; behind a proxy, set it, so that no Host header decides what
    #: an assertion may be for.
    public_url: str = Field(default="", pattern=r"^(https?://[^\s?#]+)?$")

    access_token_minutes: int = Field(default=15, ge=1, le=120)
    refresh_token_hours: int = Field(default=12, ge=1, le=24 * 30)
    jwt_audience: str = "salomat-api"
    jwt_issuer: str = "salomat"

    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)

    break_glass_minutes: int = Field(default=60, ge=1, le=24 * 60)
    #: seconds a process keeps a login session's principal (its account, role, facility)
    #: instead of reading it again; what another process revokes (logout, a disabled
    #: account) takes effect here within this delay, what this one does at once; 0: off
    auth_cache_seconds: float = Field(default=5, ge=0, le=60)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: a FHIR write's body (POST/PUT under /fhir): a shared-record document carries up
    #: to 5 MiB of attachment base64-encoded (6.7 MiB) in the resource
    max_fhir_body_bytes: int = Field(default=8 * 1_048_576, ge=1024)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=20, ge=1)
    idempotency_hours: int = Field(default=24, ge=1)
    #: seconds between two runs of the in-process job that moves queues on (lapsed
    #: offers, no-shows, new offers); 0: only ``salomat sanatorium sweep`` (cron) runs it
    sweep_seconds: int = Field(default=300, ge=0)
    #: background jobs (core/jobs.py): the server runs them itself unless this is off
    #: (then ``salomat worker`` processes do); a worker that stops renewing its lease for
    #: this long is taken for dead and its job resumed elsewhere; an idle worker looks
    #: for due jobs this often
    jobs_in_process: bool = True
    job_lease_seconds: float = Field(default=60, gt=0, le=3600)
    job_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: FHIR subscriptions: in production a notification goes to a public https address
    #: only; this lets it reach loopback and private addresses too (a hospital's LAN);
    #: how long one delivery may take (connect, send, answer)
    subscription_private_endpoints: bool = False
    subscription_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: FHIR bulk data export (docs/exchange.md): hours an export's files and its status
    #: stay before they are purged; resources per NDJSON file; people read per page
    bulk_export_hours: int = Field(default=24, ge=1, le=24 * 30)
    bulk_file_lines: int = Field(default=50_000, ge=1)
    bulk_page_size: int = Field(default=500, ge=1, le=5000)
    #: exports one caller may have queued or running at once (one more: 429)
    bulk_exports_per_caller: int = Field(default=3, ge=1, le=100)

    #: PostgreSQL connections each app process keeps open, and how many more it may open
    #: at a peak (closed again when handed back)
    db_pool_size: int = Field(default=20, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)

    @field_validator("country", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @property
    def production(self) -> bool:
        return self.env == "production"

    def public_base(self, request_base: str) -> str:
        """The base URL the platform is reached at: ``public_url``, else the request's."""
        return (self.public_url or request_base).rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / 'salomat.sqlite3'}"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        return _secret_from_file(self.var_dir / "secret.key")


def _secret_from_file(path: Path) -> str:
    """The generated key of ``path``, read once per process (every token signed or checked
    asks; issue 24). Made whole before it appears under its name (written to a file of
    its own, then linked), so a worker process started beside the one that makes it
    never reads it half written, and an empty read is never kept."""
    key = _KEYS.get(path)
    if key:
        return key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        made = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(made, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            made.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: remove it, or set SALOMAT_SECRET_KEY")
    _KEYS[path] = key
    return key


_KEYS: dict[Path, str] = {}


@lru_cache
def get_settings() -> Settings:
    return Settings()
