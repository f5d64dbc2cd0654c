"""REST routes of the epidemic situation (docs/epidemic.md "Situation, zones and
alerts"): every region's counts, Rt, incidence, beds, zone and forecast on a day; the
recorded zones by day; the alerts of the reader's region. Aggregates only
(``epidemic:read``): no person's data, so the reads are not audited (as the registry's
population by region is not). Daily counts of 1-4 are shown as "<5" to readers who do not
read notifications (``epidemic:cases``), as ``GET /counts`` shows them.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel

from salomat.core import i18n, suppression
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.api_params import (
    _INVALID,
    Area,
    From,
    Language,
    To,
    check_days,
)
from salomat.domains.epidemic.service import alerts, counts, notifications, rules
from salomat.domains.epidemic.service.forecast import BANDS
from salomat.domains.epidemic.service.matrix import METRIC_LABELS
from salomat.domains.epidemic.service.situation import compute_situation

api = router(prefix="/api/v1/epidemic", tags=["epidemic"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("epidemic:read"))]
Edition = Annotated[
    str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="an edition")
]


class Band(BaseModel):
    low: list[float | None]
    median: list[float | None]
    high: list[float | None]


class Projection(BaseModel):
    scenario: str
    #: the day of the Rt projected from: the last with one reported (None: none, no
    #: projection)
    rt_day: date | None
    cases: Band
    admissions: Band
    infectious_beds: Band
    icu_beds: Band
    #: the first day the median passes the region's beds (None: not within the horizon)
    infectious_exceeded_on: date | None
    icu_exceeded_on: date | None


class RtOut(BaseModel):
    day: date
    mean: float | None = None
    lower: float | None = None
    upper: float | None = None
    #: why there is no number, in the reader's language
    reason: str | None = None


class ZoneOut(BaseModel):
    code: str | None
    name: str | None
    colour: str | None
    #: the index of the rule that decided it (None: the edition's "otherwise" or unknown)
    rule: int | None
    reason: str | None = None
    missing: list[str] = []


class RegionSituation(BaseModel):
    code: str
    name: str
    counts: list[int | str]
    rt: RtOut
    population: int | None
    incidence_per_100k: float | None
    hospitalised_per_100k: float | None
    beds: dict[str, int | None]
    occupied: dict[str, int]
    zone: ZoneOut
    forecast: list[Projection]


class SituationOut(BaseModel):
    on: date
    by: str
    edition: str
    edition_name: str
    edition_unverified: bool
    population_year: int | None
    days: list[date]
    forecast_days: list[date]
    hospital_illustrative: bool
    truncation_note: str | None
    #: counts of 1-4 shown as "<5" (readers without ``epidemic:cases``)
    suppressed: bool
    regions: list[RegionSituation]


class ZoneDayOut(BaseModel):
    region: str
    region_name: str
    day: date
    edition: str
    zone: str | None
    #: the zone's name in the reader's language, from the edition recorded with it
    zone_name: str | None
    rule: int | None
    missing: list[str]
    rt: float | None
    incidence_per_100k: float | None


class AlertOut(BaseModel):
    region: str
    region_name: str
    day: date
    kind: str
    message: str
    zone_from: str | None
    zone_to: str | None
    #: the zones' names in the reader's language (the editions in force on the day before
    #: and on the day: an alert records no edition)
    zone_from_name: str | None
    zone_to_name: str | None
    exceeds_on: date | None
    beds: int | None


def _zone_name(
    ep: rules.EpidemicPack,
    zone: str | None,
    lang: str,
    *,
    edition: str | None = None,
    on: date | None = None,
) -> str | None:
    """A zone's name in ``lang`` by the edition ``edition`` (else the one in force on
    ``on``); None for no zone, or an edition or zone the pack no longer holds."""
    if zone is None:
        return None
    try:
        ed = ep.edition(edition) if edition is not None else ep.edition(on=on)
        return ed.zone(zone).name(lang)
    except (Invalid, KeyError):
        return None


#: why a reader without ``epidemic:cases`` gets no Rt or projection for a region
WITHHELD_RT = N_(
    "Withheld: the period holds a day of 1 to 4 cases or a withheld day, which Rt and "
    "the projections would give back"
)


def _t(lang: str, msgid: str, params: dict[str, Any] | None = None) -> str:
    text = i18n.translations(lang).gettext(msgid)
    return text % params if params else text


def _num(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else round(float(x), 4)


def _band(series: dict[str, Any], i: int) -> Band:
    return Band(**{b: [_num(v) for v in series[b][i]] for b in BANDS})


@api.get("/situation", response_model=SituationOut, responses=_INVALID)
async def read_situation(
    session: DbSession,
    principal: Reader,
    lang: Language,
    area: Area = None,
    on: date | None = None,
    edition: Edition = None,
    by: Annotated[Literal["onset", "report"], Query()] = "onset",
    horizon: Annotated[int | None, Query(ge=1, le=366)] = None,
) -> SituationOut:
    """Every region of the country (or the one ``area``) on ``on`` (default today): daily
    counts, Rt (or why there is none), incidence and hospitalised per 100 000, beds, the
    zone with the rule that decided it, and the forecast as ranges with the first day the
    beds are passed."""
    check_days(on=on)
    on = on or notifications.today()
    if on > notifications.today():
        raise Invalid.fields(
            [FieldError("on", N_("The day %(day)s is in the future"), {"day": on})]
        )
    s = await compute_situation(session, on=on, edition=edition, by=by, horizon=horizon)
    if area is not None and area not in s.codes:
        raise Invalid.fields([FieldError("area", N_("Unknown region: %(code)s"), {"code": area})])
    ed = s.edition
    note = s.rt.truncation_note()
    suppress = not allowed(principal.role, "epidemic:cases")
    hidden: set[counts.Cell] = set()
    if suppress:
        # the same cells withheld as in /counts (a region's day beside its districts')
        _, _, hidden = await counts.protected_cells(
            session, start=s.counts.days[0], end=on, by=by, region_ids=s.region_ids
        )
    window = range(len(s.counts.days) - ed.window_days, len(s.counts.days))
    out = []
    for i, code in enumerate(s.codes):
        if area is not None and code != area:
            continue
        est = s.rt.at(i, s.rt_day)
        rid = s.region_ids[i]
        # the region's days this reader sees as a sign: withheld ("x") or 1 to 4 ("<5")
        masked = (
            {
                j
                for j, n in enumerate(s.counts.counts[i])
                if ("region", rid, j) in hidden or suppression.is_small(int(n))
            }
            if suppress
            else set()
        )
        z = s.zones[i]
        zone = ed.zone(z.zone) if z.zone is not None else None
        fc = []
        rt_from = int(s.cases.from_day[i])
        # Rt's posterior (mean and interval give its shape, a + the window's cases) and the
        # projections (continued from the exact counts) would give a masked day back
        # beside the shown ones: a region with one has neither for this reader
        for sc in () if masked else s.cases.scenarios:
            first_i = s.projection.general_crossing[sc]["median"][i]
            first_c = s.projection.icu_crossing[sc]["median"][i]
            fc.append(
                Projection(
                    scenario=sc,
                    rt_day=s.counts.days[rt_from] if rt_from >= 0 else None,
                    cases=_band(s.cases.bands[sc], i),
                    admissions=_band(s.projection.admissions[sc], i),
                    infectious_beds=_band(s.projection.general[sc], i),
                    icu_beds=_band(s.projection.icu[sc], i),
                    infectious_exceeded_on=None if first_i is None else on + timedelta(first_i + 1),
                    icu_exceeded_on=None if first_c is None else on + timedelta(first_c + 1),
                )
            )
        pop = s.population[i]
        # population × incidence is the window's sum: beside the window's shown days it
        # would give a withheld or a small one, so a window with one has no incidence
        withheld = any(j in masked for j in window)
        if masked:
            est_mean = est_lower = est_upper = None
            est_reason = _t(lang, WITHHELD_RT)
        else:
            est_mean, est_lower, est_upper = est.mean, est.lower, est.upper
            est_reason = _t(lang, est.reason, est.params) if est.reason else None
        out.append(
            RegionSituation(
                code=code,
                name=s.names[i].get(lang) or s.names[i][""],
                counts=[
                    suppression.mark(int(n), ("region", rid, j) in hidden) if suppress else int(n)
                    for j, n in enumerate(s.counts.counts[i])
                ],
                rt=RtOut(
                    day=s.counts.days[s.rt_day],
                    mean=est_mean,
                    lower=est_lower,
                    upper=est_upper,
                    reason=est_reason,
                ),
                population=None if math.isnan(pop) else int(pop),
                incidence_per_100k=None if withheld else _num(s.incidence_per_100k[i]),
                hospitalised_per_100k=_num(s.hospitalised_per_100k[i]),
                beds={p: None if math.isnan(b[i]) else int(b[i]) for p, b in s.beds.items()},
                occupied={p: int(o[i]) for p, o in s.occupied.items()},
                zone=ZoneOut(
                    code=z.zone,
                    name=zone.name(lang) if zone else None,
                    colour=zone.colour if zone else None,
                    rule=z.rule,
                    reason=_t(lang, z.reason, z.params) if z.reason else None,
                    missing=[_t(lang, METRIC_LABELS[m]) for m in z.missing],
                ),
                forecast=fc,
            )
        )
    return SituationOut(
        on=on,
        by=by,
        edition=ed.code,
        edition_name=ed.name(lang),
        edition_unverified=ed.unverified,
        population_year=s.population_year,
        days=list(s.counts.days),
        forecast_days=list(s.forecast_days),
        hospital_illustrative=s.projection.illustrative,
        truncation_note=_t(lang, *note) if note else None,
        suppressed=suppress,
        regions=out,
    )


@api.get("/zones", response_model=list[ZoneDayOut], responses=_INVALID)
async def read_zones(
    session: DbSession,
    principal: Reader,
    lang: Language,
    area: Area = None,
    start: From = None,
    end: To = None,
) -> list[ZoneDayOut]:
    """The recorded zone of each region (or the one ``area``) by day over ``from..to``
    (default the last 28 days; at most 366 days)."""
    check_days(**{"from": start, "to": end})
    end = end or notifications.today()
    start = start or end - timedelta(days=27)
    rows = await alerts.zone_history(
        session, principal, area=area, start=start, end=end, language=lang
    )
    # a recorded incidence × /situation's population is a window's exact sum, which the
    # "<5" days of that window cannot hide: only the readers of notifications get it
    cases = allowed(principal.role, "epidemic:cases")
    ep = rules.current()
    return [
        ZoneDayOut(
            **{
                **r.__dict__,
                "zone_name": _zone_name(ep, r.zone, lang, edition=r.edition),
                "missing": list(r.missing),
                "incidence_per_100k": r.incidence_per_100k if cases else None,
            }
        )
        for r in rows
    ]


@api.get("/alerts", response_model=list[AlertOut], responses=_INVALID)
async def read_alerts(
    session: DbSession, principal: Reader, lang: Language, start: From = None, end: To = None
) -> list[AlertOut]:
    """The alerts of ``from..to`` (default the last 28 days) of the reader's region (their
    facility's; every region for a reader bound to no facility), newest first."""
    check_days(**{"from": start, "to": end})
    end = end or notifications.today()
    start = start or end - timedelta(days=27)
    rows = await alerts.list_alerts(session, principal, start=start, end=end, language=lang)
    ep = rules.current()
    return [
        AlertOut(
            region=a.region,
            region_name=a.region_name,
            day=a.day,
            kind=a.kind,
            message=_t(lang, a.message, a.params),
            zone_from=a.zone_from,
            zone_to=a.zone_to,
            zone_from_name=_zone_name(ep, a.zone_from, lang, on=a.day - timedelta(days=1)),
            zone_to_name=_zone_name(ep, a.zone_to, lang, on=a.day),
            exceeds_on=a.exceeds_on,
            beds=a.beds,
        )
        for a in rows
    ]
