"""Revaccination coverage as a FHIR R4 MeasureReport (issue 23, item 6)."""

from __future__ import annotations

from typing import Any

from salomat.core import i18n
from salomat.domains.epidemic.service.revaccination_sql import (
    CoverageCell,
    RevaccinationCoverage,
    ShareOut,
)

__all__ = ["MEASURE", "measure_report"]


_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE = "urn:salomat:measure:revaccination-coverage"
DENOMINATOR_SYSTEM = "urn:salomat:revaccination-denominator"


def _populations(cell: CoverageCell, which: str) -> list[dict[str, Any]]:
    den = cell.eligible if which == "eligible" else cell.completed_primary
    return [
        {
            "code": {"coding": [{"system": _POPULATION, "code": code}]},
            "count": count,
        }
        for code, count in (
            ("initial-population", cell.completed_primary),
            ("denominator", den),
            ("numerator", cell.revaccinated),
        )
    ]


def _score(share: ShareOut) -> dict[str, Any] | None:
    if share.percent is None:
        return None
    return {
        "value": float(share.percent),
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }


def measure_report(c: RevaccinationCoverage) -> dict[str, Any]:
    """The area's coverage (``c.total``) as a FHIR R4 MeasureReport of type summary: a
    group per denominator (eligible, all with a completed primary series), each with its
    populations, its score in per cent and a stratifier by age group. The target and
    the vaccine travel in the group's description."""
    whole = c.total[-1]
    groups = []
    for which, attr in (("eligible", "of_eligible"), ("all", "of_all")):
        share: ShareOut = getattr(whole, attr)
        group: dict[str, Any] = {
            "code": {
                "coding": [{"system": DENOMINATOR_SYSTEM, "code": which}],
                "text": share.label,
            },
            "population": _populations(whole, which),
            "stratifier": [
                {
                    "code": [{"text": i18n.gettext("Age group")}],
                    "stratum": [
                        {
                            "value": {"text": cell.age_group},
                            "population": _populations(cell, which),
                            **(
                                {"measureScore": s}
                                if (s := _score(getattr(cell, attr))) is not None
                                else {}
                            ),
                        }
                        for cell in c.total[:-1]
                    ],
                }
            ],
        }
        score = _score(share)
        if score is not None:
            group["measureScore"] = score
        groups.append(group)
    return {
        "resourceType": "MeasureReport",
        "id": f"revaccination-{c.area_code or 'national'}-{c.on.isoformat()}",
        "status": "complete",
        "type": "summary",
        "measure": MEASURE,
        "date": c.as_of.isoformat(),
        "period": {"start": c.on.isoformat(), "end": c.on.isoformat()},
        "improvementNotation": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                    "code": "increase",
                }
            ]
        },
        "extension": [
            {
                "url": "urn:salomat:revaccination-target-percent",
                "valueDecimal": float(c.target_percent),
            },
            {"url": "urn:salomat:area", "valueString": c.area_code or "national"},
            {"url": "urn:salomat:vaccine-atc", "valueString": c.atc},
        ],
        "group": groups,
    }
