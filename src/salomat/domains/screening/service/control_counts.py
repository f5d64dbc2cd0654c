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

This module counts the control indicators (blood pressure, sugar by both definitions)
unmasked per facility; ``cohorts`` the quarterly cohorts from the same assignment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, DmpVisit, ScreeningObservation
from salomat.domains.screening.service.hearts import (
    DHIS2_SUGAR,
    HEARTS_BP,
    MG_DL_PER_MMOL_L,
    SIMPLE_SUGAR,
    BPTarget,
    ControlReport,
    Outcome,
    Period,
    SugarTarget,
)
from salomat.domains.screening.service.rules import screening_rules

__all__ = ["SUGAR_KINDS", "Targets", "control_counts", "sugar_counts", "targets_on"]

SUGAR_KINDS = ("hba1c", "glucose_fasting")


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
