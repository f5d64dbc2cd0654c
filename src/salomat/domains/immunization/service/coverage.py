"""Immunization coverage of a birth cohort, for the country, a region or a district.

Aggregates only: no name or id of a child leaves this module, so the readers
(analysts, epidemiologists, family doctors) need no person scope; each view
is audited as an aggregate read.

Definitions (the pack's ``immunization_coverage.yaml`` holds the indicators;
``DEFINITIONS`` travels with every answer and its CSV):

- Cohort: the children born in the given calendar year (merged records left
  out), counted where they live (``person.settlement``), else where the
  facility they are attached to stands.
- An indicator (DTP3 by 12 months, MCV1 by 24 months, ...) counts a child as
  *eligible* once the child has reached the indicator's age (``by_days``
  after birth) by today and did not die before that age; *covered* when a
  valid, not entered-in-error dose of one of the indicator's antigens that
  counts as that dose (``counted_as``: valid doses in date order, so a dose
  recorded as "dose 3" with no valid doses 1-2 counts for DTP1, not DTP3)
  was given at an age of at most ``by_days`` days (age 0: the birth day). A
  refusal or contraindication does not remove a child from the denominator
  (WHO counts them as not vaccinated).
- Revaccination coverage (``among`` in the pack, target 65 %): among the
  eligible children with the earlier dose (valid, by the same age), those
  who also had the revaccination dose. DTP revaccination: DTP 4 among
  DTP3-vaccinated children, by 24 months; MMR revaccination: MMR 2 among
  MMR1-vaccinated children, by 7 years.
- Dropout DTP1 -> DTP3: (DTP1 - DTP3) / DTP1, both by 12 months, of the same
  eligible children.
- Series complete (``series_complete`` in the pack, PCV): the child's series is
  complete under the plan that applies to the child: the calendar's last dose,
  or, when the first valid dose fell in a catch-up band (PCV begun at 12-23
  months: 2 doses), that plan's last dose, by ``by_days``. The band is read
  from the age in calendar months at the first valid dose, counted as the
  engine counts ages (``_months``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, and_, case, cast, extract, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.i18n import N_
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.immunization.models import Dose
from salomat.domains.immunization.schemas import (
    CoverageFigure,
    CoverageIndicator,
    CoverageRow,
    ImmunizationCoverage,
)
from salomat.domains.immunization.service.labels import Labels
from salomat.domains.immunization.service.rules import Age, calendar
from salomat.domains.registry import service as registry

__all__ = [
    "COVERAGE_DEFINITIONS",
    "coverage_csv",
    "coverage_indicators",
    "immunization_coverage",
    "latest_complete_cohort",
]

#: the oldest cohort a coverage can be asked for (the registry's paper records go no further)
FIRST_COHORT = 1990

COVERAGE_DEFINITIONS = {
    "cohort": "children born in the calendar year, counted where they live (else where the "
    "facility they are attached to stands)",
    "eligible": "children of the cohort who have reached the indicator's age by today and did "
    "not die before it",
    "covered": "of those, with a valid dose (not entered in error) of the indicator's antigen "
    "counting as that dose of the series (valid doses counted in date order, whatever number "
    "was recorded) given at an age of at most by_days days; refusals stay in the denominator",
    "revaccination": "among the eligible children with the earlier dose (valid, by the same "
    "age), those who also had the revaccination dose; national target at least 65 %",
    "series_complete": "the child's series complete under the plan that applies to the child "
    "(the calendar's doses, or the catch-up plan the first valid dose started), its last dose "
    "given by by_days",
    "dropout": "(first - last) / first, e.g. DTP1 to DTP3, both by 12 months",
    "complete": "false while some children of the cohort are younger than the indicator's age",
}


@dataclass(frozen=True)
class Plan:
    """A catch-up plan for a series-complete indicator: first valid dose at an age of
    ``from_months`` (inclusive) to ``until_months`` (exclusive): complete at place ``last``."""

    from_months: int
    until_months: int
    last: int


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    antigens: tuple[str, ...]
    #: the place counted (None: ``series_complete``)
    dose: int | None
    by_days: int
    among: tuple[tuple[str, ...], int] | None = None
    target: float | None = None
    #: complete under the child's plan: the calendar's last place, or a catch-up plan's
    series_complete: bool = False
    #: the catch-up plans that end before the calendar's last place (series_complete only)
    plans: tuple[Plan, ...] = ()

    @property
    def places(self) -> list[tuple[tuple[str, ...], int]]:
        """(antigens, place) whose age at the dose the indicator reads."""
        assert self.dose is not None
        out = [(self.antigens, self.dose)]
        out += [(self.antigens, p.last) for p in self.plans]
        if self.plans:
            out.append((self.antigens, 1))
        return out + ([self.among] if self.among else [])


def _band_months(age: Age, where: str) -> int:
    if age.days:
        raise pack.PackError(f"{where}: a catch-up band for coverage is in months or years")
    return 12 * age.years + age.months


def _complete_plans(country: str, code: str, antigens: tuple[str, ...]) -> tuple[int, list[Plan]]:
    """The calendar's last place of the series and its catch-up plans that end earlier."""
    series = calendar(country).get(antigens[0]) if len(antigens) == 1 else None
    if series is None or not series.doses:
        raise pack.PackError(f"coverage {code}: series_complete names one series of the calendar")
    last = series.doses[-1].dose_number
    plans = [
        Plan(
            _band_months(c.from_age, f"coverage {code}"),
            _band_months(c.until_age, f"coverage {code}"),
            c.rules[-1].dose_number,
        )
        for c in series.catch_up
        if c.rules[-1].dose_number != last
    ]
    return last, plans


@dataclass(frozen=True)
class Dropout:
    code: str
    label: str
    first: str
    last: str


@lru_cache
def coverage_indicators(country: str) -> tuple[tuple[Indicator, ...], tuple[Dropout, ...]]:
    """The pack's indicators and dropouts (``<CC>/immunization_coverage.yaml``)."""
    data = pack.load(country, "immunization_coverage")["coverage"]
    indicators = []
    for i in data["indicators"]:
        among = i.get("among")
        antigens = tuple(i["antigens"])
        complete = bool(i.get("series_complete"))
        if complete == ("dose" in i):
            raise pack.PackError(f"coverage {i['code']}: give either dose or series_complete")
        dose, plans = (
            _complete_plans(country, i["code"], antigens) if complete else (int(i["dose"]), [])
        )
        indicators.append(
            Indicator(
                code=i["code"],
                label=i["label"],
                antigens=antigens,
                dose=dose,
                by_days=int(i["by_days"]),
                among=(tuple(among["antigens"]), int(among["dose"])) if among else None,
                target=float(i["target"]) if i.get("target") is not None else None,
                series_complete=complete,
                plans=tuple(plans),
            )
        )
    codes = {i.code for i in indicators}
    dropouts = []
    for d in data.get("dropout", []):
        if d["first"] not in codes or d["last"] not in codes:
            raise pack.PackError(f"coverage dropout {d['code']} names an unknown indicator")
        dropouts.append(Dropout(d["code"], d["label"], d["first"], d["last"]))
    return tuple(indicators), tuple(dropouts)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _age_days(session: AsyncSession, later: Any, birth: Any) -> Any:
    """Whole days from ``birth`` to ``later`` (date columns) in the backend's own terms."""
    if session.bind.dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(birth), Integer)
    return later - birth


def _months(session: AsyncSession, later: Any, birth: Any) -> Any:
    """Whole calendar months from ``birth`` to ``later``, as the engine counts ages.

    ``add_age(birth, n months)`` is the same day n months on, or the month's last
    day when the month is shorter; so n months are reached on ``later`` when its
    day is at least the birth's day, or ``later`` is the last day of its month.
    """
    if session.bind.dialect.name == "sqlite":
        next_day = func.date(later, "+1 day")
    else:
        next_day = later + literal(1)
    y, m, d = (extract(f, later) for f in ("year", "month", "day"))
    by, bm, bd = (extract(f, birth) for f in ("year", "month", "day"))
    short = and_(d < bd, extract("day", next_day) != 1)
    return 12 * (y - by) + (m - bm) - case((short, 1), else_=0)


async def _counts(
    session: AsyncSession, cohort: Any, indicators: tuple[Indicator, ...], today: date
) -> dict[int | None, dict[str, tuple[int, int]]]:
    """(eligible, covered) per settlement id and indicator, in one pass over the cohort.

    Each child's smallest age (days, from 0) at a valid completed dose counted in
    each (antigen group, place) the indicators name, then filtered counts: a
    dose "by ``by_days``" is one whose smallest age is at most ``by_days``. Only
    settlements with eligible children are returned (an empty group has no row).
    """
    wanted: dict[tuple[tuple[str, ...], int], str] = {}
    for ind in indicators:
        for key in ind.places:
            wanted.setdefault(key, f"a{len(wanted)}")
    if not wanted:
        return {}
    age = _age_days(session, Dose.given_on, cohort.c.birth_date)
    months = _months(session, Dose.given_on, cohort.c.birth_date)
    # the age in months at the first valid dose, for the series whose plan it decides
    first: dict[tuple[str, ...], str] = {
        ind.antigens: f"m{k}" for k, ind in enumerate(indicators) if ind.plans
    }
    antigens = sorted({a for antigens, _ in wanted for a in antigens})
    ages = (
        select(
            cohort.c.settlement_id,
            cohort.c.birth_date,
            _age_days(session, cohort.c.deceased_on, cohort.c.birth_date).label("died_at"),
            *(
                func.min(
                    case((and_(Dose.antigen.in_(antigens_), Dose.counted_as == dose), age))
                ).label(col)
                for (antigens_, dose), col in wanted.items()
            ),
            *(
                func.min(
                    case((and_(Dose.antigen.in_(antigens_), Dose.counted_as == 1), months))
                ).label(col)
                for antigens_, col in first.items()
            ),
        )
        .select_from(cohort)
        .outerjoin(
            Dose,
            and_(
                Dose.person_id == cohort.c.person_id,
                Dose.antigen.in_(antigens),
                Dose.valid.is_(True),
                Dose.counted_as.is_not(None),
                Dose.status == "completed",
                Dose.given_on >= cohort.c.birth_date,
            ),
        )
        .group_by(
            cohort.c.person_id,
            cohort.c.settlement_id,
            cohort.c.birth_date,
            cohort.c.deceased_on,
        )
        .subquery()
    )
    columns = []
    for ind in indicators:
        eligible = [
            ages.c.birth_date <= today - timedelta(days=ind.by_days),
            or_(ages.c.died_at.is_(None), ages.c.died_at > ind.by_days),
        ]
        if ind.among is not None:
            eligible.append(ages.c[wanted[ind.among]] <= ind.by_days)
        covered = ages.c[wanted[(ind.antigens, ind.dose)]] <= ind.by_days
        if ind.plans:
            m1 = ages.c[first[ind.antigens]]
            covered = or_(
                covered,
                *(
                    and_(
                        m1 >= p.from_months,
                        m1 < p.until_months,
                        ages.c[wanted[(ind.antigens, p.last)]] <= ind.by_days,
                    )
                    for p in ind.plans
                ),
            )
        columns.append(func.sum(case((and_(*eligible), 1), else_=0)))
        columns.append(func.sum(case((and_(*eligible, covered), 1), else_=0)))
    rows = await session.execute(
        select(ages.c.settlement_id, *columns).group_by(ages.c.settlement_id)
    )
    out: dict[int | None, dict[str, tuple[int, int]]] = {}
    for row in rows:
        figures = {
            ind.code: (int(row[1 + 2 * i] or 0), int(row[2 + 2 * i] or 0))
            for i, ind in enumerate(indicators)
        }
        figures = {code: f for code, f in figures.items() if f[0]}
        if figures:
            out[row[0]] = figures
    return out


def latest_complete_cohort(country: str, today: date) -> int:
    """The latest birth year whose schedule window has closed for every indicator.

    A cohort is complete on the day its youngest child (born on 31 December) reaches
    the age of the pack's latest indicator (the largest ``by_days``: MCV2 by 7 years
    in both packs): from that day every child of the cohort is in every denominator
    (the day an indicator's ``complete`` turns true, and the day a child becomes
    eligible), so no figure of that cohort still grows. Later cohorts can be asked
    for; their unfinished indicators are marked.
    """
    indicators, _ = coverage_indicators(country)
    window = timedelta(days=max(i.by_days for i in indicators))
    year = today.year
    while year > FIRST_COHORT and date(year, 12, 31) + window > today:
        year -= 1
    return year


def _check_cohort(cohort: int | None, today: date) -> int:
    if cohort is None:
        return latest_complete_cohort(get_settings().country, today)
    if not FIRST_COHORT <= cohort <= today.year:
        raise Invalid.fields(
            [
                FieldError(
                    "cohort",
                    N_("must be a birth year from %(first)s to %(last)s"),
                    {"first": FIRST_COHORT, "last": today.year},
                )
            ]
        )
    return cohort


def _row(
    code: str | None,
    name: str,
    level: str | None,
    counts: dict[str, list[int]],
    indicators: tuple[Indicator, ...],
    dropouts: tuple[Dropout, ...],
) -> CoverageRow:
    figures = {}
    for ind in indicators:
        eligible, covered = counts.get(ind.code, [0, 0])
        pct = _pct(covered, eligible)
        figures[ind.code] = CoverageFigure(
            code=ind.code,
            covered=covered,
            eligible=eligible,
            pct=pct,
            target=ind.target,
            meets_target=None if ind.target is None or pct is None else pct >= ind.target,
        )
    dropout = {}
    for d in dropouts:
        first, last = figures[d.first].covered, figures[d.last].covered
        dropout[d.code] = _pct(first - last, first)
    return CoverageRow(code=code, name=name, level=level, figures=figures, dropout=dropout)


async def immunization_coverage(
    session: AsyncSession,
    principal: Principal,
    *,
    area: str | None = None,
    cohort: int | None = None,
    today: date | None = None,
) -> ImmunizationCoverage:
    """Coverage of a birth cohort in an area, per unit one level down.

    ``area``: a region or district code (None: the whole country); ``cohort``:
    a birth year (default: the latest complete cohort, ``latest_complete_cohort``). An
    unknown code, a settlement or a
    year outside the register is refused, naming the field.
    """
    today = today or date.today()
    year = _check_cohort(cohort, today)
    try:
        breakdown = await registry.area_breakdown(session, area)
    except NotFound as e:
        raise Invalid.fields(
            [FieldError("area", N_("no territorial unit has code %(area)s"), {"area": area})]
        ) from e
    settlements = None if area is None else sorted(breakdown.unit_of)
    people = registry.cohort_query(year, settlements)
    indicators, dropouts = coverage_indicators(get_settings().country)
    # unit code (None: place not recorded) -> indicator -> [eligible, covered]
    per_unit: dict[str | None, dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sid, figures in (await _counts(session, people, indicators, today)).items():
        code = breakdown.unit_of.get(sid) if sid is not None else None
        if code is None and sid is not None:
            continue
        for ind_code, (eligible, covered) in figures.items():
            for into in (per_unit[code][ind_code], total[ind_code]):
                into[0] += eligible
                into[1] += covered
    rows = [
        _row(u.code, u.name, u.level, per_unit.get(u.code, {}), indicators, dropouts)
        for u in breakdown.units
    ]
    if None in per_unit:
        rows.append(_row(None, "place not recorded", None, per_unit[None], indicators, dropouts))
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="ImmunizationCoverage",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=f"cohort {year}",
    )
    a = breakdown.area
    cohort_end = date(year, 12, 31)
    return ImmunizationCoverage(
        area_code=a.code if a else None,
        area_name=a.name if a else None,
        area_level=a.level if a else None,
        cohort=year,
        as_of=utcnow(),
        indicators=[
            CoverageIndicator(
                code=i.code,
                label=i.label,
                antigens=list(i.antigens),
                dose=None if i.series_complete else i.dose,
                series_complete=i.series_complete,
                by_days=i.by_days,
                among=f"{'/'.join(i.among[0])} {i.among[1]}" if i.among else None,
                target=i.target,
                complete=cohort_end + timedelta(days=i.by_days) <= today,
            )
            for i in indicators
        ],
        total=_row(
            a.code if a else None,
            f"total: {a.name if a else 'national'}",
            a.level if a else None,
            total,
            indicators,
            dropouts,
        ),
        rows=rows,
        definitions=COVERAGE_DEFINITIONS,
    )


#: the unit levels as the page's CSV names them
LEVELS = {"region": N_("region"), "district": N_("district"), "settlement": N_("settlement")}


def _columns(c: ImmunizationCoverage, labels: Labels | None = None) -> list[str]:
    if labels is None:
        cols = ["cohort", "code", "name", "level"]
        for i in c.indicators:
            cols += [f"{i.code}_eligible", f"{i.code}_covered", f"{i.code}_pct"]
            if i.target is not None:
                cols.append(f"{i.code}_meets_target")
        cols += [f"dropout_{d}_pct" for d in c.total.dropout]
        return cols
    _ = i18n.gettext
    cols = [_("Birth cohort"), _("Code"), _("Name"), _("Level")]
    for i in c.indicators:
        name = labels.indicator(i.code)
        cols += [f"{name}: {_('eligible')}", f"{name}: {_('covered')}", f"{name}: %"]
        if i.target is not None:
            cols.append(f"{name}: {_('target met')}")
    cols += [f"{labels.dropout(d)}, %" for d in c.total.dropout]
    return cols


def _line(c: ImmunizationCoverage, r: CoverageRow, localized: bool = False) -> list[Any]:
    _ = i18n.gettext if localized else (lambda s: s)
    level = r.level or ""
    if localized and level in LEVELS:
        level = _(LEVELS[level])
    out: list[Any] = [c.cohort, r.code or "", r.name, level]
    for i in c.indicators:
        f = r.figures[i.code]
        out += [f.eligible, f.covered, "" if f.pct is None else f.pct]
        if i.target is not None:
            out.append("" if f.meets_target is None else (_("yes") if f.meets_target else _("no")))
    out += ["" if v is None else v for v in r.dropout.values()]
    return out


def coverage_csv(c: ImmunizationCoverage, *, localized: bool = False) -> CsvFile:
    """A header line, one line per unit and a last line with the area's total.

    ``localized``: the header, levels and yes/no in the current language and the
    indicators by their names (the page's download); without it the stable column
    codes (the REST API's), which scripts read.
    """
    labels = Labels() if localized else None
    rows = [_line(c, r, localized) for r in c.rows] + [_line(c, c.total, localized)]
    name = f"immunization-coverage-{c.area_code or 'national'}-{c.cohort}.csv"
    return CsvFile(name, csv_text(_columns(c, labels), rows))
