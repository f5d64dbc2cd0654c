"""Births and deaths over a history of years, at the pack's vital rates (``salomat synth``).

The synthetic people are drawn alive-or-dead from today's pyramid; this module
decides who of them died, when and of what, so that the indicators computed
from the register (infant, neonatal, early-neonatal, under-5 and maternal
mortality, crude death rate, premature NCD mortality) come out near the
pack's figures (``population.yaml``, ``vital``) for every year of the history:
the last ``history_years`` complete years and this year to date.

- Infants: each child born in the history (or the year before it) dies before
  one year with the infant mortality of its birth year (the latest year's rate,
  higher by ``infant_decline`` a year before it, so a trend has a slope); the
  age at death splits into early neonatal (0-6 days, ``first_day_share`` of them
  on day 0), late neonatal (7-27) and post-neonatal (28-364) by the pack's shares.
- Children 1-4: ``under5_mortality`` less the infant rate, same trend.
- Maternal: a mother dies within 42 days of a birth at ``maternal_mortality``
  per 100 000 live births, of an obstetric cause (O00-O95, O98-O99).
- Everyone else (5 and over): the crude death rate less the deaths above,
  weighted by the pack's relative risk by age band; causes by age at death
  (``young_death_causes`` under 30, ``death_causes`` from 30).

A death that would fall after the as-of day has not happened: that person is
alive. One pass over the people, set-wise; one seeded generator.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from random import Random
from typing import Any

__all__ = ["VitalRates", "draw_deaths", "history_start", "vital_rates"]

_YEAR = 365.2425
_BAND_DAYS = 1826  # five years, as the registry synth bands ages


@dataclass(frozen=True)
class VitalRates:
    """The pack's ``vital`` block, read once."""

    history_years: int
    crude_birth_rate: float
    crude_death_rate: float
    infant_mortality: float
    infant_decline: float
    neonatal_share: float
    early_neonatal_share: float
    first_day_share: float
    under5_mortality: float
    maternal_mortality: float
    death_risk: tuple[float, ...]
    death_causes: dict[str, float]
    young_death_causes: dict[str, float]
    infant_death_causes: dict[str, float]
    child_death_causes: dict[str, float]
    maternal_death_causes: dict[str, float]

    def infant_rate(self, birth_year: int, latest: int) -> float:
        """Per 1000 live births for children born in ``birth_year``."""
        return self.infant_mortality * (1 + self.infant_decline) ** max(0, latest - birth_year)

    def child_rate(self, birth_year: int, latest: int) -> float:
        """Per 1000 live births: deaths at 1-4 years of children born in ``birth_year``."""
        extra = max(0.0, self.under5_mortality - self.infant_mortality)
        return extra * (1 + self.infant_decline) ** max(0, latest - birth_year)


def vital_rates(cfg: dict[str, Any]) -> VitalRates:
    v = cfg["vital"]

    def weights(key: str, source: dict[str, Any] | None = None) -> dict[str, float]:
        return {str(k): float(w) for k, w in (source if source is not None else v)[key].items()}

    return VitalRates(
        history_years=int(v["history_years"]),
        crude_birth_rate=float(v["crude_birth_rate"]),
        crude_death_rate=float(cfg["crude_death_rate"]),
        infant_mortality=float(v["infant_mortality"]),
        infant_decline=float(v["infant_decline"]),
        neonatal_share=float(v["neonatal_share"]),
        early_neonatal_share=float(v["early_neonatal_share"]),
        first_day_share=float(v["first_day_share"]),
        under5_mortality=float(v["under5_mortality"]),
        maternal_mortality=float(v["maternal_mortality"]),
        death_risk=tuple(float(x) for x in cfg["death_risk"]),
        death_causes=weights("death_causes", cfg),
        young_death_causes=weights("young_death_causes"),
        infant_death_causes=weights("infant_death_causes", cfg),
        child_death_causes=weights("child_death_causes"),
        maternal_death_causes=weights("maternal_death_causes"),
    )


def history_start(as_of: date, years: int) -> date:
    """The first day of the history: 1 January ``years`` complete years before this one."""
    return date(as_of.year - years, 1, 1)


class _Pick:
    """A weighted choice of ICD-10 codes by bisection of cumulative weights."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.keys = list(weights)
        self.cum = list(accumulate(weights.values()))

    def __call__(self, rng: Random) -> str:
        at = bisect_right(self.cum, rng.random() * self.cum[-1])
        return self.keys[min(at, len(self.keys) - 1)]


def _infant_age(rng: Random, v: VitalRates) -> int:
    """Completed days at death of an infant death, by the pack's neonatal shares."""
    u = rng.random()
    early = v.neonatal_share * v.early_neonatal_share
    if u < early:
        return 0 if rng.random() < v.first_day_share else rng.randint(1, 6)
    if u < v.neonatal_share:
        return rng.randint(7, 27)
    # post-neonatal deaths thin out over the first year
    return 28 + int(337 * rng.random() ** 2)


def draw_deaths(
    rng: Random,
    v: VitalRates,
    as_of: date,
    birth: Sequence[int],
    sex: Sequence[int],
    mother: Sequence[int] | None = None,
    *,
    adults: bool = True,
) -> tuple[array, list[str]]:
    """Who died (ordinal of the day, 0: alive) and the underlying cause, for each person.

    ``birth``: ordinals; ``sex``: 1 for a woman; ``mother``: the index of each
    person's mother in the same arrays, or -1. ``adults=False`` draws only the
    deaths of children under 5 (a birth cohort without the rest of the people).
    """
    n = len(birth)
    today = as_of.toordinal()
    start = history_start(as_of, v.history_years).toordinal()
    latest = as_of.year - 1
    deceased = array("i", bytes(4 * n))
    cause: list[str] = [""] * n
    infant_cause = _Pick(v.infant_death_causes)
    child_cause = _Pick(v.child_death_causes)
    fromordinal = date.fromordinal
    rates: dict[int, tuple[float, float]] = {}
    five = int(5 * _YEAR)
    births_per_year = 0.0
    child_deaths = 0.0
    for i in range(n):
        born = birth[i]
        if born >= today or born < start - five:
            continue
        y = fromordinal(born).year
        r = rates.get(y)
        if r is None:
            infant = v.infant_rate(y, latest) / 1000
            r = rates[y] = (infant, infant + v.child_rate(y, latest) / 1000)
        u = rng.random()
        if born >= start:
            births_per_year += 1
            child_deaths += r[1]
        if u < r[0]:
            day = born + _infant_age(rng, v)
            why = infant_cause(rng)
        elif u < r[1]:
            day = born + 365 + int((five - 365) * rng.random() ** 1.5)
            why = child_cause(rng)
        else:
            continue
        if start <= day < today:
            deceased[i] = day
            cause[i] = why
    if mother is not None:
        maternal = v.maternal_mortality / 100_000
        maternal_cause = _Pick(v.maternal_death_causes)
        for i in range(n):
            m = mother[i]
            born = birth[i]
            if m < 0 or born < start or born >= today or deceased[m] or not sex[m]:
                continue
            if rng.random() >= maternal:
                continue
            day = born + rng.randint(0, 42)
            if day < today and 15 * _YEAR <= day - birth[m] < 50 * _YEAR:
                deceased[m] = day
                cause[m] = maternal_cause(rng)
    if not adults:
        return deceased, cause
    years = (today - start) / _YEAR
    births_per_year /= years or 1.0
    child_deaths /= years or 1.0
    risk = v.death_risk
    last = len(risk) - 1
    bands = [min(last, (today - b) // _BAND_DAYS) if b < today else 0 for b in birth]
    total_risk = sum(risk[b] for b in bands if b > 0) or 1.0
    expected = max(0.0, n * v.crude_death_rate / 1000 - child_deaths)
    prob = [min(1.0, expected * r / total_risk * years) for r in risk]
    old_cause = _Pick(v.death_causes)
    young_cause = _Pick(v.young_death_causes)
    span = today - start
    thirty = int(30 * _YEAR)
    for i in range(n):
        b = bands[i]
        if b == 0 or deceased[i] or rng.random() >= prob[b]:
            continue
        day = today - rng.randint(1, span)
        born = birth[i]
        if day - born < five:
            continue
        deceased[i] = day
        cause[i] = old_cause(rng) if day - born >= thirty else young_cause(rng)
    return deceased, cause
