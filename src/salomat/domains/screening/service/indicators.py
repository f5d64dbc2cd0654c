"""The programme indicators set-wise in SQL: the definitions of ``hearts`` (Simple / WHO
HEARTS) over the disease-management enrolments and their readings, one grouped statement
per figure, by facility; summed here into districts and regions (counts add up).

Who is a patient of a programme on the last day ``E`` of the period:

* registered: the first enrolment of the person in the programme (``enrolled_on`` of the
  earliest, so a transfer between facilities does not make an old patient new);
* assigned facility: the facility of the enrolment open on ``E`` (or ended after it), or
  of the enrolment that ended with the death; an enrolment withdrawn or ended otherwise
  on or before ``E`` leaves the person out;
* dead: the registry's ``deceased_on`` on or before ``E``, or the enrolment ended for
  death on or before ``E``;
* readings: every blood pressure (``screening_observation`` of kind ``bp``) or sugar
  (``hba1c`` in %, ``glucose_fasting`` in mmol/L) of the person, wherever taken, up to
  ``E``; a follow-up visit (``dmp_visit``) or a sugar reading without a blood pressure is
  a visit without BP (Simple's "visited but no BP taken").

Public outputs withhold every count below five (``SUPPRESS_BELOW``, the statistics
domain's rule) with the rates computed from it; the rows per facility that the tests
compare with ``hearts`` are the unmasked counts (``control_counts``, never shown as is).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, bindparam, case, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, DmpVisit, ScreeningObservation
from salomat.domains.screening.service.hearts import (
    DHIS2_SUGAR,
    HEARTS_BP,
    MG_DL_PER_MMOL_L,
    SIMPLE_SUGAR,
    BPTarget,
    CohortOutcome,
    CohortReport,
    ControlReport,
    Outcome,
    Period,
    SugarTarget,
    cohort_followup,
)
from salomat.domains.screening.service.rules import screening_rules

__all__ = [
    "DEFINITIONS",
    "SUPPRESS_BELOW",
    "AreaCoverage",
    "AreaIndicators",
    "CoverageRow",
    "IndicatorRow",
    "Targets",
    "cohort_counts",
    "cohort_of",
    "control_counts",
    "indicators_csv",
    "parse_period",
    "programme_indicators",
    "screening_coverage",
    "sugar_counts",
    "targets_on",
]

#: a count below this is withheld from every public output (statistics' rule, calc.py)
SUPPRESS_BELOW = 5
SUGAR_KINDS = ("hba1c", "glucose_fasting")

#: each definition with its denominator, shown on the page and sent with every answer
DEFINITIONS: dict[str, str] = {
    "registered": N_(
        "Registered: people enrolled in the programme up to the end of the period (the dead "
        "included)."
    ),
    "assigned": N_(
        "Assigned: registered and alive at the end of the period, counted at the facility of "
        "their open enrolment."
    ),
    "controlled": N_(
        "Blood pressure controlled: the latest reading of the last three months below "
        "%(systolic)s/%(diastolic)s (both numbers). Denominator: assigned patients registered "
        "before the last three months, not lost to follow-up (Simple since 2021)."
    ),
    "uncontrolled": N_(
        "Blood pressure not controlled: the latest reading of the last three months at or above "
        "%(systolic)s/%(diastolic)s. Same denominator."
    ),
    "visited_no_bp": N_(
        "Visited without a blood pressure: a visit or a sugar reading in the last three months, "
        "no blood pressure. Same denominator."
    ),
    "missed": N_(
        "Missed visits: no visit and no reading in the last three months. Same denominator."
    ),
    "with_ltfu": N_(
        "With lost to follow-up kept: the same shares with the patients lost to follow-up in "
        "the denominator, where they count as missed visits (Simple before 2021)."
    ),
    "ltfu": N_(
        "Lost to follow-up: registered over twelve months ago and no blood pressure in the "
        "last twelve months. Denominator: assigned patients."
    ),
    "under_care": N_(
        "Under care: assigned patients not lost to follow-up (a blood pressure in the last "
        "twelve months, or registered in them)."
    ),
    "cohort": N_(
        "Cohort: the patients registered in %(cohort)s, alive, by their latest blood pressure "
        "in %(followup)s: controlled, not controlled, no visit. Denominator: the cohort."
    ),
    "sugar_dhis2": N_(
        "Diabetes controlled (DHIS2 / WHO HEARTS): latest sugar of the last three months, "
        "fasting glucose below %(fbs)s mg/dL or HbA1c below %(hba1c)s per cent. Denominator "
        "as for blood pressure; lost to follow-up: no blood pressure and no sugar in twelve "
        "months."
    ),
    "sugar_simple": N_(
        "Diabetes controlled (Simple, lenient): fasting glucose below %(fbs)s mg/dL or HbA1c "
        "below %(hba1c)s per cent. Same denominator."
    ),
}


# ---- the pack's targets ----------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    bp: BPTarget
    sugar: SugarTarget
    lenient: SugarTarget


def targets_on(on: date, country: str | None = None) -> Targets:
    """The control targets of the pack's edition in force on ``on`` (``rules``); the
    HEARTS defaults for what the edition leaves out."""
    t = screening_rules(country).edition(on).targets
    bp = t.get("bp") or {}

    def sugar(src: dict[str, Any], label: str, default: SugarTarget) -> SugarTarget:
        return SugarTarget(
            label,
            hba1c_percent=float((src.get("hba1c") or {}).get("below", default.hba1c_percent)),
            fasting_mg_dl=float(
                (src.get("glucose_fasting") or {}).get("below", default.fasting_mg_dl)
            ),
        )

    return Targets(
        bp=BPTarget(
            int(bp.get("systolic_below", HEARTS_BP.systolic)),
            int(bp.get("diastolic_below", HEARTS_BP.diastolic)),
        ),
        sugar=sugar(t, "dhis2", DHIS2_SUGAR),
        lenient=sugar(t.get("lenient") or {}, "simple", SIMPLE_SUGAR),
    )


# ---- set-wise counts -------------------------------------------------------------------


def _assignment(programme: str, end: date) -> Any:
    """Per person: first registration, assigned facility and death by ``end``.

    One pass over the programme's enrolments up to ``end``, grouped by person: the first
    ``enrolled_on``, and the facility and death of the latest enrolment that assigns
    (open on ``end``, ended after it, or ended with the death; a window ranks those
    first). ``facility_id`` is NULL for a person none of whose enrolments assigns: the
    callers leave them out. Grouped rather than filtered on a window's ``rn = 1``, which
    PostgreSQL estimates at a few rows and answers with nested loops over the other
    sets; the registry's dates of death are joined on the person, not through an ``IN``
    list."""
    e = DmpEnrolment
    assigns = case(
        (or_(e.ended_on.is_(None), e.ended_on > end, e.end_reason == "died"), 1), else_=0
    )
    window = {
        "partition_by": e.person_id,
        "order_by": (assigns.desc(), e.enrolled_on.desc(), e.id.desc()),
    }
    ranked = (
        select(
            e.person_id,
            e.enrolled_on,
            func.first_value(case((assigns == 1, e.facility_id), else_=None))
            .over(**window)
            .label("facility_id"),
            func.first_value(case((e.end_reason == "died", e.ended_on), else_=None))
            .over(**window)
            .label("died_on"),
        )
        .where(e.programme == programme, e.enrolled_on <= end)
        .subquery("enrolments")
    )
    per_person = (
        select(
            ranked.c.person_id,
            func.max(ranked.c.facility_id).label("facility_id"),
            func.min(ranked.c.enrolled_on).label("registered_on"),
            func.max(ranked.c.died_on).label("died_on"),
        )
        .group_by(ranked.c.person_id)
        .subquery("assigned")
    )
    vitals = registry.person_vitals_query()
    return (
        select(
            per_person.c.person_id,
            per_person.c.facility_id,
            per_person.c.registered_on,
            case((or_(per_person.c.died_on <= end, vitals.c.deceased_on <= end), 1), else_=0).label(
                "dead"
            ),
        )
        .outerjoin(vitals, vitals.c.person_id == per_person.c.person_id)
        .where(per_person.c.facility_id.is_not(None))
        .subquery("patients")
    )


def _latest(kinds: tuple[str, ...], first: date, last: date) -> Any:
    """The latest reading of ``kinds`` per person in [first, last] (ties: the last id),
    one row per person (grouped, for the planner's estimate: see ``_assignment``)."""
    o = ScreeningObservation
    window = {"partition_by": o.person_id, "order_by": (o.observed_on.desc(), o.id.desc())}
    ranked = (
        select(
            o.person_id,
            *(
                func.first_value(c).over(**window).label(c.key)
                for c in (o.kind, o.systolic, o.diastolic, o.value)
            ),
        )
        .where(o.kind.in_(kinds), o.observed_on >= first, o.observed_on <= last)
        .subquery()
    )
    return (
        select(
            ranked.c.person_id,
            *(func.max(ranked.c[k]).label(k) for k in ("kind", "systolic", "diastolic", "value")),
        )
        .group_by(ranked.c.person_id)
        .subquery("latest")
    )


def _seen(kinds: tuple[str, ...], first: date, last: date, visits: bool) -> Any:
    """Persons with a reading of ``kinds`` (or, ``visits``, a follow-up visit) in the
    window: a statement for ``IN``, which PostgreSQL answers with one hashed sub-plan
    (an outer join to it would multiply the planner's row estimates)."""
    o = ScreeningObservation
    parts = [
        select(o.person_id.label("person_id")).where(
            o.kind.in_(kinds), o.observed_on >= first, o.observed_on <= last
        )
    ]
    if visits:
        parts.append(
            select(DmpVisit.person_id.label("person_id")).where(
                DmpVisit.visited_on >= first, DmpVisit.visited_on <= last
            )
        )
    return union_all(*parts) if len(parts) > 1 else parts[0]


def _facility_filter(q: Any, column: Any, facility_ids: list[int] | None) -> Any:
    if facility_ids is None:
        return q
    return q.where(column.in_(bindparam("facility_ids", facility_ids, expanding=True)))


async def control_counts(
    session: AsyncSession,
    programme: str,
    period: Period,
    *,
    facility_ids: list[int] | None = None,
    target: BPTarget = HEARTS_BP,
    sugar: SugarTarget | None = None,
) -> dict[int, ControlReport]:
    """Unmasked counts per assigned facility, one statement: blood-pressure control, or
    sugar control by ``sugar``'s definition (``hearts.classify_bp`` / ``classify_sugar``)."""
    if sugar is not None:
        return (await sugar_counts(session, programme, period, (sugar,), facility_ids))[0]
    return (await _control(session, programme, period, None, (target,), facility_ids))[0]


async def sugar_counts(
    session: AsyncSession,
    programme: str,
    period: Period,
    definitions: tuple[SugarTarget, ...],
    facility_ids: list[int] | None = None,
) -> list[dict[int, ControlReport]]:
    """``control_counts`` of sugar control by each of ``definitions`` (DHIS2's and
    Simple's), in one statement: they differ only in controlled / not controlled."""
    return await _control(session, programme, period, definitions, (), facility_ids)


async def _control(
    session: AsyncSession,
    programme: str,
    period: Period,
    sugars: tuple[SugarTarget, ...] | None,
    bps: tuple[BPTarget, ...],
    facility_ids: list[int] | None,
) -> list[dict[int, ControlReport]]:
    """One statement: per assigned facility, the patients by their class under each
    target (``sugars`` None: blood pressure by ``bps``).

    The facts of a person come as rows of one ``UNION ALL`` grouped by person (the
    patient's assignment; each reading of the year with its flags: in care, measured in
    the last three months, another reading then; each follow-up visit then; the latest
    measured reading's control under each target), then classified: no join between
    per-person sets, whose sizes PostgreSQL cannot estimate (it multiplied them into
    millions of rows and compiled the statement)."""
    end, recent, year = period.end, period.recent_start, period.year_start
    if sugars is None:
        measured, other = ("bp",), SUGAR_KINDS
    else:
        measured, other = SUGAR_KINDS, ("bp",)
    care = (*measured, *other) if sugars else measured
    latest = _latest(measured, recent, end)
    if sugars is None:
        oks = [and_(latest.c.systolic < t.systolic, latest.c.diastolic < t.diastolic) for t in bps]
    else:
        oks = [
            or_(
                and_(latest.c.kind == "hba1c", latest.c.value < t.hba1c_percent),
                and_(
                    latest.c.kind == "glucose_fasting",
                    latest.c.value * literal(MG_DL_PER_MMOL_L) < t.fasting_mg_dl,
                ),
            )
            for t in sugars
        ]
    patients = _assignment(programme, end)
    o = ScreeningObservation
    none = null()
    zero = literal(0)
    recently = o.observed_on >= recent
    oks_none = [none.label(f"ok{i}") for i in range(len(oks))]
    facts = union_all(
        select(
            patients.c.person_id,
            patients.c.facility_id,
            patients.c.registered_on,
            patients.c.dead,
            zero.label("in_care"),
            zero.label("measured"),
            zero.label("visited"),
            *(literal(0).label(f"ok{i}") for i in range(len(oks))),
        ),
        select(
            o.person_id,
            none,
            none,
            none,
            case((o.kind.in_(care), 1), else_=0),
            case((and_(o.kind.in_(measured), recently), 1), else_=0),
            case((and_(o.kind.in_(other), recently), 1), else_=0),
            *oks_none,
        ).where(o.kind.in_((*measured, *other)), o.observed_on >= year, o.observed_on <= end),
        select(DmpVisit.person_id, none, none, none, zero, zero, literal(1), *oks_none).where(
            DmpVisit.visited_on >= recent, DmpVisit.visited_on <= end
        ),
        select(
            latest.c.person_id,
            none,
            none,
            none,
            zero,
            zero,
            zero,
            *(case((ok, 1), else_=0) for ok in oks),
        ),
    ).subquery("facts")
    person = (
        select(
            func.max(facts.c.facility_id).label("facility_id"),
            func.max(facts.c.registered_on).label("registered_on"),
            func.max(facts.c.dead).label("dead"),
            func.max(facts.c.in_care).label("in_care"),
            func.max(facts.c.measured).label("measured"),
            func.max(facts.c.visited).label("visited"),
            *(func.max(facts.c[f"ok{i}"]).label(f"ok{i}") for i in range(len(oks))),
        )
        .group_by(facts.c.person_id)
        .subquery("person_facts")
    )
    classes = [
        case(
            (person.c.dead == 1, Outcome.DEAD.value),
            (person.c.registered_on >= recent, Outcome.NEW.value),
            (and_(person.c.registered_on < year, person.c.in_care == 0), Outcome.LTFU.value),
            (person.c[f"ok{i}"] == 1, Outcome.CONTROLLED.value),
            (person.c.measured == 1, Outcome.UNCONTROLLED.value),
            (person.c.visited == 1, Outcome.VISITED_NO_BP.value),
            else_=Outcome.MISSED.value,
        ).label(f"cls{i}")
        for i in range(len(oks))
    ]
    q = (
        select(person.c.facility_id, *classes, func.count().label("n"))
        .where(person.c.facility_id.is_not(None))
        .group_by(person.c.facility_id, *classes)
    )
    q = _facility_filter(q, person.c.facility_id, facility_ids)
    out: list[dict[int, dict[str, int]]] = [defaultdict(dict) for _ in oks]
    for fid, *cls, n in await session.execute(q):
        for counts, c in zip(out, cls, strict=True):
            counts[int(fid)][c] = counts[int(fid)].get(c, 0) + int(n)
    return [{fid: ControlReport(c) for fid, c in counts.items()} for counts in out]


async def cohort_counts(
    session: AsyncSession,
    programme: str,
    cohort: Period,
    *,
    facility_ids: list[int] | None = None,
    target: BPTarget = HEARTS_BP,
) -> dict[int, CohortReport]:
    """Unmasked cohort outcomes per assigned facility (``hearts.cohort_outcome``)."""
    first, last = cohort_followup(cohort)
    patients = _assignment(programme, last)
    latest = _latest(("bp",), first, last)
    ok = and_(latest.c.systolic < target.systolic, latest.c.diastolic < target.diastolic)
    pid = patients.c.person_id
    outcome = case(
        (pid.not_in(_seen(("bp",), first, last, visits=False)), CohortOutcome.NO_VISIT.value),
        (pid.in_(select(latest.c.person_id).where(ok)), CohortOutcome.CONTROLLED.value),
        else_=CohortOutcome.UNCONTROLLED.value,
    ).label("outcome")
    q = (
        select(patients.c.facility_id, outcome, func.count().label("n"))
        .where(
            patients.c.registered_on >= cohort.start,
            patients.c.registered_on <= cohort.end,
            patients.c.dead == 0,
        )
        .group_by(patients.c.facility_id, outcome)
    )
    q = _facility_filter(q, patients.c.facility_id, facility_ids)
    out: dict[int, dict[str, int]] = defaultdict(lambda: {o.value: 0 for o in CohortOutcome})
    for fid, o, n in await session.execute(q):
        out[int(fid)][o] = int(n)
    return {fid: CohortReport(**counts) for fid, counts in out.items()}


# ---- an area's figures, masked ----------------------------------------------------------


class IndicatorRow(BaseModel):
    """One facility, district or region (or the area's total). A count below five is
    withheld (None) with every rate computed from it; ``suppressed`` names them."""

    code: str | None
    name: str
    level: str
    registered: int | None = None
    assigned: int | None = None
    dead: int | None = None
    new: int | None = None
    ltfu: int | None = None
    under_care: int | None = None
    controlled: int | None = None
    uncontrolled: int | None = None
    visited_no_bp: int | None = None
    missed: int | None = None
    #: Simple since 2021: registered before the last 3 months, alive, not lost
    denominator: int | None = None
    #: the same with the lost to follow-up kept (they count as missed visits)
    denominator_with_ltfu: int | None = None
    controlled_pct: float | None = None
    uncontrolled_pct: float | None = None
    visited_no_bp_pct: float | None = None
    missed_pct: float | None = None
    controlled_pct_with_ltfu: float | None = None
    uncontrolled_pct_with_ltfu: float | None = None
    visited_no_bp_pct_with_ltfu: float | None = None
    missed_pct_with_ltfu: float | None = None
    ltfu_pct: float | None = None
    cohort: int | None = None
    cohort_controlled: int | None = None
    cohort_uncontrolled: int | None = None
    cohort_no_visit: int | None = None
    cohort_controlled_pct: float | None = None
    cohort_uncontrolled_pct: float | None = None
    cohort_no_visit_pct: float | None = None
    #: diabetes programmes: sugar control by DHIS2 / WHO HEARTS and by Simple (lenient)
    sugar_denominator: int | None = None
    sugar_controlled_dhis2: int | None = None
    sugar_controlled_dhis2_pct: float | None = None
    sugar_controlled_simple: int | None = None
    sugar_controlled_simple_pct: float | None = None
    suppressed: list[str] = []


class AreaIndicators(BaseModel):
    programme: str
    programme_name: str
    period: str
    period_start: date
    period_end: date
    #: first day of the last 3 months (registered on or after it: new)
    recent_start: date
    #: first day of the last 12 months (no blood pressure since: lost to follow-up)
    year_start: date
    cohort_period: str
    cohort_followup_start: date
    cohort_followup_end: date
    area_code: str | None
    area_name: str | None
    area_level: str
    by: str
    target_systolic: int
    target_diastolic: int
    sugar: bool
    rows: list[IndicatorRow]
    total: IndicatorRow
    #: each definition with its denominator, in the request's language
    definitions: dict[str, str]
    suppress_below: int = SUPPRESS_BELOW


LEVEL_BELOW = {"country": "region", "region": "district", "district": "facility"}
LEVEL_RANK = {"country": 0, "region": 1, "district": 2, "facility": 3}


def parse_period(text: str, today: date) -> Period:
    """A closed month or quarter; 422 naming ``period`` otherwise."""
    try:
        period = Period.parse(text)
    except ValueError as e:
        raise Invalid.fields(
            [FieldError("period", N_("is a month (YYYY-MM) or a quarter (YYYY-Qn)"))]
        ) from e
    if period.end >= today:
        raise Invalid.fields(
            [
                FieldError(
                    "period",
                    N_("%(period)s is not closed yet: its figures are ready from %(day)s"),
                    {"period": period.code, "day": f"{_next_day(period.end):%d.%m.%Y}"},
                )
            ]
        )
    return period


def _next_day(d: date) -> date:
    return date.fromordinal(d.toordinal() + 1)


def cohort_of(period: Period) -> Period:
    """The cohort whose follow-up ends with ``period``: the previous quarter, or the month
    two months before (Simple's monthly cohort: the two following months)."""
    index = period.start.year * 12 + period.start.month - 1
    if period.kind == "quarter":
        index -= 3
        return Period.quarter(index // 12, (index % 12) // 3 + 1)
    index -= 2
    return Period.month(index // 12, index % 12 + 1)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _row(
    code: str | None,
    name: str,
    level: str,
    bp: ControlReport,
    cohort: CohortReport,
    dhis2: ControlReport | None,
    simple: ControlReport | None,
) -> IndicatorRow:
    """The row's figures, each count below ``SUPPRESS_BELOW`` withheld with its rates."""
    counts: dict[str, int] = {
        "registered": bp.registered,
        "assigned": bp.assigned,
        "dead": bp.n(Outcome.DEAD),
        "new": bp.n(Outcome.NEW),
        "ltfu": bp.n(Outcome.LTFU),
        "under_care": bp.under_care,
        "controlled": bp.n(Outcome.CONTROLLED),
        "uncontrolled": bp.n(Outcome.UNCONTROLLED),
        "visited_no_bp": bp.n(Outcome.VISITED_NO_BP),
        "missed": bp.n(Outcome.MISSED),
        "denominator": bp.denominator,
        "denominator_with_ltfu": bp.denominator_with_ltfu,
        "cohort": cohort.cohort,
        "cohort_controlled": cohort.controlled,
        "cohort_uncontrolled": cohort.uncontrolled,
        "cohort_no_visit": cohort.no_visit,
    }
    # rate -> (numerator, denominator); with LTFU kept the lost are missed visits
    rates: dict[str, tuple[int, int]] = {
        "ltfu_pct": (counts["ltfu"], counts["assigned"]),
        "missed_pct_with_ltfu": (
            counts["missed"] + counts["ltfu"],
            counts["denominator_with_ltfu"],
        ),
        "cohort_controlled_pct": (cohort.controlled, cohort.cohort),
        "cohort_uncontrolled_pct": (cohort.uncontrolled, cohort.cohort),
        "cohort_no_visit_pct": (cohort.no_visit, cohort.cohort),
    }
    for k in ("controlled", "uncontrolled", "visited_no_bp", "missed"):
        rates[f"{k}_pct"] = (counts[k], counts["denominator"])
        if k != "missed":
            rates[f"{k}_pct_with_ltfu"] = (counts[k], counts["denominator_with_ltfu"])
    if dhis2 is not None and simple is not None:
        counts["sugar_denominator"] = dhis2.denominator
        counts["sugar_controlled_dhis2"] = dhis2.n(Outcome.CONTROLLED)
        counts["sugar_controlled_simple"] = simple.n(Outcome.CONTROLLED)
        rates["sugar_controlled_dhis2_pct"] = (
            counts["sugar_controlled_dhis2"],
            dhis2.denominator,
        )
        rates["sugar_controlled_simple_pct"] = (
            counts["sugar_controlled_simple"],
            simple.denominator,
        )
    withheld = sorted(k for k, n in counts.items() if n < SUPPRESS_BELOW)
    withheld += sorted(
        k for k, (num, den) in rates.items() if num < SUPPRESS_BELOW or den < SUPPRESS_BELOW
    )
    shown: dict[str, Any] = {k: None if k in withheld else n for k, n in counts.items()}
    shown.update({k: None if k in withheld else _pct(num, den) for k, (num, den) in rates.items()})
    return IndicatorRow(code=code, name=name, level=level, suppressed=withheld, **shown)


def _add(reports: list[ControlReport]) -> ControlReport:
    total: dict[str, int] = defaultdict(int)
    for r in reports:
        for k, n in r.counts.items():
            total[k] += n
    return ControlReport(dict(total))


def _add_cohorts(reports: list[CohortReport]) -> CohortReport:
    return CohortReport(
        controlled=sum(r.controlled for r in reports),
        uncontrolled=sum(r.uncontrolled for r in reports),
        no_visit=sum(r.no_visit for r in reports),
    )


async def _area(session: AsyncSession, area: str | None) -> tuple[str, str | None, dict]:
    """(level, name, every region and district) of the area; 422 naming ``area``."""
    areas = await registry.statistics_areas(session)
    if area is None or area == "":
        return "country", None, areas
    found = areas.get(area)
    if found is None:
        raise Invalid.fields(
            [FieldError("area", N_("no region or district has code %(code)s"), {"code": area})]
        )
    return found[0], found[1], areas


def _definitions(targets: Targets, cohort: Period, followup: tuple[date, date]) -> dict[str, str]:
    _ = i18n.gettext
    params = {
        "systolic": targets.bp.systolic,
        "diastolic": targets.bp.diastolic,
        "cohort": cohort.code,
        "followup": f"{followup[0]:%d.%m.%Y}-{followup[1]:%d.%m.%Y}",
    }
    out = {}
    for k, text in DEFINITIONS.items():
        if k == "sugar_dhis2":
            p = {
                "fbs": f"{targets.sugar.fasting_mg_dl:g}",
                "hba1c": f"{targets.sugar.hba1c_percent:g}",
            }
        elif k == "sugar_simple":
            p = {
                "fbs": f"{targets.lenient.fasting_mg_dl:g}",
                "hba1c": f"{targets.lenient.hba1c_percent:g}",
            }
        else:
            p = params
        out[k] = _(text) % p if "%(" in text else _(text)
    return out


async def programme_indicators(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    area: str | None = None,
    by: str | None = None,
    programme: str = "hypertension",
    today: date | None = None,
) -> AreaIndicators:
    """The control indicators of a closed month or quarter in the country, a region or a
    district, per unit ``by`` (default: one level down; a district: its facilities), and
    the area's total; counts below five withheld. An unknown area, level, programme or an
    open period is refused naming the field. Audited as an aggregate read."""
    today = today or date.today()
    p = parse_period(period, today)
    rules = screening_rules()
    dmp = rules.dmp(programme, p.end)
    level, area_name, areas = await _area(session, area)
    by = by or LEVEL_BELOW[level]
    if by not in ("region", "district", "facility") or LEVEL_RANK[by] <= LEVEL_RANK[level]:
        raise Invalid.fields(
            [
                FieldError(
                    "by",
                    N_("is a level below the area: %(levels)s"),
                    {
                        "levels": ", ".join(
                            k for k, r in LEVEL_RANK.items() if r > LEVEL_RANK[level]
                        )
                    },
                )
            ]
        )
    places = await registry.settlement_places(session)
    settlements = await registry.facility_settlements(session)

    def unit_of(fid: int) -> tuple[str | None, str | None]:
        sp = places.get(settlements.get(fid))  # type: ignore[arg-type]
        return (sp.district, sp.region) if sp else (None, None)

    if level == "country":
        facility_ids = None
    else:
        i = 0 if level == "district" else 1
        facility_ids = sorted(f for f in settlements if unit_of(f)[i] == area)
    targets = targets_on(p.end)
    cohort = cohort_of(p)
    followup = cohort_followup(cohort)
    sugar = dmp.qualifies("E11")
    bp = await control_counts(session, programme, p, facility_ids=facility_ids, target=targets.bp)
    coh = await cohort_counts(
        session, programme, cohort, facility_ids=facility_ids, target=targets.bp
    )
    dhis2 = simple = {}
    if sugar:
        dhis2, simple = await sugar_counts(
            session, programme, p, (targets.sugar, targets.lenient), facility_ids
        )
    fids = sorted(set(bp) | set(coh))
    # unit code -> facilities
    groups: dict[str | None, list[int]] = defaultdict(list)
    for fid in fids:
        district, region = unit_of(fid)
        key = {"facility": str(fid), "district": district, "region": region}[by]
        groups[key].append(fid)
    names = await registry.facility_names(session, fids) if by == "facility" else {}
    lang = i18n.current_language()

    def build(code: str | None, name: str, lvl: str, members: list[int]) -> IndicatorRow:
        return _row(
            code,
            name,
            lvl,
            _add([bp[f] for f in members if f in bp]),
            _add_cohorts([coh[f] for f in members if f in coh]),
            _add([dhis2[f] for f in members if f in dhis2]) if sugar else None,
            _add([simple[f] for f in members if f in simple]) if sugar else None,
        )

    rows = []
    for key, members in groups.items():
        if by == "facility":
            fn = names.get(int(key))  # type: ignore[arg-type]
            code = fn.code if fn else key
            name = (fn.names.get(lang) or fn.name) if fn else key
        else:
            code = key
            name = areas[key][1] if key in areas else i18n.gettext("place not recorded")
        rows.append(build(code, name or "", by, members))
    rows.sort(key=lambda r: (r.code is None, r.code or ""))
    total = build(area, area_name or i18n.gettext("whole country"), level, fids)
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="ScreeningIndicators",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=f"{programme} {p.code}",
    )
    return AreaIndicators(
        programme=programme,
        programme_name=dmp.name(lang),
        period=p.code,
        period_start=p.start,
        period_end=p.end,
        recent_start=p.recent_start,
        year_start=p.year_start,
        cohort_period=cohort.code,
        cohort_followup_start=followup[0],
        cohort_followup_end=followup[1],
        area_code=area or None,
        area_name=area_name,
        area_level=level,
        by=by,
        target_systolic=targets.bp.systolic,
        target_diastolic=targets.bp.diastolic,
        sugar=sugar,
        rows=rows,
        total=total,
        definitions=_definitions(targets, cohort, followup),
    )


#: CSV columns: the stable codes (REST) and their labels (the page's download)
CSV_COLUMNS: dict[str, str] = {
    "code": N_("Code"),
    "name": N_("Name"),
    "level": N_("Level"),
    "registered": N_("Registered"),
    "assigned": N_("Assigned"),
    "dead": N_("Dead"),
    "new": N_("Registered in the last 3 months"),
    "ltfu": N_("Lost to follow-up"),
    "under_care": N_("Under care"),
    "denominator": N_("Denominator (without lost to follow-up)"),
    "controlled": N_("BP controlled"),
    "controlled_pct": N_("BP controlled, per cent"),
    "uncontrolled": N_("BP not controlled"),
    "uncontrolled_pct": N_("BP not controlled, per cent"),
    "visited_no_bp": N_("Visited, no BP"),
    "visited_no_bp_pct": N_("Visited, no BP, per cent"),
    "missed": N_("Missed visits"),
    "missed_pct": N_("Missed visits, per cent"),
    "denominator_with_ltfu": N_("Denominator (lost to follow-up kept)"),
    "controlled_pct_with_ltfu": N_("BP controlled, per cent (lost to follow-up kept)"),
    "uncontrolled_pct_with_ltfu": N_("BP not controlled, per cent (lost to follow-up kept)"),
    "missed_pct_with_ltfu": N_("Missed visits, per cent (lost to follow-up kept)"),
    "ltfu_pct": N_("Lost to follow-up, per cent of assigned"),
    "cohort": N_("Cohort"),
    "cohort_controlled_pct": N_("Cohort: controlled, per cent"),
    "cohort_uncontrolled_pct": N_("Cohort: not controlled, per cent"),
    "cohort_no_visit_pct": N_("Cohort: no visit, per cent"),
    "sugar_controlled_dhis2_pct": N_("Sugar controlled (DHIS2), per cent"),
    "sugar_controlled_simple_pct": N_("Sugar controlled (Simple), per cent"),
}


def indicators_csv(result: AreaIndicators, *, localized: bool = False) -> CsvFile:
    """One line per unit and a last line with the area's total; withheld cells empty.
    ``localized``: headers in the current language (the page's download), else the
    stable codes (the REST API's)."""
    cols = [c for c in CSV_COLUMNS if result.sugar or not c.startswith("sugar_")]
    header = [i18n.gettext(CSV_COLUMNS[c]) for c in cols] if localized else ["period", *cols]
    if localized:
        header = [i18n.gettext("Period"), *header]

    def line(r: IndicatorRow) -> list[Any]:
        d = r.model_dump()
        return [result.period, *("" if d[c] is None else d[c] for c in cols)]

    where = result.area_code or "national"
    name = f"screening-indicators-{result.programme}-{where}-{result.period}.csv"
    return CsvFile(name, csv_text(header, [*(line(r) for r in result.rows), line(result.total)]))


# ---- screening coverage by programme ---------------------------------------------------


class CoverageRow(BaseModel):
    """One programme in one unit: the target group on the last day of the period and the
    people of it screened in the programme's interval (not opportunistic); counts below
    five withheld with the rate."""

    programme: str
    name: str
    code: str | None
    unit_name: str
    eligible: int | None
    screened: int | None
    coverage_pct: float | None
    suppressed: list[str] = []


class AreaCoverage(BaseModel):
    period: str
    on: date
    area_code: str | None
    area_name: str | None
    by: str
    rows: list[CoverageRow]
    total: list[CoverageRow]
    definition: str
    suppress_below: int = SUPPRESS_BELOW


COVERAGE_DEFINITION = N_(
    "Screening coverage: people of the programme's target group on %(day)s (attached, of its "
    "ages and sex, not under observation for a condition it excludes) screened within its "
    "interval, opportunistic screenings not counted. Denominator: the target group."
)


def _coverage_row(
    programme: str, name: str, code: str | None, unit: str, eligible: int, screened: int
) -> CoverageRow:
    withheld = [
        k for k, n in (("eligible", eligible), ("screened", screened)) if n < SUPPRESS_BELOW
    ]
    if withheld:
        withheld.append("coverage_pct")
    return CoverageRow(
        programme=programme,
        name=name,
        code=code,
        unit_name=unit,
        eligible=None if "eligible" in withheld else eligible,
        screened=None if "screened" in withheld else screened,
        coverage_pct=None if withheld else _pct(screened, eligible),
        suppressed=withheld,
    )


async def screening_coverage(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str,
    area: str | None = None,
    today: date | None = None,
) -> AreaCoverage:
    """Coverage of every inviting programme on the last day of a closed period, for each
    region (the country) or district (a region), and the area's total; a district is its
    own single unit. Counts come from ``target_groups.target_group_counts``, summed."""
    from salomat.domains.screening.service.target_groups import target_group_counts

    today = today or date.today()
    p = parse_period(period, today)
    level, area_name, areas = await _area(session, area)
    if level == "district":
        units = [area]
    else:
        units = sorted(c for c, (lvl, _n, parent) in areas.items()
                       if lvl == ("region" if level == "country" else "district")
                       and (level == "country" or parent == area))  # fmt: skip
    by = "district" if level != "country" else "region"
    rows: list[CoverageRow] = []
    totals: dict[str, list[Any]] = {}
    for unit in units:
        for c in await target_group_counts(session, principal, p.end, area=unit):
            rows.append(
                _coverage_row(c.programme, c.name, unit, areas[unit][1], c.eligible, c.screened)
            )
            t = totals.setdefault(c.programme, [c.name, 0, 0])
            t[1] += c.eligible
            t[2] += c.screened
    where = area_name or i18n.gettext("whole country")
    total = [_coverage_row(k, n, area, where, e, s) for k, (n, e, s) in totals.items()]
    if level == "district":  # its own single unit: the total says it all
        rows = []
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="ScreeningCoverage",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=p.code,
    )
    return AreaCoverage(
        period=p.code,
        on=p.end,
        area_code=area or None,
        area_name=area_name,
        by=by,
        rows=rows,
        total=total,
        definition=i18n.gettext(COVERAGE_DEFINITION) % {"day": f"{p.end:%d.%m.%Y}"},
    )
