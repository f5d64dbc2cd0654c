"""The family doctor's view of a person's shared record: every resource, newest first,
with who sent it (the sending facility named in the reader's language)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.record.models import RecordResource
from salomat.domains.record.schemas import TimelineEntry
from salomat.domains.record.service.common import PURPOSE, fhir_id
from salomat.domains.record.service.tokens import fhir_interval
from salomat.domains.registry import service as registry

__all__ = ["timeline"]

#: the longest value the timeline shows
MAX_VALUE = 120


async def timeline(
    session: AsyncSession, principal: Principal, person_id: int, *, limit: int = 200
) -> list[TimelineEntry]:
    """The newest ``limit`` entries (by clinical time, else last update), audited once as
    a read of the person's record (404 when out of scope)."""
    await require_person(
        session, principal, person_id, action="read", resource_type="Patient", purpose=PURPOSE
    )
    r = RecordResource
    rows = await session.execute(
        select(
            r,
            registry.facility_code_of(r.sender_facility_id).label("fcode"),
            registry.facility_name_of(r.sender_facility_id).label("fname"),
            registry.facility_names_of(r.sender_facility_id).label("fnames"),
        )
        .where(r.person_id == person_id)
        .order_by(r.effective_start.desc().nulls_last(), r.last_updated.desc(), r.id.desc())
        .limit(max(0, limit))
    )
    lang = i18n.current_language()
    out: list[TimelineEntry] = []
    for row, fcode, fname, fnames in rows:
        names = fnames if isinstance(fnames, dict) else json.loads(fnames) if fnames else {}
        body = json.loads(row.body)
        out.append(
            TimelineEntry(
                fhir_id=fhir_id(row.id),
                resource_type=row.resource_type,
                status=row.status,
                code=row.code,
                code_system=row.code_system,
                text=row.code_text,
                category=row.category,
                start=row.effective_start,
                end=_end(body, row.resource_type),
                last_updated=row.last_updated,
                sender=row.sender,
                sender_facility_code=fcode,
                sender_facility_name=(names.get(lang) or fname) if fcode else None,
                source=row.source,
                encounter_fhir_id=fhir_id(row.encounter_id) if row.encounter_id else None,
                value=_cut(_value(body, row.resource_type)),
                attachment_title=_cut(_attachment_title(body))
                if row.resource_type == "DocumentReference"
                else None,
            )
        )
    return out


_PERIODS = {
    "Encounter": ("period",),
    "Condition": ("onsetPeriod",),
    "Observation": ("effectivePeriod",),
    "Procedure": ("performedPeriod",),
    "AllergyIntolerance": ("onsetPeriod",),
    "DiagnosticReport": ("effectivePeriod",),
    "DocumentReference": (),
}


def _end(body: dict[str, Any], rtype: str) -> Any:
    """The end of a period as sent (its first instant); a point in time has none.
    A Condition's abatement ends it too."""
    for name in _PERIODS[rtype]:
        period = body.get(name)
        if isinstance(period, dict) and period.get("end"):
            return _start_of(period["end"])
    if rtype == "Condition" and body.get("abatementDateTime"):
        return _start_of(body["abatementDateTime"])
    return None


def _start_of(value: Any) -> Any:
    try:
        return fhir_interval(str(value))[0]
    except ValueError:
        return None


def _concept_text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for c in concept.get("coding") or []:
        if isinstance(c, dict) and (c.get("display") or c.get("code")):
            return str(c.get("display") or c.get("code"))
    return None


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(Decimal(str(value)).normalize()) if isinstance(value, float) else str(value)


def _quantity(q: Any) -> str | None:
    if not isinstance(q, dict) or q.get("value") is None:
        return None
    unit = q.get("unit") or q.get("code")
    return f"{q.get('comparator', '')}{_number(q['value'])}{' ' + unit if unit else ''}"


def _observation_value(body: dict[str, Any]) -> str | None:
    if (q := _quantity(body.get("valueQuantity"))) is not None:
        return q
    if (t := _concept_text(body.get("valueCodeableConcept"))) is not None:
        return t
    for key in ("valueString", "valueInteger", "valueBoolean", "valueDateTime", "valueTime"):
        if body.get(key) is not None:
            v = body[key]
            return ("true" if v else "false") if isinstance(v, bool) else str(v)
    parts = [
        (c, _quantity(c.get("valueQuantity")))
        for c in body.get("component") or []
        if isinstance(c, dict)
    ]
    values = [(c, v) for c, v in parts if v is not None]
    if values:
        units = {(c.get("valueQuantity") or {}).get("unit") for c, _ in values}
        if len(units) == 1 and None not in units:
            nums = "/".join(_number(c["valueQuantity"]["value"]) for c, _ in values)
            return f"{nums} {units.pop()}"
        return "; ".join(v for _, v in values if v)
    return None


def _value(body: dict[str, Any], rtype: str) -> str | None:
    if rtype == "Observation":
        return _observation_value(body)
    if rtype in ("Condition", "AllergyIntolerance"):
        status = _concept_text(body.get("clinicalStatus"))
        if rtype == "AllergyIntolerance" and body.get("criticality"):
            return f"{status}, {body['criticality']}" if status else str(body["criticality"])
        return status
    if rtype == "DiagnosticReport":
        return body.get("conclusion") or _concept_text(
            next(iter(body.get("conclusionCode") or []), None)
        )
    if rtype == "Procedure":
        return _concept_text(body.get("outcome"))
    if rtype == "Encounter":
        return _concept_text(next(iter(body.get("reasonCode") or []), None))
    if rtype == "DocumentReference":
        return body.get("description")
    return None


def _attachment_title(body: dict[str, Any]) -> str | None:
    for content in body.get("content") or []:
        att = content.get("attachment") if isinstance(content, dict) else None
        if isinstance(att, dict) and att.get("title"):
            return str(att["title"])
    return None


def _cut(text: Any) -> str | None:
    if not text:
        return None
    text = str(text)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
