"""Names and conversions every use case of the record shares."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from salomat.core import json_text
from salomat.domains.record.models import RecordResource
from salomat.domains.record.schemas import StoredResource

__all__ = [
    "ID_PREFIX",
    "MAX_ATTACHMENT_BYTES",
    "RESOURCE_TYPES",
    "SUBJECT_FIELD",
    "fhir_id",
    "row_id",
]

RESOURCE_TYPES: tuple[str, ...] = (
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "AllergyIntolerance",
    "DiagnosticReport",
    "DocumentReference",
)
#: the record's FHIR ids are "shr-<row id>", apart from the ids other domains give the
#: same types (a pregnancy's Encounter, the cancer registry's Condition)
ID_PREFIX = "shr-"
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
#: the element naming the person, by type
SUBJECT_FIELD: dict[str, str] = {t: "subject" for t in RESOURCE_TYPES} | {
    "AllergyIntolerance": "patient"
}
PURPOSE = "shared health record"

_ID = re.compile(r"shr-([1-9][0-9]{0,17})", re.ASCII)


def fhir_id(row_id: int) -> str:
    return f"{ID_PREFIX}{row_id}"


def row_id(fhir_id: str) -> int | None:
    """The row id of a record id ("shr-12" -> 12); None when the id is not the record's
    or is malformed."""
    m = _ID.fullmatch(fhir_id) if isinstance(fhir_id, str) else None
    return int(m.group(1)) if m else None


def instant(at: datetime) -> str:
    """A FHIR instant of a UTC time, to the millisecond."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def to_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def dumps(resource: dict[str, Any]) -> str:
    """The body as stored: compact, each decimal by the text it was sent with."""
    return json_text.dumps(resource)


def stored(
    row: RecordResource,
    *,
    body: str | None = None,
    version: int | None = None,
    last_updated: datetime | None = None,
    sender: str | None = None,
) -> StoredResource:
    """The row as the schema (a version of it when ``body`` and the rest are given)."""
    return StoredResource(
        id=row.id,
        fhir_id=fhir_id(row.id),
        resource_type=row.resource_type,
        person_id=row.person_id,
        version=version if version is not None else row.version,
        last_updated=last_updated or row.last_updated,
        sender=sender or row.sender,
        sender_facility_id=row.sender_facility_id,
        resource=json_text.loads(body if body is not None else row.body),
    )
