"""The programme indicators of an area: the unmasked counts per facility of
``control_counts`` (blood pressure, sugar by both definitions; who is a patient is
defined there) and ``cohorts``, summed here into districts and regions (counts add up),
with each definition and its denominator in the request's language.

Public outputs withhold every count of 1 to 4 (shown "<5") with the rates computed from
it, and, so that no such count can be worked out by subtraction, complements ("x") from
its column (the area's total is published) and from the sums inside its row (assigned =
registered - dead, and so on: ``ROW_LINES``): ``core.suppression``, the sick-leave
analytics' rule, for every reader (an aggregate). The rows per facility that the tests
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
from salomat.core.suppression import is_small, protect_lines, protect_table
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


#: rate -> (numerator counts, denominator count); with LTFU kept the lost are missed visits
RATES: dict[str, tuple[tuple[str, ...], str]] = {
    "controlled_pct": (("controlled",), "denominator"),
    "uncontrolled_pct": (("uncontrolled",), "denominator"),
    "visited_no_bp_pct": (("visited_no_bp",), "denominator"),
    "missed_pct": (("missed",), "denominator"),
    "controlled_pct_with_ltfu": (("controlled",), "denominator_with_ltfu"),
    "uncontrolled_pct_with_ltfu": (("uncontrolled",), "denominator_with_ltfu"),
    "visited_no_bp_pct_with_ltfu": (("visited_no_bp",), "denominator_with_ltfu"),
    "missed_pct_with_ltfu": (("missed", "ltfu"), "denominator_with_ltfu"),
    "ltfu_pct": (("ltfu",), "assigned"),
    "cohort_controlled_pct": (("cohort_controlled",), "cohort"),
    "cohort_uncontrolled_pct": (("cohort_uncontrolled",), "cohort"),
    "cohort_no_visit_pct": (("cohort_no_visit",), "cohort"),
    "sugar_controlled_dhis2_pct": (("sugar_controlled_dhis2",), "sugar_denominator"),
    "sugar_controlled_simple_pct": (("sugar_controlled_simple",), "sugar_denominator"),
}

#: the sums inside one row (parts, whole): a count withheld in a row is protected from
#: them as from the column's total (new + denominator = under care = assigned - LTFU)
ROW_LINES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("controlled", "uncontrolled", "visited_no_bp", "missed"), "denominator"),
    (("denominator", "ltfu"), "denominator_with_ltfu"),
    (("new", "denominator"), "under_care"),
    (("under_care", "ltfu"), "assigned"),
    (("assigned", "dead"), "registered"),
    (("cohort_controlled", "cohort_uncontrolled", "cohort_no_visit"), "cohort"),
)


def _counts(
    bp: ControlReport,
    cohort: CohortReport,
    dhis2: ControlReport | None,
    simple: ControlReport | None,
) -> dict[str, int]:
    """The row's counts, before anything is withheld."""
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
    if dhis2 is not None and simple is not None:
        # the two definitions classify the same patients: one denominator
        counts["sugar_denominator"] = dhis2.denominator
        counts["sugar_controlled_dhis2"] = dhis2.n(Outcome.CONTROLLED)
        counts["sugar_controlled_simple"] = simple.n(Outcome.CONTROLLED)
    return counts


def withheld_cells(rows: list[dict[str, int]], total: dict[str, int]) -> list[set[str]]:
    """For each row and then the total (the last set), the counts to withhold: every
    count of 1 to 4, and complements so that none can be worked out from the column's
    total (the total row) or from the sums inside its row (``ROW_LINES``), nor from any
    combination of them (``core.suppression.protect_table``)."""
    keys = list(total)
    values: dict[tuple[int, str], int] = {}
    for i, r in enumerate([*rows, total]):
        values.update({(i, k): r[k] for k in keys})
    t = len(rows)
    lines: list[tuple[list[tuple[int, str]], tuple[int, str] | None]] = [
        ([(i, k) for k in parts], (i, whole)) for i in range(t + 1) for parts, whole in ROW_LINES
    ]
    if rows:
        lines += [([(i, k) for i in range(t)], (t, k)) for k in keys]
    hidden = protect_table(values, lines, lambda cell: cell[0])
    if "sugar_denominator" in keys:
        hidden = _withhold_sugar_denominator(values, lines, hidden, t + 1)
    return [{k for k in keys if (i, k) in hidden} for i in range(t + 1)]


def _withhold_sugar_denominator(
    values: dict[tuple[int, str], int],
    lines: list[tuple[list[tuple[int, str]], tuple[int, str] | None]],
    hidden: set[tuple[int, str]],
    n_rows: int,
) -> set[tuple[int, str]]:
    """The sugar denominator lies between the denominator and the denominator with the
    lost kept (patients with a blood pressure or a sugar): published beside a withheld
    one of these it bounds it, and with it the small counts it adds up (1 "<5" controlled
    + an "x" uncontrolled = "x" denominator, beside a sugar denominator of 6: the
    denominator is 6, controlled 1). So it is withheld wherever either is, and its column
    protected against its total again, until nothing changes."""
    while True:
        more = {
            (i, "sugar_denominator")
            for i in range(n_rows)
            if values[(i, "sugar_denominator")]
            and ((i, "denominator") in hidden or (i, "denominator_with_ltfu") in hidden)
        } - hidden
        if not more:
            return hidden
        hidden = protect_lines(values, lines, hidden | more)


def _row(
    code: str | None, name: str, level: str, counts: dict[str, int], hidden: set[str]
) -> IndicatorRow:
    """The row as published: the ``hidden`` counts withheld with every rate computed
    from them."""
    rates = {k: v for k, v in RATES.items() if v[1] in counts}
    gone = {k for k, (nums, den) in rates.items() if den in hidden or set(nums) & hidden}
    small = {k for k in hidden if is_small(counts[k])}
    small |= {k for k in gone if any(is_small(counts[n]) for n in (*rates[k][0], rates[k][1]))}
    shown: dict[str, Any] = {k: None if k in hidden else n for k, n in counts.items()}
    shown.update(
        {
            k: None if k in gone else _pct(sum(counts[n] for n in nums), counts[den])
            for k, (nums, den) in rates.items()
        }
    )
    return IndicatorRow(
        code=code,
        name=name,
        level=level,
        suppressed=sorted(hidden) + sorted(gone),
        small=sorted(small),
        **shown,
    )


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

    def build(members: list[int]) -> dict[str, int]:
        return _counts(
            _add([bp[f] for f in members if f in bp]),
            _add_cohorts([coh[f] for f in members if f in coh]),
            _add([dhis2[f] for f in members if f in dhis2]) if sugar else None,
            _add([simple[f] for f in members if f in simple]) if sugar else None,
        )

    units = []
    for key, members in groups.items():
        if by == "facility":
            fn = names.get(int(key))  # type: ignore[arg-type]
            code = fn.code if fn else key
            name = (fn.names.get(lang) or fn.name) if fn else key
        else:
            code = key
            name = areas[key][1] if key in areas else i18n.gettext("place not recorded")
        units.append((code, name or "", build(members)))
    units.sort(key=lambda u: (u[0] is None, u[0] or ""))
    total_counts = build(fids)
    # every reader sees the aggregate masked, the facility's own staff too (their own
    # patients are on their worklists): one rule for the page, the JSON and the CSV
    *hidden, total_hidden = withheld_cells([c for _, _, c in units], total_counts)
    rows = [_row(code, name, by, c, h) for (code, name, c), h in zip(units, hidden, strict=True)]
    total = _row(
        area, area_name or i18n.gettext("whole country"), level, total_counts, total_hidden
    )
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
