"""The immunization schedule engine: pure, no database.

Public surface (stable; the worklist, coverage and child passport call it)::

    calendar(country) -> Calendar
    schedule_for(birth_date, sex, doses, exemptions, today, country) -> list[DueDose]
    check_dose(birth_date, antigen, dose_number, given_on, doses, country) -> Validity
    count_doses(birth_date, doses, country) -> list[Counted | None]
    next_due(schedule) -> list[DueDose]          # the due and overdue items only
    DueOn(country, today).next_due(birth_date, sex, doses, exemptions)  # the same, for a batch

The calendar (ages, rules, catch-up plans) is ``rules``, the counting of
recorded doses ``counting``; their names are re-exported here.

``doses`` are any objects with ``antigen``, ``given_on`` (optionally
``status``: rows whose status is ``entered_in_error`` are ignored, and
``id``), e.g. ORM ``Dose`` rows, ``DoseOut`` or ``GivenDose``. Their
``dose_number`` and ``valid`` are not read: the engine counts the doses
itself, in date order (``counting``). ``exemptions`` are objects with
``antigen`` (None: every vaccine), ``kind``, ``starts_on``, ``ends_on`` and
optionally ``withdrawn_on``. ``country`` is a country code (the pack
``<CC>/immunization.yaml`` is read) or a ``Calendar``.

Definitions (docs/immunization.md):

- A calendar dose is *given* when a recorded dose counts in its place.
- *earliest date* of a dose: the later of birth + minimum age and the
  previous VALID dose + minimum interval. The previous dose is the series'
  dose n-1 unless the pack names another (``after: penta/3``). When the
  previous dose is not given yet, its own earliest date stands in for it (a
  projection): the dose cannot be given before then anyway.
- *due date*: the later of birth + recommended age and the earliest date.
- *latest date* (exclusive): birth + catch-up upper age; from that day a dose
  not given is ``not_eligible``.
- A late starter's series follows the catch-up plan its first valid dose
  falls in (no dose yet: the plan a first dose today, or on its due date if
  later, would start). A plan's slots take the plan's interval; the
  calendar's doses past the plan are ``not_needed``.
- status, in this order: ``given`` (a valid dose counts in that place);
  ``not_needed`` (past the catch-up plan's last dose); ``exempt`` (an active
  contraindication or refusal covers the antigen today); ``not_eligible``
  (today >= latest date); ``upcoming`` (today before the due date, or the
  previous dose of the series is still missing: only the next dose of a
  series can be due); ``due`` (from the due date for ``OVERDUE_AFTER_DAYS``
  days); ``overdue`` (from due date + ``OVERDUE_AFTER_DAYS``).
- A dose given before its earliest date is invalid (WHO: it does not count
  and is repeated); ``check_dose`` says which rule it broke.
- Series limited to one sex (HPV: girls) are left out for the other sex.
- Revaccination (``boosters`` in the pack, e.g. Td every 10 years): after
  the series' last calendar dose, one more dose (n + 1) is scheduled
  ``every`` after the last valid dose, from the booster's ``from_age``.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from salomat.core.i18n import N_
from salomat.domains.immunization.service.counting import (
    REPEAT_AFTER_INVALID,
    Counted,
    DoseLike,
    GivenDose,
    Tally,
    Validity,
    check_dose,
    count_doses,
    counting_index,
    tally,
    tally_rows,
)
from salomat.domains.immunization.service.rules import (
    Age,
    Calendar,
    CatchUp,
    DoseRule,
    Series,
    add_age,
    booster_rule,
    cal_of,
    calendar,
    parse_age,
)

__all__ = [
    "OVERDUE_AFTER_DAYS",
    "REPEAT_AFTER_INVALID",
    "STATUSES",
    "STATUS_LABELS",
    "Age",
    "Calendar",
    "CatchUp",
    "Counted",
    "DoseLike",
    "DoseRule",
    "DueDose",
    "DueOn",
    "GivenDose",
    "Series",
    "Tally",
    "Validity",
    "add_age",
    "calendar",
    "check_dose",
    "count_doses",
    "next_due",
    "parse_age",
    "schedule_for",
    "tally",
]

#: a dose is "due" from its due date and "overdue" this many days later (WHO
#: monitoring counts a dose as late one month after its scheduled age)
OVERDUE_AFTER_DAYS = 28
STATUSES = ("given", "due", "overdue", "upcoming", "not_eligible", "exempt", "not_needed")
#: each status as the card shows it and the FHIR terminology names it
#: (``urn:salomat:immunization-forecast-status``)
STATUS_LABELS = {
    "given": N_("given"),
    "due": N_("due"),
    "overdue": N_("overdue"),
    "upcoming": N_("upcoming"),
    "not_eligible": N_("too late (catch-up age passed)"),
    "exempt": N_("exempt"),
    "not_needed": N_("not needed (late start: fewer doses)"),
}
assert tuple(STATUS_LABELS) == STATUSES

#: (antigen, dose) -> the person's rule for it (a catch-up plan's, else the calendar's)
Lookup = Callable[[tuple[str, int]], DoseRule | None]


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


def _exempt(exemptions: Iterable[Any], antigen: str, today: date) -> str | None:
    for e in exemptions:
        if getattr(e, "withdrawn_on", None) is not None and e.withdrawn_on <= today:
            continue
        if e.antigen not in (None, antigen):
            continue
        if e.starts_on <= today and (e.ends_on is None or e.ends_on >= today):
            return str(e.kind)
    return None


def _lookup(cal: Calendar, plans: dict[str, tuple[DoseRule, ...]]) -> Lookup:
    """The person's rules: a catch-up plan's slots for its series, else the calendar's."""
    if not plans:
        return lambda key: cal.rule(*key)

    def rule(key: tuple[str, int]) -> DoseRule | None:
        slots = plans.get(key[0])
        if slots is not None:
            return next((r for r in slots if r.dose_number == key[1]), None)
        return cal.rule(*key)

    return rule


def _earliest(
    rule: DoseRule,
    birth: date,
    given: dict[tuple[str, int], date],
    lookup: Lookup,
    memo: dict[tuple[str, int], date],
    floors: dict[tuple[str, int], date] | None = None,
) -> date:
    """Minimum age and minimum interval after the previous valid dose (projected when missing),
    and after an invalid dose in the same place (``floors``)."""
    key = (rule.antigen, rule.dose_number)
    if key in memo:
        return memo[key]
    day = add_age(birth, rule.min_age)
    if rule.after is not None and rule.min_interval is not None:
        prev = given.get(rule.after)
        if prev is None:
            prev_rule = lookup(rule.after)
            prev = _earliest(prev_rule, birth, given, lookup, memo, floors) if prev_rule else None
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
    lookup: Lookup,
    memo: dict[tuple[str, int], date],
    floors: dict[tuple[str, int], date] | None = None,
) -> DueDose:
    def _still_possible(key: tuple[str, int]) -> bool:
        prev = lookup(key)
        if prev is None or prev.max_age is None:
            return True
        return today < add_age(birth, prev.max_age)

    earliest = _earliest(rule, birth, given, lookup, memo, floors)
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


def _plans(
    cal: Calendar,
    series: Iterable[Series],
    birth: date,
    t: Tally,
    today: date,
) -> dict[str, tuple[DoseRule, ...]]:
    """The catch-up plan each series with one follows (only those not on the calendar's).

    Started: the plan of its first valid dose. Not started: the plan a first
    dose would start today, or on its due date when that is later.
    """
    out: dict[str, tuple[DoseRule, ...]] = {}
    for s in series:
        if not s.catch_up:
            continue
        first = t.first.get(s.antigen)
        if first is None:
            rule = s.doses[0]
            earliest = _earliest(rule, birth, t.given, _lookup(cal, {}), {}, t.floors)
            first = max(today, add_age(birth, rule.age), earliest)
        slots = s.slots(birth, first)
        if slots is not s.doses:
            out[s.antigen] = slots
    return out


def _not_needed(rule: DoseRule, series: Series, birth: date) -> DueDose:
    """A calendar dose the person's catch-up plan leaves out."""
    due = add_age(birth, rule.age)
    return DueDose(
        antigen=rule.antigen,
        label=series.label,
        dose_number=rule.dose_number,
        status="not_needed",
        due_on=due,
        earliest_on=add_age(birth, rule.min_age),
        overdue_on=due + timedelta(days=OVERDUE_AFTER_DAYS),
        latest_on=add_age(birth, rule.max_age) if rule.max_age else None,
    )


def schedule_for(
    birth_date: date,
    sex: str | None,
    doses: Iterable[DoseLike],
    exemptions: Iterable[Any],
    today: date,
    country: str | Calendar,
) -> list[DueDose]:
    """Every calendar dose for this person with its status as of ``today`` (pack order)."""
    cal = cal_of(country)
    t = tally(birth_date, doses, cal)
    given, floors = t.given, t.floors
    exempts = list(exemptions)
    shown = [s for s in cal.series if not (s.sex and sex and s.sex != sex)]
    plans = _plans(cal, shown, birth_date, t, today)
    lookup = _lookup(cal, plans)
    memo: dict[tuple[str, int], date] = {}
    out: list[DueDose] = []
    for s in shown:
        slots = plans.get(s.antigen, s.doses)
        for k, rule in enumerate(s.doses):
            if k >= len(slots):
                out.append(_not_needed(rule, s, birth_date))
                continue
            out.append(_item(slots[k], s, birth_date, given, exempts, today, lookup, memo, floors))
        if s.booster_every is not None and s.doses and s.antigen not in plans:
            n = s.doses[-1].dose_number + 1
            while (s.antigen, n) in given:
                out.append(
                    _item(
                        booster_rule(s, n),
                        s,
                        birth_date,
                        given,
                        exempts,
                        today,
                        lookup,
                        memo,
                        floors,
                    )
                )
                n += 1
            if (s.antigen, n - 1) in given:
                rule = booster_rule(s, n)
                out.append(_item(rule, s, birth_date, given, exempts, today, lookup, memo, floors))
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
        self.cal = cal_of(country)
        self.today = today
        self._steps: dict[str | None, tuple[_Step, ...]] = {}
        self._boosters: dict[str | None, tuple[Series, ...]] = {}
        self._planned: dict[str | None, tuple[Series, ...]] = {}
        self._index = counting_index(self.cal)
        #: the antigens whose doses count (the calendar's, scheduled or on indication)
        self.antigens = sorted(self._index)

    def _prepare(self, sex: str | None) -> None:
        cal, today = self.cal, self.today
        steps: list[_Step] = []
        boosters: list[Series] = []
        planned: list[Series] = []
        for s in cal.series:
            if s.sex and sex and s.sex != sex:
                continue
            if s.booster_every is not None and s.doses:
                boosters.append(s)
            if s.catch_up:
                planned.append(s)  # the person's plan decides its rules: done per person
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
        self._steps[sex] = tuple(steps)
        self._boosters[sex] = tuple(boosters)
        self._planned[sex] = tuple(planned)

    def next_due(
        self,
        birth_date: date,
        sex: str | None,
        doses: Iterable[DoseLike],
        exemptions: Iterable[Any],
    ) -> list[DueDose]:
        """The person's due and overdue doses, oldest due date first."""
        return self._due(birth_date, sex, tally(birth_date, doses, self.cal), exemptions)

    def next_due_rows(
        self,
        birth_date: date,
        sex: str | None,
        doses: Iterable[tuple[str, date]],
        exemptions: Iterable[Any],
    ) -> list[DueDose]:
        """``next_due`` for doses as plain ``(antigen, given_on)`` tuples, those entered in
        error left out (a worklist's bulk read): counted by ``tally_rows``. Doses of an
        antigen outside ``antigens`` count nowhere and may be left out too."""
        t = tally_rows(birth_date, doses, self.cal, self._index)
        return self._due(birth_date, sex, t, exemptions)

    def _due(
        self, birth_date: date, sex: str | None, t: Tally, exemptions: Iterable[Any]
    ) -> list[DueDose]:
        if sex not in self._steps:
            self._prepare(sex)
        cal, today = self.cal, self.today
        given, floors = t.given, t.floors
        exempts = list(exemptions)
        plans = _plans(cal, self._planned[sex], birth_date, t, today)
        lookup = _lookup(cal, plans)
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
            earliest = _earliest(rule, birth_date, given, lookup, memo, floors)
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
        for s in self._planned[sex]:
            for rule in plans.get(s.antigen, s.doses):
                if (rule.antigen, rule.dose_number) in given:
                    continue
                item = _item(rule, s, birth_date, given, exempts, today, lookup, memo, floors)
                if item.status in ("due", "overdue"):
                    out.append(item)
        for s in self._boosters[sex]:
            if s.antigen in plans:
                continue
            n = s.doses[-1].dose_number + 1
            while (s.antigen, n) in given:
                n += 1
            if (s.antigen, n - 1) in given:
                item = _item(
                    booster_rule(s, n), s, birth_date, given, exempts, today, lookup, memo, floors
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
