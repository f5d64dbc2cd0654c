"""The epidemic situation shaped for one reader (docs/epidemic.md "Situation, zones and
alerts", "Dashboard"): what ``GET /api/v1/epidemic/situation``, ``/zones`` and
``/alerts`` answer and the dashboard pages show, computed here once for both.

Shaping for a reader means: names (regions, zones, the edition, reasons) in the
reader's language; and, for a reader without ``epidemic:cases`` (who does not read
notifications), daily counts of 1-4 shown as ``"<5"`` and the cells ``/counts`` withholds
as ``"x"``; no Rt numbers and no projections for a region whose period holds such a day
(Rt's mean and interval give its posterior's shape, a + the window's cases, and the
projections continue the exact counts); no incidence where the edition's window holds
one (population × incidence is the window's exact sum); no recorded incidence in the
zone history. The zone itself is always shown.

Public functions (each takes the session, the reader's ``Principal`` and the language
code of the answer; each raises ``Invalid`` naming the query field it refuses):

- ``situation_for(session, principal, *, language, area=None, on=None, edition=None,
  by="onset", horizon=None) -> SituationOut``: every region (or the one ``area``) on
  ``on`` (default today; a future day is refused naming ``on``).
- ``region_detail(...same, region) -> RegionDetail``: one region with its Rt on every day.
- ``zones_for(session, principal, *, language, area, start, end) -> list[ZoneDayOut]``.
- ``alerts_for(session, principal, *, language, start, end) -> list[AlertOut]``.
- ``rule_words(edition, rule, language) -> str | None``: a zone rule in words.
- ``region_places(session) -> dict[str, tuple[float, float]]``: where each region lies.
- ``choices(language) -> Choices``: the editions, scenarios, bed profiles and horizon a
  page offers, named in ``language``.
- ``situation_csv(situation, language) -> CsvFile``: the overview's table as CSV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n, suppression
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.epidemic.schemas_situation import (
    AlertOut,
    Band,
    Projection,
    RegionDetail,
    RegionSituation,
    RtOut,
    SituationOut,
    ZoneDayOut,
    ZoneOut,
)
from salomat.domains.epidemic.service import alerts, counts, notifications, rules
from salomat.domains.epidemic.service.forecast import BANDS
from salomat.domains.epidemic.service.matrix import METRIC_LABELS, All, Any_, Condition, Node
from salomat.domains.epidemic.service.situation import (
    Situation,
    central_scenario,
    compute_situation,
)
from salomat.domains.registry import service as registry
from salomat.domains.registry.service.planning_reads import settlements_select

__all__ = [
    "CSV_HEADER",
    "WITHHELD_RT",
    "Choices",
    "alerts_for",
    "central",
    "choices",
    "region_detail",
    "region_places",
    "rule_words",
    "situation_csv",
    "situation_for",
    "zone_name",
    "zone_words",
    "zones_for",
]

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


def zone_name(
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


def _node_words(node: Node, lang: str) -> str:
    if isinstance(node, Condition):
        value = f"{node.value:g}"
        return f"{_t(lang, METRIC_LABELS.get(node.metric, node.metric))} {node.op} {value}"
    assert isinstance(node, All | Any_)
    word = _t(lang, N_("and")) if isinstance(node, All) else _t(lang, N_("or"))
    joiner = f" {word} "
    parts = [_node_words(c, lang) if isinstance(c, Condition) else f"({_node_words(c, lang)})"
             for c in node.of]  # fmt: skip
    return joiner.join(parts)


def rule_words(edition: str, rule: int | None, language: str) -> str | None:
    """The condition of the edition's rule ``rule`` in ``language`` (``Incidence per
    100,000 >= 150``), None for no rule or one the pack no longer holds."""
    if rule is None:
        return None
    try:
        ed = rules.current().edition(edition)
    except Invalid:
        return None
    if not 0 <= rule < len(ed.rules):
        return None
    return _node_words(ed.rules[rule].when, language)


async def _situation(
    session: AsyncSession,
    principal: Principal,
    *,
    language: str,
    area: str | None,
    on: date | None,
    edition: str | None,
    by: str,
    horizon: int | None,
) -> tuple[Situation, SituationOut, dict[str, bool]]:
    """The situation, shaped, and per region shown whether its period holds a day this
    reader sees as a sign (and so no Rt)."""
    lang = language
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
    any_masked: dict[str, bool] = {}
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
        any_masked[code] = bool(masked)
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
    shaped = SituationOut(
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
    return s, shaped, any_masked


async def situation_for(
    session: AsyncSession,
    principal: Principal,
    *,
    language: str,
    area: str | None = None,
    on: date | None = None,
    edition: str | None = None,
    by: str = "onset",
    horizon: int | None = None,
) -> SituationOut:
    """Every region of the country (or the one ``area``) on ``on`` (default today) for
    ``principal`` in ``language``: daily counts, Rt (or why there is none), incidence and
    hospitalised per 100 000, beds, the zone with the rule that decided it, and the
    forecast as ranges with the first day the beds are passed. ``by``: ``onset`` or
    ``report``; ``edition``: a matrix edition's code (default: the one in force on
    ``on``); ``horizon``: the forecast's days (default the pack's). Refusals name
    ``on``, ``area``, ``edition`` or ``horizon``."""
    _, shaped, _ = await _situation(
        session, principal, language=language, area=area, on=on, edition=edition, by=by,
        horizon=horizon,
    )  # fmt: skip
    return shaped


async def region_detail(
    session: AsyncSession,
    principal: Principal,
    *,
    language: str,
    region: str,
    on: date | None = None,
    edition: str | None = None,
    by: str = "onset",
    horizon: int | None = None,
) -> RegionDetail:
    """``situation_for`` of the one region ``region`` (unknown: refused naming ``area``)
    with its Rt on each day of the counts: a number with its interval where reported,
    else the reason (withheld on every day for a reader who gets no Rt there)."""
    s, shaped, masked = await _situation(
        session, principal, language=language, area=region, on=on, edition=edition, by=by,
        horizon=horizon,
    )  # fmt: skip
    i = s.codes.index(region)
    days = []
    for j, d in enumerate(s.counts.days):
        if masked[region]:
            days.append(RtOut(day=d, reason=_t(language, WITHHELD_RT)))
            continue
        est = s.rt.at(i, j)
        days.append(
            RtOut(
                day=d,
                mean=est.mean,
                lower=est.lower,
                upper=est.upper,
                reason=_t(language, est.reason, est.params) if est.reason else None,
            )
        )
    return RegionDetail(situation=shaped, rt_days=days, truncate_days=s.rt.truncate_days)


async def zones_for(
    session: AsyncSession,
    principal: Principal,
    *,
    language: str,
    area: str | None,
    start: date,
    end: date,
) -> list[ZoneDayOut]:
    """The recorded zone of each region (or the one ``area``) by day over ``start..end``
    (at most 366 days), each zone named by the edition recorded with it."""
    rows = await alerts.zone_history(
        session, principal, area=area, start=start, end=end, language=language
    )
    # a recorded incidence × /situation's population is a window's exact sum, and a
    # recorded Rt's mean is (1 + the window's cases) / (b + its Λ), Λ from the shown days:
    # either gives back a "<5" day of the window, so only the readers of notifications get
    # them (as /situation withholds both)
    cases = allowed(principal.role, "epidemic:cases")
    ep = rules.current()
    return [
        ZoneDayOut(
            **{
                **r.__dict__,
                "zone_name": zone_name(ep, r.zone, language, edition=r.edition),
                "missing": list(r.missing),
                "incidence_per_100k": r.incidence_per_100k if cases else None,
                "rt": r.rt if cases else None,
            }
        )
        for r in rows
    ]


async def alerts_for(
    session: AsyncSession, principal: Principal, *, language: str, start: date, end: date
) -> list[AlertOut]:
    """The alerts of ``start..end`` of the reader's region (see ``alerts``), newest
    first, with messages and zone names in ``language``."""
    rows = await alerts.list_alerts(session, principal, start=start, end=end, language=language)
    ep = rules.current()
    return [
        AlertOut(
            region=a.region,
            region_name=a.region_name,
            day=a.day,
            kind=a.kind,
            message=_t(language, a.message, a.params),
            zone_from=a.zone_from,
            zone_to=a.zone_to,
            zone_from_name=zone_name(ep, a.zone_from, language, on=a.day - timedelta(days=1)),
            zone_to_name=zone_name(ep, a.zone_to, language, on=a.day),
            exceeds_on=a.exceeds_on,
            beds=a.beds,
        )
        for a in rows
    ]


async def region_places(session: AsyncSession) -> dict[str, tuple[float, float]]:
    """Region code -> (latitude, longitude): the region's own coordinates in the
    registry, else the mean of its settlements' (a region with neither is left out)."""
    regions = (
        await registry.list_territory(session, PageParams(limit=10_000, offset=0), level="region")
    ).items
    places = {
        r.code: (r.latitude, r.longitude)
        for r in regions
        if r.latitude is not None and r.longitude is not None
    }
    if len(places) < len(regions):
        sq = settlements_select(None).order_by(None).subquery()
        rows = await session.execute(
            select(sq.c.district_parent_id, func.avg(sq.c.latitude), func.avg(sq.c.longitude))
            .where(sq.c.latitude.is_not(None), sq.c.longitude.is_not(None))
            .group_by(sq.c.district_parent_id)
        )
        mean = {rid: (float(lat), float(lon)) for rid, lat, lon in rows}
        for r in regions:
            if r.code not in places and r.id in mean:
                places[r.code] = mean[r.id]
    return places


@dataclass(frozen=True)
class Choices:
    """What the dashboard's form offers and names, in one language."""

    #: (code, name) of each matrix edition, oldest first
    editions: list[tuple[str, str]]
    #: scenario code -> name
    scenarios: dict[str, str]
    #: bed profile code -> name
    profiles: dict[str, str]
    horizon_default: int
    horizon_min: int
    horizon_max: int


def choices(language: str) -> Choices:
    ep = rules.current()
    lo, hi = ep.horizon_range
    names = {p.code: p.name(language) for p in rules.bed_profiles()}
    return Choices(
        editions=[(e.code, e.name(language)) for e in ep.editions],
        scenarios={s.code: s.name(language) for s in ep.scenarios},
        profiles={p: names.get(p, p) for p in ("infectious", "icu")},
        horizon_default=ep.horizon_days,
        horizon_min=lo,
        horizon_max=hi,
    )


#: the overview's CSV columns (translated for the page's download)
CSV_HEADER = (
    N_("Region code"),
    N_("Region"),
    N_("Zone"),
    N_("Decided by"),
    N_("Rt"),
    N_("Rt lower bound"),
    N_("Rt upper bound"),
    N_("Why no Rt"),
    N_("Incidence per 100,000"),
    N_("Hospitalised per 100,000"),
    N_("Infectious diseases beds occupied"),
    N_("Infectious diseases beds registered"),
    N_("Intensive care beds occupied"),
    N_("Intensive care beds registered"),
    N_("Infectious diseases beds first passed on"),
    N_("Intensive care beds first passed on"),
)


def central() -> str | None:
    """The scenario the alerts and the overview read (multiplier 1, else the nearest)."""
    m = rules.current().scenario_multipliers()
    return central_scenario(m) if m else None


def zone_words(zone: ZoneOut, edition: str, language: str) -> str:
    """How the zone was decided, in ``language``: the rule's condition, the edition's
    "otherwise", or "undetermined: missing ..." (what the page and the CSV say)."""
    if zone.code is None:
        if zone.missing:
            return _t(
                language, N_("undetermined: missing %(what)s"), {"what": ", ".join(zone.missing)}
            )
        return zone.reason or _t(language, N_("undetermined"))
    words = rule_words(edition, zone.rule, language)
    return (
        words
        if words is not None
        else _t(language, N_("no rule held (the edition's default zone)"))
    )


def situation_csv(situation: SituationOut, language: str) -> CsvFile:
    """One line per region of the overview: the zone and how it was decided, Rt with its
    interval or why there is none, the rates, beds and the first projected day each is
    passed (the central scenario), header in ``language`` (cells neutralised)."""
    scenario = central()
    lines = []
    for r in situation.regions:
        fc = next((p for p in r.forecast if p.scenario == scenario), None)
        lines.append(
            [
                r.code,
                r.name,
                r.zone.name or "",
                zone_words(r.zone, situation.edition, language),
                "" if r.rt.mean is None else round(r.rt.mean, 2),
                "" if r.rt.lower is None else round(r.rt.lower, 2),
                "" if r.rt.upper is None else round(r.rt.upper, 2),
                r.rt.reason or "",
                "" if r.incidence_per_100k is None else round(r.incidence_per_100k, 1),
                "" if r.hospitalised_per_100k is None else round(r.hospitalised_per_100k, 1),
                r.occupied.get("infectious", 0),
                "" if r.beds.get("infectious") is None else r.beds["infectious"],
                r.occupied.get("icu", 0),
                "" if r.beds.get("icu") is None else r.beds["icu"],
                ""
                if fc is None or fc.infectious_exceeded_on is None
                else fc.infectious_exceeded_on.isoformat(),
                "" if fc is None or fc.icu_exceeded_on is None else fc.icu_exceeded_on.isoformat(),
            ]
        )
    header = [_t(language, h) for h in CSV_HEADER]
    return CsvFile(f"epidemic-situation-{situation.on.isoformat()}.csv", csv_text(header, lines))
