"""The immunization schedule engine: pure, no database.

Public surface (stable; the worklist, coverage and child passport call it)::

    calendar(country) -> Calendar
    schedule_for(birth_date, sex, doses, exemptions, today, country) -> list[DueDose]
    check_dose(birth_date, antigen, dose_number, given_on, doses, country) -> Validity
    next_due(schedule) -> list[DueDose]          # the due and overdue items only
    DueOn(country, today).next_due(birth_date, sex, doses, exemptions)  # the same, for a batch

``doses`` are any objects with ``antigen``, ``dose_number``, ``given_on``,
``valid`` (and optionally ``status``: rows whose status is
``entered_in_error`` are ignored), e.g. ORM ``Dose`` rows, ``DoseOut`` or
``GivenDose``. ``exemptions`` are objects with ``antigen`` (None: every
vaccine), ``kind``, ``starts_on``, ``ends_on`` and optionally
``withdrawn_on``. ``country`` is a country code (the pack
``<CC>/immunization.yaml`` is read) or a ``Calendar``.

Definitions (docs/immunization.md):

- Ages are calendar offsets from the birth date: ``"2m"`` is the same day
  two months later (clamped to the month's last day), ``"6w"`` 42 days,
  ``"1d"`` the day after birth.
- *earliest date* of a dose: the later of birth + minimum age and the
  previous VALID dose + minimum interval. The previous dose is the series'
  dose n-1 unless the pack names another (``after: penta/3``). When the
  previous dose is not given yet, its own earliest date stands in for it (a
  projection): the dose cannot be given before then anyway.
- *due date*: the later of birth + recommended age and the earliest date.
- *latest date* (exclusive): birth + catch-up upper age; from that day a dose
  not given is ``not_eligible``.
- status, in this order: ``given`` (a valid dose of that number exists);
  ``exempt`` (an active contraindication or refusal covers the antigen
  today); ``not_eligible`` (today >= latest date); ``upcoming`` (today before
  the due date, or the previous dose of the series is still missing: only the
  next dose of a series can be due); ``due`` (from the due date for
  ``OVERDUE_AFTER_DAYS`` days); ``overdue`` (from due date +
  ``OVERDUE_AFTER_DAYS``).
- A dose given before its earliest date is invalid (WHO: it does not count
  and is repeated); ``check_dose`` says which rule it broke.
- Series limited to one sex (HPV: girls) are left out for the other sex.
- Revaccination (``boosters`` in the pack, e.g. Td every 10 years): after
  the series' last calendar dose, one more dose (n + 1) is scheduled
  ``every`` after the last valid dose, from the booster's ``from_age``.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property, lru_cache
from typing import Any, Protocol

from salomat.country import pack

__all__ = [
    "OVERDUE_AFTER_DAYS",
    "STATUSES",
    "Calendar",
    "DoseRule",
    "DueDose",
    "DueOn",
    "GivenDose",
    "Series",
    "Validity",
    "add_age",
    "calendar",
    "check_dose",
    "next_due",
    "parse_age",
    "schedule_for",
]

#: a dose is "due" from its due date and "overdue" this many days later (WHO
#: monitoring counts a dose as late one month after its scheduled age)
OVERDUE_AFTER_DAYS = 28
STATUSES = ("given", "due", "overdue", "upcoming", "not_eligible", "exempt")

_AGE = re.compile(r"^(?:\d+[dwmy])+$")
_PART = re.compile(r"(\d+)([dwmy])")


class DoseLike(Protocol):
    antigen: str
    dose_number: int
    given_on: date
    valid: bool


@dataclass(frozen=True)
class GivenDose:
    """A dose as the engine needs it."""

    antigen: str
    dose_number: int
    given_on: date
    valid: bool = True
    status: str = "completed"


@dataclass(frozen=True)
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
    months = start.month - 1 + age.months + 12 * age.years
    year = start.year + months // 12
    month = months % 12 + 1
    day = min(start.day, _calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=age.days)


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
            return _booster_rule(s, dose_number)
        return None


def _booster_rule(s: Series, n: int) -> DoseRule:
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


def _parse_after(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    antigen, _, n = str(value).partition("/")
    return antigen, int(n)


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


def _cal(country: str | Calendar) -> Calendar:
    return country if isinstance(country, Calendar) else calendar(country)


@dataclass
class DueDose:
    """One calendar dose for one person, as of ``today``."""

    antigen: str
    label: str
    dose_number: int
    status: str
    #: recommended date, moved later when the earliest date is later
    due_on: date
    earliest_on: date
    overdue_on: date
    #: exclusive: from this day the dose is not given any more (catch-up over)
    latest_on: date | None
    given_on: date | None = None
    #: (antigen, dose) that must be given first, when it is still missing
    waiting_for: tuple[str, int] | None = None
    #: contraindication | refusal, when exempt
    exemption: str | None = None
    booster: bool = False


@dataclass(frozen=True)
class Validity:
    valid: bool
    #: too_early_age | too_early_interval | None
    code: str | None
    reason: str | None
    earliest_on: date | None


def _active(doses: Iterable[Any]) -> list[Any]:
    return [d for d in doses if getattr(d, "status", "completed") != "entered_in_error"]


def _valid_index(doses: Iterable[Any]) -> dict[tuple[str, int], date]:
    """(antigen, dose) -> the earliest valid date it was given."""
    out: dict[tuple[str, int], date] = {}
    for d in _active(doses):
        if not d.valid:
            continue
        key = (d.antigen, d.dose_number)
        if key not in out or d.given_on < out[key]:
            out[key] = d.given_on
    return out


def _exempt(exemptions: Iterable[Any], antigen: str, today: date) -> str | None:
    for e in exemptions:
        if getattr(e, "withdrawn_on", None) is not None and e.withdrawn_on <= today:
            continue
        if e.antigen not in (None, antigen):
            continue
        if e.starts_on <= today and (e.ends_on is None or e.ends_on >= today):
            return str(e.kind)
    return None


#: a dose repeated because the first was invalid waits this long after the invalid one
#: when its rule has no interval of its own (WHO / ACIP: doses of live vaccines 4 weeks apart)
REPEAT_AFTER_INVALID = Age(days=28)


def _repeat_floors(doses: Iterable[Any], cal: Calendar) -> dict[tuple[str, int], date]:
    """(antigen, dose) -> the earliest date a repeat may be given after an invalid dose.

    An invalid dose still primes (or blunts) the response: the repeat waits the
    dose's minimum interval (or 4 weeks) after it, as after any dose.
    """
    out: dict[tuple[str, int], date] = {}
    for d in _active(doses):
        if getattr(d, "valid", True):
            continue
        key = (d.antigen, d.dose_number)
        rule = cal.rule(*key)
        step = rule.min_interval if rule and rule.min_interval else REPEAT_AFTER_INVALID
        out[key] = max(out.get(key, d.given_on), add_age(d.given_on, step))
    return out


def _earliest(
    rule: DoseRule,
    birth: date,
    given: dict[tuple[str, int], date],
    cal: Calendar,
    memo: dict[tuple[str, int], date],
    floors: dict[tuple[str, int], date] | None = None,
) -> date:
    """Minimum age and minimum interval after the previous valid dose (projected when missing),
    and after an invalid dose of the same number (``floors``)."""
    key = (rule.antigen, rule.dose_number)
    if key in memo:
        return memo[key]
    day = add_age(birth, rule.min_age)
    if rule.after is not None and rule.min_interval is not None:
        prev = given.get(rule.after)
        if prev is None:
            prev_rule = cal.rule(*rule.after)
            prev = _earliest(prev_rule, birth, given, cal, memo, floors) if prev_rule else None
        if prev is not None:
            day = max(day, add_age(prev, rule.min_interval))
    if floors and key in floors:
        day = max(day, floors[key])
    memo[key] = day
    return day


def _item(
    rule: DoseRule,
    series: Series,
    birth: date,
    given: dict[tuple[str, int], date],
    exemptions: Sequence[Any],
    today: date,
    cal: Calendar,
    memo: dict[tuple[str, int], date],
    floors: dict[tuple[str, int], date] | None = None,
) -> DueDose:
    def _still_possible(key: tuple[str, int]) -> bool:
        prev = cal.rule(*key)
        if prev is None or prev.max_age is None:
            return True
        return today < add_age(birth, prev.max_age)

    earliest = _earliest(rule, birth, given, cal, memo, floors)
    recommended = add_age(birth, rule.age)
    if rule.booster and rule.after in given:
        recommended = max(recommended, add_age(given[rule.after], series.booster_every or Age()))
    due = max(recommended, earliest)
    latest = add_age(birth, rule.max_age) if rule.max_age else None
    item = DueDose(
        antigen=rule.antigen,
        label=series.label,
        dose_number=rule.dose_number,
        status="upcoming",
        due_on=due,
        earliest_on=earliest,
        overdue_on=due + timedelta(days=OVERDUE_AFTER_DAYS),
        latest_on=latest,
        booster=rule.booster,
    )
    key = (rule.antigen, rule.dose_number)
    if key in given:
        item.status, item.given_on = "given", given[key]
        return item
    kind = _exempt(exemptions, rule.antigen, today)
    if kind:
        item.status, item.exemption = "exempt", kind
        return item
    if latest is not None and today >= latest:
        item.status = "not_eligible"
        return item
    if rule.after is not None and rule.after not in given and _still_possible(rule.after):
        item.waiting_for = rule.after
        return item
    if today < due:
        return item
    item.status = "overdue" if today >= item.overdue_on else "due"
    return item


def schedule_for(
    birth_date: date,
    sex: str | None,
    doses: Iterable[DoseLike],
    exemptions: Iterable[Any],
    today: date,
    country: str | Calendar,
) -> list[DueDose]:
    """Every calendar dose for this person with its status as of ``today`` (pack order)."""
    cal = _cal(country)
    doses = list(doses)
    given = _valid_index(doses)
    floors = _repeat_floors(doses, cal)
    exempts = list(exemptions)
    memo: dict[tuple[str, int], date] = {}
    out: list[DueDose] = []
    for s in cal.series:
        if s.sex and sex and s.sex != sex:
            continue
        for rule in s.doses:
            out.append(_item(rule, s, birth_date, given, exempts, today, cal, memo, floors))
        if s.booster_every is not None and s.doses:
            n = s.doses[-1].dose_number + 1
            while (s.antigen, n) in given:
                out.append(
                    _item(
                        cal.rule(s.antigen, n),
                        s,
                        birth_date,
                        given,
                        exempts,
                        today,
                        cal,
                        memo,
                        floors,
                    )
                )  # type: ignore[arg-type]
                n += 1
            if (s.antigen, n - 1) in given:
                out.append(
                    _item(
                        _booster_rule(s, n), s, birth_date, given, exempts, today, cal, memo, floors
                    )
                )
    return out


def _last_birth(age: Age, today: date) -> date:
    """The latest birth date for which ``add_age(birth, age) <= today``.

    ``add_age`` never decreases as the birth date moves later (month ends clamp), so
    the births reaching an age by ``today`` are exactly those up to this day.
    """
    months = today.month - 1 - age.months - 12 * age.years
    year = today.year + months // 12
    month = months % 12 + 1
    guess = date(year, month, min(today.day, _calendar.monthrange(year, month)[1]))
    guess -= timedelta(days=age.days)
    one = timedelta(days=1)
    while add_age(guess, age) > today:
        guess -= one
    while add_age(guess + one, age) <= today:
        guess += one
    return guess


@dataclass(frozen=True)
class _Step:
    """One calendar dose with what a day's worklist can decide from the birth date alone."""

    rule: DoseRule
    series: Series
    key: tuple[str, int]
    #: too young for the recommended age (so not due yet) when born after this day
    reached_age_by: date
    #: catch-up over (not eligible) when born on or before this day; None: no upper age
    too_old_by: date | None
    #: the previous dose can no longer be given when born on or before this day
    #: (None: it always can): otherwise a missing previous dose makes this one wait
    previous_over_by: date | None


class DueOn:
    """The due and overdue doses of many people as of one day (a worklist's batch).

    ``DueOn(country, today).next_due(birth, sex, doses, exemptions)`` equals
    ``next_due(schedule_for(birth, sex, doses, exemptions, today, country))``
    (property-tested), but what depends only on the calendar and the day is
    prepared once: the rule lookups, and for each dose the birth dates that have
    reached its recommended age or passed its catch-up age. A dose that the
    birth date alone rules out costs one date comparison, and no ``DueDose`` is
    built for the doses a worklist does not show. Pure, like the rest of the
    engine.
    """

    def __init__(self, country: str | Calendar, today: date) -> None:
        self.cal = _cal(country)
        self.today = today
        self._steps: dict[str | None, tuple[_Step, ...]] = {}
        self._boosters: dict[str | None, tuple[Series, ...]] = {}

    def _prepare(self, sex: str | None) -> None:
        cal, today = self.cal, self.today
        steps: list[_Step] = []
        boosters: list[Series] = []
        for s in cal.series:
            if s.sex and sex and s.sex != sex:
                continue
            for rule in s.doses:
                prev = cal.rule(*rule.after) if rule.after is not None else None
                steps.append(
                    _Step(
                        rule=rule,
                        series=s,
                        key=(rule.antigen, rule.dose_number),
                        reached_age_by=_last_birth(rule.age, today),
                        too_old_by=_last_birth(rule.max_age, today) if rule.max_age else None,
                        previous_over_by=(
                            _last_birth(prev.max_age, today)
                            if prev is not None and prev.max_age is not None
                            else None
                        ),
                    )
                )
            if s.booster_every is not None and s.doses:
                boosters.append(s)
        self._steps[sex] = tuple(steps)
        self._boosters[sex] = tuple(boosters)

    def next_due(
        self,
        birth_date: date,
        sex: str | None,
        doses: Iterable[DoseLike],
        exemptions: Iterable[Any],
    ) -> list[DueDose]:
        """The person's due and overdue doses, oldest due date first."""
        if sex not in self._steps:
            self._prepare(sex)
        cal, today = self.cal, self.today
        doses = list(doses)
        # _valid_index in one pass, noting whether any invalid dose asks for a repeat floor
        given: dict[tuple[str, int], date] = {}
        invalid = False
        for d in doses:
            if getattr(d, "status", "completed") == "entered_in_error":
                continue
            if d.valid:
                key = (d.antigen, d.dose_number)
                was = given.get(key)
                if was is None or d.given_on < was:
                    given[key] = d.given_on
            else:
                invalid = True
        floors = _repeat_floors(doses, cal) if invalid else {}
        exempts = list(exemptions)
        memo: dict[tuple[str, int], date] = {}
        out: list[DueDose] = []
        for st in self._steps[sex]:
            if birth_date > st.reached_age_by or st.key in given:
                continue  # not due yet (due on or after the recommended age), or given
            if st.too_old_by is not None and birth_date <= st.too_old_by:
                continue  # not eligible any more
            rule = st.rule
            after = rule.after
            if (
                after is not None
                and after not in given
                and (st.previous_over_by is None or birth_date > st.previous_over_by)
            ):
                continue  # waits for the previous dose
            if exempts and _exempt(exempts, rule.antigen, today):
                continue
            earliest = _earliest(rule, birth_date, given, cal, memo, floors)
            due = max(add_age(birth_date, rule.age), earliest)
            if today < due:
                continue
            overdue = due + timedelta(days=OVERDUE_AFTER_DAYS)
            out.append(
                DueDose(
                    antigen=rule.antigen,
                    label=st.series.label,
                    dose_number=rule.dose_number,
                    status="overdue" if today >= overdue else "due",
                    due_on=due,
                    earliest_on=earliest,
                    overdue_on=overdue,
                    latest_on=add_age(birth_date, rule.max_age) if rule.max_age else None,
                )
            )
        for s in self._boosters[sex]:
            n = s.doses[-1].dose_number + 1
            while (s.antigen, n) in given:
                n += 1
            if (s.antigen, n - 1) in given:
                item = _item(
                    _booster_rule(s, n), s, birth_date, given, exempts, today, cal, memo, floors
                )
                if item.status in ("due", "overdue"):
                    out.append(item)
        return next_due(out)


def next_due(schedule: Iterable[DueDose]) -> list[DueDose]:
    """The due and overdue items, oldest due date first."""
    return sorted(
        (d for d in schedule if d.status in ("due", "overdue")),
        key=lambda d: (d.due_on, d.antigen, d.dose_number),
    )


def check_dose(
    birth_date: date,
    antigen: str,
    dose_number: int,
    given_on: date,
    doses: Iterable[DoseLike],
    country: str | Calendar,
) -> Validity:
    """Would a dose given on ``given_on`` count? ``doses``: the others already recorded.

    Raises ``LookupError`` for an antigen or dose the calendar does not have.
    """
    cal = _cal(country)
    rule = cal.rule(antigen, dose_number)
    if rule is None:
        raise LookupError(f"{antigen}/{dose_number}")
    others = [
        d for d in _active(doses) if not (d.antigen == antigen and d.dose_number == dose_number)
    ]
    given = _valid_index(others)
    min_age_on = add_age(birth_date, rule.min_age)
    if given_on < min_age_on:
        return Validity(
            False,
            "too_early_age",
            f"before the minimum age ({rule.min_age}; not before {min_age_on.isoformat()})",
            min_age_on,
        )
    repeat_on = _repeat_floors(doses, cal).get((antigen, dose_number))
    if repeat_on is not None and given_on < repeat_on:
        return Validity(
            False,
            "too_early_interval",
            f"too soon after the invalid {antigen} dose {dose_number}; "
            f"not before {repeat_on.isoformat()}",
            repeat_on,
        )
    if rule.after is not None and rule.min_interval is not None and rule.after in given:
        prev = given[rule.after]
        after_on = add_age(prev, rule.min_interval)
        if given_on < after_on:
            a, n = rule.after
            return Validity(
                False,
                "too_early_interval",
                f"less than the minimum interval ({rule.min_interval}) after {a} dose {n} "
                f"of {prev.isoformat()}; not before {after_on.isoformat()}",
                after_on,
            )
        return Validity(True, None, None, max(min_age_on, after_on))
    return Validity(True, None, None, min_age_on)
