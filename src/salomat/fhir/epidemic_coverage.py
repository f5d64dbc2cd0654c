"""Revaccination coverage as a FHIR R4 ``MeasureReport`` under ``/fhir`` (docs/epidemic.md
"FHIR"): ``MeasureReport/revaccination-<day>-<area>``, the area a region's or district's
code or ``country``.

The figures are the REST coverage's (domains/epidemic/service/revaccination_sql.py:
``revaccination_coverage``, its permission ``immunization:coverage`` and its audit): a
summary report with one group per denominator, coded in ``urn:salomat:revaccination-
denominator`` — ``all`` (everyone with a completed primary series) and ``eligible`` (of
those, completed at least the pack's interval before the day, or already revaccinated)
— each with its populations (initial-population: a completed primary series;
denominator; numerator: revaccinated), its measureScore in per cent (none when the
denominator is 0) and one stratifier by age group, each stratum coded in
``urn:salomat:revaccination-age-group`` (``0-17``, ``70+``: the pack's bands). The target
is an extension of the report. Both code systems are published by the terminology
(fhir/terminology_sources.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.measurereport import MeasureReport

from salomat.core import i18n
from salomat.core.errors import N_
from salomat.domains.epidemic.service.revaccination_report import MEASURE
from salomat.domains.epidemic.service.revaccination_sql import (
    CoverageCell,
    RevaccinationCoverage,
    ShareOut,
)
from salomat.fhir.common import EXT, TERRITORY_SYSTEM, instant, meta, validated

PREFIX = "revaccination-"
COUNTRY = "country"
DENOMINATOR_SYSTEM = "urn:salomat:revaccination-denominator"
AGE_GROUP_SYSTEM = "urn:salomat:revaccination-age-group"
TARGET_EXT = f"{EXT}revaccination-target-percent"
#: the denominators' names (catalogue msgids; the REST table's column names)
DENOMINATORS = {
    "all": N_("Primary series completed"),
    "eligible": N_("Eligible"),
}
#: the share of each denominator in the service's cells
_SHARES = (("all", "of_all"), ("eligible", "of_eligible"))
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
UCUM = "http://unitsofmeasure.org"
#: an age band's names (catalogue msgids)
BAND = N_("%(low)s to %(high)s years")
LAST_BAND = N_("%(low)s years and over")


def age_codes(bands: tuple[int, ...]) -> list[tuple[str, int, int | None]]:
    """The pack's age bands (lower bounds from 0) as (code, low, high): ``0-17``, ``70+``."""
    out: list[tuple[str, int, int | None]] = []
    for i, lo in enumerate(bands):
        hi = bands[i + 1] - 1 if i + 1 < len(bands) else None
        out.append((f"{lo}-{hi}" if hi is not None else f"{lo}+", lo, hi))
    return out


def age_name(low: int, high: int | None, language: str) -> str:
    t = i18n.translations(language)
    if high is None:
        return t.gettext(LAST_BAND) % {"low": low}
    return t.gettext(BAND) % {"low": low, "high": high}


def report_id(day: date, area: str | None) -> str:
    return f"{PREFIX}{day.isoformat()}-{area or COUNTRY}"


def parse_report_id(rid: str) -> tuple[date, str | None] | None:
    """(day, area code or None for the country) of ``revaccination-<day>-<area>``."""
    rest = rid.removeprefix(PREFIX)
    if len(rest) < 12 or rest[10] != "-":
        return None
    try:
        day = date.fromisoformat(rest[:10])
    except ValueError:
        return None
    area = rest[11:]
    return day, (None if area == COUNTRY else area)


def _populations(cell: CoverageCell, which: str) -> list[dict[str, Any]]:
    den = cell.eligible if which == "eligible" else cell.completed_primary
    return [
        {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}
        for code, count in (
            ("initial-population", cell.completed_primary),
            ("denominator", den),
            ("numerator", cell.revaccinated),
        )
    ]


def _score(share: ShareOut) -> dict[str, Any]:
    if share.percent is None:
        return {}
    return {
        "measureScore": {
            "value": float(share.percent),
            "unit": "%",
            "system": UCUM,
            "code": "%",
        }
    }


def measure_report(c: RevaccinationCoverage, bands: tuple[int, ...]) -> dict[str, Any]:
    """The area's coverage (``c.total``: one cell per age band, then all ages)."""
    lang = i18n.current_language()
    ages = age_codes(bands)
    if len(ages) != len(c.total) - 1:
        raise ValueError("the coverage's age groups are not the pack's bands")
    whole = c.total[-1]
    groups = []
    for which, attr in _SHARES:
        strata = []
        for (code, lo, hi), cell in zip(ages, c.total[:-1], strict=True):
            strata.append(
                {
                    "value": {
                        "coding": [
                            {
                                "system": AGE_GROUP_SYSTEM,
                                "code": code,
                                "display": age_name(lo, hi, lang),
                            }
                        ],
                        "text": cell.age_group,
                    },
                    "population": _populations(cell, which),
                    **_score(getattr(cell, attr)),
                }
            )
        share: ShareOut = getattr(whole, attr)
        groups.append(
            {
                "code": {
                    "coding": [
                        {
                            "system": DENOMINATOR_SYSTEM,
                            "code": which,
                            "display": i18n.gettext(DENOMINATORS[which]),
                        }
                    ],
                    "text": share.label,
                },
                "population": _populations(whole, which),
                **_score(share),
                "stratifier": [{"code": [{"text": i18n.gettext("Age group")}], "stratum": strata}],
            }
        )
    res: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": report_id(c.on, c.area_code),
        "meta": meta(1, None),
        "extension": [{"url": TARGET_EXT, "valueDecimal": float(c.target_percent)}],
        "status": "complete",
        "type": "summary",
        "measure": MEASURE,
        "date": instant(c.as_of),
        "period": {"start": c.on.isoformat(), "end": c.on.isoformat()},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": "increase"}]},
        "group": groups,
    }
    if c.area_code is not None:
        res["subject"] = {
            "identifier": {"system": TERRITORY_SYSTEM, "value": c.area_code},
            "display": c.area_name,
        }
    return validated(MeasureReport, res)
