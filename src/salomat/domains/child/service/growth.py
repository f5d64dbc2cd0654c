"""Growth monitoring: WHO z-scores, their classification, and the reference curves.

The z-scores come from ``pygrowup`` (WHO Child Growth Standards 2006 for 0-5
years, WHO Reference 2007 for 5-19 years). What this module adds is the WHO
conventions around them (../shared/domain/child-health.md):

- length is measured lying below 24 months (under 731 days: the WHO tables
  switch from length to height between day 730 and 731), height standing
  from 24 months; a measurement taken the other way is corrected by 0.7 cm
  before it is compared (pygrowup's own correction switches at day 730, one
  day early, so it is not used);
- weight-for-length below 24 months, weight-for-height from 24 months to 5 years;
- a z-score beyond +-6 (length/height- and weight-for-age) or +-5 (the others)
  is flagged implausible: stored and shown, left out of the classification,
  never refused (a typing error is for the nurse to see and correct);
- impossible values (a weight of 0, a length of 3 m, a date before birth) are
  refused naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from importlib import import_module
from typing import Any

from pygrowup import Observation
from pygrowup.exceptions import PyGrowUpException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.child.models import GrowthMeasurement
from salomat.domains.child.schemas import MeasurementIn, MeasurementOut
from salomat.domains.registry import service as registry

__all__ = [
    "CURVE_ZS",
    "LENGTH_UNTIL_DAYS",
    "UNDER_FIVE_DAYS",
    "UNTIL_DAYS",
    "WFA_UNTIL_DAYS",
    "Assessment",
    "assess",
    "classify",
    "conventional_length",
    "get_measurement",
    "list_measurements",
    "record_measurement",
    "reference_curve",
]

#: a measurement, in the audit
RESOURCE = "Observation"
#: under this age (days) length is measured lying (24 months = 730.5 days)
LENGTH_UNTIL_DAYS = 731
#: cm between a lying length and a standing height of the same child
LYING_STANDING_CM = 0.7
#: the WHO 2006 standards end at 60 months (pygrowup's by-day tables: day 1856)
UNDER_FIVE_DAYS = 1856
#: weight-for-age is defined to 10 years, the rest to 19
WFA_UNTIL_DAYS = int(10 * 365.25)
UNTIL_DAYS = int(19 * 365.25)
#: |z| beyond which a z-score is biologically implausible (WHO)
IMPLAUSIBLE_ABOVE: dict[str, float] = {
    "wfa": 6,
    "lhfa": 6,
    "wfl_or_wfh": 5,
    "bmifa": 5,
    "hcfa": 5,
}
#: impossible values: (lowest, highest, unit, lowest excluded)
LIMITS: dict[str, tuple[float, float, str, bool]] = {
    "weight_kg": (0, 200, "kg", True),
    "length_or_height_cm": (30, 230, "cm", False),
    "head_circumference_cm": (15, 80, "cm", False),
    "muac_cm": (5, 60, "cm", False),
}
#: the curves drawn on the chart
CURVE_ZS = (-3, -2, 0, 2, 3)


@dataclass
class Assessment:
    """The z-scores of one measurement and what they say."""

    age_days: int
    #: the length/height after the lying/standing correction, as compared with the standard
    conventional_cm: float | None = None
    bmi: float | None = None
    wfa: float | None = None
    lhfa: float | None = None
    #: ``wfl`` or ``wfh``
    wfl_or_wfh: str | None = None
    wfl_or_wfh_z: float | None = None
    bmifa: float | None = None
    hcfa: float | None = None
    implausible: list[str] = field(default_factory=list)
    classification: list[str] = field(default_factory=list)

    def z(self, indicator: str) -> float | None:
        return self.wfl_or_wfh_z if indicator == "wfl_or_wfh" else getattr(self, indicator)


def conventional_length(age_days: int, cm: float, lying: bool | None) -> tuple[float, bool]:
    """The length/height as the standard expects it for the age, and how it was measured.

    ``lying`` None means "as due for the age" (no correction).
    """
    due_lying = age_days < LENGTH_UNTIL_DAYS
    if lying is None:
        lying = due_lying
    if due_lying and not lying:
        return round(cm + LYING_STANDING_CM, 2), lying
    if not due_lying and lying:
        return round(cm - LYING_STANDING_CM, 2), lying
    return cm, lying


def _observation(sex: str, age_days: int) -> Observation:
    # by dates: pygrowup takes age_in_days=0 (a measurement at birth) for "no age"
    born = date(2000, 1, 1)
    return Observation(
        Observation.MALE if sex == "male" else Observation.FEMALE,
        dob=born,
        date_of_observation=born + timedelta(days=age_days),
    )


def _z(fn: Any, *args: Any, **kw: Any) -> float | None:
    """A z-score, or None outside the reference's ages or measurement ranges."""
    try:
        return float(fn(*args, **kw))
    except (PyGrowUpException, ArithmeticError):
        return None


def classify(age_days: int, a: Assessment) -> list[str]:
    """WHO classification codes from the plausible z-scores.

    Under 5: < -2 moderate, < -3 severe stunting (length/height-for-age),
    wasting (weight-for-length/height) and underweight (weight-for-age, to 10
    years); weight-for-length/height > +2 overweight, > +3 obese. From 5 to 19
    years (WHO 2007): stunting as above; BMI-for-age < -2 thinness, < -3
    severe thinness, > +1 overweight, > +2 obese.
    """
    out: list[str] = []

    def z(indicator: str) -> float | None:
        return None if indicator in a.implausible else a.z(indicator)

    def low(value: float | None, name: str) -> None:
        if value is not None and value < -3:
            out.append(f"severe_{name}")
        elif value is not None and value < -2:
            out.append(f"moderate_{name}")

    low(z("lhfa"), "stunting")
    if age_days < UNDER_FIVE_DAYS:
        w = z("wfl_or_wfh")
        low(w, "wasting")
        low(z("wfa"), "underweight")
        if w is not None and w > 3:
            out.append("obese")
        elif w is not None and w > 2:
            out.append("overweight")
    else:
        low(z("wfa"), "underweight")
        b = z("bmifa")
        low(b, "thinness")
        if b is not None and b > 2:
            out.append("obese")
        elif b is not None and b > 1:
            out.append("overweight")
    return out


def assess(
    sex: str,
    age_days: int,
    *,
    weight_kg: float | None = None,
    length_or_height_cm: float | None = None,
    measured_lying: bool | None = None,
    head_circumference_cm: float | None = None,
) -> Assessment:
    """The z-scores, implausible flags and classification of one measurement (pure)."""
    a = Assessment(age_days=age_days)
    o = _observation(sex, age_days)
    cm: float | None = None
    if length_or_height_cm is not None:
        cm, lying = conventional_length(age_days, length_or_height_cm, measured_lying)
        a.conventional_cm = cm
        if age_days <= UNTIL_DAYS:
            # the correction is done above: pygrowup compares the value as given
            a.lhfa = _z(o.lhfa, Decimal(str(cm)), recumbent=lying, auto_adjust=False)
    if weight_kg is not None:
        if age_days <= WFA_UNTIL_DAYS:
            a.wfa = _z(o.wfa, Decimal(str(weight_kg)))
        if cm is not None:
            a.bmi = round(weight_kg / (cm / 100) ** 2, 2)
            if age_days <= UNTIL_DAYS:
                a.bmifa = _z(o.bmifa, Decimal(str(a.bmi)))
            if age_days < UNDER_FIVE_DAYS:
                if age_days < LENGTH_UNTIL_DAYS:
                    a.wfl_or_wfh, a.wfl_or_wfh_z = "wfl", _z(o.wfl, weight_kg, str(cm))
                else:
                    a.wfl_or_wfh, a.wfl_or_wfh_z = "wfh", _z(o.wfh, weight_kg, str(cm))
    if head_circumference_cm is not None and age_days <= UNDER_FIVE_DAYS:
        a.hcfa = _z(o.hcfa, Decimal(str(head_circumference_cm)))
    a.implausible = [
        name
        for name, above in IMPLAUSIBLE_ABOVE.items()
        if (z := a.z(name)) is not None and abs(z) > above
    ]
    a.classification = classify(age_days, a)
    return a


# ---- the reference curves --------------------------------------------------------------

_TABLE = {"wfa": "wfa", "lhfa": "lfa", "bmifa": "bmifa", "hcfa": "hcfa"}


def _lms(indicator: str, sex: str, age_days: int) -> dict[str, Decimal] | None:
    name = _TABLE[indicator]
    if age_days <= UNDER_FIVE_DAYS:
        table = import_module(f"pygrowup.tables.by_day.{name}").DATA
        return table[sex].get(age_days)  # type: ignore[no-any-return]
    try:
        table = import_module(f"pygrowup.tables.by_month.{name}").DATA
    except ImportError:
        return None
    return table[sex].get(round(age_days / (365 / 12)))  # type: ignore[no-any-return]


def _value_at(lms: dict[str, Decimal], z: float) -> float:
    """The measurement at z-score ``z``: M (1 + L S z)^(1/L) (Box-Cox; L = 0: M e^(S z))."""
    import math

    lam, m, s = float(lms["l"]), float(lms["m"]), float(lms["s"])
    if abs(lam) < 1e-9:
        return m * math.exp(s * z)
    return float(m * (1 + lam * s * z) ** (1 / lam))


def reference_curve(
    indicator: str, sex: str, from_days: int, to_days: int, points: int = 60
) -> list[tuple[int, list[float]]]:
    """(age in days, the values at ``CURVE_ZS``) across an age range, from the LMS tables."""
    step = max(1, (to_days - from_days) // points)
    out: list[tuple[int, list[float]]] = []
    for day in [*range(from_days, to_days, step), to_days]:
        lms = _lms(indicator, sex, day)
        if lms is not None:
            out.append((day, [round(_value_at(lms, z), 2) for z in CURVE_ZS]))
    return out


# ---- recording --------------------------------------------------------------------------


def refuse_merged(person: Any) -> None:
    """No new child records on a record merged into another (as immunization refuses;
    the registry's ``require_alive`` also refuses the day of death, which here stays allowed:
    a measurement dated up to the death is recorded)."""
    if person.merged_into_id is not None:
        raise InvalidState(
            f"Patient {person.id} was merged into Patient {person.merged_into_id}; use that record."
        )


def _check(data: MeasurementIn) -> list[FieldError]:
    errors: list[FieldError] = []
    values = data.model_dump()
    for name, (low, high, unit, open_low) in LIMITS.items():
        v = values.get(name)
        if v is None:
            continue
        if not math.isfinite(v):
            errors.append(FieldError(name, "must be a finite number"))
            continue
        if (v <= low if open_low else v < low) or v > high:
            shown = "above 0" if open_low else f"{low:g}-{high:g}"
            upper = f" up to {high:g}" if open_low else ""
            errors.append(
                FieldError(name, f"{v:g} {unit} is impossible (expected {shown}{upper} {unit})")
            )
    measured = ("weight_kg", "length_or_height_cm", "head_circumference_cm", "muac_cm")
    if all(values.get(n) is None for n in measured):
        errors.append(FieldError("weight_kg", "give at least one measurement"))
    return errors


async def record_measurement(
    session: AsyncSession, principal: Principal, person_id: int, data: MeasurementIn
) -> MeasurementOut:
    """Record a measurement with its z-scores; implausible ones are flagged, not refused."""
    await require_person(session, principal, person_id, action="create", resource_type=RESOURCE)
    person = await registry.get_person(session, principal, person_id, purpose="growth monitoring")
    refuse_merged(person)
    on = data.measured_on or date.today()
    errors = _check(data)
    if on > date.today():
        errors.append(FieldError("measured_on", "is in the future"))
    elif on < person.birth_date:
        errors.append(
            FieldError("measured_on", f"is before the birth ({person.birth_date:%d.%m.%Y})")
        )
    elif person.deceased_on is not None and on > person.deceased_on:
        errors.append(
            FieldError("measured_on", f"is after the child's death ({person.deceased_on:%d.%m.%Y})")
        )
    age = (on - person.birth_date).days
    if age > UNTIL_DAYS and not any(e.field == "measured_on" for e in errors):
        errors.append(
            FieldError("measured_on", "the child was over 19 years old (the WHO reference ends)")
        )
    if errors:
        raise Invalid.fields(errors)
    a = assess(
        person.sex,
        age,
        weight_kg=data.weight_kg,
        length_or_height_cm=data.length_or_height_cm,
        measured_lying=data.measured_lying,
        head_circumference_cm=data.head_circumference_cm,
    )
    lying = data.measured_lying
    if data.length_or_height_cm is not None and lying is None:
        lying = age < LENGTH_UNTIL_DAYS
    m = GrowthMeasurement(
        person_id=person_id,
        measured_on=on,
        age_days=age,
        sex=person.sex,
        weight_kg=data.weight_kg,
        length_or_height_cm=data.length_or_height_cm,
        measured_lying=lying,
        head_circumference_cm=data.head_circumference_cm,
        muac_cm=data.muac_cm,
        bmi=a.bmi,
        wfa_z=a.wfa,
        lhfa_z=a.lhfa,
        wfl_or_wfh=a.wfl_or_wfh,
        wfl_or_wfh_z=a.wfl_or_wfh_z,
        bmifa_z=a.bmifa,
        hcfa_z=a.hcfa,
        implausible=a.implausible,
        classification=a.classification,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(m)
    await session.flush()
    return MeasurementOut.model_validate(m)


async def _measurements(session: AsyncSession, person_id: int) -> list[MeasurementOut]:
    rows = await session.execute(
        select(GrowthMeasurement)
        .where(GrowthMeasurement.person_id == person_id)
        .order_by(GrowthMeasurement.measured_on, GrowthMeasurement.id)
    )
    return [MeasurementOut.model_validate(m) for m in rows.scalars()]


async def list_measurements(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[MeasurementOut]:
    """A child's measurements, oldest first."""
    await registry.get_person(session, principal, person_id, purpose="growth monitoring")
    await require_person(session, principal, person_id, action="read", resource_type=RESOURCE)
    return await _measurements(session, person_id)


async def get_measurement(
    session: AsyncSession, principal: Principal, measurement_id: int
) -> MeasurementOut:
    """One measurement; out of scope answers like a missing one."""
    m = await session.get(GrowthMeasurement, measurement_id)
    missing = NotFound(f"Measurement {measurement_id} not found.")
    if m is None:
        raise missing
    try:
        await require_person(session, principal, m.person_id, action="read", resource_type=RESOURCE)
    except NotFound:
        raise missing from None
    return MeasurementOut.model_validate(m)
