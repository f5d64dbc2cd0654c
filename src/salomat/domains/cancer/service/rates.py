"""Incidence and mortality rates of the cancer registry: pure arithmetic, no database.

Everything here works on the registry's 18 five-year age bands (index 0 = 0–4 years …
16 = 80–84, 17 = 85+), the bands in which ``territory_population`` is kept. Rates are per
100 000 person-years, as IARC's *Cancer Incidence in Five Continents* publishes them.

- Crude rate: cases / person-years × 100 000.
- Age-standardised rate (direct method; Boyle & Parkin 1991, IARC Sci. Publ. 95, ch. 11):
  ASR = Σ r_i·w_i / Σ w_i, with r_i the band's rate and w_i the standard's weight. The sum
  of the weights is always divided by, never assumed to be 100 000: the WHO standard sums
  to 100 035.
- Cumulative rate 0–74 (Day NE, in Cancer Incidence in Five Continents vol. IV, IARC Sci.
  Publ. 42, 1982; Boyle & Parkin 1991): 5 · Σ r_i over the bands 0–4 … 70–74,
  the number of cases per person that a life without competing deaths would collect by 75;
  cumulative risk = 1 − exp(−cumulative rate).

Confidence intervals (95 %)
---------------------------
The crude rate's interval is the exact Poisson interval (Garwood 1936): the lower limit is
the mean under which ``cases`` or more would be seen with probability 2.5 %, the upper the
mean under which ``cases`` or fewer would. In gamma terms, lower = Gamma(cases).ppf(0.025)
and upper = Gamma(cases + 1).ppf(0.975).

The ASR's interval is Fay & Feuer's gamma interval (Fay MP, Feuer EJ. Confidence intervals
for directly standardized rates: a method based on the gamma distribution. Stat Med
1997;16:791–801), not Boyle & Parkin's normal approximation (ASR ± 1.96·SE with
SE² = Σ (w_i/Σw)² · c_i / py_i² × 10¹⁰). A regional registry counts few cases per site, sex
and year; with few cases the normal interval is symmetric where the rate's distribution is
skewed, so it undercovers, its lower limit falls below zero (which would have to be clamped)
and with no cases it collapses to [0, 0]. The gamma interval never goes below zero, keeps at
least its nominal coverage however few the cases (Fay & Feuer's simulations), gives a
positive upper limit when no case was seen, and for a single age band it is exactly the
crude rate's Poisson interval scaled by that band's share of the weights. ``w_M``, the
largest per-case weight, is taken over every band that has population, as in the paper.

The gamma quantiles are scipy's (``scipy.special.gammaincinv``, the field library DESIGN
names for intervals); a hand-written bisection over the incomplete gamma function spent
85 % of the rates table's time (make bench, issue 16). The tests pin the results to
published exact Poisson limits and to the definition of the interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import gammainccinv, gammaincinv

from salomat.core.errors import Invalid
from salomat.core.i18n import N_

#: Number of five-year age bands: 0–4 … 80–84 and the open band 85+.
BANDS = 18
#: Width of every band but the last, in years.
BAND_YEARS = 5
#: Rates are per this many person-years.
PER = 100_000
#: Two-sided confidence level of every interval here.
CONFIDENCE = 0.95


def age_band(age_years: int) -> int:
    """The band (0 = 0–4 … 17 = 85+) an age at diagnosis, or at the census, falls in."""
    if age_years < 0:
        raise ValueError(f"age must not be negative, got {age_years}")
    return min(age_years // BAND_YEARS, BANDS - 1)


def band_label(band: int) -> str:
    """``"40–44"``, or ``"85+"`` for the open band: how tables and messages name a band."""
    if not 0 <= band < BANDS:
        raise ValueError(f"age band must be 0..{BANDS - 1}, got {band}")
    low = band * BAND_YEARS
    return f"{low}+" if band == BANDS - 1 else f"{low}–{low + BAND_YEARS - 1}"


@dataclass(frozen=True)
class Standard:
    """A standard population as weights over the registry's 18 age bands."""

    code: str
    #: msgid of the standard's name, shown next to every ASR computed with it
    name: str
    #: the publication the weights come from
    source: str
    weights: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != BANDS:
            raise ValueError(f"{self.code}: {len(self.weights)} weights, need {BANDS}")

    @property
    def total(self) -> int:
        """Σw, the divisor of the ASR (100 000 for Segi, 100 035 for WHO)."""
        return sum(self.weights)


#: Segi's world population (Segi M. Cancer mortality for selected sites in 24 countries
#: 1950–57. Sendai, 1960) as modified by Doll, Payne & Waterhouse (Cancer Incidence in Five
#: Continents vol. I, UICC 1966): 18 groups 0–4 … 85+, summing to 100 000.
SEGI = Standard(
    code="segi",
    name=N_("World standard population (Segi 1960, modified by Doll et al. 1966)"),
    source="Segi 1960; Doll, Payne & Waterhouse 1966",
    weights=(
        12000, 10000, 9000, 9000, 8000, 8000, 6000, 6000, 6000,
        6000, 5000, 4000, 4000, 3000, 2000, 1000, 500, 500,
    ),
)  # fmt: skip

#: The WHO world standard population 2000–2025 (Ahmad OB, Boschi-Pinto C, Lopez AD, Murray
#: CJL, Lozano R, Inoue M. Age standardization of rates: a new WHO standard. GPE Discussion
#: Paper Series no. 31, WHO 2001), 21 groups 0–4 … 100+, summing to 100 035 (the paper's
#: rounding). Our population is kept only up to 85+, so the groups 85–89, 90–94, 95–99 and
#: 100+ (440 + 150 + 40 + 5) are collapsed into one weight of 635 for 85+. A rate that is
#: the same across those four groups gets the same ASR either way; the collapse only gives
#: up the age detail above 85 that the registry's population does not have.
WHO_WORLD_FULL = (
    8860, 8690, 8600, 8470, 8220, 7930, 7610, 7150, 6590, 6040, 5370,
    4550, 3720, 2960, 2210, 1520, 910, 440, 150, 40, 5,
)  # fmt: skip
WHO2000 = Standard(
    code="who2000",
    name=N_("WHO world standard population 2000–2025 (Ahmad et al. 2001)"),
    source="Ahmad et al. 2001, GPE Discussion Paper 31",
    weights=(*WHO_WORLD_FULL[: BANDS - 1], sum(WHO_WORLD_FULL[BANDS - 1 :])),
)

STANDARDS: dict[str, Standard] = {s.code: s for s in (SEGI, WHO2000)}


@dataclass(frozen=True)
class Rate:
    """A rate per 100 000 person-years with its 95 % confidence interval."""

    value: float
    low: float
    high: float


class MissingPopulation(Invalid, ValueError):
    """Cases were counted where the population says nobody lived: the population loaded for
    the territory lacks an age band (or the period), and any rate would be made up."""


def crude(cases: int, person_years: float) -> Rate:
    """Cases per 100 000 person-years, with the exact Poisson 95 % interval (Garwood 1936)."""
    _check_counts([cases], [person_years])
    if person_years <= 0:
        raise _missing(None)
    alpha = 1 - CONFIDENCE
    scale = PER / person_years
    low = _gamma_ppf(alpha / 2, cases) * scale if cases else 0.0
    high = _gamma_ppf(1 - alpha / 2, cases + 1) * scale
    return Rate(cases * scale, low, high)


def asr(cases: Sequence[int], person_years: Sequence[float], standard: Standard) -> Rate:
    """Directly age-standardised rate per 100 000 with Fay & Feuer's (1997) 95 % interval.

    ``cases`` and ``person_years`` are per band (18 each). A band without person-years adds
    nothing to the rate; cases in such a band raise :class:`MissingPopulation`.
    """
    _check_counts(cases, person_years)
    if len(cases) != BANDS:
        raise ValueError(f"need {BANDS} age bands, got {len(cases)}")
    total = standard.total
    # Each case in band i adds this much to the ASR (per 100 000): Fay & Feuer's w_i.
    per_case = []
    for band, (c, py, w) in enumerate(zip(cases, person_years, standard.weights, strict=True)):
        if py <= 0:
            if c:
                raise _missing(band, c)
            continue
        per_case.append((c, w / total * PER / py))
    if not per_case:
        raise _missing(None)
    value = sum(c * wi for c, wi in per_case)
    variance = sum(c * wi * wi for c, wi in per_case)
    w_max = max(wi for _, wi in per_case)
    alpha = 1 - CONFIDENCE
    low = _gamma_ppf(alpha / 2, value**2 / variance) * variance / value if value else 0.0
    up_mean, up_var = value + w_max, variance + w_max**2
    high = _gamma_ppf(1 - alpha / 2, up_mean**2 / up_var) * up_var / up_mean
    return Rate(value, low, high)


def cumulative_rate(cases: Sequence[int], person_years: Sequence[float], upto: int = 75) -> float:
    """Cumulative rate from birth to ``upto`` (0–74 by default), in percent, as IARC publishes.

    5 · Σ r_i over the bands below ``upto`` is cases per 100 000 persons; divided by 1 000 it
    reads as percent (Day NE 1982, IARC Sci. Publ. 42; Boyle & Parkin 1991, ch. 11).
    """
    return _cumulative_per_100k(cases, person_years, upto) / (PER / 100)


def cumulative_risk(cases: Sequence[int], person_years: Sequence[float], upto: int = 75) -> float:
    """Risk, in percent, of the disease before ``upto`` in the absence of other causes of death:
    100 · (1 − exp(−cumulative rate per 100 000 / 100 000))."""
    return 100 * -math.expm1(-_cumulative_per_100k(cases, person_years, upto) / PER)


def _cumulative_per_100k(cases: Sequence[int], person_years: Sequence[float], upto: int) -> float:
    _check_counts(cases, person_years)
    if len(cases) != BANDS:
        raise ValueError(f"need {BANDS} age bands, got {len(cases)}")
    # The open band 85+ has no width, so it can never be summed over.
    if upto % BAND_YEARS or not BAND_YEARS <= upto <= (BANDS - 1) * BAND_YEARS:
        raise ValueError(f"upto must be a multiple of 5 from 5 to 85, got {upto}")
    total = 0.0
    for band in range(upto // BAND_YEARS):
        c, py = cases[band], person_years[band]
        if py <= 0:
            if c:
                raise _missing(band, c)
            continue
        total += c / py * PER
    return BAND_YEARS * total


def _check_counts(cases: Sequence[int], person_years: Sequence[float]) -> None:
    if len(cases) != len(person_years):
        raise ValueError(f"{len(cases)} case counts but {len(person_years)} person-years")
    if any(c < 0 for c in cases) or any(py < 0 for py in person_years):
        raise ValueError("cases and person-years must not be negative")
    if any(c != int(c) for c in cases):
        raise ValueError("cases must be whole numbers")


def _missing(band: int | None, cases: int = 0) -> MissingPopulation:
    if band is None:
        return MissingPopulation(
            N_(
                "No population is recorded for the territory and period, "
                "so no rate can be computed."
            )
        )
    return MissingPopulation(
        N_(
            "%(cases)s cases aged %(band)s but no population of that age is recorded for the "
            "territory and period; load the population first."
        ),
        params={"cases": cases, "band": band_label(band)},
    )


# --- the gamma distribution ------------------------------------------------------------


def _gamma_ppf(p: float, shape: float) -> float:
    """The ``p`` quantile of the gamma distribution with this shape and scale 1 (scipy's
    inverse of the regularised incomplete gamma, taken in the tail that is small)."""
    if not 0 < p < 1 or shape <= 0:
        raise ValueError(f"gamma quantile needs 0 < p < 1 and shape > 0, got {p}, {shape}")
    if p <= 0.5:
        return float(gammaincinv(shape, p))
    return float(gammainccinv(shape, 1 - p))
