"""FHIR ``Measure`` (one per indicator of the catalogue) and ``MeasureReport`` (an
indicator for a period and an area: summary, population counts, stratifiers).

Thin mapping of the statistics service's schemas. Population criteria are
``text/cql`` identifiers naming the catalogue's measures (no CQL library is published:
the definitions are data in ``country/indicators.yaml``). A suppressed cell (fewer than five
events) carries no count and no score: the element has the data-absent-reason
extension ``masked``. The 95 % interval of a score is in the extension
``<EXT>confidence-interval`` (a Range). Ids: the indicator code with ``-`` for ``_``.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from salomat.domains.statistics.schemas import Indicator, IndicatorValue, ValueSet
from salomat.fhir.common import EXT, TERRITORY_SYSTEM, validated

SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CI_EXT = f"{EXT}confidence-interval"
INDICATOR_SYSTEM = "urn:salomat:indicator"
#: higher is better for these; every other indicator is a rate of deaths (lower is better)
INCREASE = frozenset({"life_expectancy", "immunization_coverage", "antenatal_coverage"})


def measure_id(code: str) -> str:
    return code.replace("_", "-")


def indicator_code(measure: str) -> str:
    """The indicator code of a Measure id or reference (``Measure/<id>``, a canonical)."""
    return measure.rstrip("/").rpartition("/")[2].replace("-", "_")


def _scoring(ind: Indicator) -> str:
    if ind.method == "count":
        return "cohort"
    if ind.method in ("rate", "linked"):
        return "ratio" if ind.method == "rate" else "proportion"
    return "continuous-variable"


def _identifier(text: str) -> str:
    """A CQL identifier naming the measure (the catalogue defines it; no CQL library is
    published: Salomat computes the indicators itself)."""
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "value"


def _population(code: str, text: str | None) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": POPULATION, "code": code}]},
        "description": text,
        "criteria": {
            "language": "text/cql",
            "expression": _identifier(text or code),
            "description": text,
        },
    }


def measure(ind: Indicator, base: str) -> dict[str, Any]:
    num = ind.numerator if isinstance(ind.numerator, str) else " + ".join(ind.numerator or [])
    pops = [_population("numerator", num or ind.code)]
    if ind.denominator:
        pops.append(_population("denominator", ind.denominator))
    strat = [
        {"code": {"text": by}, "criteria": {"language": "text/cql", "expression": by}}
        for by in ind.by
        if by in ("sex", "urban_rural", "age_group")
    ]
    resource = {
        "resourceType": "Measure",
        "id": measure_id(ind.code),
        "meta": {"versionId": "1"},
        "url": f"{base}/Measure/{measure_id(ind.code)}",
        "identifier": [{"system": INDICATOR_SYSTEM, "value": ind.code}],
        "name": ind.code,
        "title": ind.name,
        "status": "active",
        "description": f"{ind.name} ({ind.unit}). {ind.reference}."
        + (f" {ind.note}." if ind.note else ""),
        "scoring": {"coding": [{"system": SCORING, "code": _scoring(ind)}]},
        "improvementNotation": {
            "coding": [
                {"system": IMPROVEMENT, "code": "increase" if ind.code in INCREASE else "decrease"}
            ]
        },
        "group": [{"population": pops, "stratifier": strat or None}],
    }
    return validated(Measure, resource)


def _score(v: IndicatorValue, unit: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the element's score and counts, extensions)."""
    if v.suppressed:
        return {}, [{"url": ABSENT, "valueCode": "masked"}]
    out: dict[str, Any] = {}
    ext: list[dict[str, Any]] = []
    if v.value is not None:
        out["measureScore"] = {"value": round(v.value, 6), "unit": unit}
    if v.ci_low is not None and v.ci_high is not None:
        ext.append(
            {"url": CI_EXT,
             "valueRange": {"low": {"value": round(v.ci_low, 6), "unit": unit},
                            "high": {"value": round(v.ci_high, 6), "unit": unit}}}
        )  # fmt: skip
    return out, ext


def _populations(v: IndicatorValue, has_denominator: bool) -> list[dict[str, Any]]:
    pops = []
    for code, n, wanted in (
        ("numerator", v.numerator, True),
        ("denominator", v.denominator, has_denominator),
    ):
        if not wanted:
            continue
        p: dict[str, Any] = {"code": {"coding": [{"system": POPULATION, "code": code}]}}
        if v.suppressed and code == "numerator":
            p["extension"] = [{"url": ABSENT, "valueCode": "masked"}]
        elif n is not None:
            p["count"] = round(n)
        pops.append(p)
    return pops


def measure_report(
    vs: ValueSet, strata: dict[str, list[IndicatorValue]], base: str, area_name: str | None
) -> dict[str, Any]:
    ind = vs.indicator
    whole = vs.values[0] if vs.values else IndicatorValue(
        indicator=ind.code, period=vs.period, area=vs.area, value=None
    )  # fmt: skip
    has_den = bool(ind.denominator) or ind.method == "linked"
    score, ext = _score(whole, ind.unit)
    group: dict[str, Any] = {"population": _populations(whole, has_den), **score}
    if ext:
        group["extension"] = ext
    stratifiers = []
    for by, cells in strata.items():
        stratum = []
        for c in cells:
            s, e = _score(c, ind.unit)
            item: dict[str, Any] = {
                "value": {"text": c.stratum},
                "population": _populations(c, has_den),
                **s,
            }
            if e:
                item["extension"] = e
            stratum.append(item)
        if stratum:
            stratifiers.append({"code": [{"text": by}], "stratum": stratum})
    if stratifiers:
        group["stratifier"] = stratifiers
    year, _, month = vs.period.partition("-")
    start = f"{vs.period}-01" if month else f"{year}-01-01"
    end = _period_end(vs.period)
    resource = {
        "resourceType": "MeasureReport",
        "id": f"{measure_id(ind.code)}.{vs.period}.{vs.area}"[:64],
        "status": "complete",
        "type": "summary",
        "measure": f"{base}/Measure/{measure_id(ind.code)}",
        "subject": {
            "identifier": {"system": TERRITORY_SYSTEM, "value": vs.area},
            "display": area_name or vs.area,
        },
        "date": (vs.computed_at.isoformat() if vs.computed_at else None),
        "period": {"start": start, "end": end},
        "improvementNotation": {
            "coding": [
                {"system": IMPROVEMENT, "code": "increase" if ind.code in INCREASE else "decrease"}
            ]
        },
        "group": [group],
    }
    return validated(MeasureReport, resource)


def _period_end(period: str) -> str:
    import calendar

    year, _, month = period.partition("-")
    if not month:
        return f"{year}-12-31"
    last = calendar.monthrange(int(year), int(month))[1]
    return f"{period}-{last:02d}"
