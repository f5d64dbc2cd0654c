"""The maternal monitoring dashboard of a region or district (issue 4 item 6).

Aggregates only: no name, no id of a woman leaves this module, so the
dashboard's readers (ministry and regional analysts, epidemiologists,
obstetricians coordinating perinatal care) need no person scope. Each view
is still audited, as an aggregate read.

Where a pregnancy is counted: the settlement stored on it at registration
(where she lived, else where she was registered), so a later move does not
rewrite past figures. Figures are computed in SQL grouped by settlement and
summed per unit of the area (the regions of the country, the districts of a
region, the settlements of a district) with ``registry.area_breakdown``.

Definitions (the WHO ANC DAK indicators, WHO-SRH-21.3, as
../shared/domain/maternal.md reads them; ``DEFINITIONS`` is sent with every
answer so a reader of the CSV has them too):

- Trimesters by gestational age today: 1st < 14+0 weeks, 2nd 14+0 to 27+6,
  3rd from 28+0 (past term included).
- Early registration: gestational age at registration of at most 12
  completed weeks (12+6), among pregnancies registered in the period. The
  DAK's numerator says "≤ 12 weeks", its title "before 12 weeks"; we use the
  numerator. Registration is the first antenatal contact with the register.
- ANC4+ / ANC8+: pregnancies with at least 4 / 8 antenatal contacts (distinct
  days), among pregnancies closed in the period, whatever the outcome.
- Outcomes: pregnancies closed in the period, by outcome. Births, caesarean,
  preterm (< 37+0 weeks), babies live and stillborn, low birth weight
  (< 2500 g): birth records dated in the period.
- High-risk referrals pending over 24 h: referrals still ``sent`` more than
  24 hours ago, of current pregnancies at high risk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.maternal.models import (
    AntenatalContact,
    Baby,
    BirthRecord,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.schemas import (
    DashboardFigures,
    DashboardRow,
    MaternalDashboard,
    PendingAtFacility,
)
from salomat.domains.maternal.service.dating import PREGNANCY_DAYS
from salomat.domains.registry import service as registry

__all__ = ["DEFINITIONS", "dashboard_csv", "maternal_dashboard"]

#: first day of the 2nd and 3rd trimesters (gestational age in days)
TRIMESTER_STARTS = (14 * 7, 28 * 7)
#: early registration: at most 12 completed weeks
EARLY_MAX_DAYS = 12 * 7 + 6
#: preterm birth: before 37 completed weeks
PRETERM_DAYS = 37 * 7
LOW_BIRTH_WEIGHT_G = 2500
PENDING_HOURS = 24
#: the default period: the last 12 months
DEFAULT_DAYS = 365

DEFINITIONS = {
    "current": "pregnancies not yet closed",
    "by_risk": "current pregnancies by the risk level of their last evaluation, split by "
    "trimester of gestational age today (1st < 14+0 weeks, 2nd 14+0 to 27+6, 3rd from 28+0)",
    "registered": "pregnancies registered in the period",
    "registered_early": "of those, gestational age at registration of at most 12 completed "
    "weeks (12+6): the DAK numerator 'GA <= 12 weeks'",
    "closed": "pregnancies closed in the period, whatever the outcome",
    "anc4": "of those, with at least 4 antenatal contacts (distinct days)",
    "anc8": "of those, with at least 8 antenatal contacts (distinct days)",
    "outcomes": "pregnancies closed in the period by outcome",
    "births": "birth records dated in the period",
    "caesarean": "of those, by elective or emergency caesarean section",
    "preterm": "of those, before 37+0 weeks",
    "babies_live": "live-born babies of those births",
    "babies_stillborn": "stillborn babies of those births",
    "low_birth_weight": "babies of those births under 2500 g",
    "high_risk_pending_24h": "referrals still 'sent' after more than 24 hours, of current "
    "pregnancies at high risk",
    "place": "each pregnancy counts where she lived at registration (else where she was "
    "registered)",
}


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _days_between(session: AsyncSession, later: Any, earlier: Any) -> Any:
    """Whole days from ``earlier`` to ``later`` (date columns), in the backend's own terms."""
    if session.bind.dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def _check_period(
    period_from: date | None, period_to: date | None, today: date
) -> tuple[date, date]:
    to = period_to or today
    start = period_from or to - timedelta(days=DEFAULT_DAYS - 1)
    errors = []
    if start > to:
        errors.append(
            FieldError(
                "from", N_("is after the end of the period (%(day)s)"), {"day": f"{to:%d.%m.%Y}"}
            )
        )
    if to > today:
        errors.append(FieldError("to", N_("is in the future")))
    if errors:
        raise Invalid.fields(errors)
    return start, to


class _Sums:
    """Figures per settlement id (None: place unknown), folded into units afterwards."""

    def __init__(self) -> None:
        self.by: dict[int | None, DashboardFigures] = defaultdict(DashboardFigures)

    def __getitem__(self, settlement_id: int | None) -> DashboardFigures:
        return self.by[settlement_id]


def _add(into: DashboardFigures, f: DashboardFigures) -> None:
    for name in DashboardFigures.model_fields:
        value = getattr(f, name)
        if isinstance(value, int):
            setattr(into, name, getattr(into, name) + value)
    for risk, counts in f.by_risk.items():
        into.by_risk[risk] = [a + b for a, b in zip(into.by_risk[risk], counts, strict=True)]
    for outcome, n in f.outcomes.items():
        into.outcomes[outcome] += n


def _finish(f: DashboardFigures) -> DashboardFigures:
    f.early_pct = _pct(f.registered_early, f.registered)
    f.anc4_pct = _pct(f.anc4, f.closed)
    f.anc8_pct = _pct(f.anc8, f.closed)
    return f


def _in_area(column: Any, settlements: list[int] | None) -> list[Any]:
    return [] if settlements is None else [column.in_(settlements)]


async def _current(session: AsyncSession, sums: _Sums, where: list[Any], today: date) -> None:
    # GA today = today - (edd - 280): GA < 98 <=> edd > today + 280 - 98
    edge2 = today + timedelta(days=PREGNANCY_DAYS - TRIMESTER_STARTS[0])
    edge3 = today + timedelta(days=PREGNANCY_DAYS - TRIMESTER_STARTS[1])
    trimester = case((Pregnancy.edd > edge2, 0), (Pregnancy.edd > edge3, 1), else_=2)
    rows = await session.execute(
        select(Pregnancy.settlement_id, Pregnancy.risk_level, trimester, func.count())
        .where(Pregnancy.status == "current", *where)
        .group_by(Pregnancy.settlement_id, Pregnancy.risk_level, trimester)
    )
    for sid, risk, tri, n in rows:
        f = sums[sid]
        f.current += n
        f.by_risk[risk or "unassessed"][tri] += n


async def _registered(
    session: AsyncSession, sums: _Sums, where: list[Any], start: date, end: date
) -> None:
    # GA at registration = registered_on - (edd - 280) <= 90 <=> edd - registered_on >= 190
    to_edd = _days_between(session, Pregnancy.edd, Pregnancy.registered_on)
    early = case((to_edd >= PREGNANCY_DAYS - EARLY_MAX_DAYS, 1), else_=0)
    rows = await session.execute(
        select(Pregnancy.settlement_id, func.count(), func.sum(early))
        .where(Pregnancy.registered_on >= start, Pregnancy.registered_on <= end, *where)
        .group_by(Pregnancy.settlement_id)
    )
    for sid, n, n_early in rows:
        sums[sid].registered += n
        sums[sid].registered_early += int(n_early or 0)


async def _closed(
    session: AsyncSession, sums: _Sums, where: list[Any], start: date, end: date
) -> None:
    # contacts are counted only for the area's and period's pregnancies (a correlated count
    # on ix_antenatal_contact_pregnancy_on): grouping every contact of the country first
    # made a district's dashboard cost as much as the nation's. Grouped by that count (a
    # few values) so that it is taken once per pregnancy, not once per figure.
    visits = (
        select(func.count(distinct(AntenatalContact.on)))
        .where(AntenatalContact.pregnancy_id == Pregnancy.id)
        .correlate(Pregnancy)
        .scalar_subquery()
        .label("visits")
    )
    rows = await session.execute(
        select(Pregnancy.settlement_id, Pregnancy.outcome, visits, func.count())
        .where(
            Pregnancy.status == "closed",
            Pregnancy.closed_on >= start,
            Pregnancy.closed_on <= end,
            *where,
        )
        .group_by(Pregnancy.settlement_id, Pregnancy.outcome, visits)
    )
    for sid, outcome, n, count in rows:
        f = sums[sid]
        f.closed += count
        f.outcomes[outcome] += count
        if n >= 4:
            f.anc4 += count
        if n >= 8:
            f.anc8 += count


async def _births(
    session: AsyncSession, sums: _Sums, where: list[Any], start: date, end: date
) -> None:
    in_period = (BirthRecord.born_on >= start, BirthRecord.born_on <= end)
    rows = await session.execute(
        select(
            Pregnancy.settlement_id,
            func.count(),
            func.sum(case((BirthRecord.mode.like("caesarean%"), 1), else_=0)),
            func.sum(case((BirthRecord.ga_days < PRETERM_DAYS, 1), else_=0)),
        )
        .join(Pregnancy, Pregnancy.id == BirthRecord.pregnancy_id)
        .where(*in_period, *where)
        .group_by(Pregnancy.settlement_id)
    )
    for sid, count, caesarean, preterm in rows:
        f = sums[sid]
        f.births += count
        f.caesarean += int(caesarean or 0)
        f.preterm += int(preterm or 0)
    rows = await session.execute(
        select(
            Pregnancy.settlement_id,
            func.sum(case((Baby.outcome == "live", 1), else_=0)),
            func.sum(case((Baby.outcome == "stillbirth", 1), else_=0)),
            func.sum(case((Baby.birth_weight_g < LOW_BIRTH_WEIGHT_G, 1), else_=0)),
        )
        .join(BirthRecord, BirthRecord.id == Baby.birth_id)
        .join(Pregnancy, Pregnancy.id == BirthRecord.pregnancy_id)
        .where(*in_period, *where)
        .group_by(Pregnancy.settlement_id)
    )
    for sid, live, still, low in rows:
        f = sums[sid]
        f.babies_live += int(live or 0)
        f.babies_stillborn += int(still or 0)
        f.low_birth_weight += int(low or 0)


async def _pending(
    session: AsyncSession, sums: _Sums, where: list[Any], now: datetime
) -> list[PendingAtFacility]:
    cutoff = now - timedelta(hours=PENDING_HOURS)
    rows = (
        await session.execute(
            select(Pregnancy.settlement_id, Referral.to_facility_id, Referral.sent_at)
            .join(Pregnancy, Pregnancy.id == Referral.pregnancy_id)
            .where(
                Referral.status == "sent",
                Referral.sent_at < cutoff,
                Pregnancy.status == "current",
                Pregnancy.risk_level == "high",
                *where,
            )
        )
    ).all()
    by_facility: dict[int, list[datetime]] = defaultdict(list)
    for sid, facility_id, sent_at in rows:
        sums[sid].high_risk_pending_24h += 1
        by_facility[facility_id].append(sent_at)
    names = await registry.facility_names(session, by_facility)
    out = []
    for facility_id, sent in by_facility.items():
        fac = names[facility_id]
        oldest = int((now - min(sent)).total_seconds() // 3600)
        out.append(
            PendingAtFacility(
                facility_code=fac.code, facility_name=fac.name, count=len(sent), oldest_hours=oldest
            )
        )
    return sorted(out, key=lambda p: (-p.count, -p.oldest_hours, p.facility_code))


async def maternal_dashboard(
    session: AsyncSession,
    principal: Principal,
    *,
    area: str | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
) -> MaternalDashboard:
    """The figures of the country, a region or a district, per unit one level down.

    ``area`` is a territory code (None: the whole country); the period
    defaults to the 365 days up to today. A settlement code, an unknown code
    or a period ending in the future is refused, naming the field.
    """
    today = date.today()
    start, end = _check_period(period_from, period_to, today)
    try:
        breakdown = await registry.area_breakdown(session, area)
    except NotFound as e:  # a bad query parameter: name the field, as for any other
        raise Invalid.fields(
            [FieldError("area", N_("no territorial unit has code %(code)s"), {"code": area})]
        ) from e
    settlements = None if area is None else sorted(breakdown.unit_of)
    where = _in_area(Pregnancy.settlement_id, settlements)
    now = utcnow()
    sums = _Sums()
    await _current(session, sums, where, today)
    await _registered(session, sums, where, start, end)
    await _closed(session, sums, where, start, end)
    await _births(session, sums, where, start, end)
    pending = await _pending(session, sums, where, now)

    per_unit: dict[str | None, DashboardFigures] = {
        u.code: DashboardFigures() for u in breakdown.units
    }
    total = DashboardFigures()
    for sid, f in sums.by.items():
        code = breakdown.unit_of.get(sid) if sid is not None else None
        if code is None and sid is not None:
            continue  # a settlement outside the area (only possible with area None: none)
        _add(per_unit.setdefault(code, DashboardFigures()), f)
        _add(total, f)
    rows = [
        DashboardRow(code=u.code, name=u.name, level=u.level, figures=_finish(per_unit[u.code]))
        for u in breakdown.units
    ]
    if None in per_unit:
        rows.append(
            DashboardRow(
                code=None, name="place not recorded", level=None, figures=_finish(per_unit[None])
            )
        )
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="MaternalDashboard",
        resource_id=area or "national",
        purpose="aggregate monitoring",
        detail=f"period {start.isoformat()}..{end.isoformat()}",
    )
    a = breakdown.area
    return MaternalDashboard(
        area_code=a.code if a else None,
        area_name=a.name if a else None,
        area_level=a.level if a else None,
        period_from=start,
        period_to=end,
        as_of=now,
        total=_finish(total),
        rows=rows,
        pending=pending,
        definitions=DEFINITIONS,
    )


def _columns() -> list[str]:
    cols = ["period_from", "period_to", "code", "name", "level", "current"]
    for risk in ("low", "medium", "high", "unassessed"):
        cols += [f"{risk}_t{t}" for t in (1, 2, 3)]
    cols += [
        "registered",
        "registered_early",
        "early_pct",
        "closed",
        "anc4",
        "anc4_pct",
        "anc8",
        "anc8_pct",
    ]
    cols += [f"outcome_{o}" for o in DashboardFigures().outcomes]
    cols += [
        "births",
        "caesarean",
        "preterm",
        "babies_live",
        "babies_stillborn",
        "low_birth_weight",
        "high_risk_pending_24h",
    ]
    return cols


def _line(
    d: MaternalDashboard, code: str | None, name: str, level: str | None, f: DashboardFigures
) -> list[Any]:
    values: dict[str, Any] = {
        "period_from": d.period_from.isoformat(),
        "period_to": d.period_to.isoformat(),
        "code": code or "",
        "name": name,
        "level": level or "",
    }
    values.update(f.model_dump(exclude={"by_risk", "outcomes"}))
    for risk, counts in f.by_risk.items():
        for t, n in enumerate(counts, 1):
            values[f"{risk}_t{t}"] = n
    for outcome, n in f.outcomes.items():
        values[f"outcome_{outcome}"] = n
    return ["" if values[c] is None else values[c] for c in _columns()]


def dashboard_csv(
    d: MaternalDashboard,
    *,
    labels: Mapping[str, str] | None = None,
    levels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    total: str | None = None,
) -> CsvFile:
    """A header line, one line per unit and a last line with the area's total.

    The REST API sends the column keys and the names as stored; a page passes
    ``labels`` (column key -> header), ``levels`` (territory level -> word),
    ``names`` (territory code -> name) and ``total`` (the last line's name) in its
    reader's language.
    """
    levels, names = levels or {}, names or {}

    def level(value: str | None) -> str | None:
        return levels.get(value, value) if value else value

    rows = [
        _line(d, r.code, names.get(r.code or "", r.name), level(r.level), r.figures) for r in d.rows
    ]
    last = total if total is not None else f"total: {d.area_name or 'national'}"
    rows.append(_line(d, d.area_code, last, level(d.area_level), d.total))
    name = f"maternal-{d.area_code or 'national'}-{d.period_from}-{d.period_to}.csv"
    header = [labels.get(c, c) for c in _columns()] if labels else _columns()
    return CsvFile(name, csv_text(header, rows))
