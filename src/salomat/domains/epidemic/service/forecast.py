"""Projections from Rt: cases by the renewal equation, then admissions and occupied beds
(general and intensive care), as ranges, never one number.

Cases: E[I_{t+1}] = R · Λ_{t+1}, iterated day by day over the horizon with the projected
cases feeding Λ, for each scenario (R × the pack's multipliers, 0.8 / 1 / 1.2 by default)
and each quantile of the region's last reported Rt posterior (2.5 / 50 / 97.5 %): low,
median and high. The projection at the posterior mean is kept beside them (``mean``).

Admissions: cases × hospitalisation ratio, convolved with the onset-to-admission delay;
intensive care: admissions × the ICU share (the same delay). Occupancy on day t:
Σ_k adm_{t−k} · P(LOS > k), each with its own length of stay. The capacity test gives the
first projected day a series passes (strictly exceeds) the beds, or none.

Every operation maps non-negative numbers to non-negative numbers and is monotone in R,
so low ≤ median ≤ high holds for cases, admissions and occupancy alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal, stats

from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.epidemic.service.distributions import survival, validate_pmf
from salomat.domains.epidemic.service.rt import RtSeries, validate_incidence

__all__ = [
    "BANDS",
    "BedProjection",
    "CaseProjection",
    "HospitalParameters",
    "admissions",
    "first_day_above",
    "occupancy",
    "project_beds",
    "project_cases",
    "renewal",
]

#: the three bands a projection is published as
BANDS = ("low", "median", "high")


def _refuse(field: str, message: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field, message, dict(params))])


def renewal(incidence: Any, serial_interval: np.ndarray, r: Any, horizon: int) -> np.ndarray:
    """Expected cases for ``horizon`` days after the data, E[I_{t+1}] = R · Λ_{t+1}.

    ``incidence``: regions × days (or one series); ``r``: one R per region (shape
    ``(regions,)``) or several (``(regions, k)``), or a number for all. Returns
    regions × k × horizon (k = 1 for one R per region). The loop runs over the horizon's
    days only; each step is vectorised over regions and R values."""
    hist = validate_incidence(incidence)
    w = np.asarray(serial_interval, dtype=float)
    r_arr = np.asarray(r, dtype=float)
    if r_arr.ndim == 0:
        r_arr = np.full((hist.shape[0], 1), float(r_arr))
    elif r_arr.ndim == 1:
        r_arr = r_arr[:, np.newaxis]
    if r_arr.shape[0] != hist.shape[0]:
        raise ValueError("r needs one row per region")
    if np.any(r_arr[np.isfinite(r_arr)] < 0):
        raise _refuse("r", N_("May not be negative."))
    regions, days = hist.shape
    k = r_arr.shape[1]
    lags = w[1:]  # w_1 .. w_S
    span = lags.size
    buf = np.zeros((regions, k, days + horizon))
    buf[:, :, :days] = hist[:, np.newaxis, :]
    for h in range(horizon):
        t = days + h
        lo = max(0, t - span)
        past = buf[:, :, lo:t][:, :, ::-1]  # I_{t-1}, I_{t-2}, ...
        lam = past @ lags[: past.shape[2]]
        buf[:, :, t] = r_arr * lam
    return buf[:, :, days:]


@dataclass(frozen=True, eq=False)
class CaseProjection:
    """Projected daily cases per region: ``bands[scenario][band]`` is regions × horizon,
    the horizon's first day being the day after the counts' last (NaN for a region
    without a reported Rt: "not enough data", never a number).

    The renewal continues the complete counts only: the days Rt left out as incomplete
    (right truncation) are projected too, kept apart as ``nowcast`` (regions × those
    days), and feed the horizon in place of their partial counts."""

    scenarios: tuple[str, ...]
    multipliers: tuple[float, ...]
    quantiles: tuple[float, float, float]
    bands: Mapping[str, Mapping[str, np.ndarray]]
    mean: Mapping[str, np.ndarray]  # at the posterior mean R
    history: np.ndarray  # the complete counts the projection continues (regions × days)
    nowcast: Mapping[str, Mapping[str, np.ndarray]]  # the incomplete days, projected
    from_day: np.ndarray  # per region, the day of the Rt used (−1: none)
    horizon: int
    truncated_days: int = 0  # the incomplete days projected in ``nowcast``

    @property
    def projected(self) -> np.ndarray:
        """Regions with a projection (a reported Rt)."""
        return self.from_day >= 0


def project_cases(
    incidence: Any,
    serial_interval: np.ndarray,
    rt: RtSeries,
    *,
    horizon: int = 14,
    scenarios: Mapping[str, float] | None = None,
    quantiles: tuple[float, float, float] = (0.025, 0.5, 0.975),
    horizon_range: tuple[int, int] = (14, 28),
) -> CaseProjection:
    """Cases for ``horizon`` days after the last day of ``incidence`` under each scenario,
    from each region's last reported Rt posterior (``rt``, estimated on the same counts;
    its truncated last days are projected, not read)."""
    hist = validate_incidence(incidence)
    if not horizon_range[0] <= horizon <= horizon_range[1]:
        raise _refuse(
            "horizon",
            N_("Must be between %(min)s and %(max)s days."),
            min=horizon_range[0],
            max=horizon_range[1],
        )
    if not quantiles[0] <= quantiles[1] <= quantiles[2]:
        raise ValueError("quantiles must be ordered")
    scenarios = dict(scenarios or {"lower": 0.8, "unchanged": 1.0, "higher": 1.2})
    if any(m < 0 for m in scenarios.values()):
        raise _refuse("scenarios", N_("A scenario's multiplier may not be negative."))
    if rt.status.shape != hist.shape:
        raise ValueError("rt was estimated on other counts")
    regions = hist.shape[0]
    last = rt.latest()
    have = last >= 0
    idx = np.where(have, last, 0)
    rows = np.arange(regions)
    shape = np.where(have, rt.shape[rows, idx], np.nan)
    scale = np.where(have, 1.0 / rt.rate[rows, idx], np.nan)
    q = np.asarray(quantiles)
    r_q = stats.gamma.ppf(q[np.newaxis, :], shape[:, np.newaxis], scale=scale[:, np.newaxis])
    r_mean = shape * scale
    names = tuple(scenarios)
    mult = np.asarray([scenarios[n] for n in names])
    # regions × (scenario, band | mean) in one renewal run
    r_all = np.concatenate([r_q, r_mean[:, np.newaxis]], axis=1)  # regions × 4
    r_grid = (r_all[:, np.newaxis, :] * mult[np.newaxis, :, np.newaxis]).reshape(regions, -1)
    r_grid = np.where(np.isfinite(r_grid), r_grid, 0.0)
    k = min(rt.truncate_days, hist.shape[1] - 1)
    complete = hist[:, : hist.shape[1] - k]
    span = horizon + k
    cases = renewal(complete, serial_interval, r_grid, span).reshape(regions, len(names), 4, span)
    cases[~have] = np.nan
    bands = {n: {b: cases[:, i, j, k:] for j, b in enumerate(BANDS)} for i, n in enumerate(names)}
    nowcast = {n: {b: cases[:, i, j, :k] for j, b in enumerate(BANDS)} for i, n in enumerate(names)}
    mean = {n: cases[:, i, 3, k:] for i, n in enumerate(names)}
    return CaseProjection(
        scenarios=names,
        multipliers=tuple(float(m) for m in mult),
        quantiles=(float(q[0]), float(q[1]), float(q[2])),
        bands=bands,
        mean=mean,
        history=complete,
        nowcast=nowcast,
        from_day=last,
        horizon=horizon,
        truncated_days=k,
    )


@dataclass(frozen=True)
class HospitalParameters:
    """What turns cases into beds (the pack's ``hospital``; ``illustrative``: no national
    parameter was sourced, pages say so)."""

    hospitalisation_ratio: float  # admissions per case
    icu_share: float  # of admissions, needing intensive care
    admission_delay: np.ndarray  # onset to admission, days 0..
    los: np.ndarray  # general beds, length of stay distribution, days 0..
    icu_los: np.ndarray
    illustrative: bool = False

    def __post_init__(self) -> None:
        for name in ("hospitalisation_ratio", "icu_share"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise _refuse(name, N_("Must be a share between 0 and 1."))
        for name in ("admission_delay", "los", "icu_los"):
            pmf = validate_pmf(getattr(self, name), name)
            pmf.flags.writeable = False
            object.__setattr__(self, name, pmf)


def admissions(cases: np.ndarray, ratio: float, delay: np.ndarray) -> np.ndarray:
    """adm_t = ratio · Σ_d delay_d · cases_{t−d} along the last axis."""
    return signal.lfilter(ratio * np.asarray(delay, dtype=float), [1.0], cases, axis=-1)


def occupancy(adm: np.ndarray, los: np.ndarray) -> np.ndarray:
    """occupancy_t = Σ_k adm_{t−k} · P(LOS > k) along the last axis (patients admitted
    before the first day given are not counted). Never negative."""
    out = signal.lfilter(survival(np.asarray(los, dtype=float)), [1.0], adm, axis=-1)
    return np.maximum(out, 0.0)


def first_day_above(series: np.ndarray, capacity: Any) -> list[int | None]:
    """Per row of ``series`` (regions × days), the first day (0-based) its value exceeds
    ``capacity`` (one number, or one per region), or None. NaN never exceeds."""
    s = np.atleast_2d(np.asarray(series, dtype=float))
    cap = np.broadcast_to(np.asarray(capacity, dtype=float).reshape(-1, 1), (s.shape[0], 1))
    with np.errstate(invalid="ignore"):
        above = s > cap
    first = np.argmax(above, axis=1)
    return [int(f) if above[i].any() else None for i, f in enumerate(first)]


@dataclass(frozen=True, eq=False)
class BedProjection:
    """Occupied beds per region over the horizon, ``general[scenario][band]`` and
    ``icu[scenario][band]`` regions × horizon; the first day each passes its capacity
    (``*_crossing[scenario][band]``: per region, day 0.. of the horizon or None)."""

    admissions: Mapping[str, Mapping[str, np.ndarray]]
    general: Mapping[str, Mapping[str, np.ndarray]]
    icu: Mapping[str, Mapping[str, np.ndarray]]
    general_crossing: Mapping[str, Mapping[str, list[int | None]]]
    icu_crossing: Mapping[str, Mapping[str, list[int | None]]]
    illustrative: bool


def project_beds(
    projection: CaseProjection,
    params: HospitalParameters,
    *,
    beds: Any = np.inf,
    icu_beds: Any = np.inf,
) -> BedProjection:
    """Admissions and occupied beds from the complete counts followed by each projected
    band (the incomplete days' nowcast, then the horizon); capacity (``beds``,
    ``icu_beds``: one number or one per region) is compared on the horizon's days."""
    hist = projection.history
    days = hist.shape[1] + projection.truncated_days
    adm: dict[str, dict[str, np.ndarray]] = {}
    gen: dict[str, dict[str, np.ndarray]] = {}
    icu: dict[str, dict[str, np.ndarray]] = {}
    gx: dict[str, dict[str, list[int | None]]] = {}
    ix: dict[str, dict[str, list[int | None]]] = {}
    for name in projection.scenarios:
        adm[name], gen[name], icu[name], gx[name], ix[name] = {}, {}, {}, {}, {}
        for band in BANDS:
            cases = np.concatenate(
                [hist, projection.nowcast[name][band], projection.bands[name][band]], axis=1
            )
            a = admissions(cases, params.hospitalisation_ratio, params.admission_delay)
            g = occupancy(a, params.los)[:, days:]
            c = occupancy(a * params.icu_share, params.icu_los)[:, days:]
            nan = ~projection.projected
            g[nan] = np.nan
            c[nan] = np.nan
            adm[name][band] = a[:, days:]
            gen[name][band] = g
            icu[name][band] = c
            gx[name][band] = first_day_above(g, beds)
            ix[name][band] = first_day_above(c, icu_beds)
    return BedProjection(adm, gen, icu, gx, ix, params.illustrative)
