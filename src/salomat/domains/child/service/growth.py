"""Growth monitoring: the WHO conventions around the z-scores, recording, correcting.

The z-scores themselves are computed in ``who`` as WHO Anthro and AnthroPlus
compute them. What this module adds are the conventions
(../shared/domain/child-health.md):

- length is measured lying below 24 months (under 731 days: the WHO tables
  switch from length to height between day 730 and 731), height standing
  from 24 months; a measurement taken the other way is corrected by 0.7 cm
  before it is compared, except a standing height under 9 months (to day
  273), which WHO Anthro takes for a mistyped position and compares as it is;
- weight-for-length below 24 months, weight-for-height from 24 months to 5
  years (WHO Anthro: age in months < 60, to day 1826); from day 1827 the
  5-19 conventions (BMI-for-age) classify;
- a z-score beyond WHO Anthro's limits (weight-for-age < -6 or > +5,
  length/height-for-age beyond +-6, the others beyond +-5) is flagged
  implausible: stored and shown, left out of the classification, never
  refused (a typing error is for the nurse to see and correct);
- impossible values (a weight of 0, a length of 3 m, a date before birth) are
  refused naming the field;
- a measurement entered in error is marked, not deleted: it stays in the
  record (who, when and why), out of the charts, the trend and the print.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid, InvalidState, NotFound, PreconditionFailed
from salomat.core.i18n import N_
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.child.models import GrowthMeasurement
from salomat.domains.child.schemas import MeasurementIn, MeasurementOut, ZTrend
from salomat.domains.child.service import who
from salomat.domains.child.service.who import (
    CURVE_ZS,
    UNDER_FIVE_DAYS,
    UNTIL_DAYS,
    WFA_UNTIL_DAYS,
    reference_curve,
)
from salomat.domains.registry import service as registry

__all__ = [
    "CURVE_ZS",
    "LENGTH_UNTIL_DAYS",
    "REASON_MAX",
    "STANDING_FROM_DAYS",
    "TREND_INDICATORS",
    "UNDER_FIVE_DAYS",
    "UNTIL_DAYS",
    "WFA_UNTIL_DAYS",
    "Assessment",
    "assess",
    "classify",
    "conventional_length",
    "get_measurement",
    "list_measurements",
    "mark_measurement_entered_in_error",
    "record_measurement",
    "reference_curve",
    "zscore_trend",
]

#: a measurement, in the audit
RESOURCE = "Observation"
#: under this age (days) length is measured lying (24 months = 730.5 days)
LENGTH_UNTIL_DAYS = 731
#: cm between a lying length and a standing height of the same child
LYING_STANDING_CM = 0.7
#: a height "measured standing" before 9 months (days / 30.4375 < 9: to day 273) is taken
#: for a mistyped position and compared uncorrected (WHO Anthro's ``c9mo_flag``)
STANDING_FROM_DAYS = math.ceil(9 * who.DAYS_PER_MONTH)
#: impossible values: (lowest, highest, unit, lowest excluded)
LIMITS: dict[str, tuple[float, float, str, bool]] = {
    "weight_kg": (0, 200, "kg", True),
    "length_or_height_cm": (30, 230, "cm", False),
    "head_circumference_cm": (15, 80, "cm", False),
    "muac_cm": (5, 60, "cm", False),
}
#: the longest reason for marking a measurement entered in error
REASON_MAX = 500
#: the z-scores whose trend the passport shows, in its order
TREND_INDICATORS = ("wfa", "lhfa", "wfl_or_wfh", "bmifa", "hcfa")


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

    ``lying`` None means "as due for the age" (no correction); so does standing under
    9 months, when a child cannot stand (WHO Anthro).
    """
    due_lying = age_days < LENGTH_UNTIL_DAYS
    if lying is None:
        lying = due_lying
    if due_lying and not lying and age_days >= STANDING_FROM_DAYS:
        return round(cm + LYING_STANDING_CM, 2), lying
    if not due_lying and lying:
        return round(cm - LYING_STANDING_CM, 2), lying
    return cm, lying


#: the WHO classification codes ``classify`` gives, with their names (the passport page
#: shows them, the FHIR terminology publishes them: ``urn:salomat:growth-classification``)
CLASSIFICATIONS = {
    "moderate_stunting": N_("moderate stunting"),
    "severe_stunting": N_("severe stunting"),
    "moderate_wasting": N_("moderate wasting"),
    "severe_wasting": N_("severe wasting"),
    "moderate_underweight": N_("moderate underweight"),
    "severe_underweight": N_("severe underweight"),
    "moderate_thinness": N_("thinness"),
    "severe_thinness": N_("severe thinness"),
    "overweight": N_("overweight"),
    "obese": N_("obesity"),
}
#: a z-score beyond WHO's plausible range (the mapper's interpretation flag)
IMPLAUSIBLE = "implausible"


def classify(age_days: int, a: Assessment) -> list[str]:
    """WHO classification codes from the plausible z-scores.

    Under 5 (to day 1826): < -2 moderate, < -3 severe stunting (length/height-for-age),
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


def _by_age(indicator: str, sex: str, age_days: int, y: float) -> float | None:
    lms = who.lms_for_age(indicator, sex, age_days)
    return None if lms is None else who.zscore(y, lms, indicator in who.WEIGHT_BASED)


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
    cm: float | None = None
    if length_or_height_cm is not None:
        cm, _ = conventional_length(age_days, length_or_height_cm, measured_lying)
        a.conventional_cm = cm
        a.lhfa = _by_age("lhfa", sex, age_days, cm)
    if weight_kg is not None:
        a.wfa = _by_age("wfa", sex, age_days, weight_kg)
        if cm is not None:
            # the z-score from the BMI as computed (WHO Anthro's cbmi); shown to 0.01
            bmi = weight_kg / (cm / 100) ** 2
            a.bmi = round(bmi, 2)
            a.bmifa = _by_age("bmifa", sex, age_days, bmi)
            if age_days < UNDER_FIVE_DAYS:
                kind = "wfl" if age_days < LENGTH_UNTIL_DAYS else "wfh"
                lms = who.lms_for_length(kind, sex, cm)
                a.wfl_or_wfh = kind
                a.wfl_or_wfh_z = None if lms is None else who.zscore(weight_kg, lms, True)
    if head_circumference_cm is not None:
        a.hcfa = _by_age("hcfa", sex, age_days, head_circumference_cm)
    a.implausible = [name for name in who.IMPLAUSIBLE if who.implausible(name, a.z(name))]
    a.classification = classify(age_days, a)
    return a


def zscore_trend(measurements: list[MeasurementOut]) -> list[ZTrend]:
    """Per indicator, the latest plausible z-score and its change since the one before (pure).

    Measurements entered in error and implausible z-scores take no part.
    """
    out: list[ZTrend] = []
    ordered = sorted(measurements, key=lambda m: (m.measured_on, m.id))
    for indicator in TREND_INDICATORS:
        series = [
            (m, z)
            for m in ordered
            if not m.entered_in_error
            and indicator not in m.implausible
            and (
                z := (m.wfl_or_wfh_z if indicator == "wfl_or_wfh" else getattr(m, f"{indicator}_z"))
            )
            is not None
        ]
        if not series:
            continue
        last, z = series[-1]
        before = series[-2] if len(series) > 1 else None
        out.append(
            ZTrend(
                indicator=last.wfl_or_wfh
                if indicator == "wfl_or_wfh" and last.wfl_or_wfh
                else indicator,
                z=z,
                on=last.measured_on,
                previous_z=before[1] if before else None,
                previous_on=before[0].measured_on if before else None,
                change=round(z - before[1], 2) if before else None,
            )
        )
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


# ---- entered in error -------------------------------------------------------------------


async def mark_measurement_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    measurement_id: int,
    reason: str | None,
    expected_version: int | None,
) -> MeasurementOut:
    """The measurement was recorded by mistake: kept in the record with who, when and why,
    but no longer on the charts, in the z-score trend or the printed passport (FHIR
    status ``entered-in-error``).

    ``expected_version`` is the version the clinician read (``If-Match``): required, and a
    stale one is refused (412), as every update is. Final, as a dose entered in error is: a
    mark made by mistake is undone by recording the measurement again; marking a marked
    one is 409, unless with the same reason: that is a retry, answered with the measurement
    as it is (200), whatever version was sent. Two clinicians marking at once: the second
    one's version is stale (412).
    """
    missing = NotFound(f"Measurement {measurement_id} not found.")
    m = await session.get(GrowthMeasurement, measurement_id)
    if m is None:
        raise missing
    try:
        await require_person(
            session, principal, m.person_id, action="update", resource_type=RESOURCE
        )
    except NotFound:
        raise missing from None
    if expected_version is None:
        raise PreconditionFailed("Send If-Match with the version you read (its ETag).")
    if m.error_marked_at is not None and (reason or "").strip() == m.error_reason:
        # the same mark again (a retry whose answer was lost): the measurement as it is
        return MeasurementOut.model_validate(m)
    if expected_version != m.version:
        raise PreconditionFailed(
            f"The measurement changed since you read it (version {m.version}, you sent "
            f"{expected_version}); reload and retry."
        )
    if m.error_marked_at is not None:
        raise InvalidState(f"Measurement {measurement_id} is already marked entered in error.")
    text = (reason or "").strip()
    if not text:
        raise Invalid.fields([FieldError("reason", "is required: say what was wrong")])
    if len(text) > REASON_MAX:
        raise Invalid.fields([FieldError("reason", f"at most {REASON_MAX} characters")])
    m.error_reason, m.error_marked_by, m.error_marked_at = text, principal.username, utcnow()
    try:
        # UPDATE ... WHERE version = the one read: a concurrent mark makes this one stale
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The measurement changed while you marked it; reload.") from e
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=f"g{m.id}",  # as the FHIR Observation ids: g<id>-<measure>
        patient_id=m.person_id,
        detail=f"entered in error: {text}",
    )
    return MeasurementOut.model_validate(m)
