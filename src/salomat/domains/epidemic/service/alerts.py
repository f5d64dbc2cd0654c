"""Each region's zone by day and the alerts raised from it (docs/epidemic.md
"Situation, zones and alerts").

``record_day`` computes every region's situation at once (``situation``), writes the
day's zones with one upsert (a re-run replaces the day's rows, never adds a second), and
raises, with one insert that skips what is already there: a zone change from the
previous recorded day (both zones known), and intensive-care or infectious beds
projected (the central scenario's median) to be exceeded within ``ALERT_DAYS`` days.

The platform has no in-app inbox: alerts are rows read through
``GET /api/v1/epidemic/alerts``. Accounts carry no region, so a reader's region is kept
(``epidemic_reader_region``, set by ``salomat epidemic reader-region``, read by
service/reader_region.py, which case notifications apply too): a reader
with one sees that region's alerts only; else a reader bound to a facility sees its
region's (one in no region sees none); a reader with neither (the ministry's
epidemiologists) sees every region's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import insert_for, utcnow
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.security import Principal
from salomat.domains.epidemic.models_situation import Alert, ReaderRegion, ZoneDay
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.notifications import _country
from salomat.domains.epidemic.service.reader_region import reader_region
from salomat.domains.epidemic.service.situation import ALERT_DAYS, compute_situation
from salomat.domains.registry import service as registry

__all__ = [
    "KINDS",
    "MAX_HISTORY_DAYS",
    "AlertRow",
    "ZoneRow",
    "list_alerts",
    "reader_region",
    "record_day",
    "set_reader_region",
    "zone_history",
]

MAX_HISTORY_DAYS = 366
KINDS = {
    "zone_change": N_("The region's zone changed."),
    "icu_beds": N_("Intensive care beds are projected to be exceeded within %(days)s days."),
    "infectious_beds": N_(
        "Infectious diseases beds are projected to be exceeded within %(days)s days."
    ),
}


async def _previous_zones(session: AsyncSession, day: date) -> dict[int, str | None]:
    """Per region, the zone of its latest recorded day before ``day`` (one statement)."""
    last = (
        select(ZoneDay.region_id, func.max(ZoneDay.day).label("d"))
        .where(ZoneDay.day < day)
        .group_by(ZoneDay.region_id)
        .subquery()
    )
    rows = await session.execute(
        select(ZoneDay.region_id, ZoneDay.zone).join(
            last, (last.c.region_id == ZoneDay.region_id) & (last.c.d == ZoneDay.day)
        )
    )
    return {r: z for r, z in rows}


async def record_day(
    session: AsyncSession, day: date, *, ep: rules.EpidemicPack | None = None
) -> dict[str, int]:
    """Record every region's zone on ``day`` and raise its alerts (see the module's
    words); idempotent for a day. Returns how many zones were written and alerts raised."""
    s = await compute_situation(session, on=day, ep=ep)
    country = _country()
    now = utcnow()
    rt_ok = s.rt_reported()
    rows = [
        {
            "country": country,
            "region_id": rid,
            "day": day,
            "edition": s.edition.code,
            "zone": z.zone,
            "rule": z.rule,
            "missing": ",".join(z.missing),
            "rt": float(s.rt.mean[i, s.rt_day]) if rt_ok[i] else None,
            "incidence_per_100k": None
            if s.incidence_per_100k[i] != s.incidence_per_100k[i]
            else float(s.incidence_per_100k[i]),
            "recorded_at": now,
        }
        for i, (rid, z) in enumerate(zip(s.region_ids, s.zones, strict=True))
    ]
    previous = await _previous_zones(session, day)
    ins = insert_for(session, ZoneDay.__table__)
    stmt = ins.values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["region_id", "day"],
        set_={
            k: stmt.excluded[k]
            for k in ("edition", "zone", "rule", "missing", "rt", "incidence_per_100k")
        },
    )
    await session.execute(stmt)
    alerts = []
    for rid, z in zip(s.region_ids, s.zones, strict=True):
        before = previous.get(rid)
        if before is not None and z.zone is not None and before != z.zone:
            alerts.append({"region_id": rid, "kind": "zone_change", "zone_from": before,
                           "zone_to": z.zone, "exceeds_on": None, "beds": None})  # fmt: skip
    for profile, kind in (("icu", "icu_beds"), ("infectious", "infectious_beds")):
        for i, first in enumerate(s.first_exceeded(profile)):
            if first is not None and first < ALERT_DAYS:
                alerts.append({"region_id": s.region_ids[i], "kind": kind, "zone_from": None,
                               "zone_to": None, "exceeds_on": day + timedelta(days=first + 1),
                               "beds": int(s.beds[profile][i])})  # fmt: skip
    raised = 0
    if alerts:
        stmt = (
            insert_for(session, Alert.__table__)
            .values([{**a, "country": country, "day": day, "created_at": now} for a in alerts])
            .on_conflict_do_nothing(index_elements=["region_id", "day", "kind"])
            .returning(Alert.__table__.c.id)
        )
        raised = len((await session.execute(stmt)).all())
    await session.flush()
    return {"zones": len(rows), "alerts": raised}


async def set_reader_region(session: AsyncSession, user_id: int, region: str | None) -> None:
    """Limit a reader to ``region``'s alerts (None: every region again)."""
    row = await session.get(ReaderRegion, user_id)
    if region is None:
        if row is not None:
            await session.delete(row)
        await session.flush()
        return
    t = await registry.territory_by_code(session, region)
    if t is None or t.level != "region":
        raise Invalid.fields(
            [FieldError("region", N_("Unknown region: %(code)s"), {"code": region})]
        )
    if row is None:
        session.add(ReaderRegion(user_id=user_id, region_id=t.id))
    else:
        row.region_id = t.id
        row.assigned_at = utcnow()
    await session.flush()


@dataclass(frozen=True)
class AlertRow:
    region: str
    region_name: str
    day: date
    kind: str
    message: str
    params: dict[str, object]
    zone_from: str | None
    zone_to: str | None
    exceeds_on: date | None
    beds: int | None


@dataclass(frozen=True)
class ZoneRow:
    region: str
    region_name: str
    day: date
    edition: str
    zone: str | None
    rule: int | None
    missing: tuple[str, ...]
    rt: float | None
    incidence_per_100k: float | None


def _window(start: date, end: date) -> None:
    if start > end:
        raise Invalid.fields([FieldError("from", N_("The start is after the end"))])
    if (end - start).days + 1 > MAX_HISTORY_DAYS:
        raise Invalid.fields(
            [FieldError("to", N_("At most %(n)s days at once"), {"n": MAX_HISTORY_DAYS})]
        )


async def _regions(session: AsyncSession, area: str | None) -> dict[int, tuple[str, dict]]:
    """Region id -> (code, names) of ``area`` (None: every region), 422 naming ``area``."""
    if area is None:
        items = (
            await registry.list_territory(
                session, PageParams(limit=10_000, offset=0), level="region"
            )
        ).items
    else:
        t = await registry.territory_by_code(session, area)
        if t is None or t.level != "region":
            raise Invalid.fields(
                [FieldError("area", N_("Unknown region: %(code)s"), {"code": area})]
            )
        items = [t]
    return {t.id: (t.code, {**t.names, "": t.name}) for t in items}


def _name(names: dict[str, str], language: str) -> str:
    return names.get(language) or names[""]


async def zone_history(
    session: AsyncSession,
    principal: Principal,
    *,
    area: str | None,
    start: date,
    end: date,
    language: str = "en",
) -> list[ZoneRow]:
    _window(start, end)
    regions = await _regions(session, area)
    rows = await session.execute(
        select(ZoneDay)
        .where(ZoneDay.region_id.in_(list(regions)), ZoneDay.day >= start, ZoneDay.day <= end)
        .order_by(ZoneDay.region_id, ZoneDay.day)
    )
    return [
        ZoneRow(
            region=regions[z.region_id][0],
            region_name=_name(regions[z.region_id][1], language),
            day=z.day,
            edition=z.edition,
            zone=z.zone,
            rule=z.rule,
            missing=tuple(m for m in z.missing.split(",") if m),
            rt=z.rt,
            incidence_per_100k=z.incidence_per_100k,
        )
        for z in rows.scalars()
    ]


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    start: date,
    end: date,
    language: str = "en",
) -> list[AlertRow]:
    """The alerts of ``start..end`` the reader may see (their region's only, see the
    module's words), newest first."""
    _window(start, end)
    own = await reader_region(session, principal)
    if own == "":
        return []
    regions = await _regions(session, own)
    rows = await session.execute(
        select(Alert)
        .where(Alert.region_id.in_(list(regions)), Alert.day >= start, Alert.day <= end)
        .order_by(Alert.day.desc(), Alert.region_id, Alert.kind)
    )
    return [
        AlertRow(
            region=regions[a.region_id][0],
            region_name=_name(regions[a.region_id][1], language),
            day=a.day,
            kind=a.kind,
            message=KINDS[a.kind],
            params={"days": ALERT_DAYS} if a.kind != "zone_change" else {},
            zone_from=a.zone_from,
            zone_to=a.zone_to,
            exceeds_on=a.exceeds_on,
            beds=a.beds,
        )
        for a in rows.scalars()
    ]
