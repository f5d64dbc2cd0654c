"""The programme indicators of an area: the unmasked counts per facility of
``control_counts`` (blood pressure, sugar by both definitions; who is a patient is
defined there) and ``cohorts``, summed here into districts and regions (counts add up),
with each definition and its denominator in the request's language.

Public outputs withhold every count below five (``SUPPRESS_BELOW``, the statistics
domain's rule) with the rates computed from it; the rows per facility that the tests
compare with ``hearts`` are the unmasked counts (``control_counts``, never shown as is).

The other use cases live beside it: ``indicator_common`` (periods, areas, masked rows),
``indicators_csv`` and ``coverage``; every public name is importable from here too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.service import common
from salomat.domains.screening.service.cohorts import cohort_counts, cohort_of
from salomat.domains.screening.service.control_counts import (
    SUGAR_KINDS,
    Targets,
    control_counts,
    sugar_counts,
    targets_on,
)
from salomat.domains.screening.service.coverage import (
    COVERAGE_DEFINITION,
    AreaCoverage,
    CoverageRow,
    screening_coverage,
)
from salomat.domains.screening.service.hearts import (
    CohortReport,
    ControlReport,
    Outcome,
    Period,
    cohort_followup,
)
from salomat.domains.screening.service.indicator_common import (
    LEVEL_BELOW,
    LEVEL_RANK,
    SUPPRESS_BELOW,
    AreaIndicators,
    IndicatorRow,
    _area,
    _pct,
    parse_period,
)
from salomat.domains.screening.service.indicators_csv import CSV_COLUMNS, indicators_csv
from salomat.domains.screening.service.rules import screening_rules

__all__ = [
    "COVERAGE_DEFINITION",
    "CSV_COLUMNS",
    "DEFINITIONS",
    "LEVEL_BELOW",
    "LEVEL_RANK",
    "SUGAR_KINDS",
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
    today = today or common.today()
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
