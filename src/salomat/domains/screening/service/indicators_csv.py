"""The indicator page's table as CSV: one line per unit and the area's total, withheld
cells as their signs (``core.suppression``: "<5", "x")."""

from __future__ import annotations

from typing import Any

from salomat.core import i18n
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.i18n import N_
from salomat.core.suppression import COMPLEMENT, SMALL
from salomat.domains.screening.service.indicator_common import AreaIndicators, IndicatorRow

__all__ = ["CSV_COLUMNS", "indicators_csv"]

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
    """One line per unit and a last line with the area's total; a withheld cell is its
    sign ("<5" small, "x" withheld so that a small one cannot be worked out), a figure
    that has no value (no denominator) empty.
    ``localized``: headers in the current language (the page's download), else the
    stable codes (the REST API's)."""
    cols = [c for c in CSV_COLUMNS if result.sugar or not c.startswith("sugar_")]
    header = [i18n.gettext(CSV_COLUMNS[c]) for c in cols] if localized else ["period", *cols]
    if localized:
        header = [i18n.gettext("Period"), *header]

    def cell(r: IndicatorRow, d: dict[str, Any], c: str) -> Any:
        if d[c] is not None:
            return d[c]
        if c in r.small:
            return SMALL
        return COMPLEMENT if c in r.suppressed else ""

    def line(r: IndicatorRow) -> list[Any]:
        d = r.model_dump()
        return [result.period, *(cell(r, d, c) for c in cols)]

    where = result.area_code or "national"
    name = f"screening-indicators-{result.programme}-{where}-{result.period}.csv"
    return CsvFile(name, csv_text(header, [*(line(r) for r in result.rows), line(result.total)]))
