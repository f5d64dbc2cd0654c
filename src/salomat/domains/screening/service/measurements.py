"""A measurement as entered, checked against the pack and brought to its canonical UCUM
unit (pure: no database).

A value in an accepted unit is converted by the pack's factor (glucose mg/dL / 18.016 =
mmol/L; HbA1c mmol/mol by the IFCC-NGSP master equation); an unknown unit, a value
outside the plausible range (systolic 400, HbA1c 40 %) or a code the measurement does
not know is refused, naming the field. Ranges are checked in the canonical unit, both
bounds included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from salomat.core.errors import N_, FieldError
from salomat.domains.screening.service.rules import Measurement, ScreeningRules

__all__ = ["Checked", "check_measurement", "from_canonical", "to_canonical"]


@dataclass(frozen=True)
class Checked:
    kind: str
    systolic: int | None
    diastolic: int | None
    value: float | None
    unit: str | None
    value_entered: str | None
    unit_entered: str | None
    code: str | None
    loinc: str | None
    #: the pack calls this coded result abnormal (a positive FOBT, BI-RADS 4)
    abnormal: bool = False


def to_canonical(m: Measurement, value: float, unit: str) -> float:
    factor, add = m.units[unit]
    return value * factor + add


def from_canonical(m: Measurement, value: float, unit: str) -> float:
    """The canonical value in another accepted unit (rounded to 9 decimals: a value typed
    in mg/dL and stored in mmol/L compares as typed)."""
    factor, add = m.units[unit]
    return round((value - add) / factor, 9)


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_measurement(
    rules: ScreeningRules,
    field: str,
    kind: str,
    *,
    systolic: int | None = None,
    diastolic: int | None = None,
    value: float | None = None,
    unit: str | None = None,
    code: str | None = None,
) -> tuple[Checked | None, list[FieldError]]:
    """The measurement checked and converted, or the errors naming ``field.<part>``."""
    m = rules.measurements.get(kind)
    if m is None:
        return None, [
            FieldError(
                f"{field}.kind",
                N_("%(value)s is not a measurement this country records"),
                {"value": kind},
            )
        ]
    errors: list[FieldError] = []
    if kind == "bp":
        assert m.systolic
        assert m.diastolic
        for part, v, (lo, hi) in (
            ("systolic", systolic, m.systolic),
            ("diastolic", diastolic, m.diastolic),
        ):
            if v is None:
                errors.append(FieldError(f"{field}.{part}", N_("is required")))
            elif not lo <= v <= hi:
                errors.append(
                    FieldError(
                        f"{field}.{part}",
                        N_("%(value)s mm Hg is not a possible reading (%(low)s to %(high)s)"),
                        {"value": v, "low": lo, "high": hi},
                    )
                )
        if errors:
            return None, errors
        return Checked(
            kind,
            systolic,
            diastolic,
            None,
            m.canonical,
            f"{systolic}/{diastolic}",
            "mm[Hg]",
            None,
            m.loinc,
        ), []
    if m.codes:
        if code is None or str(code) not in m.codes:
            return None, [
                FieldError(
                    f"{field}.code",
                    N_("%(value)s is not a result of this measurement (one of: %(codes)s)"),
                    {"value": code or "", "codes": ", ".join(m.codes)},
                )
            ]
        c = str(code)
        return Checked(kind, None, None, None, None, c, None, c, m.loinc, c in m.abnormal), []
    if value is None or not math.isfinite(value):
        return None, [FieldError(f"{field}.value", N_("is required"))]
    entered_unit = (unit or "").strip() or (m.canonical or "")
    if entered_unit not in m.units:
        return None, [
            FieldError(
                f"{field}.unit",
                N_("%(value)s is not a unit of this measurement (one of: %(units)s)"),
                {"value": unit or "", "units": ", ".join(m.units)},
            )
        ]
    canonical = to_canonical(m, float(value), entered_unit)
    low, high = m.low, m.high
    if (low is not None and canonical < low) or (high is not None and canonical > high):
        return None, [
            FieldError(
                f"{field}.value",
                N_(
                    "%(value)s %(unit)s is not a possible value (%(low)s to %(high)s %(canonical)s)"
                ),
                {
                    "value": _fmt(float(value)),
                    "unit": entered_unit,
                    "low": _fmt(low) if low is not None else "",
                    "high": _fmt(high) if high is not None else "",
                    "canonical": m.canonical or "",
                },
            )
        ]
    return (
        Checked(
            kind,
            None,
            None,
            canonical,
            m.canonical,
            _fmt(float(value)),
            entered_unit,
            None,
            m.loinc,
        ),
        [],
    )
