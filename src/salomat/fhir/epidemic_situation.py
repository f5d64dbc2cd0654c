"""A region's epidemic situation on a day as a FHIR R4 ``MeasureReport`` (docs/epidemic.md
"FHIR"): ``MeasureReport/epi-situation-<day>-<region>``.

The figures are the REST situation's for the reader (domains/epidemic/service/
situation_view.situation_for: permission ``epidemic:read``, names in the reader's
language, and what a reader without ``epidemic:cases`` does not get — the day's count of
1 to 4 given as "< 5", a withheld count, Rt, the projections and the incidence withheld
there — withheld by it, never recomputed here). One group per measure, coded in
``urn:salomat:epidemic-situation-measure``:

- ``cases``: the day's count as measureScore (``comparator`` ``<`` and 5 for a count the
  reader sees as "<5");
- ``rt``: Rt's posterior mean, its interval as the extension ``epidemic-interval``
  (valueRange), the day it is estimated for as ``epidemic-day`` (the last days are left
  out as incomplete);
- ``incidence`` and ``hospitalised``: per 100 000 (UCUM ``/10*5``);
- the zone: a group coded with the zone itself (``urn:salomat:epidemic-zone``, the
  pack's editions' zones);
- ``icu-forecast``: the median of intensive-care beds occupied at the horizon (the
  extension ``epidemic-day``), one stratum per scenario (``urn:salomat:forecast-
  scenario``) with its interval.

A figure the reader does not get, or that is not known, leaves its group without
measureScore and with the extension data-absent-reason (``masked``: withheld for this
reader; ``unknown``), the reason in words as ``epidemic-reason`` where the situation
gives one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.measurereport import MeasureReport

from salomat.core import i18n
from salomat.core.errors import N_
from salomat.domains.epidemic.schemas_situation import RegionSituation, SituationOut
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.situation_view import WITHHELD_RT
from salomat.fhir.common import EXT, TERRITORY_SYSTEM, meta, validated

PREFIX = "epi-situation-"
MEASURE = "urn:salomat:measure:epidemic-situation"
MEASURE_SYSTEM = "urn:salomat:epidemic-situation-measure"
ZONE_SYSTEM = "urn:salomat:epidemic-zone"
SCENARIO_SYSTEM = "urn:salomat:forecast-scenario"
INTERVAL_EXT = f"{EXT}epidemic-interval"
DAY_EXT = f"{EXT}epidemic-day"
REASON_EXT = f"{EXT}epidemic-reason"
ABSENT_EXT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UCUM = "http://unitsofmeasure.org"
#: the measures' names (catalogue msgids; most are the matrix's indicator names)
MEASURES = {
    "cases": N_("Cases"),
    "rt": N_("Reproduction number Rt"),
    "incidence": N_("Incidence per 100,000"),
    "hospitalised": N_("Hospitalised per 100,000"),
    "zone": N_("Zone"),
    "icu-forecast": N_("Intensive care beds occupied at the horizon, median"),
}
#: a count of 1 to 4 as the reader sees it (core.suppression)
SMALL = "<5"


def report_id(day: date, region: str) -> str:
    return f"{PREFIX}{day.isoformat()}-{region}"


def parse_report_id(rid: str) -> tuple[date, str] | None:
    """(day, region code) of ``epi-situation-<day>-<region>``, or None."""
    rest = rid.removeprefix(PREFIX)
    if len(rest) < 12 or rest[10] != "-":
        return None
    try:
        return date.fromisoformat(rest[:10]), rest[11:]
    except ValueError:
        return None


def zones(ep: rules.EpidemicPack) -> dict[str, dict[str, str]]:
    """Every zone of the pack's editions: code -> names (the latest edition's)."""
    out: dict[str, dict[str, str]] = {}
    for ed in ep.editions:
        for z in ed.zones:
            out[z.code] = dict(z.names)
    return out


def _code(code: str) -> dict[str, Any]:
    name = i18n.gettext(MEASURES[code])
    return {"coding": [{"system": MEASURE_SYSTEM, "code": code, "display": name}], "text": name}


def _absent(why: str, reason: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"url": ABSENT_EXT, "valueCode": why}]
    if reason:
        out.append({"url": REASON_EXT, "valueString": reason})
    return out


def _interval(low: float | None, high: float | None) -> list[dict[str, Any]]:
    if low is None or high is None:
        return []
    return [{"url": INTERVAL_EXT, "valueRange": {"low": {"value": low}, "high": {"value": high}}}]


def _per_100k(value: float | None, withheld: bool, code: str) -> dict[str, Any]:
    group: dict[str, Any] = {"code": _code(code)}
    if value is None:
        group["extension"] = _absent("masked" if withheld else "unknown")
    else:
        group["measureScore"] = {
            "value": value,
            "unit": "per 100 000",
            "system": UCUM,
            "code": "/10*5",
        }
    return group


def _cases(r: RegionSituation) -> dict[str, Any]:
    group: dict[str, Any] = {"code": _code("cases")}
    n = r.counts[-1] if r.counts else None
    if isinstance(n, int):
        group["measureScore"] = {"value": n}
    elif n == SMALL:
        group["measureScore"] = {"value": 5, "comparator": "<"}
    else:
        group["extension"] = _absent("masked" if n is not None else "unknown")
    return group


def _rt(r: RegionSituation, lang: str) -> dict[str, Any]:
    group: dict[str, Any] = {"code": _code("rt")}
    ext = [{"url": DAY_EXT, "valueDate": r.rt.day.isoformat()}]
    if r.rt.mean is None:
        withheld = r.rt.reason == i18n.translations(lang).gettext(WITHHELD_RT)
        ext += _absent("masked" if withheld else "unknown", r.rt.reason)
    else:
        group["measureScore"] = {"value": r.rt.mean}
        ext += _interval(r.rt.lower, r.rt.upper)
    group["extension"] = ext
    return group


def _zone(r: RegionSituation) -> dict[str, Any]:
    z = r.zone
    if z.code is None:
        return {"code": _code("zone"), "extension": _absent("unknown", z.reason)}
    return {
        "code": {
            "coding": [{"system": ZONE_SYSTEM, "code": z.code, "display": z.name or z.code}],
            "text": z.name or z.code,
        }
    }


def _forecast(s: SituationOut, r: RegionSituation, ep: rules.EpidemicPack, lang: str) -> Any:
    group: dict[str, Any] = {"code": _code("icu-forecast")}
    ext: list[dict[str, Any]] = []
    if s.forecast_days:
        ext.append({"url": DAY_EXT, "valueDate": s.forecast_days[-1].isoformat()})
    names = {sc.code: sc.name(lang) for sc in ep.scenarios}
    strata = []
    for p in r.forecast:
        median = p.icu_beds.median[-1] if p.icu_beds.median else None
        stratum: dict[str, Any] = {
            "value": {
                "coding": [
                    {
                        "system": SCENARIO_SYSTEM,
                        "code": p.scenario,
                        "display": names.get(p.scenario, p.scenario),
                    }
                ],
                "text": names.get(p.scenario, p.scenario),
            }
        }
        if median is None:
            stratum["extension"] = _absent("unknown")
        else:
            stratum["measureScore"] = {"value": median}
            interval = _interval(
                p.icu_beds.low[-1] if p.icu_beds.low else None,
                p.icu_beds.high[-1] if p.icu_beds.high else None,
            )
            if interval:
                stratum["extension"] = interval
        strata.append(stratum)
    if strata:
        group["stratifier"] = [{"code": [{"text": i18n.gettext("Scenario")}], "stratum": strata}]
    else:
        # no projection: withheld for this reader (as its Rt), or none without an Rt
        withheld = r.rt.mean is None and r.rt.reason == i18n.translations(lang).gettext(WITHHELD_RT)
        ext += _absent("masked" if withheld else "unknown")
    if ext:
        group["extension"] = ext
    return group


def measure_report(s: SituationOut, region: str, ep: rules.EpidemicPack) -> dict[str, Any]:
    """The one region ``region`` of the shaped situation ``s``."""
    lang = i18n.current_language()
    (r,) = [x for x in s.regions if x.code == region]
    incidence_withheld = s.suppressed and r.population is not None
    groups = [
        _cases(r),
        _rt(r, lang),
        _per_100k(r.incidence_per_100k, incidence_withheld, "incidence"),
        _per_100k(r.hospitalised_per_100k, False, "hospitalised"),
        _zone(r),
        _forecast(s, r, ep, lang),
    ]
    res: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": report_id(s.on, region),
        "meta": meta(1, None),
        "status": "complete",
        "type": "summary",
        "measure": MEASURE,
        "subject": {
            "identifier": {"system": TERRITORY_SYSTEM, "value": region},
            "display": r.name,
        },
        "period": {"start": s.on.isoformat(), "end": s.on.isoformat()},
        "group": groups,
    }
    return validated(MeasureReport, res)
