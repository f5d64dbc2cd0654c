"""Readings the antenatal rules take from other systems' Observations: which, how, when.

A hospital's blood pressure or a laboratory's haemoglobin sent to the shared record is a
FHIR Observation coded in LOINC. Maternal takes from it only what the rules read and
only where the code's meaning is unambiguous (``CODES``), converting the value to the
rules' unit with the conversion stated (``UNITS``); anything else is simply not taken
(not an error for the sender: the record keeps the Observation as sent). Pure functions
here (no database, apart from ``readings_of``); ``external_observations`` stores them and
re-evaluates the pregnancy.

How a reading counts (docs/maternal.md, "Readings from other systems"): as a reading of
its day, like a contact's. The DAK's decision tables (WHO-SRH-21.2) judge the readings
taken at an encounter; the readings of one day are that day's encounter's, whoever took
them. So a day with a contact gets the other systems' readings of that day after the
contact's own (blood pressure: the contact's reading(s) first, the rules read the first
two; a single value such as Hb: the contact's when it measured one), and a day with no
contact becomes an entry of its own, ``external``, which the contact schedule never
counts. DT.17 needs two blood pressure readings as at a contact: one external reading
of 165/112 gives DT.04's re-measure advice, two that day (two Observations, or the
contact's and the hospital's) the hypertension classification.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.maternal.models import ExternalReading
from salomat.domains.maternal.service.anc_facts import ContactFacts, ExternalSource

__all__ = ["CODES", "PANEL", "TAKEN_STATUSES", "UNITS", "Parsed", "Reading", "parse_observation"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

#: LOINC code -> the rules' reading it is. Each checked against LOINC's names as the FHIR
#: vital-signs value sets, loinc.org and laboratory catalogues give them (docs/maternal.md):
#: 8480-6 Systolic blood pressure; 8462-4 Diastolic blood pressure; 8310-5 Body
#: temperature; 8867-4 Heart rate (the woman's pulse); 2708-6 Oxygen saturation in
#: Arterial blood and 59408-5 the same by pulse oximetry; 718-7 Hemoglobin
#: [Mass/volume] in Blood; 1558-6 Fasting glucose [Mass/volume] in Serum or Plasma and
#: 77145-1 Fasting glucose [Moles/volume] in Serum, Plasma or Blood.
CODES: dict[str, str] = {
    "8480-6": "systolic",
    "8462-4": "diastolic",
    "8310-5": "temperature_c",
    "8867-4": "pulse",
    "2708-6": "spo2",
    "59408-5": "spo2",
    "718-7": "haemoglobin_g_l",
    "1558-6": "fasting_glucose_mmol_l",
    "77145-1": "fasting_glucose_mmol_l",
}
#: Blood pressure panel with all children optional: systolic and diastolic as components
PANEL = "85354-9"


def _same(v: float) -> float:
    return v


#: the rules' unit of each reading, and each UCUM unit taken with its conversion to it.
#: Glucose mg/dL -> mmol/L divides by 18, the factor WHO 2013 uses between its own
#: thresholds (126 mg/dL = 7.0, 92 = 5.1, 200 = 11.1 mmol/L); the molar factor 18.016
#: would put 126 mg/dL below 7.0. Haemoglobin mmol/L is not taken (a per-monomer molar
#: unit whose factor a sender may apply otherwise).
UNITS: dict[str, tuple[str, dict[str, Callable[[float], float]]]] = {
    "systolic": ("mm[Hg]", {"mm[Hg]": _same}),
    "diastolic": ("mm[Hg]", {"mm[Hg]": _same}),
    "temperature_c": (
        "Cel",
        {"Cel": _same, "[degF]": lambda f: round((f - 32) * 5 / 9, 2)},
    ),
    "pulse": ("/min", {"/min": _same, "{beats}/min": _same}),
    "spo2": ("%", {"%": _same}),
    "haemoglobin_g_l": ("g/L", {"g/L": _same, "g/dL": lambda v: round(v * 10, 1)}),
    "fasting_glucose_mmol_l": (
        "mmol/L",
        {"mmol/L": _same, "mg/dL": lambda v: round(v / 18, 2)},
    ),
}
#: values outside these (in the rules' unit) are a unit or keying error, not a reading
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "temperature_c": (25, 45),
    "pulse": (20, 250),
    "spo2": (30, 100),
    "haemoglobin_g_l": (20, 250),
    "fasting_glucose_mmol_l": (0.5, 60),
}
#: an Observation is taken in these statuses; in any other (preliminary, cancelled,
#: entered-in-error, ...) what was taken from it is removed
TAKEN_STATUSES = frozenset({"final", "amended", "corrected"})


@dataclass(frozen=True)
class Reading:
    field: str
    loinc: str
    value: float  # in the rules' unit
    unit: str
    sent_value: float
    sent_unit: str


@dataclass(frozen=True)
class Parsed:
    readings: tuple[Reading, ...]
    on: date | None
    at: datetime | None


def _loinc_codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [
        c["code"]
        for c in concept["coding"]
        if isinstance(c, dict) and c.get("system") == LOINC and isinstance(c.get("code"), str)
    ]


def _quantity(field: str, loinc: str, q: Any) -> Reading | None:
    """The value of ``valueQuantity`` in the rules' unit; None when not takeable."""
    if not isinstance(q, dict) or q.get("comparator") is not None:
        return None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    system = q.get("system")
    unit = q.get("code") if system == UCUM else None
    if not isinstance(unit, str) or not math.isfinite(value):
        return None
    rules_unit, conversions = UNITS[field]
    convert = conversions.get(unit)
    if convert is None:
        return None
    converted = convert(value)
    low, high = PLAUSIBLE[field]
    if not low <= converted <= high:
        return None
    return Reading(field, loinc, converted, rules_unit, value, unit)


def _effective(resource: dict[str, Any]) -> tuple[date | None, datetime | None]:
    """The sender's calendar day and, when it gave a time, the instant (UTC)."""
    raw = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    period = resource.get("effectivePeriod")
    if raw is None and isinstance(period, dict):
        raw = period.get("start")
    if not isinstance(raw, str) or len(raw) < 10:
        return None, None
    try:
        on = date.fromisoformat(raw[:10])
    except ValueError:
        return None, None
    at = None
    if len(raw) > 10:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None, None
        if parsed.tzinfo is not None:
            at = parsed.astimezone(UTC)
    return on, at


def parse_observation(resource: dict[str, Any]) -> Parsed:
    """What the rules take from an Observation: nothing unless its status is final (or
    amended, corrected), its LOINC code names one reading unambiguously (or is the BP
    panel, whose systolic and diastolic components are read), its value is a UCUM
    quantity in a unit ``UNITS`` converts, and it has an effective day."""
    on, at = _effective(resource)
    status = resource.get("status")
    if not isinstance(status, str) or status not in TAKEN_STATUSES or on is None:
        return Parsed((), on, at)
    codes = set(_loinc_codes(resource.get("code")))
    fields = {CODES[c] for c in codes if c in CODES}
    out: list[Reading] = []
    if codes & {PANEL} and not fields:
        seen: set[str] = set()
        components = resource.get("component")
        for comp in components if isinstance(components, list) else []:
            if not isinstance(comp, dict):
                continue
            comp_codes = {c for c in _loinc_codes(comp.get("code")) if c in CODES}
            comp_fields = {CODES[c] for c in comp_codes}
            if len(comp_fields) != 1 or not comp_fields <= {"systolic", "diastolic"}:
                continue
            (field,) = comp_fields
            if field in seen:  # two systolic components: which is the reading?
                return Parsed((), on, at)
            seen.add(field)
            r = _quantity(field, sorted(comp_codes)[0], comp.get("valueQuantity"))
            if r is not None:
                out.append(r)
    elif len(fields) == 1:
        (field,) = fields
        loinc = sorted(c for c in codes if CODES.get(c) == field)[0]
        r = _quantity(field, loinc, resource.get("valueQuantity"))
        if r is not None:
            out.append(r)
    return Parsed(tuple(out), on, at)


# --- the readings in the rules' facts ------------------------------------------

_SEQUENCES = ("systolic", "diastolic", "temperature_c", "pulse")
_SCALARS = ("spo2", "haemoglobin_g_l", "fasting_glucose_mmol_l")


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def _order(r: Any) -> tuple[Any, ...]:
    at = r.effective_at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (r.effective_on, at is not None, at or datetime.min.replace(tzinfo=UTC), r.id)


def _source(r: Any) -> ExternalSource:
    return ExternalSource(r.field, r.resource_id, r.effective_on, r.facility_id, r.taken_at)


def _join(c: ContactFacts, rows: Sequence[Any]) -> ContactFacts:
    """``c`` with the other systems' readings of its day after its own."""
    changes: dict[str, Any] = {}
    sources: list[ExternalSource] = list(c.sources)
    for name in _SEQUENCES:
        own = tuple(getattr(c, name))
        theirs = [r for r in rows if r.field == name]
        if theirs:
            changes[name] = own + tuple(_number(r.value) for r in theirs)
            # the rules read the first two readings: name only those that are read
            sources += [_source(r) for r in theirs[: max(0, 2 - len(own))]]
    for name in _SCALARS:
        theirs = [r for r in rows if r.field == name]
        if theirs and getattr(c, name) is None:
            changes[name] = _number(theirs[-1].value)
            sources.append(_source(theirs[-1]))
    return replace(c, **changes, sources=tuple(sources))


def merge(
    contacts: Sequence[ContactFacts], readings: Iterable[Any], ga_of: Callable[[date], int]
) -> tuple[ContactFacts, ...]:
    """The contacts with other systems' readings as readings of their day (module doc).

    ``readings``: rows with ``field``, ``value``, ``effective_on``, ``effective_at``,
    ``resource_id``, ``facility_id``, ``taken_at`` and ``id``. A day with a contact gets
    them joined to its last contact; a day without one becomes an ``external`` entry in
    date order.
    """
    by_day: dict[date, list[Any]] = defaultdict(list)
    for r in sorted(readings, key=_order):
        by_day[r.effective_on].append(r)
    if not by_day:
        return tuple(contacts)
    last_of_day = {c.on: i for i, c in enumerate(contacts)}
    out = list(contacts)
    for day, rows in by_day.items():
        if day in last_of_day:
            i = last_of_day[day]
            out[i] = _join(out[i], rows)
    extra = [
        _join(ContactFacts(on=day, ga_days=ga_of(day), external=True), rows)
        for day, rows in by_day.items()
        if day not in last_of_day
    ]
    # stable: a contact before an external entry of a later day, each in its own order
    return tuple(sorted(out + extra, key=lambda c: c.on))


async def readings_of(
    session: AsyncSession, pregnancy_ids: Sequence[int]
) -> dict[int, list[ExternalReading]]:
    """The readings taken for each pregnancy, in one statement."""
    out: dict[int, list[ExternalReading]] = {pid: [] for pid in pregnancy_ids}
    if pregnancy_ids:
        rows = await session.scalars(
            select(ExternalReading)
            .where(ExternalReading.pregnancy_id.in_(list(pregnancy_ids)))
            .order_by(ExternalReading.id)
        )
        for r in rows:
            out[r.pregnancy_id].append(r)
    return out
