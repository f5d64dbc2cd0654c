"""The calendar as the engine reads it from the country pack: ages, dose rules, series.

Pure (no database). ``schedule`` re-exports every name here; callers import
from there.

- Ages are calendar offsets from the birth date: ``"2m"`` is the same day
  two months later (clamped to the month's last day), ``"6w"`` 42 days,
  ``"1d"`` the day after birth.
- A series' ``doses`` are its slots in order: the first valid dose fills the
  first slot, the next valid dose the second, and so on (``counting``). A
  slot's ``dose_number`` is the number the calendar gives it (Uzbekistan's
  DTP booster is dose 4 of the ``dtp`` series, after Penta 1-3).
- ``catch_up``: reduced series for late starters, where a WHO position paper
  defines one (PCV begun at 12-23 months: 2 doses at least 8 weeks apart).
  Which plan applies depends on the age at the first valid dose of the series;
  the plan's slots are the first ``doses`` slots of the series with the plan's
  interval between them, and the later slots are not needed.
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property, lru_cache
from typing import Any

from salomat.country import pack

__all__ = [
    "Age",
    "Calendar",
    "CatchUp",
    "DoseRule",
    "Series",
    "add_age",
    "calendar",
    "parse_age",
]

_AGE = re.compile(r"^(?:\d+[dwmy])+$")
_PART = re.compile(r"(\d+)([dwmy])")


@dataclass(frozen=True, slots=True)
class Age:
    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = [f"{self.years}y" if self.years else "", f"{self.months}m" if self.months else ""]
        if self.days and self.days % 7 == 0:
            parts.append(f"{self.days // 7}w")
        elif self.days or not any(parts):
            parts.append(f"{self.days}d")
        return "".join(parts)


def parse_age(value: str | int | None) -> Age | None:
    """``"2m"``, ``"6w"``, ``"10y"``, ``"0d"``, ``"11y6m"`` (an int is days)."""
    if value is None:
        return None
    if isinstance(value, int):
        return Age(days=value)
    text = str(value).replace(" ", "")
    if not _AGE.match(text):
        raise pack.PackError(f"not an age: {value!r} (use 0d, 6w, 2m, 9y, 11y6m)")
    years = months = days = 0
    for n, unit in _PART.findall(text):
        if unit == "y":
            years += int(n)
        elif unit == "m":
            months += int(n)
        elif unit == "w":
            days += 7 * int(n)
        else:
            days += int(n)
    return Age(years, months, days)


def add_age(start: date, age: Age) -> date:
    """``start`` plus a calendar age (months clamp to the month's last day)."""
    if not age.months and not age.years:
        return start + timedelta(days=age.days) if age.days else start
    months = start.month - 1 + age.months + 12 * age.years
    year = start.year + months // 12
    month = months % 12 + 1
    day = start.day
    if day > 28:
        day = min(day, _calendar.monthrange(year, month)[1])
    out = date(year, month, day)
    return out + timedelta(days=age.days) if age.days else out


@dataclass(frozen=True)
class DoseRule:
    antigen: str
    dose_number: int
    age: Age
    min_age: Age
    min_interval: Age | None
    max_age: Age | None
    #: (antigen, dose) whose date the interval counts from; None: the first dose
    after: tuple[str, int] | None
    booster: bool = False


@dataclass(frozen=True)
class CatchUp:
    """A reduced series: the first valid dose at an age in [``from_age``, ``until_age``)."""

    from_age: Age
    until_age: Age
    #: the plan's slots: the series' first ``len(rules)`` slots with the plan's interval
    rules: tuple[DoseRule, ...]
    min_interval: Age | None
    source: str

    def applies(self, birth: date, first_on: date) -> bool:
        return add_age(birth, self.from_age) <= first_on < add_age(birth, self.until_age)


@dataclass(frozen=True)
class Series:
    antigen: str
    label: str
    vaccines: tuple[str, ...]
    sex: str | None
    doses: tuple[DoseRule, ...]
    source: str = ""
    #: revaccination: (every, from_age, min_interval) or None
    booster_every: Age | None = None
    booster_from_age: Age | None = None
    booster_min_interval: Age | None = None
    booster_max_age: Age | None = None
    catch_up: tuple[CatchUp, ...] = ()

    def plan(self, birth: date, first_on: date | None) -> CatchUp | None:
        """The reduced series that a first dose on ``first_on`` starts (None: the calendar's)."""
        if first_on is None:
            return None
        return next((c for c in self.catch_up if c.applies(birth, first_on)), None)

    def slots(self, birth: date, first_on: date | None) -> tuple[DoseRule, ...]:
        """The rules to fill in order when the first valid dose is on ``first_on``."""
        if not self.catch_up:
            return self.doses
        plan = self.plan(birth, first_on)
        return self.doses if plan is None else plan.rules

    def slot(self, slots: tuple[DoseRule, ...], k: int) -> DoseRule | None:
        """The ``k``-th slot (0-based); past the calendar's last dose, revaccinations if any."""
        if k < len(slots):
            return slots[k]
        if slots is not self.doses or self.booster_every is None or not self.doses:
            return None
        return booster_rule(self, self.doses[-1].dose_number + 1 + k - len(self.doses))


def booster_rule(s: Series, n: int) -> DoseRule:
    return DoseRule(
        antigen=s.antigen,
        dose_number=n,
        age=s.booster_from_age or Age(),
        min_age=s.booster_from_age or Age(),
        min_interval=s.booster_min_interval or s.booster_every,
        max_age=s.booster_max_age,
        after=(s.antigen, n - 1),
        booster=True,
    )


@dataclass(frozen=True)
class Calendar:
    country: str
    source: str
    code_system: str
    series: tuple[Series, ...]
    vaccines: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)

    @cached_property
    def _index(self) -> tuple[dict[str, Series], dict[tuple[str, int], DoseRule]]:
        """Series by antigen and rules by (antigen, dose): the first in pack order wins."""
        series: dict[str, Series] = {}
        rules: dict[tuple[str, int], DoseRule] = {}
        for s in self.series:
            series.setdefault(s.antigen, s)
        for s in series.values():
            for r in s.doses:
                rules.setdefault((s.antigen, r.dose_number), r)
        return series, rules

    @cached_property
    def counting_order(self) -> tuple[Series, ...]:
        """Series so that one whose first dose counts from another's comes after it."""
        index = self._index[0]
        done: dict[str, Series] = {}

        def visit(s: Series, path: tuple[str, ...]) -> None:
            if s.antigen in done or s.antigen in path:
                return
            for r in s.doses:
                if r.after is not None and r.after[0] != s.antigen and r.after[0] in index:
                    visit(index[r.after[0]], (*path, s.antigen))
            done[s.antigen] = s

        for s in index.values():
            visit(s, ())
        return tuple(done.values())

    def get(self, antigen: str) -> Series | None:
        return self._index[0].get(antigen)

    def rule(self, antigen: str, dose_number: int) -> DoseRule | None:
        found = self._index[1].get((antigen, dose_number))
        if found is not None:
            return found
        s = self._index[0].get(antigen)
        if s is None:
            return None
        if s.booster_every is not None and s.doses and dose_number > s.doses[-1].dose_number:
            return booster_rule(s, dose_number)
        return None


def _parse_after(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    antigen, _, n = str(value).partition("/")
    return antigen, int(n)


def _catch_up(antigen: str, rules: list[DoseRule], entries: list[dict[str, Any]]) -> list[CatchUp]:
    """The pack's ``catch_up`` plans, checked: bands in order, apart, within the series."""
    out: list[CatchUp] = []
    day0 = date(2001, 1, 1)
    last_until: date | None = None
    for c in entries:
        start, until = parse_age(c["from_age"]), parse_age(c["until_age"])
        n = int(c["doses"])
        if start is None or until is None or add_age(day0, start) >= add_age(day0, until):
            raise pack.PackError(f"{antigen} catch_up: from_age must be before until_age")
        if last_until is not None and add_age(day0, start) < last_until:
            raise pack.PackError(f"{antigen} catch_up: age bands overlap or are out of order")
        if not 1 <= n <= len(rules):
            raise pack.PackError(f"{antigen} catch_up: doses must be 1 to {len(rules)}")
        if not c.get("source"):
            raise pack.PackError(f"{antigen} catch_up: every plan names its source")
        interval = parse_age(c.get("min_interval"))
        slots = [rules[0]]
        for r in rules[1:n]:
            slots.append(
                replace(
                    r,
                    min_interval=interval or r.min_interval,
                    after=(antigen, slots[-1].dose_number),
                )
            )
        out.append(CatchUp(start, until, tuple(slots), interval, str(c["source"])))
        last_until = add_age(day0, until)
    return out


def _build(country: str, data: dict[str, Any]) -> Calendar:
    series: list[Series] = []
    for s in data.get("series", []):
        antigen = s["antigen"]
        rules: list[DoseRule] = []
        for d in s["doses"]:
            n = int(d["dose"])
            after = _parse_after(d.get("after"))
            if after is None and rules:
                after = (antigen, rules[-1].dose_number)
            age = parse_age(d["age"])
            assert age is not None
            rules.append(
                DoseRule(
                    antigen=antigen,
                    dose_number=n,
                    age=age,
                    min_age=parse_age(d.get("min_age", d["age"])) or age,
                    min_interval=parse_age(d.get("min_interval")),
                    max_age=parse_age(d.get("max_age")),
                    after=after,
                )
            )
        b = s.get("booster") or {}
        series.append(
            Series(
                antigen=antigen,
                label=s["label"],
                vaccines=tuple(s["vaccines"]),
                sex=s.get("sex"),
                doses=tuple(rules),
                source=s.get("source", ""),
                booster_every=parse_age(b.get("every")),
                booster_from_age=parse_age(b.get("from_age")),
                booster_min_interval=parse_age(b.get("min_interval")),
                booster_max_age=parse_age(b.get("max_age")),
                catch_up=tuple(_catch_up(antigen, rules, s.get("catch_up") or [])),
            )
        )
    vaccines = {v["code"]: v for v in data.get("vaccines", [])}
    sites = {x["code"]: x["label"] for x in data.get("sites", [])}
    return Calendar(
        country=country,
        source=data.get("source", ""),
        code_system=data.get("code_system", ""),
        series=tuple(series),
        vaccines=vaccines,
        sites=sites,
    )


@lru_cache
def calendar(country: str) -> Calendar:
    """The country's calendar from ``<CC>/immunization.yaml``."""
    cc = country.upper()
    return _build(cc, pack.immunization(cc))


def cal_of(country: str | Calendar) -> Calendar:
    return country if isinstance(country, Calendar) else calendar(country)
