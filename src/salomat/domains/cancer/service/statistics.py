"""Incidence, quality indicators and the flat export of the cancer registry (issue 16).

Incidence (``incidence_table``) is what IARC's *Cancer Incidence in Five Continents*
publishes for a registry: per site group and sex, the cases of a year by five-year band
of age at incidence, the crude rate, the age-standardised rate on a world standard with
its 95 % interval, and the cumulative rate and risk 0–74 (arithmetic in ``rates``; Boyle
& Parkin 1991, IARC Sci. Publ. 95 ch. 11). Cases are primary tumours (IARC/IACR 2004)
with status ``registered`` whose date of incidence falls in the year, counted where the
person lived at diagnosis (the tumour's ``region_id``, copied at registration so that a
later move does not change last year's table). The denominator is the territory's
population on 1 January of the year; when that year is not loaded the nearest year is
used and the answer says which (``population_year``).

Quality indicators (``quality_indicators``) are the three of Parkin & Bray (Evaluation of
data quality in the cancer registry, Eur J Cancer 2009;45:747–755) and Jensen et al.
1991 (IARC Sci. Publ. 95, ch. 11): the share of cases microscopically verified (IARC
basis 5–7), of death-certificate-only cases (basis 0), the mortality:incidence ratio
(deaths with the site as underlying cause over incident cases, the same year and area;
deaths come from the population register, not from the tumours) and the share with the
primary site unknown (ICD-10 C80).

Set-wise: one grouped statement over ``cancer_tumour`` (sex, age band, ICD-10 category),
one for the population (every region's, ``registry.population_by_region``), one for the
deaths; the mapping of ICD-10 categories to the pack's site groups is done here, in
Python, on a few hundred groups. Every answer is audited as one aggregate read.

Small cells (``statistics_out.STATISTICS_DEFINITIONS["suppression"]``): the registrar
(``cancer:register``) sees person-level records anyway and gets every count; any other
reader gets counts of 1 to 4 as ``"<5"``. A rate gives its cases back (the population is
public), so a line with 1 to 4 cases has no rate; an ASR and a total give an age
breakdown with a hidden cell or two back, so a line's breakdown with a small cell is
withheld whole, its zeros too (knowing which bands are empty narrows the search), and with
it the breakdown of both sexes (both − the other sex would give it); when one sex's total
is small the total of both sexes is withheld ("x") with its rates. Rates go out to two
decimals, as published: with a small total, a rate to full precision could single out
the one age breakdown that produces it; with a few cases, even two decimals and the total
can leave few breakdowns possible. Differencing overlapping site groups ("all sites" −
"all sites but C44"), two regions or two years can still bound a cell: the rule is a
heuristic like the other dashboards', and every answer is in the audit trail.

``canreg_export`` writes the registered tumours as a tab-separated file with CanReg5's
variable names (``statistics_out.canreg_row``; UNVERIFIED against a CanReg5 import).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.cancer.models import CancerTumour
from salomat.domains.cancer.service import rates
from salomat.domains.cancer.service.common import SiteGroup, cancer_rules
from salomat.domains.cancer.service.incidence import MICROSCOPIC
from salomat.domains.cancer.service.statistics_out import (
    CANREG_COLUMNS,
    COMPLEMENT,
    INCIDENCE_CSV_COLUMNS,
    INCIDENCE_LABELS,
    SEX_LABELS,
    SMALL,
    STATISTICS_DEFINITIONS,
    SUPPRESS_BELOW,
    IncidenceLine,
    IncidenceTable,
    QualityRow,
    QualityTable,
    RateOut,
    Shown,
    canreg_row,
    canreg_text,
    incidence_csv,
)
from salomat.domains.registry import service as registry

__all__ = [
    "CANREG_COLUMNS",
    "INCIDENCE_CSV_COLUMNS",
    "INCIDENCE_LABELS",
    "SEXES",
    "SEX_LABELS",
    "STATISTICS_DEFINITIONS",
    "CanregFile",
    "IncidenceLine",
    "IncidenceTable",
    "QualityRow",
    "QualityTable",
    "RateOut",
    "canreg_export",
    "incidence_csv",
    "incidence_table",
    "quality_indicators",
]

#: the audit's resource types
STATISTICS = "CancerStatistics"
EXPORT = "CancerRegistryExport"
SEXES = ("male", "female", "both")
#: ICD-10 category of "primary site unknown" (ICD-O-3 topography C80.9)
UNKNOWN_PRIMARY = "C80"
_LAST = rates.BANDS - 1


# ---- the area and the year -----------------------------------------------------------------


async def _region(session: AsyncSession, code: str | None) -> Any:
    if code is None or not code.strip():
        return None
    unit = await registry.territory_by_code(session, code.strip())
    if unit is None:
        raise Invalid.fields(
            [FieldError("region", N_("no territorial unit has code %(code)s"), {"code": code})]
        )
    if unit.level != "region":
        raise Invalid.fields(
            [
                FieldError(
                    "region",
                    N_("%(code)s is not a region: the registry counts cases by region"),
                    {"code": code},
                )
            ]
        )
    return unit


def _standard(code: str) -> rates.Standard:
    std = rates.STANDARDS.get(code)
    if std is None:
        raise Invalid.fields(
            [
                FieldError(
                    "standard",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(rates.STANDARDS)},
                )
            ]
        )
    return std


def _sexes(sex: str | None) -> tuple[str, ...]:
    if sex is None or sex == "":
        return SEXES
    if sex not in SEXES:
        raise Invalid.fields(
            [FieldError("sex", N_("must be one of: %(choices)s"), {"choices": ", ".join(SEXES)})]
        )
    return (sex,)


async def _population(
    session: AsyncSession, year: int, region_id: int | None
) -> tuple[int, list[int], list[int]]:
    """(the year used, male and female person-years by band) of the area: ``year``'s, or
    the nearest year loaded (the earlier of two as near)."""
    years = await registry.population_years(session, region_id)
    if not years:
        raise Invalid.fields(
            [
                FieldError(
                    "year",
                    N_("no population is loaded for this area: load the population first"),
                )
            ]
        )
    used = min(years, key=lambda y: (abs(y - year), y))
    by_region = await registry.population_by_region(session, used, region_id)
    male, female = [0] * rates.BANDS, [0] * rates.BANDS
    for pop in by_region.values():
        for i in range(rates.BANDS):
            male[i] += pop.male[i]
            female[i] += pop.female[i]
    return used, male, female


def _year_bounds(year: int) -> tuple[date, date]:
    if not 1900 <= year <= 2100:
        raise Invalid.fields(
            [
                FieldError(
                    "year", N_("must be from %(low)s to %(high)s"), {"low": 1900, "high": 2100}
                )
            ]
        )
    return date(year, 1, 1), date(year + 1, 1, 1)


def _icd3() -> Any:
    return func.substr(CancerTumour.icd10, 1, 3)


def _band() -> Any:
    """The five-year band of the age at incidence (0 = 0–4 … 17 = 85+), in SQL: integer
    division on both SQLite and PostgreSQL."""
    t = CancerTumour
    return case((t.age >= _LAST * rates.BAND_YEARS, _LAST), else_=t.age // rates.BAND_YEARS)


def _codes(group: SiteGroup) -> str:
    return ", ".join(
        f"C{lo:02d}" if lo == hi else f"C{lo:02d}-C{hi:02d}" for lo, hi in group.ranges
    )


def _sees_all(principal: Principal) -> bool:
    """The registry's own staff hold person-level access: their tables are not suppressed."""
    return allowed(principal.role, "cancer:register")


def _small(n: int) -> bool:
    return 0 < n < SUPPRESS_BELOW


def _shown(n: int, hidden: bool = False) -> Shown:
    if _small(n):
        return SMALL
    return COMPLEMENT if hidden and n else n


def _rounded(r: rates.Rate) -> rates.Rate:
    return rates.Rate(round(r.value, 2), round(r.low, 2), round(r.high, 2))


# ---- incidence -----------------------------------------------------------------------------


async def incidence_table(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int,
    region_code: str | None = None,
    standard: str = "segi",
    sex: str | None = None,
) -> IncidenceTable:
    """Cases, crude rate, ASR with its 95 % interval and cumulative rate and risk 0–74 per
    site group (the pack's order) and sex, for a year and the country or one region.

    Refused naming the field: ``standard`` not one of segi/who2000, ``region`` not a
    region's code, ``sex`` not male/female/both, ``year`` without any population loaded.
    """
    std = _standard(standard)
    sexes = _sexes(sex)
    start, end = _year_bounds(year)
    unit = await _region(session, region_code)
    region_id = unit.id if unit is not None else None
    used, male_py, female_py = await _population(session, year, region_id)
    t = CancerTumour
    band, icd3 = _band().label("band"), _icd3().label("icd3")
    query = (
        select(t.sex, band, icd3, func.count())
        .where(t.status == "registered", t.incidence_date >= start, t.incidence_date < end)
        .group_by(t.sex, band, icd3)
    )
    if region_id is not None:
        query = query.where(t.region_id == region_id)
    counts: dict[tuple[str, str], list[int]] = {}
    for s, b, code, n in await session.execute(query):
        counts.setdefault((s, str(code)), [0] * rates.BANDS)[int(b)] += int(n)

    lang = i18n.current_language()
    person_years = {"male": male_py, "female": female_py}
    person_years["both"] = [m + f for m, f in zip(male_py, female_py, strict=True)]
    suppress = not _sees_all(principal)
    lines: list[IncidenceLine] = []
    for group in cancer_rules().site_groups:
        by_sex = {s: [0] * rates.BANDS for s in ("male", "female")}
        for (s, code), bands in counts.items():
            if s in by_sex and group.covers(code):
                by_sex[s] = [a + b for a, b in zip(by_sex[s], bands, strict=True)]
        by_sex["both"] = [m + f for m, f in zip(by_sex["male"], by_sex["female"], strict=True)]
        lines.extend(_group_lines(group, lang, by_sex, person_years, std, suppress, wanted=sexes))
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=STATISTICS,
        resource_id=unit.code if unit is not None else "national",
        purpose="aggregate statistics",
        detail=f"incidence {year} {std.code} {sex or 'all'}",
    )
    return IncidenceTable(
        year=year,
        population_year=used,
        region_code=unit.code if unit is not None else None,
        region_name=(unit.names.get(lang) or unit.name) if unit is not None else None,
        standard=std.code,
        standard_name=i18n.gettext(std.name),
        standard_weights=list(std.weights),
        age_bands=[rates.band_label(b) for b in range(rates.BANDS)],
        person_years=person_years,
        suppressed=suppress,
        as_of=utcnow(),
        lines=lines,
        definitions=STATISTICS_DEFINITIONS,
    )


def _group_lines(
    group: SiteGroup,
    lang: str,
    by_sex: dict[str, list[int]],
    person_years: dict[str, list[int]],
    std: rates.Standard,
    suppress: bool,
    *,
    wanted: tuple[str, ...],
) -> list[IncidenceLine]:
    """The lines of one site group, the small-cell rule applied across its three sexes
    (the rule is on all three even when one is asked for: a line shown alone must not
    differ from the same line shown beside the others)."""
    totals = {s: sum(by_sex[s]) for s in SEXES}
    hidden_total = {s: suppress and _small(totals[s]) for s in SEXES}
    if suppress and (hidden_total["male"] or hidden_total["female"]):
        # male + female = both: one small sex and the other shown would give it back
        hidden_total["both"] = True
    hidden_ages = {s: suppress and any(_small(n) for n in by_sex[s]) for s in SEXES}
    if hidden_ages["male"] or hidden_ages["female"]:
        hidden_ages["both"] = True
    for s in SEXES:
        hidden_ages[s] = hidden_ages[s] or hidden_total[s]
    out = []
    for s in wanted:
        cases, py = by_sex[s], person_years[s]
        withheld = hidden_total[s]
        crude = asr = None
        cum_rate = cum_risk = None
        problem = None
        if not withheld:
            try:
                c = rates.crude(totals[s], sum(py))
                a = rates.asr(cases, py, std)
                cum_rate = rates.cumulative_rate(cases, py)
                cum_risk = rates.cumulative_risk(cases, py)
                if suppress:  # as published: full precision narrows a withheld breakdown
                    c, a = _rounded(c), _rounded(a)
                    cum_rate, cum_risk = round(cum_rate, 2), round(cum_risk, 2)
                crude, asr = RateOut(**vars(c)), RateOut(**vars(a))
            except rates.MissingPopulation as e:
                problem = e.detail
        out.append(
            IncidenceLine(
                site=group.code,
                site_name=group.name(lang),
                icd10=_codes(group),
                sex=s,  # type: ignore[arg-type]
                cases=_shown(totals[s], withheld),
                cases_by_age=[COMPLEMENT] * rates.BANDS if hidden_ages[s] else list(cases),
                crude=crude,
                asr=asr,
                cumulative_rate=cum_rate,
                cumulative_risk=cum_risk,
                withheld=withheld,
                problem=problem,
            )
        )
    return out


# ---- quality -------------------------------------------------------------------------------


async def _region_names(session: AsyncSession, lang: str) -> dict[int, tuple[str, str]]:
    """Every region's (code, name in ``lang``) by territory id."""
    out: dict[int, tuple[str, str]] = {}
    offset = 0
    while True:
        page = await registry.list_territory(session, PageParams(500, offset), level="region")
        out.update({r.id: (r.code, r.names.get(lang) or r.name) for r in page.items})
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return out


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _quality_row(
    region: tuple[str, str] | None,
    group: SiteGroup,
    lang: str,
    counts: dict[str, int],
    suppress: bool,
) -> QualityRow:
    cases = counts["cases"]
    small_cases = suppress and _small(cases)

    def count(key: str) -> tuple[Shown, bool]:
        n = counts[key]
        if small_cases:
            return (SMALL if n else 0), True
        hide = suppress and _small(n)
        return (SMALL if hide else n), hide

    mv, mv_hidden = count("mv")
    dco, dco_hidden = count("dco")
    unknown, unknown_hidden = count("unknown")
    deaths, deaths_hidden = count("deaths")
    return QualityRow(
        region_code=region[0] if region else None,
        region_name=region[1] if region else None,
        site=group.code,
        site_name=group.name(lang),
        cases=_shown(cases) if suppress else cases,
        microscopically_verified=mv,
        mv_percent=None if mv_hidden else _percent(counts["mv"], cases),
        death_certificate_only=dco,
        dco_percent=None if dco_hidden else _percent(counts["dco"], cases),
        unknown_primary=unknown,
        unknown_primary_percent=None if unknown_hidden else _percent(counts["unknown"], cases),
        deaths=deaths,
        mortality_incidence=None
        if deaths_hidden or small_cases or not cases
        else round(counts["deaths"] / cases, 2),
    )


async def quality_indicators(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int,
    region_code: str | None = None,
) -> QualityTable:
    """% microscopically verified, % DCO, the mortality:incidence ratio and % primary site
    unknown per site group, for the area; when no region is given, also per region."""
    start, end = _year_bounds(year)
    unit = await _region(session, region_code)
    region_id = unit.id if unit is not None else None
    t = CancerTumour
    icd3 = _icd3().label("icd3")
    query = (
        select(t.region_id, icd3, t.basis, func.count())
        .where(t.status == "registered", t.incidence_date >= start, t.incidence_date < end)
        .group_by(t.region_id, icd3, t.basis)
    )
    if region_id is not None:
        query = query.where(t.region_id == region_id)
    tumours = [
        (rid, str(code), int(basis), int(n)) for rid, code, basis, n in await session.execute(query)
    ]
    deaths = await registry.deaths_by_cause(session, year, region_id)

    lang = i18n.current_language()
    suppress = not _sees_all(principal)
    groups = cancer_rules().site_groups
    names = await _region_names(session, lang) if unit is None else {}
    areas: list[tuple[int | None, tuple[str, str] | None]] = [(None, None)]
    if unit is None:
        present = {rid for rid, *_ in tumours} | {rid for rid, _, _ in deaths}
        areas += sorted(
            ((rid, names[rid]) for rid in present if rid in names), key=lambda a: a[1][0]
        )

    rows: list[QualityRow] = []
    for rid, region in areas:
        for group in groups:
            counts = {"cases": 0, "mv": 0, "dco": 0, "unknown": 0, "deaths": 0}
            for t_rid, code, basis, n in tumours:
                if (rid is None or t_rid == rid) and group.covers(code):
                    counts["cases"] += n
                    counts["mv"] += n if basis in MICROSCOPIC else 0
                    counts["dco"] += n if basis == 0 else 0
                    counts["unknown"] += n if code == UNKNOWN_PRIMARY else 0
            counts["deaths"] = sum(
                n
                for (d_rid, _sex, code), n in deaths.items()
                if (rid is None or d_rid == rid) and group.covers(code)
            )
            rows.append(_quality_row(region, group, lang, counts, suppress))
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=STATISTICS,
        resource_id=unit.code if unit is not None else "national",
        purpose="aggregate statistics",
        detail=f"quality {year}",
    )
    return QualityTable(
        year=year,
        region_code=unit.code if unit is not None else None,
        region_name=(unit.names.get(lang) or unit.name) if unit is not None else None,
        suppressed=suppress,
        as_of=utcnow(),
        rows=rows,
        definitions=STATISTICS_DEFINITIONS,
    )


# ---- the flat export -----------------------------------------------------------------------


class CanregFile:
    """The export's file name and its tab-separated text."""

    def __init__(self, filename: str, text: str, count: int) -> None:
        self.filename, self.text, self.count = filename, text, count


async def canreg_export(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int | None = None,
    region_code: str | None = None,
) -> CanregFile:
    """Every registered tumour (of a year of incidence, of a region) as CanReg5's flat file:
    pseudonymised (person and tumour ids, birth date, codes; no name, no national id).
    The caller holds ``cancer:register``; the export is audited as one bulk read."""
    t = CancerTumour
    where = [t.status == "registered"]
    if year is not None:
        start, end = _year_bounds(year)
        where += [t.incidence_date >= start, t.incidence_date < end]
    unit = await _region(session, region_code)
    if unit is not None:
        where.append(t.region_id == unit.id)
    columns = (
        t.id, t.person_id, t.sex, t.age, t.incidence_date, t.topography, t.histology,
        t.behaviour, t.grade, t.basis, t.icd10, t.stage_group, t.vital_status, t.death_date,
        t.last_contact_on, t.region_id,
    )  # fmt: skip
    query = select(*columns).where(*where).order_by(t.person_id, t.id)
    tumours = list(await session.execute(query))
    ids = sorted({x.person_id for x in tumours})
    births: dict[int, date] = {}
    for i in range(0, len(ids), 5000):
        births.update(await registry.birth_dates(session, ids[i : i + 5000]))
    regions = {rid: code for rid, (code, _) in (await _region_names(session, "en")).items()}
    text = canreg_text(
        [canreg_row(x, births.get(x.person_id), regions.get(x.region_id or 0)) for x in tumours]
    )
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=EXPORT,
        resource_id=unit.code if unit is not None else "national",
        purpose="export to CanReg5",
        detail=f"{len(tumours)} tumours of {len(ids)} people, year {year or 'all'}",
    )
    scope = f"{unit.code if unit is not None else 'national'}-{year or 'all'}"
    return CanregFile(f"cancer-registry-{scope}.canreg.tsv", text, len(tumours))
