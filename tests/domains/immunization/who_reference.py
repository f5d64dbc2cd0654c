"""Which doses count, written from the sources, never from the engine or the pack.

The tests compare the engine (``service/counting.py``) and the coverage SQL
with this reference. Sources:

- WHO "Table 2: Recommended routine immunizations for children" and "Table 3:
  Recommendations for interrupted or delayed routine immunization" (summaries
  of the WHO position papers): DTP-containing vaccine, 3 primary doses from 6
  weeks at least 4 weeks apart, then a booster at least 6 months after the
  third; doses of any DTP-containing product count in one sequence.
- WHO DTP position paper 2017: whole-cell pertussis (DTP, Penta) is not given
  from 7 years. WHO Hib position paper 2013: no Hib for healthy children over 5
  years, so Penta (DTP-HepB-Hib) not from 5 years.
- WHO rotavirus position paper 2021: from 6 weeks, 4 weeks apart, not from 24
  months (the Uzbek product: 3 doses).
- WHO PCV position paper 2019: 2p+1, booster from 9 months; begun at 12-23
  months, 2 doses at least 8 weeks apart; from 24 months 1 dose (ACIP's
  catch-up schedule); not from 5 years.
- MMR: WHO, the second dose at least 4 weeks after the first.
- ACIP General Best Practice Guidelines, timing and spacing: a dose given too
  early does not count and is repeated no sooner than the place's minimum
  interval after the invalid dose (4 weeks when the place has none); a series
  is never restarted; an extra dose once the series is complete counts for
  nothing. The reference applies the repeat spacing after any dose that does
  not count.

Where Uzbekistan's calendar sets its own rule the reference says so beside it
(PCV primary doses 4 weeks apart, DTP booster from 12 months, MMR from 12 and
13 months, MMR upper age 18 years).
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import date, timedelta


def months_after(born: date, months: int) -> date:
    """The same day ``months`` calendar months later (the last day of a shorter month)."""
    y, m = divmod(born.month - 1 + months, 12)
    year, month = born.year + y, m + 1
    return date(year, month, min(born.day, _cal.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Place:
    #: minimum age: months then days (6 weeks = (0, 42))
    min_months: int = 0
    min_days: int = 0
    #: after the previous counted dose: calendar months and days
    gap_months: int = 0
    gap_days: int = 0

    @property
    def has_gap(self) -> bool:
        return bool(self.gap_months or self.gap_days)

    def earliest(self, born: date, previous: date | None) -> date:
        day = months_after(born, self.min_months) + timedelta(days=self.min_days)
        if previous is not None and self.has_gap:
            day = max(day, months_after(previous, self.gap_months) + timedelta(days=self.gap_days))
        return day

    def repeat_after(self, invalid: date) -> date:
        if self.has_gap:
            return months_after(invalid, self.gap_months) + timedelta(days=self.gap_days)
        return invalid + timedelta(days=28)


SIX_WEEKS = Place(0, 42)
FOUR_WEEKS_ON = Place(gap_days=28)

#: the sequences: places in order, and each product's upper age in months (exclusive)
SEQUENCES: dict[str, tuple[list[Place], dict[str, int]]] = {
    # DTP-containing: 3 primary doses, then the booster 6 months after the third (UZ
    # calendar: not before 12 months); Penta stops at 5 years (Hib), DTP at 7 (wP)
    "dtp": (
        [SIX_WEEKS, FOUR_WEEKS_ON, FOUR_WEEKS_ON, Place(12, 0, 6, 0)],
        {"penta": 60, "dtp": 84},
    ),
    "rota": ([SIX_WEEKS, FOUR_WEEKS_ON, FOUR_WEEKS_ON], {"rota": 24}),
    # UZ calendar: primary doses 1 month apart (at least 4 weeks); booster from 9 months,
    # at least 8 weeks after the second
    "pcv": ([SIX_WEEKS, FOUR_WEEKS_ON, Place(9, 0, 0, 56)], {"pcv": 60}),
    # UZ calendar: MMR 1 from 12 months, MMR 2 from 13 months; upper age 18 years (UNVERIFIED
    # in the pack, kept here as the calendar's)
    "mmr": ([Place(12), Place(13, 0, 0, 28)], {"mmr": 216}),
}

#: same-day order of the products of one sequence (not from the sources: the register's rule)
PRODUCT_ORDER = {"penta": 0, "dtp": 1}

#: the series of each product (the register's ``antigen``) -> its sequence
SEQUENCE_OF = {"penta": "dtp", "dtp": "dtp", "rota": "rota", "pcv": "pcv", "mmr": "mmr"}


def pcv_late(born: date, first: date) -> list[Place] | None:
    """WHO PCV 2019: begun at 12-23 months, 2 doses 8 weeks apart; ACIP: from 24 months, 1."""
    if months_after(born, 12) <= first < months_after(born, 24):
        return [SIX_WEEKS, Place(gap_days=56)]
    if months_after(born, 24) <= first < months_after(born, 60):
        return [SIX_WEEKS]
    return None


@dataclass(frozen=True)
class Counted:
    #: (date, product) of the doses that count, in order: the n-th is place n
    places: list[tuple[date, str]]
    #: how many places the child's plan has (PCV begun late: 2 or 1)
    plan: int

    @property
    def complete(self) -> bool:
        return len(self.places) >= self.plan


def who_count(born: date, sequence: str, doses: list[tuple[str, date]]) -> Counted:
    """The doses of one sequence that count, from (product, date) pairs in any order."""
    plan, upper = SEQUENCES[sequence]
    counted: list[tuple[date, str]] = []
    last_invalid: dict[int, date] = {}
    # two doses on one day (the sources do not say which counts): Penta before DTP, then as
    # given, the register's own rule
    for day, _, product in sorted(
        ((d, PRODUCT_ORDER.get(p, 0), p) for p, d in doses), key=lambda x: (x[0], x[1])
    ):
        k = len(counted)
        if k >= len(plan):
            continue  # the series is complete: an extra dose counts for nothing
        place = plan[k]
        ok = day >= place.earliest(born, counted[-1][0] if counted else None)
        ok = ok and day < months_after(born, upper[product])
        if ok and k in last_invalid:
            ok = day >= place.repeat_after(last_invalid[k])
        if ok:
            counted.append((day, product))
            if k == 0 and sequence == "pcv":
                plan = pcv_late(born, day) or plan
        else:
            last_invalid[k] = day
    return Counted(counted, len(plan))


def who_places(born: date, doses: list[tuple[str, date]]) -> dict[tuple[str, int], date]:
    """(sequence, place) -> date, for a child's doses of every sequence (product, date)."""
    out: dict[tuple[str, int], date] = {}
    by_sequence: dict[str, list[tuple[str, date]]] = {}
    for product, day in doses:
        if product in SEQUENCE_OF:
            by_sequence.setdefault(SEQUENCE_OF[product], []).append((product, day))
    for sequence, given in by_sequence.items():
        for n, (day, _) in enumerate(who_count(born, sequence, given).places, start=1):
            out[(sequence, n)] = day
    return out


def who_complete_on(born: date, sequence: str, doses: list[tuple[str, date]]) -> date | None:
    """The day the child's series became complete under the child's plan (None: not yet)."""
    c = who_count(born, sequence, [(p, d) for p, d in doses if SEQUENCE_OF.get(p) == sequence])
    return c.places[c.plan - 1][0] if c.complete else None
