"""What the sanatorium dashboard answers (``analytics``), and its CSV exports.

The answer's models and definitions live apart from the queries so that an export is
written from an answer alone. Every CSV is written by ``core.downloads.csv_text``, which
neutralises cells a spreadsheet would run as a formula; the suppressed counts travel as
their signs (``"<5"``, ``"x"``), never as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.sanatorium.service.suppression import Shown

__all__ = [
    "DASHBOARD_DEFINITIONS",
    "DASHBOARD_TABLES",
    "OccupancyRow",
    "QueueRow",
    "SanatoriumDashboard",
    "dashboard_csv",
]

DASHBOARD_DEFINITIONS = {
    "queue": "one queue per treatment profile and region ('' where the pack keeps national queues)",
    "in_line": "entries standing in the queue now (queued or holding an offer)",
    "released_3m": "bookings of the queue's entries in the three whole months before this one",
    "wait_days_new": "expected wait of a newcomer: (in line + 1) / (released_3m / 3) months of "
    "30.4375 days",
    "waits": "days from the application (the referral's creation, or its application time "
    "when earlier) to the booking, of the queue's entries booked in the period; median and "
    "90th percentile, withheld below 5 bookings",
    "offers": "offers made in the period (offer day) and their outcome: accepted, declined, "
    "lapsed, other (open or withdrawn)",
    "noshow": "stays starting in the period whose outcome is known (arrived or no-show); "
    "the share that did not arrive",
    "occupancy": "bed-days booked (stays holding a bed, nights inside the period) over "
    "bed-days available (beds in use or holding such a stay, times the period's days)",
    "suppression": "offer outcomes and no-shows of 1 to 4 are shown as '<5'; 'x' marks a count "
    "withheld so that none can be worked out from a row's or a column's total; zero is shown",
}


# ---- what the dashboard answers ------------------------------------------------------------


class QueueRow(BaseModel):
    #: a treatment profile (None on the total line)
    profile: str | None
    #: the queue's region code ('' national; None on the total line)
    region: str | None
    in_line: int
    released_3m: int
    #: the expected wait of a newcomer at the last three months' pace (None: nothing released)
    wait_days_new: float | None
    #: entries of this queue booked in the period (the waits are theirs)
    booked: int
    wait_days_median: float | None
    wait_days_p90: float | None
    offers_made: int
    offers_accepted: Shown
    offers_declined: Shown
    offers_lapsed: Shown
    offers_other: Shown
    #: stays starting in the period whose outcome is known
    stays_settled: int
    arrived: Shown
    noshow: Shown
    #: no-shows per settled stay (None when withheld or when none settled)
    noshow_share: float | None


class OccupancyRow(BaseModel):
    #: None on a total line
    facility_code: str | None
    facility_name: str | None
    region: str | None
    #: None on the total line of every profile
    profile: str | None
    beds: int
    bed_days_available: int
    bed_days_booked: int
    #: booked / available (0..1; None when no bed-days were available)
    occupancy: float | None


class SanatoriumDashboard(BaseModel):
    area_code: str | None
    area_name: str | None
    month_from: str
    month_to: str
    #: the period's first and last day (the occupancy's date range, both included)
    period_start: date
    period_end: date
    as_of: datetime
    #: the pack keeps one national queue per profile: the area filters occupancy only
    queues_national: bool
    #: offer outcomes withheld: too few to protect their small counts
    offers_too_few: bool = False
    noshow_too_few: bool = False
    queues: list[QueueRow]
    queues_total: QueueRow
    occupancy: list[OccupancyRow]
    occupancy_by_profile: list[OccupancyRow]
    occupancy_total: OccupancyRow
    definitions: dict[str, str] = Field(default_factory=dict)


# ---- CSV -----------------------------------------------------------------------------------

#: the exports
DASHBOARD_TABLES = ("queues", "occupancy")
_PERIOD = ["month_from", "month_to", "area"]
CSV_COLUMNS = {
    "queues": [
        *_PERIOD,
        "profile",
        "region",
        "in_line",
        "released_3m",
        "wait_days_new",
        "booked",
        "wait_days_median",
        "wait_days_p90",
        "offers_made",
        "offers_accepted",
        "offers_declined",
        "offers_lapsed",
        "offers_other",
        "stays_settled",
        "arrived",
        "noshow",
        "noshow_share",
    ],
    "occupancy": [
        *_PERIOD,
        "facility_code",
        "facility_name",
        "region",
        "profile",
        "beds",
        "bed_days_available",
        "bed_days_booked",
        "occupancy",
    ],
}


def check_table(table: str) -> str:
    if table not in DASHBOARD_TABLES:
        raise Invalid.fields(
            [
                FieldError(
                    "table",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(DASHBOARD_TABLES)},
                )
            ]
        )
    return table


def _blank(v: Any) -> Any:
    return "" if v is None else v


def dashboard_csv(
    a: SanatoriumDashboard,
    table: str,
    *,
    labels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    total: str | None = None,
) -> CsvFile:
    """One table of the answer as CSV (``DASHBOARD_TABLES``), a header line first, the total
    line last (and, for occupancy, a line per profile before it).

    The REST API sends the column keys and the codes; a page passes ``labels`` (column key
    -> header), ``names`` (profile or region code -> its name) and ``total`` (the total
    line's name) in its reader's language. Cells a spreadsheet would run are neutralised;
    suppressed counts travel as their signs.
    """
    check_table(table)
    labels, names = labels or {}, names or {}
    head = [a.month_from, a.month_to, a.area_code or ""]
    cols = CSV_COLUMNS[table]
    total_name = total or "total"

    def name(code: str | None, is_total: bool) -> str:
        if code is None:
            return total_name if is_total else ""
        return names.get(code, code)

    rows: list[list[Any]] = []
    if table == "queues":
        for q in [*a.queues, a.queues_total]:
            is_total = q is a.queues_total
            values = q.model_dump()
            rows.append(
                [
                    *head,
                    name(q.profile, is_total),
                    "" if is_total else names.get(q.region or "", q.region or ""),
                    *(_blank(values[c]) for c in cols[5:]),
                ]
            )
    else:
        for o in [*a.occupancy, *a.occupancy_by_profile, a.occupancy_total]:
            is_total = o.facility_code is None and o.profile is None
            rows.append(
                [
                    *head,
                    _blank(o.facility_code),
                    total_name if is_total else _blank(o.facility_name),
                    names.get(o.region or "", _blank(o.region)),
                    names.get(o.profile or "", _blank(o.profile)),
                    o.beds,
                    o.bed_days_available,
                    o.bed_days_booked,
                    _blank(o.occupancy),
                ]
            )
    header = [labels.get(c, c) for c in cols]
    filename = f"sanatorium-{table}-{a.area_code or 'national'}-{a.month_from}-{a.month_to}.csv"
    return CsvFile(filename, csv_text(header, rows))
