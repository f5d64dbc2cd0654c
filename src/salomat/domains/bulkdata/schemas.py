"""What the bulk export's callers see of an export request and its files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from salomat.core.jobs import JobView

LEVELS = ("system", "patient", "group")


@dataclass(frozen=True)
class ExportRequest:
    """A kick-off, checked by the FHIR adapter (fhir/bulk_api.py)."""

    level: str
    types: tuple[str, ...]
    output_format: str
    request_url: str
    group_id: int | None = None
    since: datetime | None = None
    #: the ``patient`` parameter (None: the whole population of the level)
    patients: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ExportFile:
    resource_type: str
    name: str
    count: int
    size: int


@dataclass(frozen=True)
class ExportOut:
    id: str
    job_id: int
    user_id: int
    username: str
    role: str
    facility_id: int | None
    facility_code: str | None
    level: str
    group_id: int | None
    types: tuple[str, ...]
    since: datetime | None
    patients: tuple[int, ...] | None
    output_format: str
    request_url: str
    transaction_time: datetime
    created_at: datetime
    expires_at: datetime
    files: list[ExportFile] = field(default_factory=list)
    job: JobView | None = None
