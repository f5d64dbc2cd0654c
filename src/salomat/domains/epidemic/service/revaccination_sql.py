"""Revaccination coverage and the worklist of those due, counted from the immunization
registry in SQL (issue 23, item 6; docs/epidemic.md, "Revaccination").

Definitions (the pack's ``epidemic.yaml``, ``revaccination``):

- A person counts once, as the master patient index has them: a merged record's doses
  count on its survivor, and two records' doses on the same day are one dose.
- Primary series completed: the person has ``primary_doses`` doses of the pack's
  antigen (completed, valid, on different days, up to the day asked); completed on the
  day of the last of them.
- Revaccinated: a later dose after the completed primary series (by that day).
- Eligible: primary series completed at least ``interval_months`` calendar months
  before the day (``months_before``: on the same day of the month, or its last day), or
  already revaccinated.
- Due (the worklist): eligible and not revaccinated; due since the day the interval
  ends.

The worklist and the citizen's notice are ``revaccination_due``, the FHIR MeasureReport
``revaccination_report``. Coverage is one statement per report, grouped by settlement
and age band (age in whole years on the day), summed per unit one level down in Python,
and each cell goes through the pure ``revaccination.coverage`` for the two shares and
the target. Aggregates only, as immunization coverage: no name or id leaves the coverage,
so it is not suppressed for small cells (immunization coverage's choice; its readers are
the same roles) and is audited as one aggregate read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.revaccination import (
    Share,
    coverage,
    months_before,
)
from salomat.domains.immunization import service as immunization
from salomat.domains.immunization.service.dose_queries import given_doses_query
from salomat.domains.registry import service as registry
from salomat.domains.registry.service.mpi_queries import (
    canonical_person_ids,
    living_people_query,
)

__all__ = [
    "COVERAGE_HEADER",
    "CoverageCell",
    "RevaccinationCoverage",
    "RevaccinationDefinition",
    "ShareOut",
    "coverage_csv",
    "definition",
    "doses_recordable",
    "parse_on",
    "per_person_query",
    "revaccination_coverage",
]


@dataclass(frozen=True)
class RevaccinationDefinition:
    antigen: str
    atc: str
    primary_doses: int
    #: the lower bounds of the age bands, in whole years, ascending from 0
    age_bands: tuple[int, ...]
    names: Mapping[str, str]
    target_percent: Decimal
    interval_months: int
    source: str

    def name(self, language: str | None = None) -> str:
        lang = language or i18n.current_language()
        return self.names.get(lang) or self.names.get("en") or self.antigen

    def band_labels(self) -> tuple[str, ...]:
        b = self.age_bands
        return tuple(
            f"{lo}–{b[i + 1] - 1}" if i + 1 < len(b) else f"{lo}+" for i, lo in enumerate(b)
        )


def parse_definition(country: str, data: Mapping[str, Any]) -> RevaccinationDefinition:
    """The ``revaccination`` section's vaccine, checked (``pack.PackError`` naming the key)."""
    where = f"{country}/epidemic.yaml: revaccination"
    v = data.get("revaccination") or {}
    p = rules.parse_pack(country, data)
    antigen = v.get("antigen")
    n = v.get("primary_doses")
    bands = v.get("age_bands") or [0]
    if not isinstance(antigen, str) or not antigen:
        raise pack.PackError(f"{where}.antigen: the immunization series code is required")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise pack.PackError(f"{where}.primary_doses must be a whole number of at least 1")
    if (
        not isinstance(bands, list)
        or any(isinstance(x, bool) or not isinstance(x, int) for x in bands)
        or bands[0] != 0
        or any(a >= b for a, b in pairwise(bands))
    ):
        raise pack.PackError(f"{where}.age_bands must be ascending whole years from 0")
    return RevaccinationDefinition(
        antigen=antigen,
        atc=str(v.get("atc") or ""),
        primary_doses=n,
        age_bands=tuple(bands),
        names=dict(v.get("names") or {}),
        target_percent=p.revaccination_target,
        interval_months=p.revaccination_interval_months,
        source=p.revaccination_source,
    )


@lru_cache(maxsize=4)
def _definition(country: str) -> RevaccinationDefinition:
    return parse_definition(country, pack.load(country, "epidemic"))


def definition(country: str | None = None) -> RevaccinationDefinition:
    """The deployed (or ``country``'s) revaccination definition, read once."""
    return _definition((country or get_settings().country).upper())


def doses_recordable(country: str | None = None) -> bool:
    """Whether every dose the figures count can be recorded in the immunization registry:
    its antigen is a series of the immunization calendar (both packs: ``covid19``, given
    on indication) that accepts the primary doses and a revaccination after them (the
    registry refuses any other antigen or number). While not, the figures count only the
    doses loaded by import, and the pages say so."""
    d = definition(country)
    cal = immunization.calendar_options(country)
    return cal.get(d.antigen) is not None and all(
        cal.accepts(d.antigen, n) for n in range(1, d.primary_doses + 2)
    )


def parse_on(value: str | date | None, today: date | None = None) -> date:
    """The day the figures are counted on (``YYYY-MM-DD``; default today; not in the
    future, not before 2020)."""
    today = today or pack.today(get_settings().country)
    if value is None or value == "":
        return today
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise Invalid.fields(
                [FieldError("on", N_("%(value)r is not a date (YYYY-MM-DD)"), {"value": value})]
            ) from None
    if not date(2020, 1, 1) <= day <= today:
        raise Invalid.fields(
            [
                FieldError(
                    "on",
                    N_("must be a day from %(first)s to %(last)s"),
                    {"first": "2020-01-01", "last": today.isoformat()},
                )
            ]
        )
    return day


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def per_person_query(d: RevaccinationDefinition, on: date) -> Any:
    """One row per person (survivor) with a completed primary series by ``on``:
    ``person_id``, ``done`` (the day it was completed), ``rev`` (the first later dose, or
    NULL)."""
    given = given_doses_query(d.antigen, on)
    canon = canonical_person_ids()
    days = (
        select(canon.c.canonical_id.label("pid"), given.c.given_on.label("given_on"))
        .join(canon, canon.c.person_id == given.c.person_id)
        .distinct()
        .subquery("dose_days")
    )
    ranked = select(
        days.c.pid,
        days.c.given_on,
        func.row_number().over(partition_by=days.c.pid, order_by=days.c.given_on).label("n"),
    ).subquery("ranked")
    n = d.primary_doses
    return (
        select(
            ranked.c.pid.label("person_id"),
            func.max(case((ranked.c.n == n, ranked.c.given_on))).label("done"),
            func.max(case((ranked.c.n == n + 1, ranked.c.given_on))).label("rev"),
        )
        .group_by(ranked.c.pid)
        .having(func.max(ranked.c.n) >= n)
        .subquery("primary_done")
    )


def _band(d: RevaccinationDefinition, birth: Any, on: date) -> Any:
    """The age band's index on ``on`` as a CASE over the birth date (portable SQL)."""
    whens = [
        (birth > _years_before(on, lo), literal(i - 1))
        for i, lo in enumerate(d.age_bands)
        if lo > 0
    ]
    return case(*whens, else_=literal(len(d.age_bands) - 1)) if whens else literal(0)


# ---- coverage ------------------------------------------------------------------------------


class ShareOut(BaseModel):
    numerator: int
    denominator: int
    percent: Decimal | None
    met: bool | None
    #: the denominator as the reader sees it, in the request's language
    label: str


class CoverageCell(BaseModel):
    #: unit code (None: the area's total, or the place not recorded when ``name`` says so)
    code: str | None
    name: str
    level: str | None
    #: the age band ("18–29", "70+"); None: all ages
    age_group: str | None
    completed_primary: int
    eligible: int
    revaccinated: int
    of_eligible: ShareOut
    of_all: ShareOut


class RevaccinationCoverage(BaseModel):
    area_code: str | None
    area_name: str | None
    area_level: str | None
    on: date
    as_of: datetime
    antigen: str
    atc: str
    vaccine: str
    primary_doses: int
    interval_months: int
    target_percent: Decimal
    source: str
    age_groups: list[str]
    #: per unit and age group, then the unit's all ages (age_group None)
    rows: list[CoverageCell]
    #: the area per age group, then all ages
    total: list[CoverageCell]
    definitions: dict[str, str]


DEFINITIONS = {
    "completed_primary": "persons (one per record of the master patient index) with the "
    "primary series completed by the day",
    "eligible": "of those, completed at least the pack's interval before the day, or "
    "already revaccinated",
    "revaccinated": "of those, with a later dose after the completed primary series",
    "of_eligible": "revaccinated / eligible",
    "of_all": "revaccinated / completed primary",
}


def _share_out(s: Share, months: int) -> ShareOut:
    return ShareOut(
        numerator=s.numerator,
        denominator=s.denominator,
        percent=s.percent,
        met=s.met,
        label=i18n.gettext(s.label) % {"months": months},
    )


def _cell(
    d: RevaccinationDefinition,
    code: str | None,
    name: str,
    level: str | None,
    band: str | None,
    counts: list[int],
) -> CoverageCell:
    completed, eligible, revaccinated = counts
    c = coverage(
        revaccinated,
        completed,
        eligible,
        target_percent=d.target_percent,
        interval_months=d.interval_months,
    )
    return CoverageCell(
        code=code,
        name=name,
        level=level,
        age_group=band,
        completed_primary=completed,
        eligible=eligible,
        revaccinated=revaccinated,
        of_eligible=_share_out(c.eligible, d.interval_months),
        of_all=_share_out(c.all, d.interval_months),
    )


async def _coverage_counts(
    session: AsyncSession, d: RevaccinationDefinition, on: date
) -> list[tuple[int | None, int, int, int, int]]:
    """(settlement id, band index, completed, eligible, revaccinated): one statement."""
    per = per_person_query(d, on)
    people = living_people_query(on)
    cutoff = months_before(on, d.interval_months)
    band = _band(d, people.c.birth_date, on).label("band")
    eligible = or_(per.c.done <= cutoff, per.c.rev.is_not(None))
    q = (
        select(
            people.c.settlement_id,
            band,
            func.count(),
            func.sum(case((eligible, 1), else_=0)),
            func.sum(case((per.c.rev.is_not(None), 1), else_=0)),
        )
        .select_from(per)
        .join(people, people.c.person_id == per.c.person_id)
        .group_by(people.c.settlement_id, band)
    )
    return [
        (r[0], int(r[1]), int(r[2]), int(r[3] or 0), int(r[4] or 0))
        for r in (await session.execute(q)).all()
    ]


async def revaccination_coverage(
    session: AsyncSession,
    principal: Principal,
    *,
    area: str | None = None,
    on: str | date | None = None,
    today: date | None = None,
) -> RevaccinationCoverage:
    """Coverage in an area (None: the country) per unit one level down and age group,
    with both denominators against the target. An unknown area or a bad day is a 422
    naming the field."""
    d = definition()
    day = parse_on(on, today)
    try:
        breakdown = await registry.area_breakdown(session, area)
    except NotFound as e:
        raise Invalid.fields(
            [FieldError("area", N_("no territorial unit has code %(area)s"), {"area": area})]
        ) from e
    bands = d.band_labels()
    zero = lambda: [0, 0, 0]  # noqa: E731
    per_unit: dict[str | None, dict[int, list[int]]] = defaultdict(lambda: defaultdict(zero))
    total: dict[int, list[int]] = defaultdict(zero)
    for sid, b, *counts in await _coverage_counts(session, d, day):
        code = breakdown.unit_of.get(sid) if sid is not None else None
        if code is None and (sid is not None or area is not None):
            continue  # outside the area (a person with no place counts only nationally)
        for into in (per_unit[code][b], total[b]):
            for k in range(3):
                into[k] += counts[k]

    def cells(code: str | None, name: str, level: str | None, by_band: Any) -> list[CoverageCell]:
        out = [
            _cell(d, code, name, level, label, by_band.get(i, [0, 0, 0]))
            for i, label in enumerate(bands)
        ]
        all_ages = [sum(by_band.get(i, [0, 0, 0])[k] for i in range(len(bands))) for k in range(3)]
        out.append(_cell(d, code, name, level, None, all_ages))
        return out

    rows: list[CoverageCell] = []
    lang = i18n.current_language()
    for u in breakdown.units:
        rows += cells(u.code, u.names.get(lang) or u.name, u.level, per_unit.get(u.code, {}))
    if None in per_unit:
        rows += cells(None, i18n.gettext("place not recorded"), None, per_unit[None])
    a = breakdown.area
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="ImmunizationCoverage",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=f"{d.antigen} on {day.isoformat()}",
    )
    return RevaccinationCoverage(
        area_code=a.code if a else None,
        area_name=(a.names.get(lang) or a.name) if a else None,
        area_level=a.level if a else None,
        on=day,
        as_of=utcnow(),
        antigen=d.antigen,
        atc=d.atc,
        vaccine=d.name(),
        primary_doses=d.primary_doses,
        interval_months=d.interval_months,
        target_percent=d.target_percent,
        source=d.source,
        age_groups=list(bands),
        rows=rows,
        total=cells(
            a.code if a else None,
            (a.names.get(lang) or a.name) if a else i18n.gettext("the whole country"),
            a.level if a else None,
            total,
        ),
        definitions=DEFINITIONS,
    )


#: the page's CSV header
COVERAGE_HEADER = (
    N_("Code"),
    N_("Name"),
    N_("Age group"),
    N_("Primary series completed"),
    N_("Eligible"),
    N_("Revaccinated"),
    N_("Percent of those eligible"),
    N_("Target met (eligible)"),
    N_("Percent of all with a completed primary series"),
    N_("Target met (all)"),
)
_COVERAGE_COLUMNS = (
    "code",
    "name",
    "age_group",
    "completed_primary",
    "eligible",
    "revaccinated",
    "pct_of_eligible",
    "met_of_eligible",
    "pct_of_all",
    "met_of_all",
)


def coverage_csv(c: RevaccinationCoverage, *, localized: bool = False) -> CsvFile:
    """One line per unit and age group (all ages last), then the area's lines.

    ``localized``: the header, "all ages" and yes/no in the current language (the page's
    download); without it stable column codes (the REST API's)."""
    _ = i18n.gettext if localized else (lambda s: s)

    def met(v: bool | None) -> str:
        return "" if v is None else (_("yes") if v else _("no"))

    lines = [
        [
            r.code or "",
            r.name,
            r.age_group or _("all ages"),
            r.completed_primary,
            r.eligible,
            r.revaccinated,
            "" if r.of_eligible.percent is None else r.of_eligible.percent,
            met(r.of_eligible.met),
            "" if r.of_all.percent is None else r.of_all.percent,
            met(r.of_all.met),
        ]
        for r in [*c.rows, *c.total]
    ]
    header = [_(h) for h in COVERAGE_HEADER] if localized else list(_COVERAGE_COLUMNS)
    name = f"revaccination-coverage-{c.area_code or 'national'}-{c.on.isoformat()}.csv"
    return CsvFile(name, csv_text(header, lines))
