"""The instantaneous reproduction number Rt by the method of Cori et al. 2013 (AJE
178:1505, doi:10.1093/aje/kwt133) as EpiEstim computes it, for many regions at once.

Total infectiousness Λ_t = Σ_{s≥1} w_s I_{t−s} (cases before the first day count as 0).
Over a window of τ days ending on day t, with a Gamma(a, scale b) prior on R (EpiEstim's
default mean 5, SD 5: a = 1, b = 5), the posterior is Gamma with shape a + ΣI and rate
1/b + ΣΛ. EpiEstim's default windows slide by one day with the first starting on day 2
(0-based: day 1, as day 0 has no Λ) and τ = 7.

A window is reported only if the posterior's coefficient of variation 1/√(a + ΣI) is at
most ``cv_max`` (0.3: ΣI ≥ 11 cases when a = 1); otherwise it says "not enough cases",
never a number. Windows ending in the last ``truncate_days`` days are not estimated:
counts by report date are incomplete there and Rt would fall falsely
(epiforecasts/covid-rt-estimates #88).

Arrays are regions × days (a one-dimensional series is one region); every step is a
numpy operation over the whole array, not a loop per day or region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal, stats

from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.epidemic.service.distributions import validate_serial_interval

__all__ = [
    "NOT_ENOUGH_CASES",
    "NO_WINDOW",
    "REPORTED",
    "TRUNCATED",
    "DayEstimate",
    "Prior",
    "RtSeries",
    "estimate_rt",
    "infectiousness",
    "validate_incidence",
]

#: status of each region × day
REPORTED, NO_WINDOW, NOT_ENOUGH_CASES, TRUNCATED = 0, 1, 2, 3

#: what a reader is told for each status that carries no number
REASONS = {
    NO_WINDOW: N_("No estimate: the window would start before the second day of data."),
    NOT_ENOUGH_CASES: N_(
        "Not enough data: too few cases in the window for a reliable Rt "
        "(coefficient of variation above %(cv_max)s)."
    ),
    TRUNCATED: N_(
        "Not estimated: the last %(days)s days are left out because recent reports "
        "are still incomplete (right truncation)."
    ),
}


@dataclass(frozen=True)
class Prior:
    """Gamma prior on R by its mean and SD (EpiEstim's ``mean_prior``, ``std_prior``)."""

    mean: float = 5.0
    sd: float = 5.0

    @property
    def shape(self) -> float:
        return (self.mean / self.sd) ** 2

    @property
    def scale(self) -> float:
        return self.sd**2 / self.mean


@dataclass(frozen=True)
class DayEstimate:
    """One region's estimate for the window ending on one day, for a reader."""

    day: int
    status: int
    t_start: int | None
    mean: float | None = None
    sd: float | None = None
    lower: float | None = None
    upper: float | None = None
    #: why there is no number (a msgid, filled from ``params``)
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def reported(self) -> bool:
        return self.status == REPORTED


@dataclass(frozen=True, eq=False)
class RtSeries:
    """Rt by region × day of the window's end. Number arrays hold NaN wherever
    ``status`` is not ``REPORTED``."""

    status: np.ndarray  # int8, regions × days
    mean: np.ndarray
    sd: np.ndarray
    median: np.ndarray
    lower: np.ndarray  # the interval's lower quantile (2.5 % by default)
    upper: np.ndarray
    shape: np.ndarray  # the posterior's Gamma shape a + ΣI
    rate: np.ndarray  # and rate 1/b + ΣΛ
    window_days: int
    truncate_days: int
    cv_max: float
    interval: tuple[float, float]
    prior: Prior

    @property
    def regions(self) -> int:
        return self.status.shape[0]

    @property
    def days(self) -> int:
        return self.status.shape[1]

    def t_start(self, day: int) -> int | None:
        start = day - self.window_days + 1
        return start if start >= 1 else None

    def latest(self) -> np.ndarray:
        """Per region, the last day with a reported Rt (−1: none)."""
        ok = self.status == REPORTED
        last = self.days - 1 - np.argmax(ok[:, ::-1], axis=1)
        return np.where(ok.any(axis=1), last, -1)

    def at(self, region: int, day: int) -> DayEstimate:
        s = int(self.status[region, day])
        start = self.t_start(day)
        if s == REPORTED:
            return DayEstimate(
                day,
                s,
                start,
                mean=float(self.mean[region, day]),
                sd=float(self.sd[region, day]),
                lower=float(self.lower[region, day]),
                upper=float(self.upper[region, day]),
            )
        params: dict[str, Any] = {}
        if s == NOT_ENOUGH_CASES:
            params = {"cv_max": self.cv_max}
        elif s == TRUNCATED:
            params = {"days": self.truncate_days}
        return DayEstimate(day, s, start, reason=REASONS[s], params=params)

    def truncation_note(self) -> tuple[str, dict[str, Any]] | None:
        """Why the last days carry no estimate (a msgid and its values), or None."""
        if self.truncate_days == 0:
            return None
        return REASONS[TRUNCATED], {"days": self.truncate_days}


def validate_incidence(incidence: Any, field: str = "incidence") -> np.ndarray:
    """Daily counts as a float array of regions × days: finite and never negative."""
    try:
        a = np.asarray(incidence, dtype=float)
    except (TypeError, ValueError):
        raise Invalid.fields([FieldError(field, N_("Must be a list of numbers."))]) from None
    if a.ndim == 1:
        a = a[np.newaxis, :]
    if a.ndim != 2 or a.shape[1] == 0:
        raise Invalid.fields(
            [FieldError(field, N_("Must be daily counts: regions × days, at least one day."))]
        )
    if not np.all(np.isfinite(a)):
        raise Invalid.fields([FieldError(field, N_("Every value must be a finite number."))])
    if np.any(a < 0):
        raise Invalid.fields([FieldError(field, N_("A daily count may not be negative."))])
    return a


def infectiousness(incidence: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Λ_t = Σ_{s≥1} w_s I_{t−s} along the last axis (a causal filter: ``w_0`` = 0, so
    day t's own cases do not count)."""
    return signal.lfilter(w, [1.0], incidence, axis=-1)


def _window_sums(x: np.ndarray, window: int) -> np.ndarray:
    """Σ over the ``window`` days ending on each day (NaN before a full window)."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    out = np.full(x.shape, np.nan)
    out[:, window - 1 :] = c[:, window:] - c[:, :-window]
    return out


def estimate_rt(
    incidence: Any,
    serial_interval: Any,
    *,
    window_days: int = 7,
    prior: Prior | None = None,
    cv_max: float = 0.3,
    truncate_days: int = 5,
    interval: tuple[float, float] = (0.025, 0.975),
) -> RtSeries:
    """Rt for each region and each day a window ends on (see the module's words).

    ``incidence``: daily cases, days along the last axis (one region or regions × days);
    ``serial_interval``: w_0 = 0, w_1, ... summing to 1 (refused naming the field
    otherwise). The window ending on day t covers days t − τ + 1 .. t and needs
    t − τ + 1 ≥ 1 (0-based; EpiEstim's t_start = 2)."""
    I = validate_incidence(incidence)  # noqa: E741 (the paper's letter)
    w = validate_serial_interval(serial_interval)
    if window_days < 1:
        raise Invalid.fields([FieldError("window_days", N_("Must be at least 1."))])
    if truncate_days < 0:
        raise Invalid.fields([FieldError("truncate_days", N_("May not be negative."))])
    if not cv_max > 0:
        raise Invalid.fields([FieldError("cv_max", N_("Must be positive."))])
    prior = prior or Prior()
    if not (prior.mean > 0 and prior.sd > 0):
        raise Invalid.fields([FieldError("prior", N_("Must be positive."))])
    if not 0 < interval[0] < interval[1] < 1:
        raise ValueError("interval must be two ordered probabilities")
    regions, days = I.shape

    lam = infectiousness(I, w)
    sum_i = _window_sums(I, window_days)
    sum_lam = _window_sums(lam, window_days)
    shape = prior.shape + sum_i
    rate = 1.0 / prior.scale + sum_lam

    day = np.arange(days)
    has_window = (day - window_days + 1) >= 1
    truncated = day >= days - truncate_days
    # CV = 1/√shape ≤ cv_max, compared as shape · cv_max² ≥ 1 with a rounding margin
    enough = shape * cv_max**2 >= 1.0 - 1e-12

    status = np.full((regions, days), REPORTED, dtype=np.int8)
    status[~np.broadcast_to(has_window, status.shape)] = NO_WINDOW
    status[np.broadcast_to(has_window, status.shape) & ~enough] = NOT_ENOUGH_CASES
    status[:, truncated] = TRUNCATED
    ok = status == REPORTED

    shape = np.where(ok, shape, np.nan)
    rate = np.where(ok, rate, np.nan)
    scale = 1.0 / rate
    with np.errstate(invalid="ignore"):
        mean = shape * scale
        sd = np.sqrt(shape) * scale
        median = stats.gamma.ppf(0.5, shape, scale=scale)
        lower = stats.gamma.ppf(interval[0], shape, scale=scale)
        upper = stats.gamma.ppf(interval[1], shape, scale=scale)
    return RtSeries(
        status=status,
        mean=mean,
        sd=sd,
        median=median,
        lower=lower,
        upper=upper,
        shape=shape,
        rate=rate,
        window_days=window_days,
        truncate_days=truncate_days,
        cv_max=cv_max,
        interval=interval,
        prior=prior,
    )
