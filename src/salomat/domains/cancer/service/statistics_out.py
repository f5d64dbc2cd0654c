"""What the cancer registry's statistics answer (``statistics``), their small-cell rule,
the incidence CSV and the flat export for CanReg5.

The models and the writers live apart from the queries so that an export is written from
an answer alone. Every CSV goes through ``core.downloads.csv_text``, which neutralises
cells a spreadsheet would run as a formula; a suppressed count travels as its sign
(``"<5"``, ``"x"``), never as a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from salomat.core.downloads import CsvFile, csv_text, neutralise
from salomat.core.i18n import N_
from salomat.core.suppression import COMPLEMENT, SMALL, SUPPRESS_BELOW
from salomat.domains.cancer.service.rates import BANDS, band_label

__all__ = [
    "CANREG_COLUMNS",
    "COMPLEMENT",
    "INCIDENCE_CSV_COLUMNS",
    "INCIDENCE_LABELS",
    "SEX_LABELS",
    "SMALL",
    "STATISTICS_DEFINITIONS",
    "SUPPRESS_BELOW",
    "IncidenceLine",
    "IncidenceTable",
    "QualityRow",
    "QualityTable",
    "RateOut",
    "Shown",
    "canreg_row",
    "canreg_text",
    "incidence_csv",
]

# SUPPRESS_BELOW, SMALL, COMPLEMENT: the platform's rule (``core.suppression``: counts of
# 1 to 4 are not published to readers outside the registry, shown as "<5"; "x" a count
# withheld so that a small one cannot be worked out from the others)
Shown = int | Literal["<5", "x"]

Sex = Literal["male", "female", "both"]

STATISTICS_DEFINITIONS = {
    "cases": "primary tumours (IARC/IACR 2004) with status 'registered' whose date of "
    "incidence falls in the year, by sex and region of residence at diagnosis; tumours "
    "waiting for a registrar's confirmation are not counted",
    "site": "the pack's site groups of the tumour's ICD-10 code (C chapter); in situ and "
    "benign tumours (D codes) are in no group",
    "person_years": "the territory's population on 1 January of the year, summed over its "
    "settlements (the nearest year loaded when that year is missing: population_year)",
    "crude": "cases per 100 000 person-years, exact Poisson 95 % interval (Garwood 1936)",
    "asr": "directly age-standardised rate per 100 000 over 18 five-year bands (Segi 1960 "
    "as modified by Doll et al. 1966, or WHO 2000-2025 by Ahmad et al. 2001 with 85+ "
    "collapsed); Fay & Feuer 1997 gamma 95 % interval",
    "cumulative": "cumulative rate 0-74 in percent (5 x the sum of the band rates 0-4 ... "
    "70-74) and cumulative risk 0-74 = 100 x (1 - exp(-rate / 100))",
    "mv": "microscopically verified: IARC basis 5 (cytology/haematology), 6 (histology of a "
    "metastasis), 7 (histology of the primary)",
    "dco": "death certificate only: IARC basis 0",
    "mi": "mortality:incidence ratio: deaths registered in the year whose underlying cause "
    "is in the site group, of residents of the area, over the cases of the year",
    "unknown_primary": "primary site unknown: ICD-10 C80 (topography C80.9)",
    "suppression": "for readers outside the registry, counts of 1 to 4 are '<5' and the "
    "rates of such a line are withheld; a line's age breakdown with any count of 1 to 4 is "
    "withheld ('x' in every band, zeros too) with the breakdown of both sexes; when one "
    "sex's total is small, the total of both sexes is withheld ('x'); rates to 2 decimals",
}


class RateOut(BaseModel):
    """A rate per 100 000 with its 95 % interval."""

    value: float
    low: float
    high: float


class IncidenceLine(BaseModel):
    #: the pack's site group and its ICD-10 categories (C33-C34)
    site: str
    site_name: str
    icd10: str
    sex: Sex
    cases: Shown
    #: cases by age at incidence, 18 bands 0-4 ... 85+
    cases_by_age: list[Shown]
    crude: RateOut | None
    asr: RateOut | None
    #: percent, ages 0-74
    cumulative_rate: float | None
    cumulative_risk: float | None
    #: why the rates are missing: withheld (small counts) or the population lacks a band
    withheld: bool = False
    problem: str | None = None


class IncidenceTable(BaseModel):
    year: int
    #: the population's year: ``year``, or the nearest loaded when that year has none
    population_year: int
    region_code: str | None
    region_name: str | None
    standard: str
    standard_name: str
    standard_weights: list[int]
    age_bands: list[str]
    #: person-years by sex and band (public population data)
    person_years: dict[str, list[int]]
    #: small counts were hidden for this reader
    suppressed: bool
    as_of: datetime
    lines: list[IncidenceLine]
    definitions: dict[str, str] = Field(default_factory=dict)


class QualityRow(BaseModel):
    #: None: the whole area asked for (the country, or the region)
    region_code: str | None
    region_name: str | None
    site: str
    site_name: str
    cases: Shown
    microscopically_verified: Shown
    #: percent of the cases
    mv_percent: float | None
    death_certificate_only: Shown
    dco_percent: float | None
    unknown_primary: Shown
    unknown_primary_percent: float | None
    deaths: Shown
    #: deaths / cases
    mortality_incidence: float | None


class QualityTable(BaseModel):
    year: int
    region_code: str | None
    region_name: str | None
    suppressed: bool
    as_of: datetime
    #: the whole area's rows first (pack order), then each region's when national
    rows: list[QualityRow]
    definitions: dict[str, str] = Field(default_factory=dict)


# ---- CSV -----------------------------------------------------------------------------------

INCIDENCE_CSV_COLUMNS = [
    "year",
    "population_year",
    "area",
    "standard",
    "site",
    "icd10",
    "sex",
    "cases",
    *(f"age_{band_label(b)}" for b in range(BANDS)),
    "crude",
    "crude_low",
    "crude_high",
    "asr",
    "asr_low",
    "asr_high",
    "cumulative_rate",
    "cumulative_risk",
]

#: column key -> header msgid (the age columns' headers are the bands themselves)
INCIDENCE_LABELS = {
    "year": N_("Year"),
    "population_year": N_("Population of the year"),
    "area": N_("Area"),
    "standard": N_("Standard population"),
    "site": N_("Site"),
    "icd10": N_("ICD-10"),
    "sex": N_("Sex"),
    "cases": N_("Cases"),
    "crude": N_("Crude rate per 100 000"),
    "crude_low": N_("Crude rate: lower limit (95% CI)"),
    "crude_high": N_("Crude rate: upper limit (95% CI)"),
    "asr": N_("Age-standardised rate per 100 000"),
    "asr_low": N_("ASR: lower limit (95% CI)"),
    "asr_high": N_("ASR: upper limit (95% CI)"),
    "cumulative_rate": N_("Cumulative rate 0–74 (%)"),
    "cumulative_risk": N_("Cumulative risk 0–74 (%)"),
}
SEX_LABELS = {"male": N_("male"), "female": N_("female"), "both": N_("both sexes")}


def _r(v: float | None) -> Any:
    return "" if v is None else round(v, 2)


def incidence_csv(
    t: IncidenceTable,
    *,
    labels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    area: str | None = None,
) -> CsvFile:
    """The incidence table as CSV, one line per site group and sex, rates to 2 decimals.

    ``labels`` (column key -> header) and ``names`` (sex code -> its word) are in the
    reader's language; site names come translated in the answer. An age column's key is
    ``age_<band>`` and its header the band itself (0–4 ... 85+).
    """
    labels, names = labels or {}, names or {}
    head = [t.year, t.population_year, area or t.region_name or t.region_code or "", t.standard]
    rows = []
    for line in t.lines:
        rows.append(
            [
                *head,
                line.site_name,
                line.icd10,
                names.get(line.sex, line.sex),
                line.cases,
                *line.cases_by_age,
                *(_r(getattr(line.crude, k, None)) for k in ("value", "low", "high")),
                *(_r(getattr(line.asr, k, None)) for k in ("value", "low", "high")),
                _r(line.cumulative_rate),
                _r(line.cumulative_risk),
            ]
        )
    header = [labels.get(c, c[4:] if c.startswith("age_") else c) for c in INCIDENCE_CSV_COLUMNS]
    name = f"cancer-incidence-{t.region_code or 'national'}-{t.year}-{t.standard}.csv"
    return CsvFile(name, csv_text(header, rows))


# ---- CanReg5 -------------------------------------------------------------------------------

#: The flat file's columns, named as CanReg5's standard data dictionary names them (the
#: variables of its default "CanReg5" template as we know them; UNVERIFIED against an
#: actual CanReg5 import, docs/cancer.md). Person ids only: no name, no national id.
CANREG_COLUMNS = [
    "RegNo",
    "PatientID",
    "TumourID",
    "Sex",
    "BirthDate",
    "Age",
    "IncidenceDate",
    "Topography",
    "Morphology",
    "Behaviour",
    "Grade",
    "BasisDiagnosis",
    "ICD10",
    "Stage",
    "VitalStatus",
    "LastContactDate",
    "RegionCode",
]

#: CanReg5's codes: sex 1 male, 2 female; vital status 1 alive, 2 dead
_SEX = {"male": "1", "female": "2"}
_VITAL = {"alive": "1", "dead": "2"}


def _ymd(d: date | None) -> str:
    return d.strftime("%Y%m%d") if d is not None else ""


def canreg_row(t: Any, birth: date | None, region_code: str | None) -> list[str]:
    """One tumour as CanReg5's flat file writes it: dates yyyymmdd, topography without the
    C and the dot (C18.2 -> 182), morphology 4 digits, ICD-10 without the dot (C182),
    grade 9 when unknown; the last contact is the death date for the dead."""
    last = t.death_date if t.vital_status == "dead" and t.death_date else t.last_contact_on
    return [
        str(t.person_id),
        str(t.person_id),
        str(t.id),
        _SEX.get(t.sex, "9"),
        _ymd(birth),
        str(t.age),
        _ymd(t.incidence_date),
        t.topography.replace("C", "", 1).replace(".", ""),
        f"{t.histology:04d}",
        str(t.behaviour),
        str(t.grade if t.grade is not None else 9),
        str(t.basis),
        t.icd10.replace(".", ""),
        t.stage_group or "",
        _VITAL.get(t.vital_status, "9"),
        _ymd(last),
        region_code or "",
    ]


def canreg_text(rows: Sequence[Sequence[str]]) -> str:
    """Tab-separated, a header line of the variable names first (CanReg5's import reads a
    delimited text file whose first line names the variables). A tab inside a value is
    impossible here (codes and dates only); cells are neutralised all the same."""
    out = io.StringIO()
    w = csv.writer(out, delimiter="\t", lineterminator="\n")
    w.writerow(CANREG_COLUMNS)
    for row in rows:
        w.writerow([neutralise(c) for c in row])
    return out.getvalue()
