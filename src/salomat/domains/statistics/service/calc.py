"""The arithmetic of the indicators: rates and their intervals, small-cell suppression,
SDG 3.4.1 and the abridged life table. Pure functions, no database.

Intervals. A rate's 95 % interval is the exact Poisson interval of its numerator, scaled
by multiplier / denominator: lower = Gamma(k).ppf(0.025), upper = Gamma(k + 1).ppf(0.975)
(Ulm K. A simple method to calculate the confidence interval of a standardized mortality
ratio. Am J Epidemiol 1990;131:373-5). The denominator is taken as known (a count of
live births or of person-years from the register), as the WHO and national vital
statistics do for ratios per live births. The gamma quantiles are scipy's.

Suppression. A cell whose numerator is below ``SUPPRESS_BELOW`` (5) is withheld in every
public output: its value, numerator and interval are not shown, and it is flagged. Raw
counts stay in the ``indicator_value`` table, which no public output reads unmasked.

SDG 3.4.1 (WHO indicator metadata 3.4.1, "Mortality rate attributed to cardiovascular
disease, cancer, diabetes or chronic respiratory disease"): for each five-year age group
30-34 ... 65-69, M = deaths from I00-I99, C00-C97, E10-E14, J30-J98 / population,
q = 5M / (1 + 2.5M); the probability of dying between exact ages 30 and 70 from these
causes is 1 - prod(1 - q).

Life table. The abridged period life table by Chiang's method (Chiang CL. The Life Table
and its Applications. Malabar: Krieger, 1984), in the form the UK Office for National
Statistics and Public Health England use for sub-national life expectancy ("Chiang II";
Eayres D, Williams ES. Evaluation of methodologies for small area life expectancy
estimation. J Epidemiol Community Health 2004;58:243-9): age groups 0, 1-4, 5-9 ... 80-84,
85+; fraction of the interval lived by those who die in it ``a`` = 0.1 for the first year
and 0.5 for every other closed interval; q = n M / (1 + n (1 - a) M); the open group 85+
has q = 1 and L = l / M. Its variance is Chiang's, as Eayres and Williams give it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import gammainccinv, gammaincinv

from salomat.core.suppression import SUPPRESS_BELOW

__all__ = [
    "LIFE_TABLE_AGES",
    "SDG341_AGES",
    "SUPPRESS_BELOW",
    "LifeTable",
    "Rate",
    "life_table",
    "poisson_interval",
    "q_from_rate",
    "rate",
    "sdg_341",
    "sdg_341_from_rates",
    "suppressed",
]

#: lower bounds of the life table's age groups: 0, 1-4, 5-9, ..., 80-84, 85+
LIFE_TABLE_AGES: tuple[int, ...] = (0, 1, *range(5, 90, 5))
#: lower bounds of SDG 3.4.1's five-year groups, 30-34 ... 65-69
SDG341_AGES: tuple[int, ...] = tuple(range(30, 70, 5))
#: Chiang II's fraction of the interval lived by those dying in it (first year; others)
A_INFANT, A_OTHER = 0.1, 0.5
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """A value with its 95 % interval (None where it has none: no denominator)."""

    value: float | None
    low: float | None = None
    high: float | None = None


def _gamma_ppf(p: float, shape: float) -> float:
    if p <= 0.5:
        return float(gammaincinv(shape, p))
    return float(gammainccinv(shape, 1 - p))


def poisson_interval(count: int, alpha: float = 0.05) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson count; no events: [0, 3.689]."""
    if count < 0:
        raise ValueError(f"a count is never negative, got {count}")
    low = _gamma_ppf(alpha / 2, count) if count else 0.0
    high = _gamma_ppf(1 - alpha / 2, count + 1)
    return low, high


def rate(numerator: float, denominator: float, multiplier: float = 1.0) -> Rate:
    """numerator / denominator x multiplier with the Poisson interval of the numerator;
    no denominator: no value (a rate of nothing is not zero)."""
    if denominator <= 0:
        return Rate(None)
    scale = multiplier / denominator
    k = round(numerator)
    low, high = poisson_interval(k)
    return Rate(numerator * scale, low * scale, high * scale)


def suppressed(count: float | None) -> bool:
    """A cell below the threshold (a missing count is not a small one)."""
    return count is not None and count < SUPPRESS_BELOW


def q_from_rate(m: float, n: float = 5.0) -> float:
    """The probability of dying in an n-year interval from the central rate (a = n / 2)."""
    return n * m / (1 + n / 2 * m)


def sdg_341_from_rates(rates: Sequence[float]) -> float:
    """SDG 3.4.1 from the eight age-specific rates (per person, not per 100 000)."""
    if len(rates) != len(SDG341_AGES):
        raise ValueError(f"SDG 3.4.1 takes {len(SDG341_AGES)} rates, got {len(rates)}")
    survive = 1.0
    for m in rates:
        if m < 0:
            raise ValueError("a death rate is never negative")
        survive *= 1 - q_from_rate(m)
    return 1 - survive


def sdg_341(deaths: Sequence[int], population: Sequence[float]) -> float | None:
    """SDG 3.4.1 from deaths and populations of the eight groups; None when a group has
    no population (the probability is not defined)."""
    if any(p <= 0 for p in population):
        return None
    return sdg_341_from_rates([d / p for d, p in zip(deaths, population, strict=True)])


@dataclass(frozen=True)
class LifeTable:
    ages: tuple[int, ...]
    m: tuple[float, ...]
    q: tuple[float, ...]
    lx: tuple[float, ...]
    big_l: tuple[float, ...]
    tx: tuple[float, ...]
    ex: tuple[float, ...]
    #: life expectancy at birth and its 95 % interval (Chiang's variance)
    e0: Rate


def life_table(
    deaths: Sequence[float],
    population: Sequence[float],
    radix: float = 100_000,
    ages: Sequence[int] = LIFE_TABLE_AGES,
) -> LifeTable | None:
    """The abridged life table of deaths and mid-year population per age group
    (``ages``: 0, 1, 5, ..., the last open). None when it can't be built: a group without
    population, or no deaths in the open group (its L = l / M is then undefined)."""
    n_groups = len(ages)
    if len(deaths) != n_groups or len(population) != n_groups:
        raise ValueError(f"a life table takes {n_groups} age groups")
    if any(p <= 0 for p in population) or any(d < 0 for d in deaths) or deaths[-1] <= 0:
        return None
    widths = [b - a for a, b in itertools.pairwise(ages)]
    m = [d / p for d, p in zip(deaths, population, strict=True)]
    a = [A_INFANT] + [A_OTHER] * (n_groups - 1)
    q: list[float] = []
    for i, n in enumerate(widths):
        q.append(min(1.0, n * m[i] / (1 + n * (1 - a[i]) * m[i])))
    q.append(1.0)
    lx = [radix]
    for qi in q[:-1]:
        lx.append(lx[-1] * (1 - qi))
    big_l = []
    for i, n in enumerate(widths):
        dx = lx[i] - lx[i + 1]
        big_l.append(n * (lx[i + 1] + a[i] * dx))
    big_l.append(lx[-1] / m[-1])
    tx = [0.0] * n_groups
    acc = 0.0
    for i in range(n_groups - 1, -1, -1):
        acc += big_l[i]
        tx[i] = acc
    ex = [t / lv if lv > 0 else 0.0 for t, lv in zip(tx, lx, strict=True)]
    # Chiang's variance of e0 (Eayres & Williams 2004, appendix)
    var = 0.0
    for i, n in enumerate(widths):
        if deaths[i] == 0:
            continue
        var_q = q[i] ** 2 * (1 - q[i]) / deaths[i]
        var += lx[i] ** 2 * ((1 - a[i]) * n + ex[i + 1]) ** 2 * var_q
    var += (lx[-1] / 2) ** 2 * 4 / (deaths[-1] * m[-1] ** 2)
    se = math.sqrt(var) / radix
    e0 = ex[0]
    return LifeTable(
        ages=tuple(ages),
        m=tuple(m),
        q=tuple(q),
        lx=tuple(lx),
        big_l=tuple(big_l),
        tx=tuple(tx),
        ex=tuple(ex),
        e0=Rate(e0, e0 - Z95 * se, e0 + Z95 * se),
    )
