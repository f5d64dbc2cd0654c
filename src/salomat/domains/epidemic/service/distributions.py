"""Discrete delay distributions: the serial interval (EpiEstim's ``discr_si``), the
onset-to-admission delay and the length of stay, and the one validator every
probability vector passes (a wrong one is refused naming its field).

All arrays are probability mass functions over whole days 0, 1, 2, ... .
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

from salomat.core.errors import N_, FieldError, Invalid

__all__ = [
    "PMF_TOLERANCE",
    "discr_si",
    "discrete_gamma",
    "fixed_days",
    "serial_interval_from_gamma",
    "survival",
    "validate_pmf",
    "validate_serial_interval",
]

#: a distribution must sum to 1 within this
PMF_TOLERANCE = 1e-9


def _refuse(field: str, message: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field, message, dict(params))])


def validate_pmf(values: Iterable[float], field: str, *, zero_at_0: bool = False) -> np.ndarray:
    """``values`` as a float array if it is a distribution over days 0, 1, ...: finite,
    non-negative, summing to 1 within ``PMF_TOLERANCE`` (and, with ``zero_at_0``, no
    weight on day 0). Otherwise ``Invalid`` naming ``field``."""
    try:
        w = np.asarray(list(values), dtype=float)
    except (TypeError, ValueError):
        raise _refuse(field, N_("Must be a list of numbers.")) from None
    if w.ndim != 1 or w.size == 0:
        raise _refuse(field, N_("Must be a non-empty list of numbers."))
    if not np.all(np.isfinite(w)):
        raise _refuse(field, N_("Every value must be a finite number."))
    if np.any(w < 0):
        raise _refuse(field, N_("No value may be negative."))
    total = math.fsum(w.tolist())
    if abs(total - 1.0) > PMF_TOLERANCE:
        raise _refuse(
            field, N_("The values must sum to 1 (they sum to %(total)s)."), total=f"{total:.12g}"
        )
    if zero_at_0 and w[0] != 0:
        raise _refuse(
            field,
            N_("The weight of day 0 must be 0: a case cannot infect another on the same day."),
        )
    return w


def validate_serial_interval(values: Iterable[float], field: str = "serial_interval") -> np.ndarray:
    """A serial interval w_0, w_1, ...: a distribution with w_0 = 0 and at least one day
    of weight (Cori et al.'s Λ_t = Σ_{s≥1} w_s I_{t−s})."""
    w = validate_pmf(values, field, zero_at_0=True)
    if w.size < 2:
        raise _refuse(field, N_("Must give the weight of day 1 and later days."))
    return w


def discr_si(k: np.ndarray | Sequence[int], mean: float, sd: float) -> np.ndarray:
    """EpiEstim's ``discr_si``: the serial interval as 1 + Gamma(mean − 1, sd), discretised
    by linear interpolation (Cori et al. 2013, web appendix 11), for whole days ``k``.
    The weight of day 0 is 0 by construction."""
    if sd <= 0:
        raise ValueError("sd must be > 0")
    if mean <= 1:
        raise ValueError("mean must be > 1")
    k = np.asarray(k, dtype=float)
    if np.any(k < 0):
        raise ValueError("k must be >= 0")
    a = ((mean - 1) / sd) ** 2
    b = sd**2 / (mean - 1)

    def cdf(x: np.ndarray, shape: float) -> np.ndarray:
        return stats.gamma.cdf(x, shape, scale=b)

    res = k * cdf(k, a) + (k - 2) * cdf(k - 2, a) - 2 * (k - 1) * cdf(k - 1, a)
    res = res + a * b * (2 * cdf(k - 1, a + 1) - cdf(k - 2, a + 1) - cdf(k, a + 1))
    return np.maximum(res, 0.0)


def serial_interval_from_gamma(mean: float, sd: float, max_days: int) -> np.ndarray:
    """``discr_si`` over days 0..max_days with w_0 = 0, renormalised to sum to 1 (the tail
    beyond ``max_days`` is dropped, as EpiEstim's parametric serial interval is)."""
    if max_days < 1:
        raise ValueError("max_days must be >= 1")
    w = discr_si(np.arange(max_days + 1), mean, sd)
    w[0] = 0.0
    return w / w.sum()


def discrete_gamma(mean: float, sd: float, max_days: int) -> np.ndarray:
    """A delay or stay of Gamma(mean, sd) days in whole days d = 0..max_days, discretised
    by EpiEstim's linear interpolation (``discr_si`` of 1 + the delay, shifted back a day),
    which keeps the mean: a stay of mean 9 days is 9 bed-days an admission (Little's law),
    where counting whole days elapsed (F(d+1) − F(d)) would make it about 8.5. The tail
    beyond ``max_days`` is dropped and the rest renormalised."""
    if mean <= 0 or sd <= 0 or max_days < 0:
        raise ValueError("mean and sd must be > 0, max_days >= 0")
    p = discr_si(np.arange(1, max_days + 2), mean + 1, sd)
    return p / p.sum()


def fixed_days(days: int) -> np.ndarray:
    """A delay or stay of exactly ``days`` days."""
    if days < 0:
        raise ValueError("days must be >= 0")
    p = np.zeros(days + 1)
    p[days] = 1.0
    return p


def survival(los_pmf: np.ndarray) -> np.ndarray:
    """P(LOS > k) for k = 0, 1, ... from the length-of-stay distribution (LOS in days; a
    patient admitted on day t occupies a bed on days t .. t+LOS−1), trailing zeros cut.
    Its sum is the mean stay (Little's law: steady occupancy = admissions/day × mean LOS)."""
    s = 1.0 - np.cumsum(los_pmf)
    s = np.clip(s, 0.0, 1.0)
    s[np.abs(s) < 1e-15] = 0.0
    nz = np.flatnonzero(s)
    return s[: nz[-1] + 1] if nz.size else np.zeros(1)
