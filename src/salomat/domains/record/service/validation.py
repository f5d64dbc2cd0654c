"""What the record checks of a resource before it keeps it, and the columns it takes
from it for searches and the timeline.

The FHIR layer has already parsed the JSON with the R4B models and refused what is not
FHIR. Here: the type and the person, what the platform cannot honour (modifier
extensions, implicit rules), identifiers under registered systems, references to the
record's own resources (they exist and are the same person's), attachments. Each refusal
names its element; the resource itself is never changed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.country import national_id
from salomat.domains.record.models import RecordResource
from salomat.domains.record.service import display
from salomat.domains.record.service.common import (
    MAX_ATTACHMENT_BYTES,
    RESOURCE_TYPES,
    SUBJECT_FIELD,
    row_id,
)
from salomat.domains.record.service.naming import known_systems
from salomat.domains.record.service.scope import resource_scope
from salomat.domains.record.service.tokens import fhir_interval
from salomat.domains.registry import service as registry

__all__ = ["MAX_IDENTIFIER_BYTES", "Prepared", "describe"]

ATTACHMENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "text/plain"})
#: the longest identifier system and value, meta.source the record keeps (its columns)
MAX_SYSTEM, MAX_VALUE, MAX_SOURCE = 500, 500, 500
#: token columns: longer codes stay in the body, unindexed
MAX_CODE, MAX_STATUS, MAX_TEXT = 200, 64, 1000

_PATIENT = re.compile(r"Patient/([1-9][0-9]{0,17})", re.ASCII)
#: a reference to one of the record's own resources: relative, or absolute under this
#: server's FHIR base (any scheme and host: the base is the one a request came in on),
#: either of them with the version (/_history/<v>)
_RECORD_REF = re.compile(
    r"(?:https?://[^/?#]+(?:/[^?#]*)?/fhir/)?([A-Za-z]+)/(shr-[0-9]+)(?:/_history/([0-9]+))?",
    re.ASCII,
)
#: an identifier's system and value together, in UTF-8 (a database index entry holds
#: about 2700 bytes)
MAX_IDENTIFIER_BYTES = 2000
NOT_UNDERSTOOD = N_(
    "%(element)s is not understood; refused rather than stored with a meaning the "
    "platform cannot honour."
)


@dataclass
class Prepared:
    """What the record keeps beside the body."""

    person_id: int
    status: str | None = None
    code_system: str | None = None
    code: str | None = None
    code_text: str | None = None
    category: str | None = None
    effective_start: datetime | None = None
    effective_end: datetime | None = None
    encounter_id: int | None = None
    source: str | None = None
    #: what the timeline shows beside the code (display.py), so it never reads the body
    value_text: str | None = None
    attachment_title: str | None = None
    shown_end: datetime | None = None
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    #: (param, system, code)
    tokens: list[tuple[str, str | None, str]] = field(default_factory=list)


async def check_resource(
    session: AsyncSession,
    resource: Any,
    resource_type: str | None = None,
    *,
    principal: Principal | None = None,
) -> Prepared:
    """Refuse (``Invalid``, every wrong element named) or describe ``resource``.
    ``principal``: the sender; a reference to one of the record's resources must name
    one she may see (else it answers as a missing one)."""
    if not isinstance(resource, dict):
        raise Invalid.fields([FieldError("resourceType", N_("A FHIR resource is required."))])
    rtype = resource.get("resourceType")
    if rtype not in RESOURCE_TYPES or (resource_type is not None and rtype != resource_type):
        raise Invalid.fields(
            [
                FieldError(
                    "resourceType",
                    N_("The shared record keeps %(types)s; not %(type)s."),
                    {"types": ", ".join(RESOURCE_TYPES), "type": str(rtype)},
                )
            ]
        )
    errors: list[FieldError] = []
    for path in _modifiers(resource):
        errors.append(FieldError(path, NOT_UNDERSTOOD, {"element": path}))
    for path in _unstorable(resource):
        errors.append(FieldError(path, N_("Contains a character that cannot be stored.")))
    if errors:
        raise Invalid.fields(errors)
    person_id = await _person(session, resource, rtype, errors)
    identifiers = await _identifiers(session, resource, errors)
    encounter_id = await _references(session, resource, rtype, person_id, principal, errors)
    if rtype == "DocumentReference":
        _attachments(resource, errors)
    source = _source(resource, errors)
    out = Prepared(person_id=person_id or 0, identifiers=identifiers, source=source)
    _describe(resource, rtype, out, errors)
    if errors:
        raise Invalid.fields(errors)
    out.encounter_id = encounter_id
    return out


def _modifiers(resource: dict[str, Any]) -> list[str]:
    """implicitRules, and every modifierExtension (at the top level, in an element or in a
    contained resource)."""
    found = ["implicitRules"] if "implicitRules" in resource else []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                sub = f"{path}.{key}" if path else key
                if key == "modifierExtension":
                    found.append(sub)
                else:
                    walk(value, sub)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(resource, "")
    return found


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """A NUL (no database text holds one) or a lone surrogate (no UTF-8 encodes one)."""
    return _UNSTORABLE.search(text) is not None


def _unstorable(resource: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and unstorable(key):
                    found.append(path or "resourceType")
                walk(value, sub)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, str) and unstorable(node):
            found.append(path)

    walk(resource, "")
    return found[:20]


async def _person(
    session: AsyncSession, resource: dict[str, Any], rtype: str, errors: list[FieldError]
) -> int | None:
    name = SUBJECT_FIELD[rtype]
    ref = resource.get(name)
    if not isinstance(ref, dict) or not ref.get("reference"):
        errors.append(FieldError(name, N_("A reference to the patient is required: Patient/<id>.")))
        return None
    m = _PATIENT.fullmatch(str(ref["reference"]))
    if m is None:
        errors.append(
            FieldError(
                f"{name}.reference",
                N_("Only a patient can be the subject here: Patient/<id>, not %(reference)s."),
                {"reference": str(ref["reference"])},
            )
        )
        return None
    person_id = int(m.group(1))
    survivor = await registry.person_survivor(session, person_id)
    if survivor is None:
        errors.append(
            FieldError(
                name, N_("Patient %(id)s is not in the population register."), {"id": person_id}
            )
        )
        return None
    if survivor != person_id:
        # kept under the merged-away record, it would be a record nobody finds: refused,
        # never moved silently to the survivor
        errors.append(
            FieldError(
                name,
                N_(
                    "Patient/%(id)s was merged into Patient/%(into)s; send the record for "
                    "Patient/%(into)s."
                ),
                {"id": person_id, "into": survivor},
            )
        )
        return None
    return person_id


async def _identifiers(
    session: AsyncSession, resource: dict[str, Any], errors: list[FieldError]
) -> list[tuple[str, str]]:
    raw = resource.get("identifier") or []
    if not isinstance(raw, list):
        return []
    pairs: list[tuple[int, str, str]] = []
    for i, ident in enumerate(raw):
        if not isinstance(ident, dict):
            continue
        system, value = ident.get("system"), ident.get("value")
        if not system or not isinstance(system, str):
            errors.append(
                FieldError(
                    f"identifier[{i}].system",
                    N_("An identifier needs the system (URI) that issued it."),
                )
            )
            continue
        if not value or not isinstance(value, str):
            errors.append(FieldError(f"identifier[{i}].value", N_("An identifier needs a value.")))
            continue
        if len(system) > MAX_SYSTEM or len(value) > MAX_VALUE:
            errors.append(
                FieldError(
                    f"identifier[{i}]",
                    N_("An identifier's system and value are at most %(max)s characters."),
                    {"max": MAX_VALUE},
                )
            )
            continue
        if (
            len(system.encode("utf-8", "surrogatepass"))
            + len(value.encode("utf-8", "surrogatepass"))
            > MAX_IDENTIFIER_BYTES
        ):
            errors.append(
                FieldError(
                    f"identifier[{i}]",
                    N_(
                        "An identifier's system and value together are at most %(max)s "
                        "bytes in UTF-8."
                    ),
                    {"max": MAX_IDENTIFIER_BYTES},
                )
            )
            continue
        if system == national_id.system_uri(get_settings().country):
            # a person's number: its uniqueness would tell who has which record
            errors.append(
                FieldError(
                    f"identifier[{i}].system",
                    N_(
                        "The national identification number names the patient, not a "
                        "resource; give the patient as the subject."
                    ),
                )
            )
            continue
        pairs.append((i, str(system), str(value)))
    known = await known_systems(session, {s for _, s, _ in pairs})
    out: list[tuple[str, str]] = []
    for i, system, value in pairs:
        if system not in known:
            errors.append(
                FieldError(
                    f"identifier[{i}].system",
                    N_(
                        "The identifier system %(system)s is not registered; an "
                        "administrator registers it as a NamingSystem first."
                    ),
                    {"system": system},
                )
            )
        elif (system, value) in out:
            errors.append(
                FieldError(
                    f"identifier[{i}]",
                    N_("The identifier %(system)s|%(value)s is given twice."),
                    {"system": system, "value": value},
                )
            )
        else:
            out.append((system, value))
    return out


async def _references(
    session: AsyncSession,
    resource: dict[str, Any],
    rtype: str,
    person_id: int | None,
    principal: Principal | None,
    errors: list[FieldError],
) -> int | None:
    """Every reference to one of the record's own resources (relative, or absolute under
    this server's FHIR base; a version, if named, must exist) must name one that exists,
    of that type, of the same person, and that the sender may see; one message for all
    of these, so a reference tells nothing of what the sender may not see. Returns the
    row of the encounter."""
    found: list[tuple[str, str, int, int | None]] = []  # (path, type, row id, version)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and (m := _RECORD_REF.fullmatch(ref)):
                rid = row_id(m.group(2))
                version = int(m.group(3)) if m.group(3) and len(m.group(3)) < 10 else None
                if m.group(3) and version is None:
                    version = 0  # beyond any version
                found.append(
                    (path or "reference", m.group(1), rid if rid and rid < 2**63 else 0, version)
                )
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(resource, "")
    if not found:
        return None
    rows = {
        r.id: r
        for r in await session.execute(
            select(
                RecordResource.id,
                RecordResource.resource_type,
                RecordResource.person_id,
                RecordResource.version,
                RecordResource.sender_facility_id,
            ).where(RecordResource.id.in_({rid for _, _, rid, _ in found}))
        )
    }
    seen: dict[tuple[int, int | None], bool] = {}

    async def may_see(row: Any) -> bool:
        if principal is None:
            return True
        key = (row.person_id, row.sender_facility_id)
        if key not in seen:
            seen[key] = (
                await resource_scope(session, principal, row.person_id, row.sender_facility_id)
                is not None
            )
        return seen[key]

    encounter_id: int | None = None
    for path, ref_type, rid, version in found:
        row = rows.get(rid)
        if (
            row is None
            or row.resource_type != ref_type
            or (version is not None and not 0 < version <= row.version)
            or (person_id is not None and row.person_id != person_id)
            or not await may_see(row)
        ):
            errors.append(
                FieldError(
                    path,
                    N_("%(reference)s is not in the shared record."),
                    {
                        "reference": f"{ref_type}/shr-{rid}"
                        + (f"/_history/{version}" if version else "")
                    },
                )
            )
        elif ref_type == "Encounter" and encounter_id is None and _is_encounter(path, rtype):
            encounter_id = rid
    return encounter_id


def _is_encounter(path: str, rtype: str) -> bool:
    if rtype == "DocumentReference":
        return path.startswith("context.encounter[")
    return path == "encounter"


def _attachments(resource: dict[str, Any], errors: list[FieldError]) -> None:
    for i, content in enumerate(resource.get("content") or []):
        att = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(att, dict):
            continue
        at = f"content[{i}].attachment"
        ctype = att.get("contentType")
        data = att.get("data")
        if (data is not None or ctype is not None) and (
            not isinstance(ctype, str)
            or ctype.split(";")[0].strip().lower() not in ATTACHMENT_TYPES
        ):
            errors.append(
                FieldError(
                    f"{at}.contentType",
                    N_("An attachment must be one of %(types)s."),
                    {"types": ", ".join(sorted(ATTACHMENT_TYPES))},
                )
            )
        if data is None:
            continue
        size = _decoded_size(data)
        if size is None:
            errors.append(FieldError(f"{at}.data", N_("The attachment's data is not base64.")))
            continue
        if size > MAX_ATTACHMENT_BYTES:
            errors.append(
                FieldError(
                    f"{at}.size",
                    N_("An attachment is at most %(max)s bytes; this one has %(size)s."),
                    {"max": MAX_ATTACHMENT_BYTES, "size": size},
                )
            )
        elif "size" in att and att["size"] != size:
            errors.append(
                FieldError(
                    f"{at}.size",
                    N_("The size given (%(given)s) is not the data's size (%(size)s bytes)."),
                    {"given": att["size"], "size": size},
                )
            )


def _decoded_size(data: Any) -> int | None:
    if not isinstance(data, str):
        return None
    compact = "".join(data.split())
    if len(compact) % 4:
        return None
    try:
        # a size from the text's length would count a refused padding; decode to be sure
        return len(base64.b64decode(compact, validate=True))
    except (binascii.Error, ValueError):
        return None


def _source(resource: dict[str, Any], errors: list[FieldError]) -> str | None:
    meta = resource.get("meta")
    source = meta.get("source") if isinstance(meta, dict) else None
    if source is None:
        return None
    if not isinstance(source, str) or len(source) > MAX_SOURCE:
        errors.append(
            FieldError(
                "meta.source", N_("At most %(max)s characters are kept."), {"max": MAX_SOURCE}
            )
        )
        return None
    return source


# ---- the columns for searches and the timeline ---------------------------------------

#: where each type keeps its code, category, status and clinical time
_CODE = {
    "Encounter": "type",
    "Condition": "code",
    "Observation": "code",
    "Procedure": "code",
    "AllergyIntolerance": "code",
    "DiagnosticReport": "code",
    "DocumentReference": "type",
}
_STATUS_CONCEPT = {"Condition": "clinicalStatus", "AllergyIntolerance": "clinicalStatus"}
#: (element, kind): "point" a date/dateTime/instant, "period" a Period; the first present wins
_TIMES: dict[str, tuple[tuple[str, str], ...]] = {
    "Encounter": (("period", "period"),),
    "Condition": (
        ("onsetDateTime", "point"),
        ("onsetPeriod", "period"),
        ("recordedDate", "point"),
    ),
    "Observation": (
        ("effectiveDateTime", "point"),
        ("effectivePeriod", "period"),
        ("effectiveInstant", "point"),
        ("issued", "point"),
    ),
    "Procedure": (("performedDateTime", "point"), ("performedPeriod", "period")),
    "AllergyIntolerance": (
        ("onsetDateTime", "point"),
        ("onsetPeriod", "period"),
        ("recordedDate", "point"),
    ),
    "DiagnosticReport": (
        ("effectiveDateTime", "point"),
        ("effectivePeriod", "period"),
        ("issued", "point"),
    ),
    "DocumentReference": (("date", "point"), ("context.period", "period")),
}


def _get(resource: dict[str, Any], path: str) -> Any:
    node: Any = resource
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _concepts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _codings(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for concept in concepts for c in concept.get("coding") or [] if isinstance(c, dict)]


def describe(resource: dict[str, Any]) -> Prepared:
    """The columns the record keeps beside ``resource``'s body (code, category, status,
    clinical time, what the timeline shows), as a create computes them; ``person_id`` is
    left 0 and nothing is looked up. A time that is not a FHIR date is refused
    (``Invalid``)."""
    rtype = resource.get("resourceType")
    if rtype not in RESOURCE_TYPES:
        raise Invalid.fields(
            [FieldError("resourceType", N_("The shared record keeps %(types)s; not %(type)s."),
                        {"types": ", ".join(RESOURCE_TYPES), "type": str(rtype)})]
        )  # fmt: skip
    out = Prepared(person_id=0)
    errors: list[FieldError] = []
    _describe(resource, str(rtype), out, errors)
    if errors:
        raise Invalid.fields(errors)
    return out


def _describe(
    resource: dict[str, Any], rtype: str, out: Prepared, errors: list[FieldError]
) -> None:
    out.value_text = display.shown_value(resource, rtype)
    out.attachment_title = display.attachment_title(resource, rtype)
    out.shown_end = display.shown_end(resource, rtype)
    concepts = _concepts(resource.get(_CODE[rtype]))
    codings = _codings(concepts)
    for c in codings:
        code, system = c.get("code"), c.get("system")
        fits = system is None or (isinstance(system, str) and len(system) <= MAX_SYSTEM)
        if isinstance(code, str) and code and len(code) <= MAX_CODE and fits:
            out.tokens.append(("code", system, code))
    first = next((c for c in codings if c.get("code")), None)
    if first is not None:
        out.code = _cut(first.get("code"), MAX_CODE)
        out.code_system = _cut(first.get("system"), MAX_SYSTEM)
    text = next((c.get("text") for c in concepts if c.get("text")), None)
    if text is None:
        text = next((c.get("display") for c in codings if c.get("display")), None)
    out.code_text = _cut(text or out.code, MAX_TEXT)

    if rtype == "Encounter":
        klass = resource.get("class")
        cats: list[tuple[str | None, str]] = (
            [(klass.get("system"), klass["code"])]
            if isinstance(klass, dict) and isinstance(klass.get("code"), str)
            else []
        )
    elif rtype == "AllergyIntolerance":
        cats = [(None, c) for c in resource.get("category") or [] if isinstance(c, str)]
    else:
        cats = [
            (c.get("system"), c["code"])
            for c in _codings(_concepts(resource.get("category")))
            if isinstance(c.get("code"), str) and c["code"]
        ]
    cats = [(s if isinstance(s, str) else None, c) for s, c in cats]
    for system, code in cats:
        if len(code) <= MAX_CODE and (system is None or len(system) <= MAX_SYSTEM):
            out.tokens.append(("category", system, code))
    out.category = _cut(cats[0][1], MAX_CODE) if cats else None

    if rtype in _STATUS_CONCEPT:
        status_codings = _codings(_concepts(resource.get(_STATUS_CONCEPT[rtype])))
        status = next((c.get("code") for c in status_codings if c.get("code")), None)
    else:
        status = resource.get("status")
    out.status = _cut(status, MAX_STATUS)

    for element, kind in _TIMES[rtype]:
        value = _get(resource, element)
        if value is None:
            continue
        try:
            if kind == "point":
                out.effective_start, out.effective_end = fhir_interval(str(value))
            else:
                start, end = value.get("start"), value.get("end")
                out.effective_start = fhir_interval(str(start))[0] if start else None
                out.effective_end = fhir_interval(str(end))[1] if end else None
        except (ValueError, AttributeError):
            texts = [value] if kind == "point" else _period_texts(value)
            bad = next((t for t in texts if not _placeable(t)), None)
            if bad is not None and _FHIR_TIME.fullmatch(str(bad)):
                # valid FHIR (the R4B model took it) the time columns cannot hold
                errors.append(
                    FieldError(
                        element,
                        N_(
                            "%(value)s cannot be placed in UTC: a leap second, or a time "
                            "before the year 1 or after 9999 in UTC."
                        ),
                        {"value": str(bad)},
                    )
                )
            else:
                errors.append(
                    FieldError(element, N_("Not a FHIR date or dateTime with a time zone."))
                )
        break


#: a FHIR R4 dateTime with a time and its zone (datatypes.html; a leap second allowed)
_FHIR_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    re.ASCII,
)


def _period_texts(value: Any) -> list[Any]:
    return (
        [v for v in (value.get("start"), value.get("end")) if v] if isinstance(value, dict) else []
    )


def _placeable(text: Any) -> bool:
    try:
        fhir_interval(str(text))
    except ValueError:
        return False
    return True


def _cut(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None
