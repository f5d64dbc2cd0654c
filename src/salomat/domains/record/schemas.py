"""What the shared record's service takes and gives (the FHIR layer maps these)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from salomat.core.i18n import N_
from salomat.core.text import NameText, OptNameText, OptNotes

#: an absolute identifier-system URI: http(s)://host..., urn:oid:1.2..., urn:uuid:<uuid>
_URI = re.compile(
    r"^(?:https?://[^\s/?#]+[^\s]*"
    r"|urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+"
    r"|urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


def is_system_uri(value: str) -> bool:
    return bool(_URI.match(value))


class StoredResource(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    fhir_id: str
    resource_type: str
    person_id: int
    version: int
    last_updated: datetime
    sender: str
    sender_facility_id: int | None
    #: the JSON as stored, ``id`` and ``meta`` set
    resource: dict[str, Any]


class RecordQuery(BaseModel):
    """A search of one resource type. At least ``person_id``, ``person_ids``, ``ids``,
    ``identifiers`` or ``encounter_ids``
    (the service refuses a search of everyone, naming ``patient``)."""

    person_id: int | None = None
    #: OR of persons (a chained ``subject:Patient.identifier``); enough on its own as
    #: ``ids`` is
    person_ids: list[int] = []
    #: _id (row ids)
    ids: list[int] = []
    #: OR of (system, value); system None: any system
    identifiers: list[tuple[str | None, str]] = []
    #: OR of code tokens (system, code)
    codes: list[tuple[str | None, str]] = []
    categories: list[tuple[str | None, str]] = []
    statuses: list[str] = []
    #: AND of (prefix eq|ne|lt|le|gt|ge|sa|eb|ap, lower, upper) against the effective time
    date: list[tuple[str, datetime, datetime]] = []
    last_updated: list[tuple[str, datetime, datetime]] = []
    #: AND of groups, each an OR of such values (``date=lt2020,gt2024``: a comma in one
    #: value)
    date_any: list[list[tuple[str, datetime, datetime]]] = []
    last_updated_any: list[list[tuple[str, datetime, datetime]]] = []
    encounter_id: int | None = None
    #: OR of Encounter row ids (an Encounter search's ``_revinclude``); enough on its own
    #: as ``ids`` is
    encounter_ids: list[int] = []
    #: ``<param>:missing``: param (code, category, status, date, encounter, identifier)
    #: -> True: has none, False: has one
    missing: dict[str, bool] = {}
    #: ``:not``: none of these (a resource without any matches too)
    not_codes: list[tuple[str | None, str]] = []
    not_categories: list[tuple[str | None, str]] = []
    not_statuses: list[str] = []
    #: ('date' | '_lastUpdated' | '_id', descending)
    sort: list[tuple[str, bool]] = []
    #: checked by the service (a negative one is refused naming ``_offset`` / ``_count``)
    offset: int = 0
    #: 0 = count only
    limit: int = 50


class RecordPage(BaseModel):
    items: list[StoredResource]
    total: int


class TimelineEntry(BaseModel):
    fhir_id: str
    resource_type: str
    status: str | None
    code: str | None
    code_system: str | None
    text: str | None
    category: str | None
    start: datetime | None
    end: datetime | None
    last_updated: datetime
    sender: str
    sender_facility_code: str | None
    sender_facility_name: str | None
    source: str | None
    encounter_fhir_id: str | None
    #: an Observation's value as text ("120 mm[Hg]"), a Condition's clinical status, ...
    value: str | None
    #: a DocumentReference's attachment title
    attachment_title: str | None


class NamingSystemIn(BaseModel):
    name: NameText = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=500)
    description: OptNotes = Field(None, max_length=2000)
    #: the organisation that keeps the system
    responsible: OptNameText = Field(None, max_length=300)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError(N_("A name is required."))
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if not is_system_uri(v):
            raise ValueError(
                N_("An absolute URI is required: http(s)://..., urn:oid:... or urn:uuid:...")
            )
        return v


class NamingSystemOut(NamingSystemIn):
    #: None for the platform's own (built-in) systems, which are not readable by id
    id: int | None
    status: str
    builtin: bool
    created_at: datetime | None
