"""What the timeline shows of a resource beyond its code: its value as short text, an
attachment's title, the end of its period. Taken from the body when it is written (into
``record_resource``'s columns), so the timeline never reads a body (a DocumentReference's
may hold megabytes of attachment data)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from salomat.domains.record.service.tokens import fhir_interval

__all__: list[str] = []

#: the longest value and title the timeline shows (its columns)
MAX_SHOWN = 120

_PERIODS = {
    "Encounter": ("period",),
    "Condition": ("onsetPeriod",),
    "Observation": ("effectivePeriod",),
    "Procedure": ("performedPeriod",),
    "AllergyIntolerance": ("onsetPeriod",),
    "DiagnosticReport": ("effectivePeriod",),
    "DocumentReference": (),
}


def shown_end(body: dict[str, Any], rtype: str) -> datetime | None:
    """The end of a period as sent (its first instant); a point in time has none.
    A Condition's abatement ends it too."""
    for name in _PERIODS[rtype]:
        period = body.get(name)
        if isinstance(period, dict) and period.get("end"):
            return _start_of(period["end"])
    if rtype == "Condition" and body.get("abatementDateTime"):
        return _start_of(body["abatementDateTime"])
    return None


def _start_of(value: Any) -> datetime | None:
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


def shown_value(body: dict[str, Any], rtype: str) -> str | None:
    """An Observation's value as text ("120 mm[Hg]"), a Condition's clinical status, a
    report's conclusion...: short (cut at ``MAX_SHOWN``)."""
    return _cut(_value(body, rtype))


def attachment_title(body: dict[str, Any], rtype: str) -> str | None:
    """A DocumentReference's first attachment title (cut at ``MAX_SHOWN``)."""
    if rtype != "DocumentReference":
        return None
    for content in body.get("content") or []:
        att = content.get("attachment") if isinstance(content, dict) else None
        if isinstance(att, dict) and att.get("title"):
            return _cut(att["title"])
    return None


def _cut(text: Any) -> str | None:
    if not text:
        return None
    text = str(text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
