"""The hypertension and diabetes control indicators of Simple / WHO HEARTS, as pure
functions over plain records (no database): the reference the set-wise SQL of
``indicators`` is tested against.

Sources (../shared/domain/screening-dmp.md, "Anchors"): Simple's "What we report"
(simpledotorg/docs ``what-we-report.md``) and the DHIS2 hypertension & diabetes package
(simpledotorg/dhis2-hypertension-package ``doc/design_guide.md``, from WHO HEARTS).

A reporting period is a calendar month or quarter; it *ends* on its last day (``end``).
Every window is counted in whole months back from that day:

* **last 3 months**: the month of ``end`` and the two before it (June 2025: 04-01 ... 06-30;
  a quarter: the quarter itself);
* **last 12 months**: the month of ``end`` and the eleven before it (June 2025: from
  2024-07-01).

For one period each patient (a programme enrolment) falls in exactly one class:

* not counted: registered after ``end``;
* ``dead``: died on or before ``end`` (Simple: dead patients are excluded from every
  indicator);
* ``new``: registered in the last 3 months (Simple: "registered before the last 3
  months" is the population of the control rates: three months to take the medicine);
* ``ltfu``, lost to follow-up: registered before the last 12 months and no blood pressure
  in them;
* ``controlled``: a blood pressure in the last 3 months, the latest (ties on a day: the one
  recorded last) below the target in both numbers (< 140 *and* < 90: 140/85 and 139/90 are
  not controlled);
* ``uncontrolled``: a blood pressure in the last 3 months, the latest not controlled;
* ``visited_no_bp``: a visit in the last 3 months without a blood pressure (Simple's
  "visited but no BP taken");
* ``missed``: none of these in the last 3 months.

The control rates have two denominators, both reported and each labelled:

* **Simple since 2021** (simple-server PR #2179, audit #2408): patients registered before
  the last 3 months, not dead and *not lost to follow-up*; controlled + uncontrolled +
  visited-no-BP + missed = 100 %.
* **LTFU kept** (Simple before 2021): the same with the lost-to-follow-up patients in the
  denominator, where they count as missed visits (they had no visit in 3 months).

Lost to follow-up is a share of the *assigned* patients (registered up to ``end``, not
dead, new ones included): Simple's "denominator is total assigned patients".
Under care: assigned and not lost to follow-up, which is Simple's query (a blood pressure
in the last 12 months *or* registered in them); the domain note's short form "BP within 12
months" leaves out the patients registered in the last year who have no reading yet.

Quarterly (and monthly) cohorts: the patients registered in the cohort period, not dead
by the end of the follow-up; the outcome is their latest blood pressure in the follow-up
window (the next quarter, the DHIS2 package; for a monthly cohort the following two
months, Simple): controlled, uncontrolled, or no visit. The denominator is the cohort.

Diabetes control, two labelled definitions over the latest sugar reading of the last 3
months (same population rules; lost to follow-up means no blood pressure *and* no blood
sugar in the last 12 months):

* **DHIS2 / WHO HEARTS**: fasting glucose < 126 mg/dL or HbA1c < 7 %;
* **Simple (lenient)**: fasting glucose < 200 mg/dL or HbA1c < 9 %.

Fasting glucose is kept in mmol/L (the canonical UCUM unit) and compared in mg/dL after
multiplying by 18.016 (the note's factor; 7.0 mmol/L = 126.1 mg/dL is not controlled).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "DHIS2_SUGAR",
    "HEARTS_BP",
    "MG_DL_PER_MMOL_L",
    "SIMPLE_SUGAR",
    "BPReading",
    "BPTarget",
    "CohortOutcome",
    "CohortReport",
    "ControlReport",
    "Outcome",
    "Patient",
    "Period",
    "SugarReading",
    "SugarTarget",
    "bp_controlled",
    "classify_bp",
    "classify_sugar",
    "cohort_followup",
    "cohort_outcome",
    "cohort_report",
    "control_report",
    "sugar_controlled",
    "to_mg_dl",
]

#: mg/dL of glucose per mmol/L (molar mass 180.16 g/mol; the domain note's factor)
MG_DL_PER_MMOL_L = 18.016


class Outcome(StrEnum):
    """A patient's class in one reporting period (see the module's docstring)."""

    DEAD = "dead"
    NEW = "new"
    LTFU = "ltfu"
    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"
    VISITED_NO_BP = "visited_no_bp"
    MISSED = "missed"


class CohortOutcome(StrEnum):
    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"
    NO_VISIT = "no_visit"


@dataclass(frozen=True)
class BPTarget:
    """Controlled means strictly below both numbers."""

    systolic: int = 140
    diastolic: int = 90


@dataclass(frozen=True)
class SugarTarget:
    """Controlled means strictly below either threshold for the reading's kind."""

    label: str
    hba1c_percent: float
    fasting_mg_dl: float


HEARTS_BP = BPTarget()
DHIS2_SUGAR = SugarTarget("dhis2", hba1c_percent=7.0, fasting_mg_dl=126.0)
SIMPLE_SUGAR = SugarTarget("simple", hba1c_percent=9.0, fasting_mg_dl=200.0)


@dataclass(frozen=True)
class BPReading:
    on: date
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class SugarReading:
    """``kind`` is ``hba1c`` (value in %) or ``glucose_fasting`` (value in mmol/L)."""

    on: date
    kind: str
    value: float


@dataclass(frozen=True)
class Patient:
    """One programme enrolment: readings in the order they were recorded."""

    id: int | str
    registered_on: date
    facility_id: int | str | None = None
    died_on: date | None = None
    bp: tuple[BPReading, ...] = ()
    sugar: tuple[SugarReading, ...] = ()
    #: contacts without a reading (a follow-up visit, a refill)
    visits: tuple[date, ...] = ()


_R = TypeVar("_R", BPReading, SugarReading)

_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


def _add_months(d: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``d``."""
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


@dataclass(frozen=True)
class Period:
    """A calendar month (``2025-06``) or quarter (``2025-Q2``)."""

    start: date
    end: date
    kind: str

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD.match(text.strip())
        if m is None:
            raise ValueError(f"a period is YYYY-MM or YYYY-Qn, got {text!r}")
        year = int(m.group(1))
        if m.group(2):
            return cls.month(year, int(m.group(2)))
        return cls.quarter(year, int(m.group(3)))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = date(year, month, 1)
        return cls(start, _month_end(start), "month")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        start = date(year, 3 * quarter - 2, 1)
        return cls(start, _month_end(_add_months(start, 2)), "quarter")

    @property
    def code(self) -> str:
        if self.kind == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return f"{self.start.year:04d}-Q{(self.start.month + 2) // 3}"

    @property
    def recent_start(self) -> date:
        """First day of the last 3 months (registered on or after it: new)."""
        return _add_months(self.end, -2)

    @property
    def year_start(self) -> date:
        """First day of the last 12 months (no reading since: lost to follow-up)."""
        return _add_months(self.end, -11)

    def next(self) -> Period:
        step = 1 if self.kind == "month" else 3
        start = _add_months(self.start, step)
        return (
            Period.month(start.year, start.month)
            if self.kind == "month"
            else (Period.quarter(start.year, (start.month + 2) // 3))
        )


def to_mg_dl(mmol_l: float) -> float:
    return mmol_l * MG_DL_PER_MMOL_L


def bp_controlled(systolic: int, diastolic: int, target: BPTarget = HEARTS_BP) -> bool:
    return systolic < target.systolic and diastolic < target.diastolic


def sugar_controlled(reading: SugarReading, target: SugarTarget) -> bool:
    if reading.kind == "hba1c":
        return reading.value < target.hba1c_percent
    if reading.kind == "glucose_fasting":
        return to_mg_dl(reading.value) < target.fasting_mg_dl
    raise ValueError(f"no control threshold for a {reading.kind!r} reading")


def _latest(readings: Iterable[_R], first: date, last: date) -> _R | None:
    """The latest reading in [first, last]; on a tie the one recorded last."""
    best: _R | None = None
    for r in readings:
        if first <= r.on <= last and (best is None or r.on >= best.on):
            best = r
    return best


def _any_in(days: Iterable[date], first: date, last: date) -> bool:
    return any(first <= d <= last for d in days)


def _population_class(p: Patient, period: Period, contacts: Sequence[date]) -> Outcome | None:
    """dead / new / ltfu, or None when the patient is in the control population;
    raises LookupError when not yet registered."""
    if p.registered_on > period.end:
        raise LookupError(p.id)
    if p.died_on is not None and p.died_on <= period.end:
        return Outcome.DEAD
    if p.registered_on >= period.recent_start:
        return Outcome.NEW
    if p.registered_on < period.year_start and not _any_in(contacts, period.year_start, period.end):
        return Outcome.LTFU
    return None


def classify_bp(p: Patient, period: Period, target: BPTarget = HEARTS_BP) -> Outcome | None:
    """The patient's class in the period; None when registered after it."""
    try:
        cls = _population_class(p, period, [r.on for r in p.bp])
    except LookupError:
        return None
    if cls is not None:
        return cls
    latest = _latest(p.bp, period.recent_start, period.end)
    if latest is not None:
        if bp_controlled(latest.systolic, latest.diastolic, target):
            return Outcome.CONTROLLED
        return Outcome.UNCONTROLLED
    if _any_in([*p.visits, *(s.on for s in p.sugar)], period.recent_start, period.end):
        return Outcome.VISITED_NO_BP
    return Outcome.MISSED


def classify_sugar(p: Patient, period: Period, target: SugarTarget) -> Outcome | None:
    """Diabetes control: like ``classify_bp`` over the latest sugar reading; a visit
    without a sugar reading is ``visited_no_bp`` (no reading taken)."""
    try:
        cls = _population_class(p, period, [*(r.on for r in p.bp), *(s.on for s in p.sugar)])
    except LookupError:
        return None
    if cls is not None:
        return cls
    latest = _latest(p.sugar, period.recent_start, period.end)
    if latest is not None:
        return Outcome.CONTROLLED if sugar_controlled(latest, target) else Outcome.UNCONTROLLED
    if _any_in([*p.visits, *(r.on for r in p.bp)], period.recent_start, period.end):
        return Outcome.VISITED_NO_BP
    return Outcome.MISSED


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


@dataclass(frozen=True)
class ControlReport:
    """Counts of one period for one group of patients, and the labelled rates."""

    counts: dict[str, int] = field(default_factory=dict)

    def n(self, outcome: Outcome) -> int:
        return self.counts.get(outcome.value, 0)

    @property
    def registered(self) -> int:
        """Every patient registered up to the end of the period (dead ones too)."""
        return sum(self.counts.values())

    @property
    def assigned(self) -> int:
        """Registered up to the end of the period and not dead (Simple's assigned)."""
        return self.registered - self.n(Outcome.DEAD)

    @property
    def under_care(self) -> int:
        return self.assigned - self.n(Outcome.LTFU)

    @property
    def denominator(self) -> int:
        """Simple since 2021: registered before the last 3 months, not dead, not LTFU."""
        return sum(
            self.n(o)
            for o in (
                Outcome.CONTROLLED,
                Outcome.UNCONTROLLED,
                Outcome.VISITED_NO_BP,
                Outcome.MISSED,
            )
        )

    @property
    def denominator_with_ltfu(self) -> int:
        """Simple before 2021: the same with the lost-to-follow-up patients kept."""
        return self.denominator + self.n(Outcome.LTFU)

    def rate(self, outcome: Outcome, *, with_ltfu: bool = False) -> float | None:
        """Per cent of the control population: controlled, uncontrolled, visited_no_bp or
        missed (with LTFU kept, the lost-to-follow-up patients are missed visits)."""
        if outcome not in (
            Outcome.CONTROLLED,
            Outcome.UNCONTROLLED,
            Outcome.VISITED_NO_BP,
            Outcome.MISSED,
        ):
            raise ValueError(f"{outcome} is not a share of the control population")
        part = self.n(outcome)
        if with_ltfu:
            if outcome is Outcome.MISSED:
                part += self.n(Outcome.LTFU)
            return _pct(part, self.denominator_with_ltfu)
        return _pct(part, self.denominator)

    @property
    def ltfu_rate(self) -> float | None:
        """Lost to follow-up per cent of the assigned patients."""
        return _pct(self.n(Outcome.LTFU), self.assigned)


def _report(outcomes: Iterable[Outcome | None]) -> ControlReport:
    counts: dict[str, int] = {}
    for o in outcomes:
        if o is not None:
            counts[o.value] = counts.get(o.value, 0) + 1
    return ControlReport(counts)


def control_report(
    patients: Iterable[Patient],
    period: Period,
    target: BPTarget = HEARTS_BP,
    sugar: SugarTarget | None = None,
) -> ControlReport:
    """The period's counts: blood-pressure control, or sugar control when ``sugar`` is
    given (one report per definition)."""
    if sugar is None:
        return _report(classify_bp(p, period, target) for p in patients)
    return _report(classify_sugar(p, period, sugar) for p in patients)


def cohort_followup(cohort: Period) -> tuple[date, date]:
    """The follow-up window of a cohort: the next quarter, or the two following months."""
    if cohort.kind == "quarter":
        nxt = cohort.next()
        return nxt.start, nxt.end
    return _add_months(cohort.start, 1), _month_end(_add_months(cohort.start, 2))


def cohort_outcome(
    p: Patient, cohort: Period, target: BPTarget = HEARTS_BP
) -> CohortOutcome | None:
    """None when the patient is not in the cohort (registered outside it, or dead by
    the end of the follow-up)."""
    if not cohort.start <= p.registered_on <= cohort.end:
        return None
    first, last = cohort_followup(cohort)
    if p.died_on is not None and p.died_on <= last:
        return None
    latest = _latest(p.bp, first, last)
    if latest is None:
        return CohortOutcome.NO_VISIT
    if bp_controlled(latest.systolic, latest.diastolic, target):
        return CohortOutcome.CONTROLLED
    return CohortOutcome.UNCONTROLLED


@dataclass(frozen=True)
class CohortReport:
    controlled: int = 0
    uncontrolled: int = 0
    no_visit: int = 0

    @property
    def cohort(self) -> int:
        return self.controlled + self.uncontrolled + self.no_visit

    def rate(self, outcome: CohortOutcome) -> float | None:
        return _pct(getattr(self, outcome.value), self.cohort)


def cohort_report(
    patients: Iterable[Patient], cohort: Period, target: BPTarget = HEARTS_BP
) -> CohortReport:
    counts = {o.value: 0 for o in CohortOutcome}
    for p in patients:
        o = cohort_outcome(p, cohort, target)
        if o is not None:
            counts[o.value] += 1
    return CohortReport(**counts)
