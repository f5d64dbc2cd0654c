"""WHO growth z-scores, computed the way WHO's own software computes them (pure).

The LMS parameters are the WHO tables that ``pygrowup`` ships offline (WHO
Child Growth Standards 2006 by day, 0-1856 days; weight-for-length and
weight-for-height by 0.1 cm; WHO Reference 2007 by month, 61-228 months),
plus the Reference 2007's 60-month rows, which pygrowup lacks (``MONTH_60``).
pygrowup's own computation is not used: it rounds the length to the nearest
0.1 cm (half to even) before weight-for-length/height, rounds an age over five
years to the nearest month of 365/12 days, and rounds the first-pass z-score
to 0.01 before deciding whether the restricted tails apply.

The method is WHO Anthro's (R package ``anthro``, WorldHealthOrganization/anthro:
``z-score-helper.R``, ``z-score-weight-for-lenhei.R``) and WHO AnthroPlus's
(``anthroplus`` 1.x: ``zscores.R``), after "WHO Child Growth Standards:
Methods and development" (2006), chapter 7:

- z = ((y / M)^L - 1) / (L S);
- weight-based indicators (weight-for-age, weight-for-length/height,
  BMI-for-age) beyond +-3 use the restricted tails, where the distance between
  SD2 and SD3 is kept: z = 3 + (y - SD3) / (SD3 - SD2) above, z = -3 + (y -
  SD3neg) / (SD2neg - SD3neg) below (SDk = M (1 + L S k)^(1/L));
  length/height- and head-circumference-for-age do not;
- weight-for-length/height between two 0.1-cm rows: L, M and S interpolated
  linearly between the row below (the length truncated to 0.1 cm) and the next;
- ages: months = days / 30.4375 (unrounded). WHO Anthro computes every
  z-score only for months < 60, that is to day 1826 (59.99 months), from the
  by-day rows; from day 1827 (60.02 months) WHO AnthroPlus (since 1.0.0: from
  60 months, before that from 61) interpolates L, M and S linearly between the
  whole month below and the next. Head circumference and
  weight-for-length/height end at day 1826; weight-for-age goes on to 10
  years, length/height- and BMI-for-age to 19;
- the z-score is rounded to 2 decimals and the implausible flags are read on
  that value: weight-for-age z < -6 or z > +5, length/height-for-age |z| > 6,
  the others |z| > 5. A z-score exactly at a limit is not flagged.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import import_module

__all__ = [
    "CURVE_ZS",
    "DAYS_PER_MONTH",
    "IMPLAUSIBLE",
    "LMS",
    "MONTH_60",
    "UNDER_FIVE_DAYS",
    "UNTIL_DAYS",
    "WEIGHT_BASED",
    "WFA_UNTIL_DAYS",
    "implausible",
    "lms_for_age",
    "lms_for_length",
    "reference_curve",
    "value_at",
    "zscore",
]

LMS = tuple[float, float, float]

#: WHO Anthro's days per month (anthro: ANTHRO_DAYS_OF_MONTH)
DAYS_PER_MONTH = 30.4375
#: the first day that is not under five: WHO Anthro's z-scores need age in months
#: (days / 30.4375, unrounded) < 60, so they end at day 1826 (59.99 months); from day
#: 1827 (60.02 months) WHO AnthroPlus's (anthroplus >= 1.0.0: age in months >= 60)
UNDER_FIVE_DAYS = math.ceil(60 * DAYS_PER_MONTH)
#: weight-for-age is defined to 10 years (120 months), the rest to 19 (228 months)
WFA_UNTIL_DAYS = int(10 * 365.25)
UNTIL_DAYS = int(19 * 365.25)
#: indicators whose z-scores beyond +-3 use WHO's restricted tails
WEIGHT_BASED = frozenset({"wfa", "wfl", "wfh", "wfl_or_wfh", "bmifa"})
#: implausible below / above (WHO Anthro's flags: fwei, flen, fwfl, fbmi, fhc)
IMPLAUSIBLE: dict[str, tuple[float, float]] = {
    "wfa": (-6, 5),
    "lhfa": (-6, 6),
    "wfl_or_wfh": (-5, 5),
    "bmifa": (-5, 5),
    "hcfa": (-5, 5),
}
#: the curves drawn on the chart
CURVE_ZS = (-3, -2, 0, 2, 3)
#: lengths for weight-for-length and heights for weight-for-height (cm, inclusive)
LENGTH_RANGE = {"wfl": (45.0, 110.0), "wfh": (65.0, 120.0)}
#: pygrowup's table names per indicator
_TABLE = {"wfa": "wfa", "lhfa": "lfa", "bmifa": "bmifa", "hcfa": "hcfa"}
#: last day of each indicator (head circumference: WHO Anthro's only, under five)
_UNTIL = {
    "wfa": WFA_UNTIL_DAYS,
    "lhfa": UNTIL_DAYS,
    "bmifa": UNTIL_DAYS,
    "hcfa": UNDER_FIVE_DAYS - 1,
}
#: the WHO Reference 2007 at 60 months (L, M, S), which pygrowup's month tables (from 61)
#: lack: WHO AnthroPlus (R package ``anthroplus`` >= 1.0.0, WorldHealthOrganization/
#: anthroplus, ``data-raw/growthstandards/{wfa,hfa,bfa}who2007.txt``, row ``age`` 60),
#: needed to interpolate between 60 and 61 months
MONTH_60: dict[str, dict[str, LMS]] = {
    "wfa": {"male": (-0.1922, 18.3328, 0.12947), "female": (-0.4650, 18.0823, 0.14240)},
    "lfa": {"male": (1.0, 109.7265, 0.04156), "female": (1.0, 109.0725, 0.04346)},
    "bmifa": {"male": (-0.7151, 15.2679, 0.08366), "female": (-0.8702, 15.2453, 0.09646)},
}


@cache
def table(name: str, by: str) -> dict[str, dict[int, LMS]]:
    """pygrowup's table in floats: by day (age), by month, or by length (key: tenths of a cm)."""
    try:
        data = import_module(f"pygrowup.tables.{'by_month' if by == 'month' else 'by_day'}.{name}")
    except ImportError:
        return {}
    out = {
        sex: {
            (round(float(k) * 10) if by == "length" else int(k)): (
                float(v["l"]),
                float(v["m"]),
                float(v["s"]),
            )
            for k, v in rows.items()
        }
        for sex, rows in data.DATA.items()
    }
    if by == "month" and name in MONTH_60:
        for sex, row in MONTH_60[name].items():
            out[sex].setdefault(60, row)
    return out


def _between(low: LMS, high: LMS, fraction: float) -> LMS:
    return (
        low[0] + fraction * (high[0] - low[0]),
        low[1] + fraction * (high[1] - low[1]),
        low[2] + fraction * (high[2] - low[2]),
    )


def lms_for_age(indicator: str, sex: str, age_days: int) -> LMS | None:
    """L, M, S of an age-based indicator; None outside its ages.

    Under five (to day 1826) the by-day row; from day 1827 the months (days /
    30.4375) interpolated.
    """
    if age_days < 0 or age_days > _UNTIL[indicator]:
        return None
    name = _TABLE[indicator]
    if age_days < UNDER_FIVE_DAYS:
        return table(name, "day")[sex].get(age_days)
    rows = table(name, "month").get(sex, {})
    months = age_days / DAYS_PER_MONTH
    whole = math.floor(months)
    low = rows.get(whole)
    if low is None:
        return None
    fraction = months - whole
    if fraction <= 0:
        return low
    high = rows.get(whole + 1)
    return None if high is None else _between(low, high, fraction)


def lms_for_length(kind: str, sex: str, cm: float) -> LMS | None:
    """L, M, S of weight-for-length (``wfl``) or -height (``wfh``) at ``cm``; None outside.

    Between two 0.1-cm rows, interpolated (never rounded to the nearest row).
    """
    low_cm, high_cm = LENGTH_RANGE[kind]
    if not low_cm <= cm <= high_cm:
        return None
    tenths = round(cm * 10, 6)  # 70.3 * 10 is 702.9999...: not a row below
    below = math.floor(tenths)
    rows = table(kind, "length")[sex]
    low = rows.get(below)
    if low is None:
        return None
    fraction = tenths - below
    if fraction <= 0:
        return low
    high = rows.get(below + 1)
    return None if high is None else _between(low, high, fraction)


def value_at(lms: LMS, z: float) -> float:
    """The measurement at z-score ``z``: M (1 + L S z)^(1/L) (L = 0: M e^(S z))."""
    lam, m, s = lms
    if abs(lam) < 1e-9:
        return m * math.exp(s * z)
    return float(m * (1 + lam * s * z) ** (1 / lam))


def zscore(y: float, lms: LMS, weight_based: bool) -> float | None:
    """The z-score of ``y``, rounded to 2 decimals (None where the formula has no value)."""
    lam, m, s = lms
    try:
        z = math.log(y / m) / s if abs(lam) < 1e-9 else ((y / m) ** lam - 1) / (s * lam)
        if weight_based and z > 3:
            sd3, sd2 = value_at(lms, 3), value_at(lms, 2)
            z = 3 + (y - sd3) / (sd3 - sd2)
        elif weight_based and z < -3:
            sd3, sd2 = value_at(lms, -3), value_at(lms, -2)
            z = -3 + (y - sd3) / (sd2 - sd3)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if isinstance(z, complex) or not math.isfinite(z):
        return None
    return round(z, 2)


def implausible(indicator: str, z: float | None) -> bool:
    """WHO Anthro's flag: z below the lower or above the upper limit (at a limit: not)."""
    if z is None:
        return False
    low, high = IMPLAUSIBLE[indicator]
    return z < low or z > high


def reference_curve(
    indicator: str, sex: str, from_days: int, to_days: int, points: int = 60
) -> list[tuple[int, list[float]]]:
    """(age in days, the values at ``CURVE_ZS``) across an age range, from the LMS tables."""
    step = max(1, (to_days - from_days) // points)
    out: list[tuple[int, list[float]]] = []
    for day in [*range(from_days, to_days, step), to_days]:
        lms = lms_for_age(indicator, sex, day)
        if lms is not None:
            out.append((day, [round(value_at(lms, z), 2) for z in CURVE_ZS]))
    return out
